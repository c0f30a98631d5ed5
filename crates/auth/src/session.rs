//! Reading sessions from requests: [`Auth::get_session`], the guards, and the stateless
//! edge check.

use std::borrow::Cow;
use std::fmt;

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;
use tollbooth_db::{NewSession, SecurityEventKind, SessionRepo, User};
use uuid::Uuid;

use crate::audit::Audit;
use crate::clock::Clock;
use crate::config::AuthConfig;
use crate::cookie::{SetCookie, cookie_values};
use crate::error::{AuthError, Result};
use crate::headers::{HeaderView, RequestInfo};
use crate::impersonation::refuse_impersonation;
use crate::jwt::{SessionClaims, TokenCodec};
use crate::service::Auth;

/// A user role. `user` and `admin` are built in; any other name works too.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Role(Cow<'static, str>);

impl Role {
    /// Every account's default role.
    pub const USER: Role = Role(Cow::Borrowed("user"));
    /// Administrators: pass every role check.
    pub const ADMIN: Role = Role(Cow::Borrowed("admin"));

    /// A role by name (`editor`, `billing`, …).
    pub fn new(name: impl Into<Cow<'static, str>>) -> Self {
        Self(name.into())
    }

    /// The role's name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether a holder of this role may act as `required`: the same role, or admin.
    pub fn satisfies(&self, required: &Role) -> bool {
        self == required || *self == Self::ADMIN
    }
}

impl fmt::Debug for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Role({})", self.0)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A live, verified session and its user as of this request.
#[derive(Clone)]
pub struct Session {
    /// Session id (the JWT `sid`).
    pub id: Uuid,
    /// The user, read from the database on this request (current role, e-mail…).
    pub user: tollbooth_db::User,
    /// Sign-in time.
    pub created_at: DateTime<Utc>,
    /// When the session last proved who it is: sign-in, or a later re-authentication
    /// (see [`Auth::require_fresh`]).
    pub authenticated_at: DateTime<Utc>,
    /// Hard end of the session.
    pub expires_at: DateTime<Utc>,
    /// The session's current JWT (for API clients that use `Authorization: Bearer`).
    pub token: String,
    /// Set on a session an administrator opened to act as the user (see
    /// [`UserAdmin::impersonate`](crate::UserAdmin::impersonate)): the administrator's
    /// user id. Such a session is never fresh, and cannot change the user's password,
    /// address, second factor or sign-in providers, nor delete the account.
    pub impersonated_by: Option<Uuid>,
    /// The organization the session acts in ([`Auth::set_active_organization`]); the
    /// user is a member of it as of this request (a removal clears it in its own
    /// transaction). Check the member's permissions with [`Auth::org_member`].
    pub active_organization: Option<Uuid>,
}

/// A session found on a request, and the cookie the response must carry when its token was
/// refreshed. Sending it is what keeps the write budget: a client that never receives it
/// presents a token past half its life on every request, and every one of them rewrites
/// the session row. The adapters' `session` middleware sends it; a handler that looks the
/// session up itself must.
#[derive(Clone, Debug)]
#[must_use = "send `refreshed_cookie` with the response, or every later request rewrites the session row"]
pub struct SessionLookup {
    /// The session.
    pub session: Session,
    /// A new session cookie (token renewed past half its life); `None` when the token is
    /// still young.
    pub refreshed_cookie: Option<SetCookie>,
}

impl SessionInfo {
    /// The row as a list shows it; `current` when it is the session `current`.
    pub(crate) fn of(row: tollbooth_db::SessionRow, current: Option<Uuid>) -> Self {
        Self {
            current: Some(row.id) == current,
            id: row.id,
            created_at: row.created_at,
            last_seen_at: row.last_seen_at,
            ip: row.ip,
            user_agent: row.user_agent,
        }
    }
}

impl Session {
    pub(crate) fn new(
        row: tollbooth_db::SessionRow,
        user: tollbooth_db::User,
        token: String,
    ) -> Self {
        Self {
            id: row.id,
            user,
            authenticated_at: row.authenticated_at(),
            created_at: row.created_at,
            expires_at: row.absolute_expires_at,
            token,
            impersonated_by: None,
            active_organization: row.active_organization_id,
        }
    }

    /// [`AuthError::Forbidden`] (403) unless the user has `role` or is admin — the one role
    /// check the guards, extractors and applications share.
    pub fn require_role(&self, role: &Role) -> Result<()> {
        if self.role().satisfies(role) {
            Ok(())
        } else {
            Err(AuthError::Forbidden)
        }
    }

    /// The user id.
    pub fn user_id(&self) -> Uuid {
        self.user.id
    }

    /// The user's role.
    pub fn role(&self) -> Role {
        Role::new(self.user.role.clone())
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.id)
            .field("user_id", &self.user.id)
            .field("role", &self.user.role)
            .field("expires_at", &self.expires_at)
            .field("impersonated_by", &self.impersonated_by)
            .field("active_organization", &self.active_organization)
            .field("token", &"[redacted]")
            .finish()
    }
}

/// One of a user's sessions, as shown in "where you are signed in".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionInfo {
    /// Session id.
    pub id: Uuid,
    /// Sign-in time.
    pub created_at: DateTime<Utc>,
    /// Last refresh.
    pub last_seen_at: DateTime<Utc>,
    /// IP at sign-in.
    pub ip: Option<String>,
    /// User agent at sign-in.
    pub user_agent: Option<String>,
    /// Whether it is the session making the request.
    pub current: bool,
}

/// Sessions: the JWT codec, the lifetimes and the cookie. Reads and writes session rows
/// on the executor it is given, so a flow can open or end sessions in its transaction.
pub(crate) struct Sessions {
    codec: TokenCodec,
    cookie_name: String,
    idle_timeout: TimeDelta,
    absolute_lifetime: TimeDelta,
    clock: Arc<dyn Clock>,
}

impl Sessions {
    pub(crate) fn new(config: &AuthConfig) -> Self {
        Self {
            codec: TokenCodec::new(config),
            cookie_name: config.cookie_name.clone(),
            idle_timeout: config.idle_timeout,
            absolute_lifetime: config.absolute_lifetime,
            clock: config.clock.clone(),
        }
    }

    /// Every session token the request presents that verifies (expired or not), with its
    /// claims: `Authorization: Bearer` first, then the session cookie(s); at most four.
    pub(crate) fn presented<'h>(
        &self,
        headers: &'h dyn HeaderView,
    ) -> Vec<(&'h str, SessionClaims)> {
        let now = self.clock.now();
        let bearer = headers
            .header_values("authorization")
            .into_iter()
            .filter_map(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            });
        let cookies = cookie_values(headers, &self.cookie_name).into_iter();
        bearer
            .chain(cookies)
            .take(4)
            .map(str::trim)
            .filter_map(
                |token| match self.codec.verify_ignoring_expiry(token, now) {
                    Ok(claims) => Some((token, claims)),
                    Err(why) => {
                        tracing::debug!(?why, "session token refused");
                        None
                    }
                },
            )
            .collect()
    }

    /// The request's live session, refreshed past half its JWT's life (see
    /// [`Auth::get_session`]).
    pub(crate) async fn lookup(
        &self,
        repo: &impl SessionRepo,
        headers: &dyn HeaderView,
    ) -> Result<Option<SessionLookup>> {
        let now = self.clock.now();
        for (token, claims) in self.presented(headers) {
            if let Some(found) = self.live(repo, token, &claims, now).await? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// The live session `token` (whose verified claims are `claims`) stands for, refreshed
    /// past half its JWT's life; `None` if it ended, or its user changed or is banned. An
    /// impersonation lives only while its administrator's session does and its
    /// administrator is one (not banned, not demoted).
    pub(crate) async fn live(
        &self,
        repo: &impl SessionRepo,
        token: &str,
        claims: &SessionClaims,
        now: DateTime<Utc>,
    ) -> Result<Option<SessionLookup>> {
        let Some((row, user)) = repo.find_session_with_user(claims.sid).await? else {
            return Ok(None);
        };
        // A ban revokes every session in its transaction; checking it here too closes
        // the race with a sign-in that read the user just before the ban committed.
        if row.user_id != claims.sub
            || user.id != claims.sub
            || !row.is_active(now)
            || user.is_banned(now)
        {
            return Ok(None);
        }
        let impersonated_by = match row.impersonator_session_id {
            None => None,
            // Acting as the user while the administrator's own session is live and they
            // are still an administrator, not banned — and never as an administrator (the
            // user promoted meanwhile).
            Some(sid) => match repo.find_session_with_user(sid).await? {
                Some((admin_row, admin))
                    if admin_row.is_active(now)
                        && admin_row.impersonator_session_id.is_none()
                        && !admin.is_banned(now)
                        && is_admin(&admin)
                        && !is_admin(&user) =>
                {
                    Some(admin.id)
                }
                // Otherwise the impersonation ends for good, so a later promotion does not
                // bring it back.
                _ => {
                    repo.revoke_session(row.id, now).await?;
                    return Ok(None);
                }
            },
        };
        let mut found = if claims.expires_at() - now > self.codec.lifetime() / 2 {
            SessionLookup {
                session: Session::new(row, user, token.to_owned()),
                refreshed_cookie: None,
            }
        } else {
            // Refresh: slide the idle deadline, then mint a new JWT for the same session.
            if !repo
                .touch_session(row.id, now, now + self.idle_timeout)
                .await?
            {
                return Ok(None); // revoked or expired meanwhile
            }
            let token = self.codec.issue(user.id, row.id, now);
            let cookie = self.cookie(&token, row.absolute_expires_at);
            SessionLookup {
                session: Session::new(row, user, token),
                refreshed_cookie: Some(cookie),
            }
        };
        found.session.impersonated_by = impersonated_by;
        Ok(Some(found))
    }

    /// Opens a session for `user` after a successful sign-in (password, OAuth, MFA): always
    /// a new session id, and every session the request presented is revoked (fixation).
    /// Every way of signing in ends here, so this is where a ban refuses it.
    pub(crate) async fn open(
        &self,
        repo: &impl SessionRepo,
        user: User,
        request: &RequestInfo<'_>,
    ) -> Result<(Session, SetCookie)> {
        let now = self.clock.now();
        refuse_banned(&user, now)?;
        self.end_presented(repo, request.headers).await?;
        let mut new = NewSession::new(user.id, now, self.idle_timeout, self.absolute_lifetime);
        new.ip = request.ip.map(|ip| ip.to_string());
        new.user_agent = request.user_agent();
        let row = repo.create_session(new).await?;
        let token = self.codec.issue(user.id, row.id, now);
        let cookie = self.cookie(&token, row.absolute_expires_at);
        Ok((Session::new(row, user, token), cookie))
    }

    /// Opens a session for `user` on behalf of the administrator whose session is `admin`
    /// (an impersonation): it ends after `lifetime`, or with the administrator's session,
    /// whichever comes first, and leaves every other session alone — the administrator's
    /// own is parked, not ended.
    pub(crate) async fn impersonate(
        &self,
        repo: &impl SessionRepo,
        admin: &Session,
        user: User,
        lifetime: TimeDelta,
        request: &RequestInfo<'_>,
    ) -> Result<(Session, SetCookie)> {
        let now = self.clock.now();
        refuse_banned(&user, now)?;
        // The administrator's parked session is not refreshed meanwhile: the impersonation
        // ends before it could idle out.
        let lifetime = Ord::min(lifetime, self.idle_timeout);
        let mut new = NewSession::new(user.id, now, lifetime, lifetime);
        new.ip = request.ip.map(|ip| ip.to_string());
        new.user_agent = request.user_agent();
        new.impersonator_session_id = Some(admin.id);
        let row = repo.create_session(new).await?;
        let token = self.codec.issue(user.id, row.id, now);
        let cookie = self.cookie(&token, row.absolute_expires_at);
        let mut session = Session::new(row, user, token);
        session.impersonated_by = Some(admin.user.id);
        Ok((session, cookie))
    }

    /// The cookie that keeps an impersonating administrator's own session token until
    /// they stop: the session cookie's name with `.admin` appended (so a `__Host-` name
    /// keeps its prefix), the same attributes.
    fn parked_cookie_name(&self) -> String {
        format!("{}.admin", self.cookie_name)
    }

    /// Parks `admin`'s session token in its own cookie, for as long as `impersonation`
    /// lasts: the token is no use to the browser afterwards.
    pub(crate) fn park(&self, admin: &Session, impersonation: &Session) -> SetCookie {
        let until = Ord::min(admin.expires_at, impersonation.expires_at);
        let max_age = (until - self.clock.now()).num_seconds();
        SetCookie::session(&self.parked_cookie_name(), &admin.token, max_age)
    }

    /// The parked administrator's token the request carries, verified (expired or not),
    /// with its claims.
    pub(crate) fn parked<'h>(
        &self,
        headers: &'h dyn HeaderView,
    ) -> Option<(&'h str, SessionClaims)> {
        let now = self.clock.now();
        cookie_values(headers, &self.parked_cookie_name())
            .into_iter()
            .map(str::trim)
            .find_map(|token| {
                let claims = self.codec.verify_ignoring_expiry(token, now).ok()?;
                Some((token, claims))
            })
    }

    /// The cookie that deletes the parked administrator's token.
    pub(crate) fn clear_parked(&self) -> SetCookie {
        SetCookie::clear(&self.parked_cookie_name())
    }

    /// The session cookie carrying `session`'s token.
    pub(crate) fn cookie_of(&self, session: &Session) -> SetCookie {
        self.cookie(&session.token, session.expires_at)
    }

    /// Revokes every session the request presents.
    pub(crate) async fn end_presented(
        &self,
        repo: &impl SessionRepo,
        headers: &dyn HeaderView,
    ) -> Result<()> {
        let now = self.clock.now();
        for (_, claims) in self.presented(headers) {
            repo.revoke_session(claims.sid, now).await?;
        }
        // An administrator who signs out (or in as someone else) while impersonating
        // leaves: their parked session ends too.
        if let Some((_, claims)) = self.parked(headers) {
            repo.revoke_session(claims.sid, now).await?;
        }
        Ok(())
    }

    /// The stateless check: signature, algorithm, type, key, issuer, audience and expiry.
    pub(crate) fn verify(&self, token: &str) -> Result<SessionClaims> {
        self.codec.verify(token, self.clock.now()).map_err(|why| {
            tracing::debug!(?why, "session token refused");
            AuthError::Unauthorized
        })
    }

    /// The cookie that deletes the session cookie in the browser.
    pub(crate) fn clear_cookie(&self) -> SetCookie {
        SetCookie::clear(&self.cookie_name)
    }

    fn cookie(&self, token: &str, expires_at: DateTime<Utc>) -> SetCookie {
        let max_age = (expires_at - self.clock.now()).num_seconds();
        SetCookie::session(&self.cookie_name, token, max_age)
    }
}

/// Whether `user` has the built-in administrator role.
pub(crate) fn is_admin(user: &User) -> bool {
    user.role == Role::ADMIN.as_str()
}

/// [`AuthError::Banned`] while `user`'s ban is in force.
pub(crate) fn refuse_banned(user: &User, now: DateTime<Utc>) -> Result<()> {
    if user.is_banned(now) {
        Err(AuthError::Banned)
    } else {
        Ok(())
    }
}

impl fmt::Debug for Sessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sessions")
            .field("codec", &self.codec)
            .field("cookie_name", &self.cookie_name)
            .finish_non_exhaustive()
    }
}

impl Auth {
    /// The request's session, if it presents a valid one: the token (session cookie or
    /// `Authorization: Bearer`) must verify — HS256 only, `typ`, `kid`, `iss`, `aud` — and
    /// its session row must be neither revoked nor past its idle or absolute deadline.
    ///
    /// The JWT is short-lived (15 min by default) and refreshed while the row lives: when it
    /// is past half its life (or expired, the row still being live) a new one is issued,
    /// the row's idle deadline slides, and [`SessionLookup::refreshed_cookie`] is set. So a JWT's
    /// own `exp` bounds only the stateless check ([`verify_session_token`](Self::verify_session_token));
    /// here the database decides, which is what makes revocation immediate.
    ///
    /// `Ok(None)` means "not signed in"; errors are infrastructure failures only.
    // No fields: the span says a lookup happened and how long it took, never whose.
    #[tracing::instrument(name = "tollbooth.get_session", skip_all)]
    pub async fn get_session(&self, headers: &dyn HeaderView) -> Result<Option<SessionLookup>> {
        self.inner.sessions.lookup(&self.inner.db, headers).await
    }

    /// The session, or [`AuthError::Unauthorized`] (401).
    pub async fn require_auth(&self, headers: &dyn HeaderView) -> Result<SessionLookup> {
        self.get_session(headers)
            .await?
            .ok_or(AuthError::Unauthorized)
    }

    /// The session if its user has `role` (or is admin); [`AuthError::Unauthorized`] (401)
    /// without a session, [`AuthError::Forbidden`] (403) with the wrong role.
    pub async fn require_role(
        &self,
        headers: &dyn HeaderView,
        role: &Role,
    ) -> Result<SessionLookup> {
        let lookup = self.require_auth(headers).await?;
        lookup.session.require_role(role)?;
        Ok(lookup)
    }

    /// The stateless, edge-safe check: signature, algorithm, type, key, issuer, audience and
    /// expiry, with no database access. Revocation applies only once the token expires
    /// (within the JWT lifetime, 15 minutes by default), and the role is not known: use it
    /// where a database round trip is impossible, [`get_session`](Self::get_session)
    /// everywhere else.
    pub fn verify_session_token(&self, token: &str) -> Result<SessionClaims> {
        self.inner.sessions.verify(token)
    }

    /// Signs the request's session out (revokes its row) and returns the cookie that
    /// deletes it in the browser — also when there was no session. An impersonating
    /// administrator's parked session ends too.
    pub async fn sign_out(&self, headers: &dyn HeaderView) -> Result<SetCookie> {
        let sessions = &self.inner.sessions;
        sessions.end_presented(&self.inner.db, headers).await?;
        Ok(sessions.clear_cookie())
    }

    /// Revokes every session of the user, this one included; recorded as
    /// `signed_out_everywhere` in the same transaction.
    pub async fn sign_out_everywhere(
        &self,
        session: &Session,
        request: &RequestInfo<'_>,
    ) -> Result<SetCookie> {
        refuse_impersonation(session)?;
        let user = session.user.id;
        let tx = self.inner.db.begin().await?;
        let revoked = tx.revoke_user_sessions(user, None, self.now()).await?;
        let mut event = Audit::own(SecurityEventKind::SignedOutEverywhere, user, request);
        event.detail = Some(json!({ "revoked": revoked }));
        self.record(&tx, event).await?;
        tx.commit().await?;
        Ok(self.inner.sessions.clear_cookie())
    }

    /// The user's live sessions, newest first.
    pub async fn list_sessions(&self, session: &Session) -> Result<Vec<SessionInfo>> {
        let rows = self
            .inner
            .db
            .list_active_sessions(session.user.id, self.now())
            .await?;
        // An administrator acting as the user is the administrator's doing: shown to
        // administrators, and in the user's audit trail, not as one of the user's devices.
        Ok(rows
            .into_iter()
            .filter(|row| row.impersonator_session_id.is_none())
            .map(|row| SessionInfo::of(row, Some(session.id)))
            .collect())
    }

    /// Revokes one of the user's own sessions; `false` if it is not theirs or not live.
    /// Recorded as `session_revoked` in the same transaction.
    pub async fn revoke_session(
        &self,
        session: &Session,
        id: Uuid,
        request: &RequestInfo<'_>,
    ) -> Result<bool> {
        refuse_impersonation(session)?;
        let user = session.user.id;
        let Some(target) = self.inner.db.find_session(id).await? else {
            return Ok(false);
        };
        if target.user_id != user {
            return Ok(false);
        }
        let tx = self.inner.db.begin().await?;
        if !tx.revoke_session(id, self.now()).await? {
            return Ok(false);
        }
        let mut event = Audit::own(SecurityEventKind::SessionRevoked, user, request);
        event.detail = Some(json!({ "session": id }));
        self.record(&tx, event).await?;
        tx.commit().await?;
        Ok(true)
    }
}
