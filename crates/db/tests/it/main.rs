//! tollbooth-db's integration tests: connection failures, the repository suite on SQLite and
//! a real PostgreSQL server (a module per aggregate), and the mockall mocks.
//!
//! One test binary for the crate (one link, one cold start), a module per area.

mod connection;
#[cfg(feature = "mock")]
mod mock;
#[cfg(feature = "testing")]
mod repositories;
