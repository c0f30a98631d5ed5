//! The development transport: logs the whole message instead of sending it.

use async_trait::async_trait;

use crate::error::Result;
use crate::message::{Email, MessageId};
use crate::sender::EmailSender;

/// Writes each message — recipients, subject, and the plain-text part with its links — to the
/// log (`tracing`, target `tollbooth_email::console`, level INFO), like Django's console
/// backend. The default when no Resend API key is configured, so a developer can click the
/// verification link the example server prints.
#[derive(Clone, Copy, Debug, Default)]
pub struct ConsoleSender;

#[async_trait]
impl EmailSender for ConsoleSender {
    async fn send(&self, email: &Email) -> Result<MessageId> {
        let to: Vec<String> = email.to().iter().map(ToString::to_string).collect();
        tracing::info!(
            target: "tollbooth_email::console",
            from = %email.from(),
            to = %to.join(", "),
            subject = %email.subject(),
            idempotency_key = %email.idempotency_key(),
            "e-mail (console transport, not sent)\n{}",
            email.text()
        );
        Ok(MessageId(format!("console-{}", uuid::Uuid::new_v4())))
    }
}
