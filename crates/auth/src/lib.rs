//! Authentication for Rust services: e-mail + password with bcrypt, database-backed JWT
//! sessions, guards, e-mail verification and password reset — framework-agnostic. Adapters
//! hand it request headers and send back the [`SetCookie`] it returns.
//!
//! The whole flow, runnable:
//!
//! ```
//! use tollbooth_auth::{Auth, AuthConfig, RequestInfo, SignInOutcome, SigningKey};
//! use tollbooth_email::{Mailer, MailerConfig, OutboxSender};
//!
//! # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let db = tollbooth_db::connect("sqlite::memory:").await?;
//! tollbooth_db::migrate(&db).await?;
//! let outbox = OutboxSender::new(); // in production: ResendSender
//! let mailer = Mailer::new(outbox.clone(), MailerConfig::new("Acme <noreply@acme.example>", "Acme")?);
//! let config = AuthConfig::builder("https://app.acme.example")
//!     .signing_key(SigningKey::new("2026-11", [7u8; 32])?) // from your secret store
//!     .build()?;
//! let auth = Auth::new(db, mailer, config);
//!
//! // Sign up: the welcome e-mail carries the verification link.
//! let no_headers: [(&str, &str); 0] = [];
//! let request = RequestInfo::new(&no_headers, "203.0.113.7".parse()?);
//! auth.sign_up("ada@example.com", "correct horse battery staple", Some("Ada"), &request).await?;
//! auth.flush_background_tasks().await; // e-mails go out in the background
//! let mail = &outbox.sent_to("ada@example.com")[0];
//! let token = mail.text().split("token=").nth(1).unwrap().split_whitespace().next().unwrap();
//!
//! // Verify, then sign in: a session and its cookie.
//! auth.verify_email(token).await?;
//! let SignInOutcome::SignedIn(signed_in) =
//!     auth.sign_in("ada@example.com", "correct horse battery staple", &request).await?
//! else {
//!     unreachable!("no MFA enrolled")
//! };
//! let cookie = signed_in.cookie.as_str();
//! assert!(cookie.contains("HttpOnly; SameSite=Strict"));
//!
//! // Later requests present the cookie.
//! let cookie_header = cookie.split(';').next().unwrap().to_owned();
//! let headers = [("cookie", cookie_header.as_str())];
//! // The refreshed JWT, when there is one, comes beside the session: send it back.
//! let lookup = auth.require_auth(&headers).await?;
//! assert_eq!(lookup.session.user.email, "ada@example.com");
//!
//! // Sign out: the row is revoked, the cookie cleared, the old cookie is dead.
//! let clearing = auth.sign_out(&headers).await?;
//! assert!(clearing.as_str().contains("Max-Age=0"));
//! assert!(auth.get_session(&headers).await?.is_none());
//! # Ok(()) }
//! ```
//!
//! # GitHub and Google sign-in, TOTP MFA
//!
//! ```no_run
//! use tollbooth_auth::*;
//!
//! # async fn demo(db: tollbooth_db::Db, mailer: tollbooth_email::Mailer,
//! #               callback_query: &str, headers: http::HeaderMap)
//! #               -> std::result::Result<(), Box<dyn std::error::Error>> {
//! let config = AuthConfig::builder("https://app.example.com")
//!     .signing_key(SigningKey::new("2026-11", [7u8; 32])?)
//!     .oauth_provider(ProviderConfig::github(
//!         "Iv1.client-id",
//!         ClientSecret::new("from your secret store"),
//!         "https://app.example.com/auth/github/callback",
//!     ))
//!     .oauth_provider(ProviderConfig::google(
//!         "123.apps.googleusercontent.com",
//!         ClientSecret::new("from your secret store"),
//!         "https://app.example.com/auth/google/callback",
//!     ))
//!     .mfa(MfaConfig::new(EncryptionKey::new("mfa-2026", [9u8; 32]), "Example"))
//!     .build()?;
//! let auth = Auth::new(db, mailer, config);
//!
//! // GET /auth/github: redirect to `start.redirect_url`, setting `start.state_cookie`.
//! let start = auth.oauth_authorize(Provider::GitHub, Some("/dashboard")).await?;
//!
//! // GET /auth/github/callback?code=…&state=…
//! let request = RequestInfo::without_ip(&headers);
//! let done = auth
//!     .oauth_callback(Provider::GitHub, &OAuthCallback::from_query(callback_query), &request)
//!     .await?;
//! match done.result {
//!     OAuthResult::SignedIn { outcome: SignInOutcome::SignedIn(signed_in), .. } => { /* set signed_in.cookie, redirect to done.return_to */ }
//!     OAuthResult::SignedIn { outcome: SignInOutcome::MfaRequired(challenge), .. } => { /* ask for a code, then auth.mfa_verify(&challenge.token, code, &request) */ }
//!     _ => {}
//! }
//! # Ok(()) }
//! ```
//!
//! OAuth identities are keyed on the provider's account id, never on e-mail. A new identity
//! whose verified e-mail matches an existing user is linked automatically only if that user's
//! address is verified too (otherwise someone who registered the address first, unverified,
//! would receive the identity); the error [`AuthError::AccountLinkRequired`] tells the app to
//! ask for a sign-in and a link from settings ([`Auth::oauth_link`]).
//!
//! # Security properties (each has a test that fails if it regresses)
//!
//! - Passwords: bcrypt cost ≥ 12 (a lower configured cost is refused), hashed on tokio's
//!   blocking pool behind a bounded queue; 8 characters minimum, more than 72 bytes refused
//!   rather than truncated, guessable passwords refused (zxcvbn); older hashes upgraded on
//!   sign-in; unknown e-mail and wrong password indistinguishable (same error, one bcrypt
//!   verification each).
//! - Sessions: a short HS256 JWT (`typ: session+jwt`, `kid`, `iss`, `aud`, `exp`) carrying
//!   only opaque ids, over a database row that carries revocation and idle and absolute
//!   expiry. Sign-in always creates a new session and revokes any session the request
//!   presented. Cookie: `__Host-` prefix, `HttpOnly; Secure; SameSite=Strict; Path=/`.
//! - Tokens (verification, reset, MFA challenge): 256-bit random, stored as sha-256,
//!   single-use, purpose-bound, expiring. A reset revokes every session.
//! - Rate limits live in the database (they hold across instances): per IP, per account,
//!   exponential backoff after failures, at most 100 consecutive failures per account a day.
//! - OAuth: authorization code + PKCE S256, 256-bit `state` stored hashed, single-use,
//!   10 minutes, bound to the browser by a cookie; Google id_tokens verified against the
//!   JWKS (RS256 only, `iss`, `aud`, `exp`, `nonce`); no redirects followed.
//! - TOTP: secrets sealed with AES-256-GCM (user-bound), each time step accepted once,
//!   lock-out after 5 wrong codes, 80-bit single-use backup codes stored hashed; enabling or
//!   disabling revokes the user's other sessions, and a password reset never bypasses MFA.
//!
//! # Features
//!
//! | feature | default | what it adds |
//! |---------|---------|--------------|
//! | `axum`  | no      | `tollbooth_auth::axum`: `session` and `csrf` middleware, `CurrentSession` / `RequireAuth` / `RequireRole<R>` / `RequireOrgMember` / `RequireOrgPermission<P>` extractors, `IntoResponse for AuthError` |
//! | `actix` | no      | `tollbooth_auth::actix`: the same for actix-web, plus `HeaderView` for actix's header map |

mod adapters;
mod admin;
mod audit;
mod clock;
mod config;
mod cookie;
mod credentials;
mod deletion;
mod email_change;
mod error;
mod export;
mod headers;
mod impersonation;
mod invitations;
mod jwt;
mod limits;
mod mail;
mod mfa;
mod oauth;
mod organizations;
mod origin;
mod password;
mod profile;
mod proxy;
mod recovery;
mod secret;
mod service;
mod session;
mod stepup;
mod tokens;

#[cfg(feature = "actix")]
pub use adapters::actix;
#[cfg(feature = "axum")]
pub use adapters::axum;
pub use adapters::{Admin, ORG_PATH_PARAM, OrgPermissionMarker, RoleMarker};
pub use admin::{Ban, MAX_USERS_PER_PAGE, UserAdmin, UserOverview, UserPage};
pub use audit::MAX_EVENTS_PER_PAGE;
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{
    AuthConfig, AuthConfigBuilder, Limit, MIN_BCRYPT_COST, PasswordPolicy, RateLimits, SigningKey,
};
pub use cookie::SetCookie;
pub use credentials::{MfaChallenge, SignInOutcome, SignedIn};
pub use error::{AuthError, Result};
pub use export::{
    AccountExport, ExportedBooking, ExportedPayment, ExportedSecurityEvent, ExportedSession,
    ExportedSignInMethod, ExportedSubscription, ExportedTwoFactor, ExportedUser,
};
pub use headers::{HeaderView, RequestInfo};
pub use impersonation::SessionSwitch;
pub use invitations::{InvitationPreview, OrgInvitation};
pub use jwt::SessionClaims;
pub use mfa::{BackupCodes, EncryptionKey, MfaConfig, MfaEnrollment, MfaStatus};
pub use oauth::{
    ClientSecret, OAuthCallback, OAuthCompleted, OAuthResult, OAuthStart, Provider, ProviderConfig,
    SignInMethod,
};
pub use organizations::{
    MAX_MEMBERS_PER_PAGE, Member, MemberPage, OrgMember, OrgPermission, OrgRole, OrganizationUpdate,
};
pub use password::MAX_PASSWORD_BYTES;
pub use profile::ProfileUpdate;
pub use proxy::TrustedProxies;
pub use service::Auth;
pub use session::{Role, Session, SessionInfo, SessionLookup};
/// `{"error": code, "message": …}`, the one error body.
pub use tollbooth_core::error_body;
/// The HTTP error contract and configuration errors, shared by every Tollbooth crate.
pub use tollbooth_core::{
    BeforeAccountDeletion, BeforeOrganizationDeletion, ConfigError, Customer, DeletionRefused,
    DomainEvent, HookError, Hooks, WireError,
};

// Deliberately re-exported: their types appear in this crate's signatures (`Auth::new` takes
// a `Db` and a `Mailer`, `Session::user` is a `tollbooth_db::User`, `OAuthStart` holds a
// `Url`), so a service can depend on this crate alone and name them at matching versions.
pub use http;
pub use tollbooth_db;
pub use tollbooth_email;
pub use url;

// Compiles the README's examples as doctests, so the registry page never shows code that
// does not build.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
