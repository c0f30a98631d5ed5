//! tollbooth-auth's integration tests, on real SQLite and PostgreSQL databases.
//!
//! One test binary for the crate (one link, one cold start), a module per area.

mod abuse;
mod adapters;
mod admin;
mod common;
mod credentials;
mod deletion;
mod email_change;
mod export;
mod hashing;
mod hooks;
mod impersonation;
mod mfa;
mod new_device;
mod oauth;
mod organizations;
mod recovery;
mod require_auth;
mod require_role;
mod security;
mod send;
mod session;
