//! `tollbooth-migration up|down|status|fresh` against `DATABASE_URL`, defaulting to the
//! embedded SQLite file so a bare machine needs no configuration.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectOptions, Database};

/// Used when `DATABASE_URL` is unset: the same file the example servers use.
const DEFAULT_DATABASE_URL: &str = "sqlite://tollbooth.db?mode=rwc";

#[tokio::main]
async fn main() {
    cli::run_cli_with_custom_connection(tollbooth_migration::Migrator, async || {
        let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_DATABASE_URL.to_owned());
        Database::connect(ConnectOptions::new(url)).await
    })
    .await;
}
