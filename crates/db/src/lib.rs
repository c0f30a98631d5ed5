//! Tollbooth's database layer: the schema's sea-orm entities, a connection pool for SQLite
//! (embedded default) or PostgreSQL (production), and repository traits for everything auth
//! and billing store.
//!
//! ```
//! use tollbooth_db::{NewUser, UserRepo};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> tollbooth_db::Result<()> {
//! let db = tollbooth_db::connect("sqlite::memory:").await?;
//! tollbooth_db::migrate(&db).await?;
//!
//! let ada = db.create_user(NewUser::new("  Ada@Example.COM ").name("Ada")).await?;
//! assert_eq!(ada.email, "ada@example.com"); // stored normalized
//! assert_eq!(ada.role, "user");
//!
//! // Uniqueness is case-insensitive, and a violation is a typed error:
//! let err = db.create_user(NewUser::new("ADA@example.com")).await.unwrap_err();
//! assert!(matches!(err, tollbooth_db::DbError::Conflict { entity: "user" }));
//!
//! assert_eq!(db.find_user_by_email("ada@EXAMPLE.com").await?, Some(ada));
//! # Ok(()) }
//! ```
//!
//! # Design
//!
//! - **Repositories are traits** ([`UserRepo`], [`SessionRepo`], [`WebhookEventRepo`], …),
//!   implemented for both [`Db`] (each call on a pooled connection) and [`Tx`] (inside a
//!   transaction), so code that must be atomic just runs the same calls on a `Tx`.
//! - **Invariants live in the database**: unique e-mail, one account per provider identity,
//!   one row per Stripe id, per webhook event, per booking uid. Several application
//!   instances sharing one PostgreSQL stay correct without in-process locks.
//! - **Errors are typed**: a unique violation is [`DbError::Conflict`], a lost connection
//!   [`DbError::Unavailable`]; "not found" is `Option`.
//! - **Timestamps are UTC with microsecond precision** on both engines ([`now`]).
//!
//! # Features
//!
//! | feature    | default | what it adds |
//! |------------|---------|--------------|
//! | `sqlite`   | yes     | SQLite (`sqlite://file.db?mode=rwc`, `sqlite::memory:`) |
//! | `postgres` | yes     | PostgreSQL (`postgres://user:pass@host/db`) |
//! | `mock`     | no      | mockall mocks of every repository trait (`MockUserRepo`, …) |
//! | `testing`  | no      | `testing::TestDb`: throwaway SQLite files and PostgreSQL clusters |

mod config;
mod db;
pub mod entities;
mod error;
mod repo;
mod retention;
#[cfg(feature = "testing")]
pub mod testing;
mod time;

pub use config::{DbConfig, Engine};
pub use db::{Db, Tx, connect, migrate};
pub use entities::booking::BookingStatus;
pub use entities::invitation::InvitationStatus;
pub use entities::nurture_enrollment::EnrollmentStatus;
pub use entities::verification_token::TokenPurpose;
pub use entities::webhook_event::WebhookSource;
pub use error::{DbError, Result};
pub use repo::*;
pub use retention::{MIN_WEBHOOK_RETENTION, PurgeReport, Retention};
pub use time::{micros, now};
/// Who is billed: a user or an organization (defined in `tollbooth-core`).
pub use tollbooth_core::Customer;

// Deliberately re-exported: their types appear in this crate's signatures (ids, timestamps,
// JSON metadata, the entities and `Db::connection`), so callers use exactly our versions.
pub use chrono;
pub use sea_orm;
pub use serde_json;
pub use uuid;

/// A user row.
pub type User = entities::user::Model;
/// A sign-in method (credential or OAuth identity) of a user.
pub type Account = entities::account::Model;
/// A session row (`tollbooth_auth::Session` is the verified session built from it).
pub type SessionRow = entities::session::Model;
/// A single-use verification token (stored hashed).
pub type VerificationToken = entities::verification_token::Model;
/// A user's TOTP enrollment.
pub type TwoFactor = entities::two_factor::Model;
/// A Stripe product.
pub type Product = entities::product::Model;
/// A Stripe price.
pub type Price = entities::price::Model;
/// A Stripe subscription mirror.
pub type Subscription = entities::subscription::Model;
/// A one-time payment.
pub type Payment = entities::payment::Model;
/// A processed webhook delivery.
pub type WebhookEvent = entities::webhook_event::Model;
/// A Cal.com booking.
pub type Booking = entities::booking::Model;
/// A Stripe Checkout session Tollbooth opened.
pub type CheckoutSession = entities::checkout_session::Model;
/// An e-mail in the outbox.
pub type OutboxEmail = entities::email_outbox::Model;
/// An organization row.
pub type Organization = entities::organization::Model;
/// A membership row (organization, user, role).
pub type Membership = entities::membership::Model;
/// An invitation row.
pub type Invitation = entities::invitation::Model;

/// The form in which e-mail addresses are stored and compared: trimmed and lower-cased.
///
/// Lower-casing the local part is what every major mail provider does in practice, and it is
/// what users expect (`Ada@x.com` and `ada@x.com` are one account). Syntax validation is the
/// caller's job; this only refuses an empty address.
///
/// ```
/// assert_eq!(tollbooth_db::normalize_email(" Ada@Example.COM ").unwrap(), "ada@example.com");
/// assert!(tollbooth_db::normalize_email("   ").is_err());
/// ```
pub fn normalize_email(email: &str) -> Result<String> {
    let email = email.trim();
    if email.is_empty() {
        return Err(DbError::InvalidInput {
            field: "email",
            reason: "must not be empty",
        });
    }
    Ok(email.to_lowercase())
}

// Compiles the README's examples as doctests, so the registry page never shows code that
// does not build.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
