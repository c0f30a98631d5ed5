//! Reversible schema migrations for Tollbooth.
//!
//! The [`Migrator`] creates every table the `tollbooth-db` entities map (users, accounts,
//! sessions, tokens, two-factor, rate limits, the Stripe catalog and subscriptions, payments,
//! processed webhook events, Cal.com bookings, open checkout sessions, the e-mail outbox, the
//! security audit trail, organizations with their memberships and invitations, and the
//! nurture tables) on SQLite and PostgreSQL.
//! Every migration has a `down`, and `up → down → up` is tested on both engines.
//!
//! Applications normally call `tollbooth_db::migrate(&db)`; this crate is what it runs. The
//! binary (feature `cli`, on by default) manages a database from the shell:
//!
//! ```text
//! cargo run -p tollbooth-migration -- up       # apply pending migrations
//! cargo run -p tollbooth-migration -- down     # roll back the last one
//! cargo run -p tollbooth-migration -- status   # list applied / pending
//! cargo run -p tollbooth-migration -- fresh    # drop everything, apply all
//! ```
//!
//! It connects to `DATABASE_URL`, or to the embedded default `sqlite://tollbooth.db?mode=rwc`.
//!
//! | feature | default | what it adds |
//! |---------|---------|--------------|
//! | `cli`   | yes     | the `tollbooth-migration` binary |

// `MigrationTrait` (async_trait) is declared with `&SchemaManager`; spelling the elided
// lifetime out makes the impls mismatch the trait, so the 2018 idiom lint is off here.
#![allow(elided_lifetimes_in_paths)]

pub use sea_orm_migration::MigratorTrait;
use sea_orm_migration::prelude::*;

mod m20261125_000001_create_identity;
mod m20261125_000002_create_auth_security;
mod m20261125_000003_create_billing;
mod m20261125_000004_create_bookings;
mod m20261125_000005_create_nurture;
mod m20261125_000006_add_payment_booking_url;
mod m20261201_000007_index_nurture_last_variant;
mod m20261201_000008_billing_correctness;
mod m20261201_000009_create_email_outbox;
mod m20261201_000010_session_authenticated_at;
mod m20261206_000011_bans_and_security_events;
mod m20261207_000012_session_impersonator;
mod m20261207_000013_create_organizations;
mod m20261207_000014_organization_billing;
mod m20261207_000015_organization_seats;
mod schema;

/// The ordered list of Tollbooth migrations.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_create_identity::Migration),
            Box::new(m20261125_000002_create_auth_security::Migration),
            Box::new(m20261125_000003_create_billing::Migration),
            Box::new(m20261125_000004_create_bookings::Migration),
            Box::new(m20261125_000005_create_nurture::Migration),
            Box::new(m20261125_000006_add_payment_booking_url::Migration),
            Box::new(m20261201_000007_index_nurture_last_variant::Migration),
            Box::new(m20261201_000008_billing_correctness::Migration),
            Box::new(m20261201_000009_create_email_outbox::Migration),
            Box::new(m20261201_000010_session_authenticated_at::Migration),
            Box::new(m20261206_000011_bans_and_security_events::Migration),
            Box::new(m20261207_000012_session_impersonator::Migration),
            Box::new(m20261207_000013_create_organizations::Migration),
            Box::new(m20261207_000014_organization_billing::Migration),
            Box::new(m20261207_000015_organization_seats::Migration),
        ]
    }
}

// Compiles the README's examples as doctests, so the registry page never shows code that
// does not build.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
