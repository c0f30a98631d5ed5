//! Impersonation: an administrator acting as a user, to see what they see.
//!
//! [`UserAdmin::impersonate`] opens a session *as the user*, marked with the
//! administrator's own session (`sessions.impersonator_session_id`), and parks the
//! administrator's token in a cookie of its own; [`Auth::stop_impersonating`] ends the
//! impersonation and puts that token back. The impersonation is time-boxed (default one
//! hour), lives only while the administrator's session does and while they are still an
//! administrator (checked on every request, see `Sessions::live`; once that check fails
//! the impersonation is revoked for good), cannot be started on — or go on as — an
//! administrator, and is never *fresh*: it cannot change the user's password, address,
//! second factor or sign-in providers, end the user's sessions, export the account or
//! delete it. Start and stop are recorded in the audit trail, by the administrator about
//! the user; the user's own list of sessions does not show it. Signing out while
//! impersonating ends the administrator's parked session too.

use serde_json::json;
use tollbooth_db::{SecurityEventKind, SessionRepo};
use uuid::Uuid;

use crate::admin::UserAdmin;
use crate::audit::Audit;
use crate::cookie::SetCookie;
use crate::error::{AuthError, Result};
use crate::headers::RequestInfo;
use crate::service::Auth;
use crate::session::{Session, is_admin};

/// The session a response switches the browser to, and the cookies that do it.
#[derive(Debug)]
#[non_exhaustive]
pub struct SessionSwitch {
    /// The session now in use.
    pub session: Session,
    /// Every cookie the response must set: the session cookie, and the parked
    /// administrator's token (set when impersonation starts, cleared when it stops).
    pub cookies: [SetCookie; 2],
}

impl UserAdmin<'_> {
    /// Opens a session as user `id` for the administrator, for the configured time
    /// ([`AuthConfigBuilder::impersonation_lifetime`](crate::AuthConfigBuilder::impersonation_lifetime),
    /// one hour by default). The administrator's session must be fresh; another
    /// administrator (or oneself) cannot be impersonated ([`AuthError::Forbidden`] /
    /// [`AuthError::InvalidInput`]), nor a banned user ([`AuthError::Banned`]). The
    /// administrator's own session stays live, its token parked in a cookie until
    /// [`Auth::stop_impersonating`]. Recorded as `impersonation_started`
    /// (`detail.session`: the impersonation's session).
    pub async fn impersonate(&self, id: Uuid) -> Result<SessionSwitch> {
        let (tx, user) = self.begin(id).await?;
        if is_admin(&user) {
            return Err(AuthError::Forbidden);
        }
        let inner = &*self.auth.inner;
        let lifetime = inner.config.impersonation_lifetime;
        let (session, cookie) = inner
            .sessions
            .impersonate(&tx, self.admin, user, lifetime, self.request)
            .await?;
        let detail = json!({ "session": session.id });
        self.commit(
            tx,
            SecurityEventKind::ImpersonationStarted,
            id,
            Some(detail),
        )
        .await?;
        tracing::info!(user_id = %id, admin_id = %self.admin.user.id, session_id = %session.id, "impersonation started");
        let parked = inner.sessions.park(self.admin, &session);
        Ok(SessionSwitch {
            session,
            cookies: [cookie, parked],
        })
    }
}

impl Auth {
    /// Ends the impersonation `session` and returns the administrator to their own
    /// session, whose token the request carries in the parked cookie. Recorded as
    /// `impersonation_stopped`. Not an impersonation: [`AuthError::InvalidInput`]; the
    /// parked token missing, not the administrator's session that started it, or ended:
    /// [`AuthError::Unauthorized`], with nothing changed (signing out ends the
    /// impersonation either way).
    pub async fn stop_impersonating(
        &self,
        session: &Session,
        request: &RequestInfo<'_>,
    ) -> Result<SessionSwitch> {
        let Some(admin_id) = session.impersonated_by else {
            return Err(AuthError::InvalidInput {
                field: "session",
                reason: "this session is not impersonating anyone",
            });
        };
        let inner = &*self.inner;
        let db = &inner.db;
        let row = db
            .find_session(session.id)
            .await?
            .ok_or(AuthError::Unauthorized)?;
        let (token, claims) = inner
            .sessions
            .parked(request.headers)
            .filter(|(_, claims)| Some(claims.sid) == row.impersonator_session_id)
            .ok_or(AuthError::Unauthorized)?;
        let now = self.now();
        let admin = inner
            .sessions
            .live(db, token, &claims, now)
            .await?
            .ok_or(AuthError::Unauthorized)?;
        let tx = db.begin().await?;
        if !tx.revoke_session(session.id, now).await? {
            return Err(AuthError::Unauthorized); // stopped by a concurrent request
        }
        let event = Audit {
            kind: SecurityEventKind::ImpersonationStopped,
            actor: Some(admin_id),
            subject: Some(session.user.id),
            request,
            detail: Some(json!({ "session": session.id })),
        };
        self.record(&tx, event).await?;
        tx.commit().await?;
        tracing::info!(user_id = %session.user.id, %admin_id, session_id = %session.id, "impersonation stopped");
        let cookie = admin
            .refreshed_cookie
            .unwrap_or_else(|| inner.sessions.cookie_of(&admin.session));
        Ok(SessionSwitch {
            session: admin.session,
            cookies: [cookie, inner.sessions.clear_parked()],
        })
    }
}

/// [`AuthError::Impersonating`] for an impersonation: the changes only the user may make
/// (password, address, second factor, providers, export, deletion, ending the user's
/// sessions) call it, directly or through [`Auth::require_fresh`].
pub(crate) fn refuse_impersonation(session: &Session) -> Result<()> {
    match session.impersonated_by {
        Some(_) => Err(AuthError::Impersonating),
        None => Ok(()),
    }
}
