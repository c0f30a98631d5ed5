//! OAuth provider configuration.

use std::fmt;
use std::str::FromStr;

use tollbooth_core::ConfigError;

use crate::error::{AuthError, Result};

/// The OAuth providers Tollbooth signs in with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Provider {
    /// GitHub (OAuth 2 + REST API).
    GitHub,
    /// Google (OpenID Connect).
    Google,
}

impl Provider {
    /// `github`, `google` (also the `accounts.provider` value and the callback path segment).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::GitHub => "github",
            Self::Google => "google",
        }
    }

    /// `GitHub`, `Google` (for people: e-mails, pages).
    pub fn display_name(self) -> &'static str {
        match self {
            Self::GitHub => "GitHub",
            Self::Google => "Google",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Provider {
    type Err = AuthError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "github" => Ok(Self::GitHub),
            "google" => Ok(Self::Google),
            other => Err(AuthError::ProviderNotConfigured {
                provider: other.chars().take(32).collect(),
            }),
        }
    }
}

tollbooth_core::secret_type! {
    /// An OAuth client secret. `Debug` never shows it.
    pub struct ClientSecret;
}

/// One provider's client registration and endpoints. Every endpoint is overridable, so tests
/// run against local servers and nothing assumes the public hosts.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ProviderConfig {
    /// Which provider.
    pub provider: Provider,
    /// OAuth client id.
    pub client_id: String,
    /// OAuth client secret.
    pub client_secret: ClientSecret,
    /// This application's callback URL, registered with the provider.
    pub redirect_uri: String,
    /// Scopes requested.
    pub scopes: Vec<String>,
    /// Authorization endpoint.
    pub authorize_url: String,
    /// Token endpoint.
    pub token_url: String,
    /// GitHub: REST API base (`/user`, `/user/emails`).
    pub api_base: String,
    /// Google: accepted `iss` values of id_tokens.
    pub issuers: Vec<String>,
    /// Google: the JSON Web Key Set the id_tokens are signed with.
    pub jwks_url: String,
}

impl ProviderConfig {
    /// GitHub with its public endpoints and the `read:user user:email` scopes.
    pub fn github(
        client_id: impl Into<String>,
        client_secret: ClientSecret,
        redirect_uri: impl Into<String>,
    ) -> Self {
        Self {
            provider: Provider::GitHub,
            client_id: client_id.into(),
            client_secret,
            redirect_uri: redirect_uri.into(),
            scopes: vec!["read:user".to_owned(), "user:email".to_owned()],
            authorize_url: "https://github.com/login/oauth/authorize".to_owned(),
            token_url: "https://github.com/login/oauth/access_token".to_owned(),
            api_base: "https://api.github.com".to_owned(),
            issuers: Vec::new(),
            jwks_url: String::new(),
        }
    }

    /// Google with its public endpoints and the `openid email profile` scopes.
    pub fn google(
        client_id: impl Into<String>,
        client_secret: ClientSecret,
        redirect_uri: impl Into<String>,
    ) -> Self {
        Self {
            provider: Provider::Google,
            client_id: client_id.into(),
            client_secret,
            redirect_uri: redirect_uri.into(),
            scopes: vec![
                "openid".to_owned(),
                "email".to_owned(),
                "profile".to_owned(),
            ],
            authorize_url: "https://accounts.google.com/o/oauth2/v2/auth".to_owned(),
            token_url: "https://oauth2.googleapis.com/token".to_owned(),
            api_base: String::new(),
            issuers: vec![
                "https://accounts.google.com".to_owned(),
                "accounts.google.com".to_owned(),
            ],
            jwks_url: "https://www.googleapis.com/oauth2/v3/certs".to_owned(),
        }
    }

    /// Points every endpoint at `base` (a local stand-in in tests): `{base}/authorize`,
    /// `{base}/token`, `{base}` as the API base, `{base}/jwks`.
    pub fn endpoints_at(mut self, base: &str) -> Self {
        let base = base.trim_end_matches('/');
        self.authorize_url = format!("{base}/authorize");
        self.token_url = format!("{base}/token");
        self.api_base = base.to_owned();
        self.jwks_url = format!("{base}/jwks");
        self
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |reason: String| ConfigError::new("auth", reason);
        if self.client_id.trim().is_empty() || self.client_secret.expose_secret().trim().is_empty()
        {
            return Err(invalid(format!(
                "{}: client id and secret are required",
                self.provider
            )));
        }
        for (name, url) in [
            ("redirect_uri", &self.redirect_uri),
            ("authorize_url", &self.authorize_url),
            ("token_url", &self.token_url),
        ] {
            url::Url::parse(url).map_err(|e| invalid(format!("{}: {name}: {e}", self.provider)))?;
        }
        if self.provider == Provider::Google
            && (self.issuers.is_empty() || self.jwks_url.is_empty())
        {
            return Err(invalid(
                "google: issuers and jwks_url are required".to_owned(),
            ));
        }
        Ok(())
    }
}
