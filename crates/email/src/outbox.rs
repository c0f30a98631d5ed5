//! The durable outbox: e-mails written in the same database transaction as the change they
//! report, and delivered from there.
//!
//! Sending after commit from memory loses the message when the process stops in between (a
//! crash, a redeploy), and a webhook redelivered afterwards is a duplicate that sends
//! nothing. Here the message is a row committed with the change; a worker on any instance
//! claims due rows (one conditional `UPDATE`, with a lease a dead worker's claim runs out
//! of), hands each to the transport with the row's idempotency key — so a retry after a
//! crash mid-send is deduplicated by the provider — and marks it sent, emptying its bodies
//! (they may carry a single-use link). Transient failures are retried with backoff; a
//! permanent refusal, or too many failures, gives up and is logged as an error.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use chrono::TimeDelta;
use tokio::sync::{Mutex, Notify};
use tokio_util::sync::CancellationToken;
use tollbooth_db::{Db, DeliveryFailure, NewOutboxEmail, OutboxEmail, OutboxRepo};

use crate::address::{Mailbox, Recipients};
use crate::error::{EmailError, Result};
use crate::message::{Email, EmailParts};
use crate::sender::Mailer;
use crate::templates::EmailTemplate;

/// How the outbox worker paces itself.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct OutboxConfig {
    /// How often due messages are looked for without being woken (default 5 s): what picks
    /// up messages left by a stopped process, and retries.
    pub poll_interval: Duration,
    /// How long a claim lasts (default 2 minutes); a worker that dies holding a message
    /// delays it by at most this.
    pub lease: Duration,
    /// Delivery attempts before giving up (default 10).
    pub max_attempts: u32,
    /// Wait before the second attempt (default 10 s); doubles per attempt.
    pub initial_backoff: Duration,
    /// Longest wait between attempts (default 1 hour).
    pub max_backoff: Duration,
    /// Messages claimed at a time (default 20).
    pub batch: u64,
    /// Whether this instance runs a worker (default `true`). Off, messages are only
    /// queued, for another instance's worker to send (a web-only replica), or until
    /// [`Outbox::flush`] is called.
    pub worker: bool,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_secs(5),
            lease: Duration::from_secs(120),
            max_attempts: 10,
            initial_backoff: Duration::from_secs(10),
            max_backoff: Duration::from_secs(3600),
            batch: 20,
            worker: true,
        }
    }
}

/// The outbox of one database, delivering through one [`Mailer`]'s transport. Cheap to
/// clone.
///
/// Built inside a Tokio runtime, it starts its worker at once (else at the first
/// [`notify`](Self::notify)); the worker stops when the last clone is dropped. Several
/// outboxes may serve one database (several instances, or auth and billing in one process):
/// each message is claimed by one of them and sent through that outbox's transport.
#[derive(Clone)]
pub struct Outbox {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    mailer: Mailer,
    config: OutboxConfig,
    wake: Arc<Notify>,
    stop: CancellationToken,
    started: AtomicBool,
    /// Held for each delivery pass, so [`Outbox::flush`] also waits for the worker's.
    pass: Mutex<()>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Outbox {
    /// An outbox over `db` (migrated) delivering through `mailer`, paced by the mailer's
    /// [`MailerConfig::outbox`](crate::MailerConfig::outbox).
    pub fn new(db: Db, mailer: Mailer) -> Self {
        let config = mailer.config().outbox.clone();
        let outbox = Self {
            inner: Arc::new(Inner {
                db,
                mailer,
                config,
                wake: Arc::new(Notify::new()),
                stop: CancellationToken::new(),
                started: AtomicBool::new(false),
                pass: Mutex::new(()),
            }),
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            outbox.start();
        }
        outbox
    }

    /// The mailer whose identity and transport the messages use.
    pub fn mailer(&self) -> &Mailer {
        &self.inner.mailer
    }

    /// Renders template `T` for `to` and writes it to the outbox inside `tx` (a
    /// [`Tx`](tollbooth_db::Tx), or the [`Db`] itself), under `idempotency_key` — a domain
    /// key such as `welcome/{user_id}`: one key is one message, ever. The message goes out
    /// once `tx` commits and [`notify`](Self::notify) wakes the worker (or at its next poll);
    /// if `tx` rolls back, it never existed. Returns `false` when the key was already queued.
    pub async fn queue<T: EmailTemplate>(
        &self,
        tx: &impl OutboxRepo,
        to: impl Into<Recipients>,
        props: &T::Props,
        idempotency_key: impl Into<String>,
    ) -> Result<bool> {
        let email = self
            .inner
            .mailer
            .prepare::<T>(to, props, idempotency_key.into())?;
        let mut row = NewOutboxEmail::new(
            email.idempotency_key(),
            T::NAME,
            email.from().to_string(),
            email.to().iter().map(ToString::to_string).collect(),
            email.subject(),
            email.html(),
            email.text(),
        );
        row.reply_to = email.reply_to().map(ToString::to_string);
        tx.enqueue_email(row).await.map_err(storage)
    }

    /// Wakes the worker: call after the transaction that queued messages has committed.
    pub fn notify(&self) {
        self.start();
        self.inner.wake.notify_one();
    }

    /// Delivers every message due now (waiting for a pass the worker has in progress), and
    /// returns how many were attempted — for graceful shutdown and tests. Messages waiting
    /// for a retry later are left to the worker.
    pub async fn flush(&self) -> Result<usize> {
        let mut attempted = 0;
        loop {
            let claimed = self.deliver_due().await?;
            attempted += claimed;
            if claimed < usize::try_from(self.inner.config.batch).unwrap_or(usize::MAX) {
                return Ok(attempted);
            }
        }
    }

    fn start(&self) {
        if !self.inner.config.worker || self.inner.started.swap(true, Ordering::SeqCst) {
            return;
        }
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        let wake = self.inner.wake.clone();
        let stop = self.inner.stop.clone();
        let poll = self.inner.config.poll_interval;
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = wake.notified() => {}
                    () = tokio::time::sleep(poll) => {}
                }
                let Some(inner) = weak.upgrade() else { return };
                let outbox = Outbox { inner };
                if let Err(error) = outbox.flush().await {
                    tracing::warn!(%error, "e-mail outbox: delivery pass failed; retrying later");
                }
            }
        });
    }

    /// One pass: claims up to a batch of due messages and attempts each.
    async fn deliver_due(&self) -> Result<usize> {
        let inner = &self.inner;
        let _pass = inner.pass.lock().await;
        let lease = TimeDelta::from_std(inner.config.lease).unwrap_or(TimeDelta::MAX);
        let claimed = inner
            .db
            .claim_due_emails(tollbooth_db::now(), lease, inner.config.batch)
            .await
            .map_err(storage)?;
        for row in &claimed {
            self.deliver(row).await?;
        }
        Ok(claimed.len())
    }

    async fn deliver(&self, row: &OutboxEmail) -> Result<()> {
        let inner = &self.inner;
        let outcome = match email_of(row) {
            Ok(email) => inner.mailer.deliver(&email).await.map(|_| ()),
            Err(invalid) => Err(invalid),
        };
        let now = tollbooth_db::now();
        match outcome {
            Ok(()) => {
                tracing::debug!(template = %row.template, key = %row.idempotency_key, "e-mail sent from the outbox");
                inner.db.mark_email_sent(row.id, now).await.map_err(storage)
            }
            Err(error) => {
                let attempts = u32::try_from(row.attempts).unwrap_or(u32::MAX);
                let then = if is_transient(&error) && attempts < inner.config.max_attempts {
                    let wait = backoff(&inner.config, attempts);
                    tracing::warn!(template = %row.template, key = %row.idempotency_key, attempts, %error, ?wait, "e-mail not sent; will retry");
                    DeliveryFailure::RetryAt(
                        now + TimeDelta::from_std(wait).unwrap_or(TimeDelta::MAX),
                    )
                } else {
                    tracing::error!(template = %row.template, key = %row.idempotency_key, attempts, %error, "e-mail not sent; giving up");
                    DeliveryFailure::GiveUp
                };
                inner
                    .db
                    .mark_email_failed(row.id, &error.to_string(), then, now)
                    .await
                    .map_err(storage)
            }
        }
    }
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// The message a row holds, validated again (the row is data from the database).
fn email_of(row: &OutboxEmail) -> Result<Email> {
    let to: Vec<String> = serde_json::from_value(row.recipients.clone())
        .map_err(|_| EmailError::InvalidAddress { field: "to" })?;
    Email::new(EmailParts {
        from: Some(Mailbox::parse(&row.from_mailbox, "from")?),
        to: Recipients::from(to),
        reply_to: row
            .reply_to
            .as_deref()
            .map(|r| Mailbox::parse(r, "reply_to"))
            .transpose()?,
        subject: row.subject.clone(),
        html: row.html.clone(),
        text: row.text_body.clone(),
        idempotency_key: row.idempotency_key.clone(),
    })
}

/// Only an unreachable or failing provider is worth another attempt; a refusal or an
/// invalid message will fail the same way again.
fn is_transient(error: &EmailError) -> bool {
    matches!(error, EmailError::Unavailable { .. })
}

/// The wait after `attempts` failed attempts: `initial_backoff · 2^(attempts-1)`, capped.
fn backoff(config: &OutboxConfig, attempts: u32) -> Duration {
    config
        .initial_backoff
        .saturating_mul(2u32.saturating_pow(attempts.saturating_sub(1)))
        .min(config.max_backoff)
}

fn storage(error: tollbooth_db::DbError) -> EmailError {
    EmailError::Storage { source: error }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let config = OutboxConfig::default();
        let waits: Vec<u64> = (1..=11).map(|n| backoff(&config, n).as_secs()).collect();
        assert_eq!(
            waits,
            [10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600]
        );
    }
}
