//! An in-memory transport for tests of code that sends e-mail.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;

use crate::error::Result;
use crate::message::{Email, MessageId};
use crate::sender::EmailSender;

/// Keeps sent messages in memory. Like Resend, it honours idempotency keys: a second send
/// with a key already seen returns the first message's id and records nothing.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> tollbooth_email::Result<()> {
/// use tollbooth_email::*;
///
/// let outbox = OutboxSender::new();
/// let mailer = Mailer::new(outbox.clone(), MailerConfig::new("Acme <noreply@acme.example>", "Acme")?);
/// let props = WelcomeProps { name: Some("Ada".into()), verify_url: None };
/// send_email::<WelcomeEmail>(&mailer, "ada@example.com", props).await?;
/// assert_eq!(outbox.sent()[0].subject(), "Welcome to Acme");
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, Default)]
pub struct OutboxSender {
    inner: Arc<Mutex<Outbox>>,
}

#[derive(Debug, Default)]
struct Outbox {
    sent: Vec<Email>,
    ids: HashMap<String, MessageId>,
}

impl OutboxSender {
    /// An empty outbox.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every distinct message sent so far, oldest first.
    pub fn sent(&self) -> Vec<Email> {
        self.lock().sent.clone()
    }

    /// Messages addressed to `address`.
    pub fn sent_to(&self, address: &str) -> Vec<Email> {
        self.lock()
            .sent
            .iter()
            .filter(|e| {
                e.to()
                    .iter()
                    .any(|m| m.address().as_str().eq_ignore_ascii_case(address))
            })
            .cloned()
            .collect()
    }

    /// Forgets everything.
    pub fn clear(&self) {
        let mut outbox = self.lock();
        outbox.sent.clear();
        outbox.ids.clear();
    }

    fn lock(&self) -> MutexGuard<'_, Outbox> {
        // A panic while holding the lock cannot leave the Vec/HashMap inconsistent.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl EmailSender for OutboxSender {
    async fn send(&self, email: &Email) -> Result<MessageId> {
        let mut outbox = self.lock();
        if let Some(id) = outbox.ids.get(email.idempotency_key()) {
            return Ok(id.clone());
        }
        let id = MessageId(format!("outbox-{}", outbox.sent.len() + 1));
        outbox
            .ids
            .insert(email.idempotency_key().to_owned(), id.clone());
        outbox.sent.push(email.clone());
        Ok(id)
    }
}
