//! The processed-webhook ledger.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::WebhookEvent;
use crate::db::sealed::Executor;
use crate::entities::webhook_event::{self, Column, Entity, WebhookSource};
use crate::error::{DbError, Result};
use crate::time::micros;

const ENTITY: &str = "webhook event";

/// Processed webhook events, unique per `(source, event_id)`.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait WebhookEventRepo: Send + Sync {
    /// Records an event as processed. An event already recorded is [`DbError::Conflict`]:
    /// record it in the same [`Tx`](crate::Tx) as its effect, and a duplicate delivery (even
    /// a concurrent one, on another instance) cannot apply twice.
    async fn record_webhook_event(
        &self,
        source: WebhookSource,
        event_id: &str,
        event_type: &str,
        received_at: DateTime<Utc>,
    ) -> Result<WebhookEvent>;
    /// The recorded event, if it was processed.
    async fn find_webhook_event(
        &self,
        source: WebhookSource,
        event_id: &str,
    ) -> Result<Option<WebhookEvent>>;
    /// Forgets events received before `before`; returns how many. Keep well beyond the
    /// sender's retry horizon (Stripe retries for three days).
    async fn purge_webhook_events(&self, before: DateTime<Utc>) -> Result<u64>;
}

#[async_trait]
impl<E: Executor> WebhookEventRepo for E {
    async fn record_webhook_event(
        &self,
        source: WebhookSource,
        event_id: &str,
        event_type: &str,
        received_at: DateTime<Utc>,
    ) -> Result<WebhookEvent> {
        let model = webhook_event::ActiveModel {
            id: Set(Uuid::now_v7()),
            source: Set(source),
            event_id: Set(event_id.to_owned()),
            event_type: Set(event_type.to_owned()),
            received_at: Set(micros(received_at)),
        };
        Entity::insert(model)
            .exec_with_returning(self.conn())
            .await
            .map_err(DbError::on(ENTITY))
    }

    async fn find_webhook_event(
        &self,
        source: WebhookSource,
        event_id: &str,
    ) -> Result<Option<WebhookEvent>> {
        Entity::find()
            .filter(Column::Source.eq(source))
            .filter(Column::EventId.eq(event_id))
            .one(self.conn())
            .await
            .map_err(DbError::on(ENTITY))
    }

    async fn purge_webhook_events(&self, before: DateTime<Utc>) -> Result<u64> {
        let result = Entity::delete_many()
            .filter(Column::ReceivedAt.lt(micros(before)))
            .exec(self.conn())
            .await
            .map_err(DbError::on(ENTITY))?;
        Ok(result.rows_affected)
    }
}
