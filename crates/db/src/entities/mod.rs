//! sea-orm entities, one module per table. Each module's `Model` is the row type; the
//! crate root re-exports them under domain names ([`User`](crate::User), …).
//!
//! Use the repository traits for everyday work; the entities are public for queries the
//! repositories do not cover (`Entity::find().filter(Column::…)`).

// The derive macros generate public `Column`, `Entity`, `ActiveModel`, `PrimaryKey` items
// that cannot carry doc comments; every hand-written item here is documented.
#![allow(missing_docs, missing_debug_implementations)]

pub mod account;
pub mod backup_code;
pub mod booking;
pub mod checkout_session;
pub mod email_outbox;
pub mod invitation;
pub mod membership;
pub mod nurture_email_variant;
pub mod nurture_enrollment;
pub mod nurture_sequence;
pub mod organization;
pub mod payment;
pub mod price;
pub mod product;
pub mod rate_limit;
pub mod security_event;
pub mod session;
pub mod subscription;
pub mod two_factor;
pub mod user;
pub mod verification_token;
pub mod webhook_event;
