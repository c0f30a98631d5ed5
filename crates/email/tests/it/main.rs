//! tollbooth-email's integration tests: templates, validation, and a local HTTP server standing in for Resend.
//!
//! One test binary for the crate (one link, one cold start), a module per area.

#[cfg(feature = "mock")]
mod mock;
mod retry;
mod send;
mod templates;
mod validation;
