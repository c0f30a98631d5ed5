//! The security audit trail: every security-relevant change appends one event in the
//! transaction of the change itself (no event without its change, no change without its
//! event), and users read their own.

use std::net::IpAddr;

use serde_json::json;
use tollbooth_db::{
    NewSecurityEvent, SecurityEvent, SecurityEventKind, SecurityEventQuery, SecurityEventRepo, Tx,
    User,
};
use tollbooth_email::SecurityChange;
use uuid::Uuid;

use crate::cookie::SetCookie;
use crate::error::Result;
use crate::headers::RequestInfo;
use crate::oauth::Provider;
use crate::secret::address_key;
use crate::service::Auth;
use crate::session::Session;

/// A device, as far as a sign-in can tell: the user agent without its version numbers (a
/// browser update is the same device) and the client's network (IPv4 /24, IPv6 /48: a
/// new address from the same provider is the same place).
#[derive(Debug, PartialEq, Eq)]
struct Device {
    agent: Option<String>,
    network: Option<String>,
}

impl Device {
    fn of(ip: Option<IpAddr>, user_agent: Option<&str>) -> Self {
        let agent = user_agent.map(|ua| {
            ua.chars()
                .filter(|c| !c.is_ascii_digit() && *c != '.' && *c != '_')
                .collect()
        });
        let network = ip.map(|ip| match ip {
            IpAddr::V4(v4) => {
                let [a, b, c, _] = v4.octets();
                format!("{a}.{b}.{c}.0/24")
            }
            IpAddr::V6(v6) => {
                let [a, b, c, ..] = v6.segments();
                format!("{a:x}:{b:x}:{c:x}::/48")
            }
        });
        Self { agent, network }
    }
}

/// How much of a user agent the new sign-in alert quotes.
const MAX_QUOTED_AGENT_CHARS: usize = 120;

/// The most events one page of the audit trail holds.
pub const MAX_EVENTS_PER_PAGE: u64 = 100;

/// Who did something to whose account, from which request, with what detail.
pub(crate) struct Audit<'a> {
    pub(crate) kind: SecurityEventKind,
    pub(crate) actor: Option<Uuid>,
    pub(crate) subject: Option<Uuid>,
    pub(crate) request: &'a RequestInfo<'a>,
    pub(crate) detail: Option<serde_json::Value>,
}

impl<'a> Audit<'a> {
    /// `kind`, done by the user to their own account.
    pub(crate) fn own(kind: SecurityEventKind, user: Uuid, request: &'a RequestInfo<'a>) -> Self {
        Self {
            kind,
            actor: Some(user),
            subject: Some(user),
            request,
            detail: None,
        }
    }
}

/// A change a user makes to how their account is protected: recorded in the audit trail
/// and told to the owner by a security notice, both in the change's transaction
/// ([`Auth::security_change`]). The one list of them, so neither can be forgotten.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Change {
    PasswordChanged,
    MfaEnabled,
    MfaDisabled,
    BackupCodesRegenerated,
    ProviderLinked(Provider),
    ProviderUnlinked(Provider),
}

impl Change {
    fn kind(self) -> SecurityEventKind {
        match self {
            Self::PasswordChanged => SecurityEventKind::PasswordChanged,
            Self::MfaEnabled => SecurityEventKind::MfaEnabled,
            Self::MfaDisabled => SecurityEventKind::MfaDisabled,
            Self::BackupCodesRegenerated => SecurityEventKind::BackupCodesRegenerated,
            Self::ProviderLinked(_) => SecurityEventKind::ProviderLinked,
            Self::ProviderUnlinked(_) => SecurityEventKind::ProviderUnlinked,
        }
    }

    fn detail(self) -> Option<serde_json::Value> {
        match self {
            Self::ProviderLinked(provider) | Self::ProviderUnlinked(provider) => {
                Some(json!({ "provider": provider.as_str() }))
            }
            _ => None,
        }
    }

    fn notice(self) -> SecurityChange {
        match self {
            Self::PasswordChanged => SecurityChange::PasswordChanged,
            Self::MfaEnabled => SecurityChange::MfaEnabled,
            Self::MfaDisabled => SecurityChange::MfaDisabled,
            Self::BackupCodesRegenerated => SecurityChange::BackupCodesRegenerated,
            Self::ProviderLinked(provider) => SecurityChange::ProviderLinked {
                provider: provider.display_name().to_owned(),
            },
            Self::ProviderUnlinked(provider) => SecurityChange::ProviderUnlinked {
                provider: provider.display_name().to_owned(),
            },
        }
    }
}

impl Auth {
    /// Records `change`, made by `user` to their own account, and queues its security
    /// notice, both inside `tx`, the transaction of the change.
    pub(crate) async fn security_change(
        &self,
        tx: &Tx,
        user: &User,
        change: Change,
        request: &RequestInfo<'_>,
    ) -> Result<()> {
        let mut event = Audit::own(change.kind(), user.id, request);
        event.detail = change.detail();
        self.record(tx, event).await?;
        self.queue_security_notice(tx, user, change.notice(), request)
            .await
    }

    /// A sign-in: the session is opened and the event recorded in one transaction.
    /// `method` is `password` or the provider; `mfa` when a second factor completed it.
    /// A sign-in from a device the account has not signed in from lately also queues the
    /// new sign-in alert, in the same transaction.
    pub(crate) async fn open_session(
        &self,
        user: User,
        request: &RequestInfo<'_>,
        method: Option<&str>,
        mfa: bool,
    ) -> Result<(Session, SetCookie)> {
        let tx = self.inner.db.begin().await?;
        let subject = user.id;
        let alert = self.is_new_device(&tx, &user, request).await?;
        if alert {
            self.queue_new_sign_in_alert(&tx, &user, request).await?;
        }
        let (session, cookie) = self.inner.sessions.open(&tx, user, request).await?;
        let mut event = Audit::own(SecurityEventKind::SignedIn, subject, request);
        event.detail = Some(match method {
            Some(method) => json!({ "method": method, "mfa": mfa }),
            None => json!({ "mfa": mfa }),
        });
        self.record(&tx, event).await?;
        tx.commit().await?;
        if alert {
            self.inner.mail.committed();
        }
        self.tell(tollbooth_core::DomainEvent::SignedIn {
            user_id: subject,
            session_id: session.id,
        })
        .await;
        Ok((session, cookie))
    }

    /// Whether `request` comes from a device that has not signed in to `user`'s account in
    /// the new-device window. An account's first sign-in alerts no one (there is nothing to
    /// compare it with); the first after the window has passed always alerts.
    async fn is_new_device(&self, tx: &Tx, user: &User, request: &RequestInfo<'_>) -> Result<bool> {
        let Some(window) = self.inner.config.new_device_window else {
            return Ok(false);
        };
        if user.email_verified_at.is_none() {
            return Ok(false); // nobody proved the address: there is no one to tell
        }
        let mut query = SecurityEventQuery::default();
        query.subject_user_id = Some(user.id);
        query.kind = Some(SecurityEventKind::SignedIn);
        query.since = Some(self.now() - window);
        let recent = tx.list_security_events(&query, MAX_EVENTS_PER_PAGE).await?;
        if recent.is_empty() {
            // No sign-in within the window: the first of a new account alerts no one, the
            // first after a long absence (what credential stuffing finds) always does.
            query.since = None;
            return Ok(!tx.list_security_events(&query, 1).await?.is_empty());
        }
        let device = Device::of(request.ip, request.user_agent().as_deref());
        Ok(!recent.iter().any(|seen| {
            let ip = seen.ip.as_deref().and_then(|ip| ip.parse().ok());
            Device::of(ip, seen.user_agent.as_deref()) == device
        }))
    }

    async fn queue_new_sign_in_alert(
        &self,
        tx: &Tx,
        user: &User,
        request: &RequestInfo<'_>,
    ) -> Result<()> {
        let report = self.issue_report(tx, user, None).await?;
        // The client wrote it: quoted, but short, so it cannot carry a letter of its own.
        let device = request
            .user_agent()
            .map(|agent| agent.chars().take(MAX_QUOTED_AGENT_CHARS).collect());
        self.inner
            .mail
            .new_sign_in(tx, user, self.now(), request.ip, device, &report)
            .await
    }

    /// Records a sign-in refused for a wrong password: against the user, or — for an
    /// address without an account — against a hash of the address (never the address).
    pub(crate) async fn record_failed_sign_in(
        &self,
        user: Option<&User>,
        normalized_email: &str,
        request: &RequestInfo<'_>,
    ) -> Result<()> {
        let event = Audit {
            kind: SecurityEventKind::SignInFailed,
            actor: None,
            subject: user.map(|u| u.id),
            request,
            detail: user
                .is_none()
                .then(|| json!({ "email_key": address_key(normalized_email) })),
        };
        // No change to be atomic with: the failure counter is its own write.
        self.record(&self.inner.db, event).await
    }

    /// Appends `event` on `repo`: the [`Tx`] of the change it records.
    pub(crate) async fn record(
        &self,
        repo: &impl SecurityEventRepo,
        event: Audit<'_>,
    ) -> Result<()> {
        let mut row = NewSecurityEvent::new(event.kind, self.now(), event.actor, event.subject);
        row.ip = event.request.ip.map(|ip| ip.to_string());
        row.user_agent = event.request.user_agent();
        row.detail = event.detail;
        repo.record_security_event(row).await?;
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
