//! A rendered, validated message ready for a transport.

use std::fmt;

use crate::address::{Mailbox, Recipients, reject_control_chars};
use crate::error::{EmailError, Result};

/// The provider's id for a sent message.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MessageId(pub String);

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A complete message. Constructed only through [`Email::new`], which validates every field,
/// so a transport never sees an invalid one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email {
    from: Mailbox,
    to: Vec<Mailbox>,
    reply_to: Option<Mailbox>,
    subject: String,
    html: String,
    text: String,
    idempotency_key: String,
}

/// The parts of a message before validation.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct EmailParts {
    /// Sender.
    pub from: Option<Mailbox>,
    /// Recipients (1 to 50).
    pub to: Recipients,
    /// Reply-To.
    pub reply_to: Option<Mailbox>,
    /// Subject line.
    pub subject: String,
    /// HTML body.
    pub html: String,
    /// Plain-text body.
    pub text: String,
    /// Deduplication key: a retried send with the same key is delivered once.
    pub idempotency_key: String,
}

/// Resend accepts idempotency keys of 1 to 256 characters.
const MAX_IDEMPOTENCY_KEY: usize = 256;

impl Email {
    /// Validates and assembles a message: recipients parsed (1–50), subject non-blank and
    /// single-line, no control characters in any header-bound field, idempotency key present.
    pub fn new(parts: EmailParts) -> Result<Self> {
        let from = parts
            .from
            .ok_or(EmailError::InvalidAddress { field: "from" })?;
        let to = parts.to.parse()?;
        reject_control_chars(&parts.subject, "subject")?;
        if parts.subject.trim().is_empty() {
            return Err(EmailError::EmptySubject);
        }
        reject_control_chars(&parts.idempotency_key, "idempotency_key")?;
        if parts.idempotency_key.is_empty() || parts.idempotency_key.len() > MAX_IDEMPOTENCY_KEY {
            return Err(EmailError::InvalidConfig {
                reason: format!("idempotency key must be 1 to {MAX_IDEMPOTENCY_KEY} characters"),
            });
        }
        Ok(Self {
            from,
            to,
            reply_to: parts.reply_to,
            subject: parts.subject,
            html: parts.html,
            text: parts.text,
            idempotency_key: parts.idempotency_key,
        })
    }

    /// Sender.
    pub fn from(&self) -> &Mailbox {
        &self.from
    }

    /// Recipients.
    pub fn to(&self) -> &[Mailbox] {
        &self.to
    }

    /// Reply-To.
    pub fn reply_to(&self) -> Option<&Mailbox> {
        self.reply_to.as_ref()
    }

    /// Subject.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// HTML body.
    pub fn html(&self) -> &str {
        &self.html
    }

    /// Plain-text body.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Idempotency key sent to the provider.
    pub fn idempotency_key(&self) -> &str {
        &self.idempotency_key
    }
}

/// Per-send options.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SendOptions {
    /// A domain key such as `welcome/{user_id}`: sending twice with it delivers once (Resend
    /// keeps keys for 24 hours). Without one, a random key is used, which still makes the
    /// transport's own retries safe.
    pub idempotency_key: Option<String>,
}

impl SendOptions {
    /// Options with this idempotency key.
    pub fn idempotency_key(key: impl Into<String>) -> Self {
        Self {
            idempotency_key: Some(key.into()),
        }
    }
}
