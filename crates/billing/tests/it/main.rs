//! tollbooth-billing's integration tests: real databases, local HTTP servers for Stripe and Cal.com.
//!
//! One test binary for the crate (one link, one cold start), a module per area.

mod calcom;
mod common;
mod deletion;
mod hooks;
mod organizations;
mod payments;
mod seats;
mod send;
mod subscriptions;
mod webhooks;
