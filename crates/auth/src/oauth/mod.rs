//! Sign-in with GitHub and Google (OAuth 2 authorization code + PKCE), and linking.

mod config;
mod github;
mod google;
mod http;

use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, CsrfToken, EndpointNotSet, EndpointSet,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, StandardRevocableToken,
    StandardTokenResponse, TokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tollbooth_db::{
    AccountRepo, DbError, NewAccount, NewUser, TokenPurpose, Unlink, User, UserRepo,
};
use url::Url;

pub use config::{ClientSecret, Provider, ProviderConfig};

use crate::audit::Change;
use crate::cookie::{SetCookie, cookie_values};
use crate::credentials::SignInOutcome;
use crate::error::{AuthError, Result};
use crate::headers::RequestInfo;
use crate::secret::new_token;
use crate::service::Auth;
use crate::session::Session;
use crate::tokens::Issue;

/// The cookie binding an OAuth round trip to the browser that started it. `SameSite=Lax`,
/// not `Strict`: the provider's redirect back is a cross-site navigation, on which a Strict
/// cookie would not be sent.
pub(crate) const STATE_COOKIE: &str = "__Host-tollbooth.oauth";
const STATE_TTL_MINUTES: i64 = 10;

/// What talking to providers takes: one HTTP client (no redirects, bounded timeouts) and
/// Google's signing keys, fetched and cached on first use.
pub(crate) struct OAuthClients {
    pub(crate) http: reqwest::Client,
    pub(crate) jwks: google::Jwks,
}

impl Default for OAuthClients {
    fn default() -> Self {
        Self {
            http: http::client(),
            jwks: google::Jwks::default(),
        }
    }
}

/// Where to send the browser to start an OAuth sign-in.
#[derive(Clone, Debug)]
pub struct OAuthStart {
    /// The provider's authorization URL (with `state`, PKCE `code_challenge`, `S256`, and
    /// for Google an OIDC `nonce`).
    pub redirect_url: Url,
    /// Binds the round trip to this browser; send it with the redirect.
    pub state_cookie: SetCookie,
}

/// The query of a provider's redirect back to the callback URL.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct OAuthCallback {
    /// Authorization code.
    pub code: Option<String>,
    /// The state we sent.
    pub state: Option<String>,
    /// Set when the user declined or the provider failed.
    pub error: Option<String>,
}

impl OAuthCallback {
    /// Parses a raw query string (`code=…&state=…`). Unknown and repeated parameters are
    /// ignored (the first one wins); values are percent-decoded.
    pub fn from_query(query: &str) -> Self {
        let mut callback = Self::default();
        for (key, value) in url::form_urlencoded::parse(query.trim_start_matches('?').as_bytes()) {
            let slot = match key.as_ref() {
                "code" => &mut callback.code,
                "state" => &mut callback.state,
                "error" => &mut callback.error,
                _ => continue,
            };
            if slot.is_none() && value.len() <= 2048 {
                *slot = Some(value.into_owned());
            }
        }
        callback
    }
}

/// What a completed OAuth round trip did.
#[derive(Debug)]
#[non_exhaustive]
pub enum OAuthResult {
    /// Signed in (or stopped at an MFA challenge). `new_user` when the account was created.
    SignedIn {
        /// The sign-in result.
        outcome: SignInOutcome,
        /// Whether a new user was created.
        new_user: bool,
    },
    /// The provider identity was linked to the signed-in user.
    Linked,
}

/// The result of [`Auth::oauth_callback`].
#[derive(Debug)]
pub struct OAuthCompleted {
    /// What happened.
    pub result: OAuthResult,
    /// The same-origin path to send the browser to.
    pub return_to: String,
    /// Deletes the state cookie; send it.
    pub clear_state_cookie: SetCookie,
}

/// What a provider told us about the user.
pub(crate) struct Identity {
    pub(crate) account_id: String,
    pub(crate) verified_email: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) image: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct StatePayload {
    verifier: String,
    nonce: Option<String>,
    return_to: String,
    /// sha-256 (hex) of the browser-binding cookie value.
    binding: String,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
struct IdTokenFields {
    #[serde(default)]
    id_token: Option<String>,
}
impl oauth2::ExtraTokenFields for IdTokenFields {}

type OAuthTokenResponse = StandardTokenResponse<IdTokenFields, BasicTokenType>;
type OAuthClient = oauth2::Client<
    BasicErrorResponse,
    OAuthTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// One way a user signs in: the password (`credential`) or a linked provider.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignInMethod {
    /// `credential` (e-mail and password), or the provider (`github`, `google`).
    pub provider: String,
    /// The address the provider gave for the identity (none for the password).
    pub email: Option<String>,
    /// When it was added.
    pub linked_at: chrono::DateTime<chrono::Utc>,
}

impl Auth {
    /// The session user's sign-in methods, oldest first: what an account page lists beside
    /// its link and unlink buttons. (Never a password hash or a provider's account id.)
    pub async fn sign_in_methods(&self, session: &Session) -> Result<Vec<SignInMethod>> {
        let accounts = self.inner.db.list_accounts(session.user.id).await?;
        Ok(accounts
            .into_iter()
            .map(|account| SignInMethod {
                provider: account.provider,
                email: account.provider_email,
                linked_at: account.created_at,
            })
            .collect())
    }

    /// Starts signing in with `provider`; afterwards the browser comes back with
    /// [`oauth_callback`](Self::oauth_callback) and is sent to `return_to` — a same-origin
    /// path only (`/settings`), never an absolute or protocol-relative URL (no open redirect).
    pub async fn oauth_authorize(
        &self,
        provider: Provider,
        return_to: Option<&str>,
    ) -> Result<OAuthStart> {
        self.start_oauth(provider, return_to, None).await
    }

    /// Starts linking `provider` to the signed-in user (from settings). The session must be
    /// fresh ([`require_fresh`](Self::require_fresh)), at the start and at the callback: a
    /// provider identity is a way back into the account, so a stolen session must not add
    /// one. The owner is told by e-mail once it is linked.
    pub async fn oauth_link(
        &self,
        session: &Session,
        provider: Provider,
        return_to: Option<&str>,
    ) -> Result<OAuthStart> {
        self.require_fresh(session)?;
        self.start_oauth(provider, return_to, Some(&session.user))
            .await
    }

    /// Finishes an OAuth round trip. Rejects a missing, mismatched, expired, replayed or
    /// other-provider `state`, or one not bound to this browser; exchanges the code (with the
    /// PKCE verifier, through a client that does not follow redirects); verifies the
    /// identity; then signs in, creates the user, or links — see the crate docs for the
    /// linking rules. Nothing is written when a check fails.
    pub async fn oauth_callback(
        &self,
        provider: Provider,
        callback: &OAuthCallback,
        request: &RequestInfo<'_>,
    ) -> Result<OAuthCompleted> {
        let config = self.provider_config(provider)?;
        let db = &self.inner.db;
        let now = self.now();
        let nonempty =
            |v: &Option<String>| v.as_deref().filter(|s| !s.is_empty()).map(str::to_owned);
        let state = nonempty(&callback.state).ok_or(AuthError::InvalidOAuthState)?;
        let tokens = &self.inner.tokens;
        let row = tokens
            .peek(db, TokenPurpose::OAuthState, &state)
            .await?
            .ok_or(AuthError::InvalidOAuthState)?;
        if row.identifier != provider.as_str() {
            return Err(AuthError::InvalidOAuthState);
        }
        let payload: StatePayload = row
            .payload
            .clone()
            .and_then(|p| serde_json::from_value(p).ok())
            .ok_or(AuthError::InvalidOAuthState)?;
        let bound = cookie_values(request.headers, STATE_COOKIE)
            .into_iter()
            .any(|value| hex_sha256(value) == payload.binding);
        if !bound {
            return Err(AuthError::InvalidOAuthState);
        }
        // Single use, even under concurrent callbacks.
        if tokens
            .consume(db, TokenPurpose::OAuthState, &state)
            .await?
            .is_none()
        {
            return Err(AuthError::InvalidOAuthState);
        }
        if callback.error.is_some() {
            return Err(AuthError::OAuthDenied);
        }
        let code = nonempty(&callback.code).ok_or(AuthError::InvalidOAuthState)?;

        let token = self.exchange_code(config, code, payload.verifier).await?;
        let http = &self.inner.oauth.http;
        let identity = match provider {
            Provider::GitHub => {
                github::identity(http, config, token.access_token().secret()).await?
            }
            Provider::Google => {
                google::identity(
                    http,
                    &self.inner.oauth.jwks,
                    config,
                    token.extra_fields().id_token.as_deref(),
                    payload.nonce.as_deref(),
                    now,
                )
                .await?
            }
        };
        let result = match row.user_id {
            Some(user_id) => {
                self.link_identity(provider, identity, user_id, request)
                    .await?
            }
            None => {
                self.sign_in_with_identity(provider, identity, request)
                    .await?
            }
        };
        Ok(OAuthCompleted {
            result,
            return_to: payload.return_to,
            clear_state_cookie: SetCookie::clear_lax(STATE_COOKIE),
        })
    }

    /// Removes the user's `provider` sign-in — refused if it is their last sign-in method,
    /// or unless the session is fresh — and tells the owner by e-mail.
    pub async fn oauth_unlink(
        &self,
        session: &Session,
        provider: Provider,
        request: &RequestInfo<'_>,
    ) -> Result<()> {
        self.require_fresh(session)?;
        let tx = self.inner.db.begin().await?;
        match tx
            .unlink_account(session.user.id, provider.as_str())
            .await?
        {
            Unlink::LastSignInMethod => return Err(AuthError::LastSignInMethod),
            Unlink::NotLinked => return Ok(()),
            _ => {}
        }
        let change = Change::ProviderUnlinked(provider);
        self.security_change(&tx, &session.user, change, request)
            .await?;
        tx.commit().await?;
        self.inner.mail.committed();
        Ok(())
    }

    fn provider_config(&self, provider: Provider) -> Result<&ProviderConfig> {
        self.inner
            .config
            .oauth
            .iter()
            .find(|c| c.provider == provider)
            .ok_or_else(|| AuthError::ProviderNotConfigured {
                provider: provider.as_str().to_owned(),
            })
    }

    async fn start_oauth(
        &self,
        provider: Provider,
        return_to: Option<&str>,
        linking: Option<&User>,
    ) -> Result<OAuthStart> {
        let config = self.provider_config(provider)?;
        let return_to = safe_return_to(return_to)?;
        let (binding, _) = new_token();
        let (pkce_challenge, pkce_verifier) = PkceCodeChallenge::new_random_sha256();
        let nonce = (provider == Provider::Google).then(|| new_token().0);

        let payload = StatePayload {
            verifier: pkce_verifier.secret().clone(),
            nonce: nonce.clone(),
            return_to,
            binding: hex_sha256(&binding),
        };
        let ttl = chrono::TimeDelta::minutes(STATE_TTL_MINUTES);
        let mut issue = Issue::new(TokenPurpose::OAuthState, provider.as_str(), ttl)
            .payload(serde_json::to_value(&payload).map_err(AuthError::internal)?);
        if let Some(user) = linking {
            issue = issue.user(user.id);
        }
        let state = self.inner.tokens.issue(&self.inner.db, issue).await?.token;

        let client = oauth_client(config)?;
        let mut request = client
            .authorize_url(|| CsrfToken::new(state))
            .set_pkce_challenge(pkce_challenge);
        for scope in &config.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        if let Some(nonce) = &nonce {
            request = request.add_extra_param("nonce", nonce);
        }
        let (redirect_url, _) = request.url();
        Ok(OAuthStart {
            redirect_url,
            state_cookie: SetCookie::lax(STATE_COOKIE, &binding, STATE_TTL_MINUTES * 60),
        })
    }

    async fn exchange_code(
        &self,
        config: &ProviderConfig,
        code: String,
        verifier: String,
    ) -> Result<OAuthTokenResponse> {
        let client = oauth_client(config)?;
        let http = &self.inner.oauth.http;
        client
            .exchange_code(AuthorizationCode::new(code))
            .set_pkce_verifier(PkceCodeVerifier::new(verifier))
            .request_async(&http::OAuthHttp(http))
            .await
            .map_err(|e| match e {
                oauth2::RequestTokenError::Request(e) => AuthError::ProviderUnavailable {
                    source: Box::new(e),
                },
                other => AuthError::OAuthRejected {
                    reason: format!("code exchange failed: {other}"),
                },
            })
    }

    /// Signs in with a provider identity, creating or auto-linking the user when allowed.
    async fn sign_in_with_identity(
        &self,
        provider: Provider,
        identity: Identity,
        request: &RequestInfo<'_>,
    ) -> Result<OAuthResult> {
        let db = &self.inner.db;
        // The identity is the key — never the e-mail.
        if let Some(account) = db
            .find_account(provider.as_str(), &identity.account_id)
            .await?
        {
            let user = db
                .find_user(account.user_id)
                .await?
                .ok_or(AuthError::InvalidOAuthState)?;
            let outcome = self
                .finish_sign_in(user, request, provider.as_str())
                .await?;
            return Ok(OAuthResult::SignedIn {
                outcome,
                new_user: false,
            });
        }
        let email = identity
            .verified_email
            .clone()
            .ok_or(AuthError::ProviderEmailUnverified)?;
        if let Some(user) = db.find_user_by_email(&email).await? {
            // Auto-link only when BOTH sides proved the address; otherwise whoever registered
            // the address first (possibly an attacker, unverified) would gain the identity.
            if user.email_verified_at.is_none() {
                return Err(AuthError::AccountLinkRequired {
                    provider: provider.as_str().to_owned(),
                });
            }
            attach(&self.inner.db, provider, &identity, user.id, Some(email)).await?;
            let outcome = self
                .finish_sign_in(user, request, provider.as_str())
                .await?;
            return Ok(OAuthResult::SignedIn {
                outcome,
                new_user: false,
            });
        }
        let tx = db.begin().await?;
        let mut new_user = NewUser::new(&email).verified_at(self.now());
        new_user.name = identity.name.clone();
        new_user.image = identity.image.clone();
        let user = tx.create_user(new_user).await?;
        tx.create_account(NewAccount::oauth(
            user.id,
            provider.as_str(),
            &identity.account_id,
            Some(email),
        ))
        .await?;
        self.inner.mail.welcome(&tx, &user, None).await?;
        tx.commit().await?;
        self.inner.mail.committed();
        tracing::info!(user_id = %user.id, %provider, "signed up with OAuth");
        self.tell(tollbooth_core::DomainEvent::UserCreated {
            user_id: user.id,
            email: user.email.clone(),
        })
        .await;
        let outcome = self
            .finish_sign_in(user, request, provider.as_str())
            .await?;
        Ok(OAuthResult::SignedIn {
            outcome,
            new_user: true,
        })
    }

    /// Links an identity to the user who started the link flow — who must still be the
    /// signed-in user of this browser.
    async fn link_identity(
        &self,
        provider: Provider,
        identity: Identity,
        user_id: uuid::Uuid,
        request: &RequestInfo<'_>,
    ) -> Result<OAuthResult> {
        // The session that started the link must still be this browser's. A refresh made by
        // this lookup is not sent (the adapter's own lookup of the request sends one): at
        // most one extra row write per completed link.
        let Some(current) = self
            .get_session(request.headers)
            .await?
            .map(|found| found.session)
            .filter(|s| s.user.id == user_id)
        else {
            return Err(AuthError::InvalidOAuthState);
        };
        self.require_fresh(&current)?;
        if let Some(account) = self
            .inner
            .db
            .find_account(provider.as_str(), &identity.account_id)
            .await?
        {
            return if account.user_id == user_id {
                Ok(OAuthResult::Linked)
            } else {
                Err(AuthError::AccountAlreadyLinked {
                    provider: provider.as_str().to_owned(),
                })
            };
        }
        let email = identity.verified_email.clone();
        let tx = self.inner.db.begin().await?;
        attach(&tx, provider, &identity, user_id, email).await?;
        let change = Change::ProviderLinked(provider);
        self.security_change(&tx, &current.user, change, request)
            .await?;
        tx.commit().await?;
        self.inner.mail.committed();
        Ok(OAuthResult::Linked)
    }
}

/// Adds the identity to the user; one already linked elsewhere is
/// [`AuthError::AccountAlreadyLinked`].
async fn attach(
    db: &impl AccountRepo,
    provider: Provider,
    identity: &Identity,
    user_id: uuid::Uuid,
    email: Option<String>,
) -> Result<()> {
    let account = NewAccount::oauth(user_id, provider.as_str(), &identity.account_id, email);
    match db.create_account(account).await {
        Err(DbError::Conflict { .. }) => Err(AuthError::AccountAlreadyLinked {
            provider: provider.as_str().to_owned(),
        }),
        other => other.map(|_| ()).map_err(Into::into),
    }
}

fn oauth_client(config: &ProviderConfig) -> Result<OAuthClient> {
    // The URLs were parsed when the configuration was built.
    let invalid = |e: url::ParseError| AuthError::internal(e);
    Ok(oauth2::Client::new(ClientId::new(config.client_id.clone()))
        .set_client_secret(oauth2::ClientSecret::new(
            config.client_secret.expose_secret().to_owned(),
        ))
        .set_auth_uri(AuthUrl::new(config.authorize_url.clone()).map_err(invalid)?)
        .set_token_uri(TokenUrl::new(config.token_url.clone()).map_err(invalid)?)
        .set_redirect_uri(RedirectUrl::new(config.redirect_uri.clone()).map_err(invalid)?))
}

/// A same-origin path, or `/`. Refuses absolute URLs, `//host`, `/\host` (browsers treat the
/// backslash as a slash), and control characters.
pub(crate) fn safe_return_to(return_to: Option<&str>) -> Result<String> {
    let Some(path) = return_to.filter(|p| !p.is_empty()) else {
        return Ok("/".to_owned());
    };
    let refuse = || AuthError::InvalidInput {
        field: "return_to",
        reason: "must be a path on this site, like /settings",
    };
    let bytes = path.as_bytes();
    if bytes[0] != b'/' || bytes.get(1).is_some_and(|b| *b == b'/' || *b == b'\\') {
        return Err(refuse());
    }
    if path.len() > 1024 || path.chars().any(|c| c.is_control() || c == '\\') {
        return Err(refuse());
    }
    // Must stay a path when resolved against any origin.
    let base = Url::parse("https://origin.invalid/").expect("static URL");
    match base.join(path) {
        Ok(resolved) if resolved.host_str() == Some("origin.invalid") => Ok(path.to_owned()),
        _ => Err(refuse()),
    }
}

fn hex_sha256(value: &str) -> String {
    Sha256::digest(value.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_to_stays_on_site() {
        assert_eq!(safe_return_to(None).unwrap(), "/");
        assert_eq!(safe_return_to(Some("")).unwrap(), "/");
        assert_eq!(
            safe_return_to(Some("/settings?tab=security")).unwrap(),
            "/settings?tab=security"
        );
        for evil in [
            "https://evil.example/",
            "//evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "javascript:alert(1)",
            "evil.example",
            "/ok\r\nSet-Cookie: x=1",
            "/\tevil",
        ] {
            assert!(safe_return_to(Some(evil)).is_err(), "{evil:?}");
        }
    }

    #[test]
    fn callback_query_parsing() {
        let cb = OAuthCallback::from_query("?code=abc%2F1&state=xyz&state=second&scope=x");
        assert_eq!(
            (cb.code.as_deref(), cb.state.as_deref(), cb.error.as_deref()),
            (Some("abc/1"), Some("xyz"), None)
        );
        let cb = OAuthCallback::from_query("error=access_denied&state=s");
        assert_eq!(cb.error.as_deref(), Some("access_denied"));
        assert_eq!(
            OAuthCallback::from_query("&&==&%zz"),
            OAuthCallback::default()
        );
    }
}
