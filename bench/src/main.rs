//! `tollbooth-bench`: measures the example servers over loopback and writes
//! `docs/benchmarks.md`.
//!
//! ```text
//! cargo run --release -p tollbooth-bench
//! ```
//!
//! It builds both servers (release), then runs each scenario against a fresh server process
//! on a freshly seeded database:
//!
//! 1. `GET /me` with a session: axum and actix-web, on SQLite and on PostgreSQL (skipped
//!    with a note when no PostgreSQL server can be started);
//! 2. `GET /me` during a sign-in storm (axum, SQLite);
//! 3. Stripe webhook ingestion with 20% redeliveries (axum, SQLite);
//!
//! sampling each server's memory throughout. `BENCH_SECONDS` (default 10) sets the
//! measured time per scenario, `BENCH_CONNECTIONS` (default 64) the `/me` connections.

// A benchmark's job is to print its figures: the report goes to stdout (progress to stderr).
#![allow(clippy::print_stdout)]

mod load;
mod memory;
mod report;
mod scenarios;
mod seed;
mod servers;

use std::time::Duration;

use tollbooth_db::testing::TestDb;

use crate::scenarios::{Database, Settings};
use crate::servers::Flavor;

/// Unmeasured time before each measurement (at most the measured time).
const WARMUP: Duration = Duration::from_secs(2);

#[tokio::main]
async fn main() {
    let duration = Duration::from_secs(env_number("BENCH_SECONDS", 10));
    let connections =
        usize::try_from(env_number("BENCH_CONNECTIONS", 64)).expect("BENCH_CONNECTIONS fits usize");
    let root = servers::workspace_root();
    // Before anything is written, so that the report does not count itself as a change.
    let context = report::Context::capture(&root);

    eprintln!("building the example servers (release)…");
    let bin_dir = servers::build();
    eprintln!("hashing the seeded password (bcrypt cost 12)…");
    let settings = Settings {
        bin_dir,
        warmup: WARMUP.min(duration),
        duration,
        connections,
        password_hash: seed::password_hash().await,
    };

    let mut me = Vec::new();
    for flavor in [Flavor::Axum, Flavor::Actix] {
        eprintln!("/me: {} on SQLite…", flavor.label());
        let db = TestDb::sqlite().await;
        me.push(scenarios::me(&settings, flavor, &db, Database::Sqlite).await);
    }
    let mut postgres_skipped = false;
    for flavor in [Flavor::Axum, Flavor::Actix] {
        let Some(db) = TestDb::postgres().await else {
            eprintln!("/me on PostgreSQL: skipped (no PostgreSQL server could be started)");
            postgres_skipped = true;
            break;
        };
        eprintln!("/me: {} on PostgreSQL…", flavor.label());
        me.push(scenarios::me(&settings, flavor, &db, Database::Postgres).await);
    }
    eprintln!("/me during a sign-in storm (axum, SQLite)…");
    let storm = scenarios::storm(&settings, scenarios::STORM_CONNECTIONS).await;
    eprintln!("/me during a sign-in flood past the bcrypt queue (axum, SQLite)…");
    let flood = scenarios::storm(&settings, scenarios::FLOOD_CONNECTIONS).await;
    eprintln!("Stripe webhooks (axum, SQLite)…");
    let webhooks = scenarios::webhooks(&settings).await;

    let results = report::Results {
        me,
        postgres_skipped,
        storm,
        flood,
        webhooks,
    };
    let markdown = report::render(&context, &settings, &results);
    println!("{markdown}");
    let path = root.join("docs").join("benchmarks.md");
    std::fs::write(&path, &markdown).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    eprintln!("wrote {}", path.display());
}

/// A positive whole number from the environment variable `name`, or `default` when unset.
fn env_number(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(value) => value
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|n| *n > 0)
            .unwrap_or_else(|| panic!("{name} must be a positive whole number, not {value:?}")),
        Err(_) => default,
    }
}
