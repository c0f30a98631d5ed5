//! The security audit trail: every security-relevant change appends one event in the
//! transaction of the change itself (no event without its change, no change without its
//! event), and users read their own.

use tollbooth_db::{
    NewSecurityEvent, SecurityEvent, SecurityEventKind, SecurityEventQuery, SecurityEventRepo, Tx,
};
use uuid::Uuid;

use crate::error::Result;
use crate::headers::RequestInfo;
use crate::service::Auth;
use crate::session::Session;

/// The most events one page of the audit trail holds.
pub const MAX_EVENTS_PER_PAGE: u64 = 100;

/// Who did something to whose account, from which request, with what detail.
pub(crate) struct Audit<'a> {
    pub(crate) kind: SecurityEventKind,
    pub(crate) actor: Uuid,
    pub(crate) subject: Uuid,
    pub(crate) request: &'a RequestInfo<'a>,
    pub(crate) detail: Option<serde_json::Value>,
}

impl<'a> Audit<'a> {
    /// `kind`, done by the user to their own account.
    pub(crate) fn own(kind: SecurityEventKind, user: Uuid, request: &'a RequestInfo<'a>) -> Self {
        Self {
            kind,
            actor: user,
            subject: user,
            request,
            detail: None,
        }
    }
}

impl Auth {
    /// Appends `event` inside `tx`, the transaction of the change it records.
    pub(crate) async fn record(&self, tx: &Tx, event: Audit<'_>) -> Result<()> {
        let mut row = NewSecurityEvent::new(
            event.kind,
            self.now(),
            Some(event.actor),
            Some(event.subject),
        );
        row.ip = event.request.ip.map(|ip| ip.to_string());
        row.user_agent = event.request.user_agent();
        row.detail = event.detail;
        tx.record_security_event(row).await?;
        Ok(())
    }

    /// The signed-in user's recent security activity, newest first: at most `limit` (capped
    /// at [`MAX_EVENTS_PER_PAGE`]) events older than the event `before`, when given.
    pub async fn security_activity(
        &self,
        session: &Session,
        before: Option<Uuid>,
        limit: u64,
    ) -> Result<Vec<SecurityEvent>> {
        let mut query = SecurityEventQuery::default();
        query.subject_user_id = Some(session.user.id);
        query.before = before;
        let limit = limit.clamp(1, MAX_EVENTS_PER_PAGE);
        Ok(self.inner.db.list_security_events(&query, limit).await?)
    }
}
