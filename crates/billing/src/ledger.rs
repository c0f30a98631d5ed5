//! The exactly-once ledger, for Stripe and Cal.com alike: an event's effect runs in the
//! transaction that records its id, so it happens once whatever the deliveries.

use chrono::{DateTime, Utc};
use tollbooth_db::{Db, DbError, Tx, WebhookEventRepo, WebhookSource};

use crate::error::Result;

/// A transaction holding the ledger row of `(source, event_id)` — apply the effect in it and
/// commit — or `None` when the event was already recorded (a redelivery, or a concurrent
/// duplicate on any instance: the unique index decides).
pub(crate) async fn begin_once(
    db: &Db,
    source: WebhookSource,
    event_id: &str,
    event_type: &str,
    received_at: DateTime<Utc>,
) -> Result<Option<Tx>> {
    let tx = db.begin().await?;
    match tx
        .record_webhook_event(source, event_id, event_type, received_at)
        .await
    {
        Ok(_) => Ok(Some(tx)),
        Err(DbError::Conflict { .. }) => Ok(None),
        Err(error) => Err(error.into()),
    }
}
