//! Session JWTs: HS256 only, typed `session+jwt`, keys by `kid`, no PII.

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::config::AuthConfig;

/// The JWT `typ` header of session tokens (RFC 8725 §3.11 explicit typing): a token minted
/// for another purpose, even with the same key, is not a session token.
pub(crate) const SESSION_TYP: &str = "session+jwt";

/// Longest token accepted (ours are ~300 bytes); bounds parsing work on garbage input.
const MAX_TOKEN_LEN: usize = 4096;

/// Tolerated clock skew between instances for `iat`.
const MAX_SKEW: TimeDelta = TimeDelta::seconds(60);

/// The claims of a session token: opaque ids and times, nothing personal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClaims {
    /// The user id.
    pub sub: Uuid,
    /// The session id (the database row).
    pub sid: Uuid,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Expires at (Unix seconds).
    pub exp: i64,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
}

impl SessionClaims {
    /// Expiry as a timestamp.
    pub fn expires_at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.exp, 0).unwrap_or(DateTime::<Utc>::MIN_UTC)
    }
}

/// Why a token was refused (logged at debug level; callers only see "no session").
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Rejection {
    Malformed,
    Algorithm,
    Type,
    UnknownKey,
    Signature,
    Claims,
    Expired,
    FromTheFuture,
}

struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

pub(crate) struct TokenCodec {
    keys: HashMap<String, Keys>,
    current: String,
    validation: Validation,
    issuer: String,
    audience: String,
    lifetime: TimeDelta,
}

impl std::fmt::Debug for TokenCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCodec")
            .field("current_kid", &self.current)
            .field("kids", &self.keys.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl TokenCodec {
    pub(crate) fn new(config: &AuthConfig) -> Self {
        let keys = config
            .keys
            .iter()
            .map(|k| {
                (
                    k.kid().to_owned(),
                    Keys {
                        encoding: EncodingKey::from_secret(k.secret()),
                        decoding: DecodingKey::from_secret(k.secret()),
                    },
                )
            })
            .collect();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.set_issuer(&[&config.issuer]);
        validation.set_audience(&[&config.audience]);
        // Expiry is checked against the injectable clock below.
        validation.validate_exp = false;
        validation.leeway = 0;
        Self {
            keys,
            current: config.keys[0].kid().to_owned(),
            validation,
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            lifetime: config.jwt_lifetime,
        }
    }

    pub(crate) fn lifetime(&self) -> TimeDelta {
        self.lifetime
    }

    /// A token for session `sid` of user `sub`, valid from `now` for the JWT lifetime.
    pub(crate) fn issue(&self, sub: Uuid, sid: Uuid, now: DateTime<Utc>) -> String {
        let claims = SessionClaims {
            sub,
            sid,
            iat: now.timestamp(),
            exp: (now + self.lifetime).timestamp(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
        };
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some(SESSION_TYP.to_owned());
        header.kid = Some(self.current.clone());
        // HS256 with an in-memory key cannot fail to sign.
        jsonwebtoken::encode(&header, &claims, &self.keys[&self.current].encoding)
            .expect("HS256 signing")
    }

    /// The stateless check: signature, algorithm, type, key, issuer, audience — and expiry.
    pub(crate) fn verify(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<SessionClaims, Rejection> {
        let claims = self.verify_ignoring_expiry(token, now)?;
        if claims.exp <= now.timestamp() {
            return Err(Rejection::Expired);
        }
        Ok(claims)
    }

    /// Everything [`verify`](Self::verify) checks but expiry: for the database-backed path,
    /// where the session row decides and an expired JWT of a live row is refreshed.
    pub(crate) fn verify_ignoring_expiry(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<SessionClaims, Rejection> {
        if token.is_empty() || token.len() > MAX_TOKEN_LEN {
            return Err(Rejection::Malformed);
        }
        // `alg: none` and unknown algorithms fail to parse here.
        let header = jsonwebtoken::decode_header(token).map_err(|_| Rejection::Malformed)?;
        if header.alg != Algorithm::HS256 {
            return Err(Rejection::Algorithm);
        }
        if header.typ.as_deref() != Some(SESSION_TYP) {
            return Err(Rejection::Type);
        }
        let keys = header
            .kid
            .as_deref()
            .and_then(|kid| self.keys.get(kid))
            .ok_or(Rejection::UnknownKey)?;
        let claims = jsonwebtoken::decode::<SessionClaims>(token, &keys.decoding, &self.validation)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature => Rejection::Signature,
                _ => Rejection::Claims,
            })?
            .claims;
        if claims.iat > (now + MAX_SKEW).timestamp() {
            return Err(Rejection::FromTheFuture);
        }
        Ok(claims)
    }
}
