//! Creates (or upgrades) the embedded SQLite database and prints its tables.
//!
//! ```text
//! cargo run -p tollbooth-db --example quickstart            # ./tollbooth.db
//! DATABASE_URL=postgres://… cargo run -p tollbooth-db --example quickstart
//! ```

use std::io::Write;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Binaries read the environment; the library takes the URL as an argument.
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "sqlite://tollbooth.db?mode=rwc".to_owned());
    let db = tollbooth_db::connect(url).await?;
    tollbooth_db::migrate(&db).await?;

    let mut out = std::io::stdout().lock();
    writeln!(out, "{} database migrated; tables:", db.engine())?;
    for table in db.table_names().await? {
        writeln!(out, "  {table}")?;
    }
    Ok(())
}
