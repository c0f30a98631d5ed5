//! Transactional e-mail for Tollbooth: typed templates, a Resend transport with retries,
//! pacing and idempotency keys, and console and in-memory transports for development and
//! tests. It knows nothing about auth or billing; they call it.
//!
//! ```
//! use tollbooth_email::*;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> tollbooth_email::Result<()> {
//! // Production: `ResendSender::new(ResendConfig::new(ApiKey::new(key)))?`.
//! // Development: `ConsoleSender` logs the message. Tests: `OutboxSender` keeps it.
//! let outbox = OutboxSender::new();
//! let config = MailerConfig::new("Acme <noreply@acme.example>", "Acme")?
//!     .reply_to("support@acme.example")?;
//! let mailer = Mailer::new(outbox.clone(), config);
//!
//! // Links come from configuration, never from request headers.
//! let base = PublicBaseUrl::parse("https://app.acme.example")?;
//! let props = PasswordResetProps {
//!     name: Some("Ada".into()),
//!     reset_url: base.link("/reset-password", &[("token", "t0k3n")]),
//!     expires_in: chrono::TimeDelta::hours(1),
//! };
//! // The template fixes the props type: `send_email::<WelcomeEmail>(…, props)` won't compile.
//! let id = send_email::<PasswordResetEmail>(&mailer, "ada@example.com", props).await?;
//!
//! let sent = &outbox.sent()[0];
//! assert_eq!(sent.subject(), "Reset your Acme password");
//! assert!(sent.text().contains("https://app.acme.example/reset-password?token=t0k3n"));
//! assert!(id.0.starts_with("outbox-"));
//! # Ok(()) }
//! ```
//!
//! # Templates
//!
//! [`WelcomeEmail`], [`PasswordResetEmail`], [`SubscriptionConfirmedEmail`],
//! [`PaymentFailedEmail`], [`TeamInviteEmail`]: subject, HTML and plain text each, from
//! askama templates compiled into the crate (a typo in a template is a compile error, and
//! every prop is HTML-escaped). Implement [`EmailTemplate`] for your own.
//!
//! # Guarantees
//!
//! - Invalid input fails before any network call: bad addresses, no or more than 50
//!   recipients, an empty subject, CR/LF in any header-bound field, non-https links.
//! - Every send carries an `Idempotency-Key` (yours, e.g. `welcome/{user_id}`, or a random
//!   one), reused across retries.
//! - The API key never appears in `Debug` output or errors.
//!
//! # Features
//!
//! | feature | default | what it adds |
//! |---------|---------|--------------|
//! | `mock`  | no      | `MockEmailSender` (mockall) for unit tests of callers |

mod address;
mod error;
mod link;
mod message;
mod money;
mod outbox;
mod sender;
mod templates;
mod transport;

pub use address::{Address, MAX_RECIPIENTS, Mailbox, Recipients};
pub use error::{EmailError, Result};
pub use link::{Link, PublicBaseUrl};
pub use message::{Email, EmailParts, MessageId, SendOptions};
pub use money::Money;
pub use outbox::{Outbox, OutboxConfig};
#[cfg(feature = "mock")]
pub use sender::MockEmailSender;
pub use sender::{EmailSender, Mailer, MailerConfig, send_email};
pub use templates::{
    AccountDeletedEmail, AccountDeletedProps, Brand, EmailChangeVerificationEmail,
    EmailChangeVerificationProps, EmailChangedNoticeEmail, EmailChangedNoticeProps, EmailTemplate,
    NewSignInAlertEmail, NewSignInAlertProps, PasswordResetEmail, PasswordResetProps,
    PaymentFailedEmail, PaymentFailedProps, Rendered, SecurityChange, SecurityNoticeEmail,
    SecurityNoticeProps, SetPasswordEmail, SetPasswordProps, SubscriptionConfirmedEmail,
    SubscriptionConfirmedProps, TeamInviteEmail, TeamInviteProps, WelcomeEmail, WelcomeProps,
};
// Deliberately re-exported: `chrono` types are template props, `url::Url` is
// `ResendConfig::base_url`.
pub use chrono;
pub use url;

/// `ResendConfig::retry`'s type, shared with the Stripe and Cal.com transports.
pub use tollbooth_core::RetryPolicy;
pub use transport::{ApiKey, ConsoleSender, OutboxSender, ResendConfig, ResendSender};

// Compiles the README's examples as doctests, so the registry page never shows code that
// does not build.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
