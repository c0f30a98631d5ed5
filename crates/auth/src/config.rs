//! [`AuthConfig`]: everything auth needs, validated once when built.

use std::fmt;
use std::sync::Arc;

use chrono::TimeDelta;
use tollbooth_email::PublicBaseUrl;

use tollbooth_core::{
    BeforeAccountDeletion, BeforeOrganizationDeletion, ConfigError, HookList, Hooks,
};

use crate::clock::{Clock, SystemClock};
use crate::error::Result;
use crate::mfa::MfaConfig;
use crate::oauth::ProviderConfig;
use crate::organizations::{OrgPermission, OrgRole, OrgRoles};
use crate::proxy::TrustedProxies;

/// Smallest bcrypt cost accepted (OWASP's floor for bcrypt in 2025).
pub const MIN_BCRYPT_COST: u32 = 12;

/// A JWT signing key (HS256), identified by `kid`. At least 256 bits. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey {
    kid: String,
    secret: Vec<u8>,
}

impl SigningKey {
    /// A key `kid` with `secret` (≥ 32 bytes of high-entropy data, e.g. from
    /// `openssl rand -base64 48`).
    pub fn new(kid: impl Into<String>, secret: impl Into<Vec<u8>>) -> Result<Self, ConfigError> {
        let (kid, secret) = (kid.into(), secret.into());
        if kid.is_empty() || kid.len() > 64 || !kid.chars().all(|c| c.is_ascii_graphic()) {
            return Err(config_error(
                "a key id must be 1 to 64 printable ASCII characters",
            ));
        }
        if secret.len() < 32 {
            return Err(config_error(format!(
                "signing key `{kid}` has {} bits; at least 256 are required",
                secret.len() * 8
            )));
        }
        Ok(Self { kid, secret })
    }

    /// A random 256-bit key — for development only: sessions do not survive a restart.
    pub fn generate(kid: impl Into<String>) -> Self {
        let mut secret = vec![0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut secret);
        Self {
            kid: kid.into(),
            secret,
        }
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub(crate) fn secret(&self) -> &[u8] {
        &self.secret
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("secret", &"[redacted]")
            .finish()
    }
}

/// What a password must be.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PasswordPolicy {
    /// Fewest characters (default 8, NIST 800-63B's minimum).
    pub min_chars: usize,
    /// Refuse passwords that are common or easily guessed (zxcvbn score below 2, which covers
    /// its lists of common passwords, words and names, keyboard patterns, repeats and
    /// sequences, and the user's own e-mail and name). Default on.
    pub reject_guessable: bool,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_chars: 8,
            reject_guessable: true,
        }
    }
}

/// At most `max` events per `window`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    /// Events allowed per window.
    pub max: u32,
    /// Window length.
    pub window: TimeDelta,
}

impl Limit {
    /// `max` per `window`.
    pub const fn new(max: u32, window: TimeDelta) -> Self {
        Self { max, window }
    }
}

/// Durable rate limits (shared by every instance on the database).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateLimits {
    /// Sign-in attempts per client IP (default 30 / 5 min).
    pub sign_in_per_ip: Limit,
    /// Sign-in attempts per e-mail, known or not (default 10 / 15 min).
    pub sign_in_per_account: Limit,
    /// Sign-ups per client IP (default 10 / hour).
    pub sign_up_per_ip: Limit,
    /// Password-reset and verification e-mails per address (default 3 / hour).
    pub emails_per_account: Limit,
    /// Password-reset and verification requests per client IP (default 20 / hour).
    pub emails_per_ip: Limit,
    /// Second-factor codes tried per user, right or wrong (default 10 / 15 min). Wrong
    /// codes also lock the second factor after five in a row.
    pub mfa_per_user: Limit,
    /// Invitation e-mails (new and sent again) per organization, and per inviting user
    /// (default 50 / day each).
    pub invitations: Limit,
    /// Organizations a user may create (default 10 / day).
    pub organizations_per_user: Limit,
    /// After this many consecutive failed sign-ins, each further attempt waits
    /// 1 s × 2^(failures − this), capped at `max_backoff` (default 5).
    pub backoff_after_failures: u32,
    /// Longest wait between attempts on one account (default 15 min).
    pub max_backoff: TimeDelta,
    /// Consecutive failures allowed per account within `failure_window` — NIST 800-63B
    /// caps it at 100 (default 100). Then attempts wait for the window to end: a delay,
    /// never a permanent lock-out.
    pub max_consecutive_failures: u32,
    /// How long a failure streak is remembered (default 24 h).
    pub failure_window: TimeDelta,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            sign_in_per_ip: Limit::new(30, TimeDelta::minutes(5)),
            sign_in_per_account: Limit::new(10, TimeDelta::minutes(15)),
            sign_up_per_ip: Limit::new(10, TimeDelta::hours(1)),
            emails_per_account: Limit::new(3, TimeDelta::hours(1)),
            emails_per_ip: Limit::new(20, TimeDelta::hours(1)),
            mfa_per_user: Limit::new(10, TimeDelta::minutes(15)),
            invitations: Limit::new(50, TimeDelta::days(1)),
            organizations_per_user: Limit::new(10, TimeDelta::days(1)),
            backoff_after_failures: 5,
            max_backoff: TimeDelta::minutes(15),
            max_consecutive_failures: 100,
            failure_window: TimeDelta::hours(24),
        }
    }
}

/// Validated auth configuration; build it with [`AuthConfig::builder`].
#[derive(Clone, Debug)]
pub struct AuthConfig {
    pub(crate) keys: Vec<SigningKey>,
    pub(crate) issuer: String,
    pub(crate) audience: String,
    pub(crate) cookie_name: String,
    pub(crate) jwt_lifetime: TimeDelta,
    pub(crate) idle_timeout: TimeDelta,
    pub(crate) absolute_lifetime: TimeDelta,
    pub(crate) bcrypt_cost: u32,
    pub(crate) public_base_url: PublicBaseUrl,
    pub(crate) verify_email_path: String,
    pub(crate) reset_password_path: String,
    pub(crate) verification_ttl: TimeDelta,
    pub(crate) reset_ttl: TimeDelta,
    pub(crate) confirm_email_change_path: String,
    pub(crate) email_change_ttl: TimeDelta,
    pub(crate) accept_invitation_path: String,
    pub(crate) invitation_ttl: TimeDelta,
    pub(crate) mfa_challenge_ttl: TimeDelta,
    pub(crate) reauthentication_window: TimeDelta,
    pub(crate) impersonation_lifetime: TimeDelta,
    pub(crate) security_report_path: String,
    pub(crate) security_report_ttl: TimeDelta,
    pub(crate) recovery_window: TimeDelta,
    pub(crate) new_device_window: Option<TimeDelta>,
    pub(crate) trusted_proxies: TrustedProxies,
    pub(crate) require_verified_email: bool,
    pub(crate) password_policy: PasswordPolicy,
    pub(crate) rate_limits: RateLimits,
    pub(crate) hashing_concurrency: usize,
    pub(crate) hashing_queue: usize,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) oauth: Vec<ProviderConfig>,
    pub(crate) mfa: Option<MfaConfig>,
    pub(crate) before_deletion: DeletionSteps<dyn BeforeAccountDeletion>,
    pub(crate) before_organization_deletion: DeletionSteps<dyn BeforeOrganizationDeletion>,
    pub(crate) hooks: HookList,
    pub(crate) org_roles: OrgRoles,
}

impl AuthConfig {
    /// Starts a configuration for the application served at `public_base_url`, whose links
    /// (verification, reset) are built from it and never from request headers.
    pub fn builder(public_base_url: &str) -> AuthConfigBuilder {
        AuthConfigBuilder {
            public_base_url: public_base_url.to_owned(),
            keys: Vec::new(),
            issuer: None,
            audience: None,
            cookie_name: "__Host-tollbooth.session".to_owned(),
            jwt_lifetime: TimeDelta::minutes(15),
            idle_timeout: TimeDelta::days(7),
            absolute_lifetime: TimeDelta::days(30),
            bcrypt_cost: MIN_BCRYPT_COST,
            verify_email_path: "/verify-email".to_owned(),
            reset_password_path: "/reset-password".to_owned(),
            verification_ttl: TimeDelta::hours(24),
            reset_ttl: TimeDelta::hours(1),
            confirm_email_change_path: "/confirm-email-change".to_owned(),
            email_change_ttl: TimeDelta::hours(1),
            accept_invitation_path: "/accept-invitation".to_owned(),
            invitation_ttl: TimeDelta::days(7),
            mfa_challenge_ttl: TimeDelta::minutes(5),
            reauthentication_window: TimeDelta::minutes(10),
            impersonation_lifetime: TimeDelta::hours(1),
            security_report_path: "/security-report".to_owned(),
            security_report_ttl: TimeDelta::days(7),
            recovery_window: TimeDelta::hours(24),
            new_device_window: Some(TimeDelta::days(90)),
            trusted_proxies: TrustedProxies::none(),
            require_verified_email: true,
            password_policy: PasswordPolicy::default(),
            rate_limits: RateLimits::default(),
            hashing_concurrency: std::thread::available_parallelism().map_or(2, usize::from),
            hashing_queue: 64,
            clock: Arc::new(SystemClock),
            oauth: Vec::new(),
            mfa: None,
            before_deletion: DeletionSteps::default(),
            before_organization_deletion: DeletionSteps::default(),
            hooks: HookList::default(),
            org_roles: OrgRoles::default(),
        }
    }

    /// The session cookie's name.
    pub fn cookie_name(&self) -> &str {
        &self.cookie_name
    }

    /// The OAuth providers configured, in the order they were added: what a sign-in page
    /// offers a button for.
    pub fn oauth_providers(&self) -> impl Iterator<Item = crate::oauth::Provider> + '_ {
        self.oauth.iter().map(|config| config.provider)
    }

    /// The public base URL links are built from.
    pub fn public_base_url(&self) -> &PublicBaseUrl {
        &self.public_base_url
    }

    /// The configured bcrypt cost.
    pub fn bcrypt_cost(&self) -> u32 {
        self.bcrypt_cost
    }
}

/// Builder of [`AuthConfig`]; every setter has a safe default except the signing key.
#[derive(Debug)]
#[must_use]
pub struct AuthConfigBuilder {
    public_base_url: String,
    keys: Vec<SigningKey>,
    issuer: Option<String>,
    audience: Option<String>,
    cookie_name: String,
    jwt_lifetime: TimeDelta,
    idle_timeout: TimeDelta,
    absolute_lifetime: TimeDelta,
    bcrypt_cost: u32,
    verify_email_path: String,
    reset_password_path: String,
    verification_ttl: TimeDelta,
    reset_ttl: TimeDelta,
    confirm_email_change_path: String,
    email_change_ttl: TimeDelta,
    accept_invitation_path: String,
    invitation_ttl: TimeDelta,
    mfa_challenge_ttl: TimeDelta,
    reauthentication_window: TimeDelta,
    impersonation_lifetime: TimeDelta,
    security_report_path: String,
    security_report_ttl: TimeDelta,
    recovery_window: TimeDelta,
    new_device_window: Option<TimeDelta>,
    trusted_proxies: TrustedProxies,
    require_verified_email: bool,
    password_policy: PasswordPolicy,
    rate_limits: RateLimits,
    hashing_concurrency: usize,
    hashing_queue: usize,
    clock: Arc<dyn Clock>,
    oauth: Vec<ProviderConfig>,
    mfa: Option<MfaConfig>,
    before_deletion: DeletionSteps<dyn BeforeAccountDeletion>,
    before_organization_deletion: DeletionSteps<dyn BeforeOrganizationDeletion>,
    hooks: HookList,
    org_roles: OrgRoles,
}

impl AuthConfigBuilder {
    /// How recently a session must have signed in or re-authenticated for a sensitive
    /// change (enrolling MFA, linking or unlinking a provider); default 10 minutes.
    pub fn reauthentication_window(mut self, window: TimeDelta) -> Self {
        self.reauthentication_window = window;
        self
    }

    /// The page an invitation e-mail's link opens (default `/accept-invitation`, with
    /// `?token=`).
    pub fn accept_invitation_path(mut self, path: impl Into<String>) -> Self {
        self.accept_invitation_path = path.into();
        self
    }

    /// How long an invitation to an organization can be accepted (default 7 days).
    pub fn invitation_ttl(mut self, ttl: TimeDelta) -> Self {
        self.invitation_ttl = ttl;
        self
    }

    /// Grants `permissions` in every organization to members with `role`, declaring the
    /// role if it is new (`owner`, `admin` and `member` are built in; an owner holds every
    /// permission anyway). Call it again to add more.
    ///
    /// ```
    /// # use tollbooth_auth::*;
    /// let projects_write = OrgPermission::new("projects:write");
    /// let config = AuthConfig::builder("https://app.example.com")
    ///     .signing_key(SigningKey::new("2026-11", [7u8; 32])?)
    ///     .organization_role(OrgRole::new("billing"), [OrgPermission::MANAGE_BILLING])
    ///     .organization_role(OrgRole::MEMBER, [projects_write])
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn organization_role(
        mut self,
        role: OrgRole,
        permissions: impl IntoIterator<Item = OrgPermission>,
    ) -> Self {
        self.org_roles.grant(role, permissions);
        self
    }

    /// How long an administrator's impersonation of a user lasts at most (default one
    /// hour; never longer than the idle timeout, as the administrator's parked session is
    /// not refreshed meanwhile; it also ends with the administrator's session).
    pub fn impersonation_lifetime(mut self, lifetime: TimeDelta) -> Self {
        self.impersonation_lifetime = lifetime;
        self
    }

    /// The page the "this wasn't me" link of security notices opens (default
    /// `/security-report`, with `?token=`).
    pub fn security_report_path(mut self, path: impl Into<String>) -> Self {
        self.security_report_path = path.into();
        self
    }

    /// How long a security notice's "this wasn't me" link works (default 7 days).
    pub fn security_report_ttl(mut self, ttl: TimeDelta) -> Self {
        self.security_report_ttl = ttl;
        self
    }

    /// How far before a reported change a recovery reset undoes second factors and
    /// provider links (default 24 hours).
    pub fn recovery_window(mut self, window: TimeDelta) -> Self {
        self.recovery_window = window;
        self
    }

    /// The new sign-in alert: a sign-in from a device (the user agent without its version
    /// numbers, and the client's network: IPv4 /24, IPv6 /48) that has not signed in to the
    /// account within `window` e-mails the owner, with a "this wasn't me" link. Default 90
    /// days; `None` turns the alert off. An account's first sign-in is never alerted.
    pub fn new_sign_in_alert(mut self, window: Option<TimeDelta>) -> Self {
        self.new_device_window = window;
        self
    }

    /// A step [`Auth::delete_account`](crate::Auth::delete_account) runs before it deletes
    /// anything, after the user proved who they are; its error refuses the deletion with
    /// nothing deleted. Steps run in the order added. Give it `tollbooth-billing`'s `Billing`
    /// (which cancels the user's Stripe subscriptions first) whenever the application
    /// bills: without it, a deleted account's subscription goes on being charged.
    pub fn before_account_deletion(mut self, step: impl BeforeAccountDeletion + 'static) -> Self {
        self.before_deletion.0.push(Arc::new(step));
        self
    }

    /// A step [`Auth::delete_organization`](crate::Auth::delete_organization) runs before it
    /// deletes anything, once the owner proved who they are; its error refuses the
    /// deletion with nothing deleted. Steps run in the order added. Billing is one when
    /// organizations pay: without it, a deleted organization's subscription goes on being
    /// charged.
    pub fn before_organization_deletion(
        mut self,
        step: impl BeforeOrganizationDeletion + 'static,
    ) -> Self {
        self.before_organization_deletion.0.push(Arc::new(step));
        self
    }

    /// The application's [`Hooks`], told of every [`DomainEvent`](tollbooth_core::DomainEvent)
    /// auth commits (user created, signed in, password or address changed, account
    /// deleted, banned, unbanned, role changed), in the order added. A hook's failure is
    /// logged and never undoes the change.
    pub fn hooks(mut self, hooks: impl Hooks + 'static) -> Self {
        self.hooks.push(hooks);
        self
    }

    /// The reverse proxies (load balancers) in front of the service: their `Forwarded` /
    /// `X-Forwarded-For` headers name the client ([`Auth::client_ip`](crate::Auth::client_ip)).
    /// Default none: every client is its socket peer.
    pub fn trusted_proxies(mut self, proxies: TrustedProxies) -> Self {
        self.trusted_proxies = proxies;
        self
    }

    /// Enables sign-in with an OAuth provider (GitHub, Google).
    pub fn oauth_provider(mut self, provider: ProviderConfig) -> Self {
        self.oauth.retain(|p| p.provider != provider.provider);
        self.oauth.push(provider);
        self
    }

    /// Enables TOTP MFA.
    pub fn mfa(mut self, mfa: MfaConfig) -> Self {
        self.mfa = Some(mfa);
        self
    }

    /// The key new tokens are signed with (required).
    pub fn signing_key(mut self, key: SigningKey) -> Self {
        self.keys.insert(0, key);
        self
    }

    /// A previous key, still accepted for verification during rotation.
    pub fn previous_key(mut self, key: SigningKey) -> Self {
        self.keys.push(key);
        self
    }

    /// JWT `iss` (default: the public base URL's origin).
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// JWT `aud` (default: the public base URL's origin).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// Session cookie name (default `__Host-tollbooth.session`).
    pub fn cookie_name(mut self, name: impl Into<String>) -> Self {
        self.cookie_name = name.into();
        self
    }

    /// Lifetime of one JWT (default 15 min); refreshed while the session row lives.
    pub fn jwt_lifetime(mut self, lifetime: TimeDelta) -> Self {
        self.jwt_lifetime = lifetime;
        self
    }

    /// A session unused this long ends (default 7 days). At least the JWT lifetime: the
    /// deadline moves when the JWT is renewed.
    pub fn idle_timeout(mut self, timeout: TimeDelta) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// A session ends this long after sign-in, however active (default 30 days).
    pub fn absolute_lifetime(mut self, lifetime: TimeDelta) -> Self {
        self.absolute_lifetime = lifetime;
        self
    }

    /// bcrypt cost (default 12; below 12 is refused).
    pub fn bcrypt_cost(mut self, cost: u32) -> Self {
        self.bcrypt_cost = cost;
        self
    }

    /// Path of the e-mail verification page (default `/verify-email`); the link gets
    /// `?token=…`.
    pub fn verify_email_path(mut self, path: impl Into<String>) -> Self {
        self.verify_email_path = path.into();
        self
    }

    /// Path of the password reset page (default `/reset-password`).
    pub fn reset_password_path(mut self, path: impl Into<String>) -> Self {
        self.reset_password_path = path.into();
        self
    }

    /// Validity of verification links (default 24 h).
    pub fn verification_ttl(mut self, ttl: TimeDelta) -> Self {
        self.verification_ttl = ttl;
        self
    }

    /// Validity of password reset links (default 1 h).
    pub fn reset_ttl(mut self, ttl: TimeDelta) -> Self {
        self.reset_ttl = ttl;
        self
    }

    /// Path of the page that applies an e-mail change (default `/confirm-email-change`); the
    /// link sent to the new address gets `?token=…`.
    pub fn confirm_email_change_path(mut self, path: impl Into<String>) -> Self {
        self.confirm_email_change_path = path.into();
        self
    }

    /// Validity of the link that applies an e-mail change (default 1 h).
    pub fn email_change_ttl(mut self, ttl: TimeDelta) -> Self {
        self.email_change_ttl = ttl;
        self
    }

    /// Whether sign-in requires a verified e-mail (default `true`).
    pub fn require_verified_email(mut self, required: bool) -> Self {
        self.require_verified_email = required;
        self
    }

    /// Password rules.
    pub fn password_policy(mut self, policy: PasswordPolicy) -> Self {
        self.password_policy = policy;
        self
    }

    /// Rate limits.
    pub fn rate_limits(mut self, limits: RateLimits) -> Self {
        self.rate_limits = limits;
        self
    }

    /// Hashes computed at once (default: the CPU count) and hashes allowed to wait
    /// (default 64); beyond that, [`AuthError::Overloaded`](crate::AuthError::Overloaded).
    pub fn hashing_limits(mut self, concurrency: usize, queue: usize) -> Self {
        self.hashing_concurrency = concurrency;
        self.hashing_queue = queue;
        self
    }

    /// The clock (tests use [`ManualClock`](crate::ManualClock)).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Checks everything and builds the configuration.
    pub fn build(self) -> Result<AuthConfig, ConfigError> {
        let public_base_url = PublicBaseUrl::parse(&self.public_base_url)
            .map_err(|e| config_error(format!("public base URL: {e}")))?;
        if self.keys.is_empty() {
            return Err(config_error("a signing key is required"));
        }
        for (i, key) in self.keys.iter().enumerate() {
            if self.keys[..i].iter().any(|k| k.kid == key.kid) {
                return Err(config_error(format!("duplicate key id `{}`", key.kid)));
            }
        }
        if self.bcrypt_cost < MIN_BCRYPT_COST || self.bcrypt_cost > 31 {
            return Err(config_error(format!(
                "bcrypt cost {} is outside {MIN_BCRYPT_COST}..=31",
                self.bcrypt_cost
            )));
        }
        let positive = |d: TimeDelta| d > TimeDelta::zero();
        // The idle deadline slides only when a JWT is renewed (past half its life), so an
        // idle timeout shorter than a JWT's life would end sessions that are in use.
        if !positive(self.jwt_lifetime)
            || self.idle_timeout < self.jwt_lifetime
            || self.idle_timeout > self.absolute_lifetime
        {
            return Err(config_error(
                "lifetimes must satisfy 0 < jwt_lifetime ≤ idle_timeout ≤ absolute_lifetime \
                 (the idle deadline moves when the JWT is renewed, at half its life)",
            ));
        }
        if ![
            self.verification_ttl,
            self.reset_ttl,
            self.email_change_ttl,
            self.invitation_ttl,
            self.mfa_challenge_ttl,
            self.reauthentication_window,
            self.security_report_ttl,
        ]
        .into_iter()
        .all(positive)
        {
            return Err(config_error("token lifetimes must be positive"));
        }
        if !positive(self.impersonation_lifetime) {
            return Err(config_error("the impersonation lifetime must be positive"));
        }
        if self
            .new_device_window
            .is_some_and(|window| !positive(window))
        {
            return Err(config_error(
                "the new sign-in alert's window must be positive (None turns it off)",
            ));
        }
        if self.cookie_name.is_empty()
            || !self
                .cookie_name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c))
        {
            return Err(config_error(
                "cookie name must be a non-empty RFC 6265 token",
            ));
        }
        if self.password_policy.min_chars < 8 {
            return Err(config_error(
                "passwords of fewer than 8 characters are not allowed",
            ));
        }
        if self.hashing_concurrency == 0 {
            return Err(config_error("hashing concurrency must be at least 1"));
        }
        for provider in &self.oauth {
            provider.validate()?;
        }
        if let Some(role) = self.org_roles.malformed() {
            return Err(config_error(format!(
                "organization role {role:?} must be 1 to 32 lower-case letters, digits, - or _"
            )));
        }
        if let Some(mfa) = &self.mfa
            && mfa.issuer.trim().is_empty()
        {
            return Err(config_error(
                "the MFA issuer (shown in authenticator apps) is empty",
            ));
        }
        let origin = public_base_url.origin();
        let issuer = self.issuer.unwrap_or_else(|| origin.clone());
        let audience = self.audience.unwrap_or(origin);
        if issuer.is_empty() || audience.is_empty() {
            return Err(config_error("issuer and audience must not be empty"));
        }
        Ok(AuthConfig {
            keys: self.keys,
            issuer,
            audience,
            cookie_name: self.cookie_name,
            jwt_lifetime: self.jwt_lifetime,
            idle_timeout: self.idle_timeout,
            absolute_lifetime: self.absolute_lifetime,
            bcrypt_cost: self.bcrypt_cost,
            public_base_url,
            verify_email_path: self.verify_email_path,
            reset_password_path: self.reset_password_path,
            verification_ttl: self.verification_ttl,
            reset_ttl: self.reset_ttl,
            confirm_email_change_path: self.confirm_email_change_path,
            email_change_ttl: self.email_change_ttl,
            accept_invitation_path: self.accept_invitation_path,
            invitation_ttl: self.invitation_ttl,
            mfa_challenge_ttl: self.mfa_challenge_ttl,
            reauthentication_window: self.reauthentication_window,
            impersonation_lifetime: self.impersonation_lifetime,
            security_report_path: self.security_report_path,
            security_report_ttl: self.security_report_ttl,
            recovery_window: self.recovery_window,
            new_device_window: self.new_device_window,
            trusted_proxies: self.trusted_proxies,
            require_verified_email: self.require_verified_email,
            password_policy: self.password_policy,
            rate_limits: self.rate_limits,
            hashing_concurrency: self.hashing_concurrency,
            hashing_queue: self.hashing_queue,
            clock: self.clock,
            oauth: self.oauth,
            mfa: self.mfa,
            before_deletion: self.before_deletion,
            before_organization_deletion: self.before_organization_deletion,
            hooks: self.hooks,
            org_roles: self.org_roles,
        })
    }
}

/// The steps run before a deletion ([`BeforeAccountDeletion`],
/// [`BeforeOrganizationDeletion`]), in order.
pub(crate) struct DeletionSteps<T: ?Sized>(pub(crate) Vec<Arc<T>>);

impl<T: ?Sized> Default for DeletionSteps<T> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<T: ?Sized> Clone for DeletionSteps<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<T: ?Sized> fmt::Debug for DeletionSteps<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeletionSteps({})", self.0.len())
    }
}

fn config_error(reason: impl Into<String>) -> ConfigError {
    ConfigError::new("auth", reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kid: &str) -> SigningKey {
        SigningKey::new(kid, [7u8; 32]).unwrap()
    }

    fn builder() -> AuthConfigBuilder {
        AuthConfig::builder("https://app.acme.example").signing_key(key("k1"))
    }

    /// The providers a sign-in page offers: those configured, in order, each once.
    #[test]
    fn the_configured_oauth_providers_in_order() {
        use crate::ClientSecret;
        use crate::oauth::{Provider, ProviderConfig};
        let github =
            || ProviderConfig::github("gh", ClientSecret::new("s"), "https://app.acme.example/cb");
        let google =
            ProviderConfig::google("g", ClientSecret::new("s"), "https://app.acme.example/cb");
        let none = builder().build().unwrap();
        assert_eq!(none.oauth_providers().count(), 0);
        let both = builder()
            .oauth_provider(github())
            .oauth_provider(google)
            .oauth_provider(github())
            .build()
            .unwrap();
        // A provider configured again replaces the first: it is listed once, last.
        assert_eq!(
            both.oauth_providers().collect::<Vec<_>>(),
            [Provider::Google, Provider::GitHub]
        );
    }

    /// Each refused configuration names what is wrong; the defaults build.
    #[test]
    fn invalid_configurations_are_refused_with_a_reason() {
        assert!(builder().build().is_ok());
        let weak = SigningKey::new("k0", [7u8; 31]).unwrap_err().to_string();
        assert!(weak.contains("248 bits; at least 256"), "{weak}");
        let cases: [(AuthConfigBuilder, &str); 10] = [
            (
                AuthConfig::builder("https://app.acme.example"),
                "a signing key is required",
            ),
            (builder().previous_key(key("k1")), "duplicate key id `k1`"),
            (
                AuthConfig::builder("not a url").signing_key(key("k1")),
                "public base URL",
            ),
            (builder().bcrypt_cost(32), "outside 12..=31"),
            (
                builder().jwt_lifetime(TimeDelta::zero()),
                "0 < jwt_lifetime",
            ),
            // Shorter than a JWT's life: the idle deadline would pass between renewals.
            (
                builder().idle_timeout(TimeDelta::minutes(10)),
                "jwt_lifetime ≤ idle_timeout",
            ),
            (
                builder().absolute_lifetime(TimeDelta::days(1)),
                "idle_timeout ≤ absolute_lifetime",
            ),
            (builder().cookie_name("bad name;"), "RFC 6265 token"),
            (
                builder().impersonation_lifetime(TimeDelta::zero()),
                "impersonation lifetime must be positive",
            ),
            (
                builder().password_policy(PasswordPolicy {
                    min_chars: 7,
                    ..PasswordPolicy::default()
                }),
                "fewer than 8 characters",
            ),
        ];
        for (config, reason) in cases {
            let error = config.build().unwrap_err();
            assert!(
                error.reason().contains(reason),
                "expected `{reason}`: {error}"
            );
        }
        // An idle timeout equal to the JWT lifetime is the shortest allowed.
        assert!(
            builder()
                .jwt_lifetime(TimeDelta::minutes(10))
                .idle_timeout(TimeDelta::minutes(10))
                .build()
                .is_ok()
        );
    }
}
