//! The crate's one error type.

/// `Result` with [`EmailError`].
pub type Result<T, E = EmailError> = std::result::Result<T, E>;

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong preparing or sending an e-mail.
///
/// Input errors ([`InvalidAddress`](Self::InvalidAddress) … [`InvalidLink`](Self::InvalidLink))
/// are raised before any network call. No variant ever carries the API key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmailError {
    /// An address (`to`, `from`, `reply_to`) is not a valid e-mail address.
    #[error("invalid e-mail address in `{field}`")]
    InvalidAddress {
        /// Which field.
        field: &'static str,
    },
    /// A message needs at least one recipient.
    #[error("no recipient")]
    NoRecipient,
    /// Resend accepts at most 50 recipients per message.
    #[error("{count} recipients; at most {max} are allowed per message")]
    TooManyRecipients {
        /// Recipients given.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// The subject is empty or blank.
    #[error("empty subject")]
    EmptySubject,
    /// A header-bound field contains CR or LF (header injection) or another control character.
    #[error("control character (CR/LF) in `{field}`")]
    HeaderInjection {
        /// Which field.
        field: &'static str,
    },
    /// A link is not an absolute `https` URL (plain `http` is allowed for loopback hosts only).
    #[error("invalid link: {reason}")]
    InvalidLink {
        /// Why.
        reason: &'static str,
    },
    /// The configuration cannot work.
    #[error("invalid e-mail configuration: {reason}")]
    InvalidConfig {
        /// What is wrong.
        reason: String,
    },
    /// A template failed to render (a bug in a template, not bad input: props are escaped).
    #[error("template `{template}` failed to render")]
    Template {
        /// Template name.
        template: &'static str,
        /// askama's error.
        #[source]
        source: BoxError,
    },
    /// The provider refused the message (a 4xx other than 429); retrying will not help.
    #[error("e-mail provider refused the message ({status} {name}): {message}")]
    Rejected {
        /// HTTP status.
        status: u16,
        /// Provider's error name, e.g. `validation_error`.
        name: String,
        /// Provider's explanation.
        message: String,
    },
    /// The outbox's database failed (queueing or recording a delivery).
    #[error("e-mail outbox storage failed")]
    Storage {
        /// The cause.
        #[source]
        source: tollbooth_db::DbError,
    },
    /// The provider stayed unreachable, rate-limited or failing (429, 5xx, network) through
    /// every retry allowed. The message may be re-sent later with the same idempotency key.
    #[error("e-mail provider unavailable after {attempts} attempt(s)")]
    Unavailable {
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        #[source]
        source: BoxError,
    },
}
