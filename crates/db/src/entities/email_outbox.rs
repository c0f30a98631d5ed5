//! `email_outbox`: rendered e-mails waiting for (or past) delivery. A row is written in the
//! same transaction as the change it reports and delivered by a worker afterwards.

use sea_orm::entity::prelude::*;

/// An outbox row. `Debug` leaves the bodies out: they carry single-use links until sent.
#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "email_outbox")]
pub struct Model {
    /// UUID v7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Sent to the provider with the message; unique, so one key is one message.
    #[sea_orm(unique)]
    pub idempotency_key: String,
    /// Template name (`welcome`, `password_reset`, …), for logs.
    pub template: String,
    /// `From` mailbox.
    pub from_mailbox: String,
    /// `Reply-To` mailbox.
    pub reply_to: Option<String>,
    /// Recipient mailboxes (JSON array of strings).
    #[sea_orm(column_type = "JsonBinary")]
    pub recipients: Json,
    /// Subject.
    pub subject: String,
    /// HTML body; emptied once sent (it may hold a single-use link).
    pub html: String,
    /// Plain-text body; emptied once sent.
    pub text_body: String,
    /// Delivery attempts started.
    pub attempts: i32,
    /// Not to be tried before this time.
    pub next_attempt_at: DateTimeUtc,
    /// A worker holds it until then (a crashed worker's claim runs out).
    pub locked_until: Option<DateTimeUtc>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When the provider accepted it.
    pub sent_at: Option<DateTimeUtc>,
    /// When delivery was given up (a permanent refusal, or too many attempts).
    pub failed_at: Option<DateTimeUtc>,
    /// Row creation time (UTC).
    pub created_at: DateTimeUtc,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxEmail")
            .field("id", &self.id)
            .field("idempotency_key", &self.idempotency_key)
            .field("template", &self.template)
            .field("recipients", &self.recipients)
            .field("subject", &self.subject)
            .field("attempts", &self.attempts)
            .field("next_attempt_at", &self.next_attempt_at)
            .field("sent_at", &self.sent_at)
            .field("failed_at", &self.failed_at)
            .finish_non_exhaustive()
    }
}

/// No relations are navigated through sea-orm; repositories query by key.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
