//! The e-mail outbox: rendered messages written in the caller's transaction, claimed and
//! delivered by workers on any instance.

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::OutboxEmail;
use crate::db::sealed::Executor;
use crate::entities::email_outbox::{self, Column, Entity};
use crate::error::{DbError, Result};
use crate::time::{micros, now};

const ENTITY: &str = "outbox e-mail";

/// A rendered message to deliver. `Debug` leaves the bodies out (they may carry a
/// single-use link).
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewOutboxEmail {
    /// One message per key, ever; also the provider's idempotency key.
    pub idempotency_key: String,
    /// Template name, for logs.
    pub template: String,
    /// `From`.
    pub from: String,
    /// `Reply-To`.
    pub reply_to: Option<String>,
    /// Recipients.
    pub to: Vec<String>,
    /// Subject.
    pub subject: String,
    /// HTML body.
    pub html: String,
    /// Plain-text body.
    pub text: String,
}

impl std::fmt::Debug for NewOutboxEmail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewOutboxEmail")
            .field("idempotency_key", &self.idempotency_key)
            .field("template", &self.template)
            .field("to", &self.to)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

impl NewOutboxEmail {
    /// A message; every field is set by the caller.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        idempotency_key: impl Into<String>,
        template: impl Into<String>,
        from: impl Into<String>,
        to: Vec<String>,
        subject: impl Into<String>,
        html: impl Into<String>,
        text: impl Into<String>,
    ) -> Self {
        Self {
            idempotency_key: idempotency_key.into(),
            template: template.into(),
            from: from.into(),
            reply_to: None,
            to,
            subject: subject.into(),
            html: html.into(),
            text: text.into(),
        }
    }
}

/// What became of a delivery attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeliveryFailure {
    /// Try again at this time.
    RetryAt(DateTime<Utc>),
    /// Give up: the provider refused it for good, or too many attempts failed.
    GiveUp,
}

/// The e-mail outbox.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait OutboxRepo: Send + Sync {
    /// Queues a message, due now. A key already queued (or sent) is left as it is and
    /// `false` is returned: one key is one message.
    async fn enqueue_email(&self, email: NewOutboxEmail) -> Result<bool>;
    /// Claims up to `limit` due messages for `lease` (attempts + 1): until the lease runs
    /// out no other worker takes them, and a worker that dies holding them only delays them.
    /// One conditional `UPDATE`, so two workers never claim one message.
    async fn claim_due_emails(
        &self,
        now: DateTime<Utc>,
        lease: TimeDelta,
        limit: u64,
    ) -> Result<Vec<OutboxEmail>>;
    /// Records that the provider accepted the message; its bodies are emptied.
    async fn mark_email_sent(&self, id: Uuid, at: DateTime<Utc>) -> Result<()>;
    /// Records a failed attempt: retried at a time, or given up (bodies emptied).
    async fn mark_email_failed(
        &self,
        id: Uuid,
        error: &str,
        then: DeliveryFailure,
        at: DateTime<Utc>,
    ) -> Result<()>;
    /// The message queued under this key.
    async fn find_outbox_email(&self, idempotency_key: &str) -> Result<Option<OutboxEmail>>;
    /// Deletes messages sent or given up before `before` (never one still due); returns how
    /// many. Its idempotency key goes with it: keep them as long as anything may queue the
    /// same message again (a webhook redelivered within the ledger's retention).
    async fn purge_emails(&self, before: DateTime<Utc>) -> Result<u64>;
}

#[async_trait]
impl<E: Executor> OutboxRepo for E {
    async fn enqueue_email(&self, email: NewOutboxEmail) -> Result<bool> {
        let at = now();
        let model = email_outbox::ActiveModel {
            id: Set(Uuid::now_v7()),
            idempotency_key: Set(email.idempotency_key),
            template: Set(email.template),
            from_mailbox: Set(email.from),
            reply_to: Set(email.reply_to),
            recipients: Set(serde_json::json!(email.to)),
            subject: Set(email.subject),
            html: Set(email.html),
            text_body: Set(email.text),
            attempts: Set(0),
            next_attempt_at: Set(at),
            locked_until: Set(None),
            last_error: Set(None),
            sent_at: Set(None),
            failed_at: Set(None),
            created_at: Set(at),
        };
        let written = Entity::insert(model)
            .on_conflict(
                OnConflict::column(Column::IdempotencyKey)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(self.conn())
            .await
            .map_err(DbError::on(ENTITY))?;
        Ok(written == 1)
    }

    async fn claim_due_emails(
        &self,
        now: DateTime<Utc>,
        lease: TimeDelta,
        limit: u64,
    ) -> Result<Vec<OutboxEmail>> {
        let now = micros(now);
        // The conditions are repeated outside the sub-select: on PostgreSQL a second worker
        // whose UPDATE waited for the first re-checks them on the row as the first left it.
        let due = || {
            Condition::all()
                .add(Column::SentAt.is_null())
                .add(Column::FailedAt.is_null())
                .add(Column::NextAttemptAt.lte(now))
                .add(
                    Condition::any()
                        .add(Column::LockedUntil.is_null())
                        .add(Column::LockedUntil.lte(now)),
                )
        };
        let batch = Query::select()
            .column(Column::Id)
            .from(Entity)
            .cond_where(due())
            .order_by(Column::CreatedAt, sea_orm::Order::Asc)
            .limit(limit)
            .to_owned();
        Entity::update_many()
            .col_expr(Column::LockedUntil, Expr::value(micros(now + lease)))
            .col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1))
            .filter(due())
            .filter(Column::Id.in_subquery(batch))
            .exec_with_returning(self.conn())
            .await
            .map_err(DbError::on(ENTITY))
    }

    async fn mark_email_sent(&self, id: Uuid, at: DateTime<Utc>) -> Result<()> {
        Entity::update_many()
            .col_expr(Column::SentAt, Expr::value(micros(at)))
            .col_expr(
                Column::LockedUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(Column::LastError, Expr::value(Option::<String>::None))
            .col_expr(Column::Html, Expr::value(""))
            .col_expr(Column::TextBody, Expr::value(""))
            .filter(Column::Id.eq(id))
            .exec(self.conn())
            .await
            .map_err(DbError::on(ENTITY))?;
        Ok(())
    }

    async fn mark_email_failed(
        &self,
        id: Uuid,
        error: &str,
        then: DeliveryFailure,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let mut update = Entity::update_many()
            .col_expr(
                Column::LockedUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(Column::LastError, Expr::value(error))
            .filter(Column::Id.eq(id));
        update = match then {
            DeliveryFailure::RetryAt(retry_at) => {
                update.col_expr(Column::NextAttemptAt, Expr::value(micros(retry_at)))
            }
            DeliveryFailure::GiveUp => update
                .col_expr(Column::FailedAt, Expr::value(micros(at)))
                .col_expr(Column::Html, Expr::value(""))
                .col_expr(Column::TextBody, Expr::value("")),
        };
        update
            .exec(self.conn())
            .await
            .map_err(DbError::on(ENTITY))?;
        Ok(())
    }

    async fn find_outbox_email(&self, idempotency_key: &str) -> Result<Option<OutboxEmail>> {
        Entity::find()
            .filter(Column::IdempotencyKey.eq(idempotency_key))
            .one(self.conn())
            .await
            .map_err(DbError::on(ENTITY))
    }

    async fn purge_emails(&self, before: DateTime<Utc>) -> Result<u64> {
        let before = micros(before);
        let done = Condition::any()
            .add(Column::SentAt.lt(before))
            .add(Column::FailedAt.lt(before));
        let purged = Entity::delete_many()
            .filter(done)
            .exec(self.conn())
            .await
            .map_err(DbError::on(ENTITY))?;
        Ok(purged.rows_affected)
    }
}
