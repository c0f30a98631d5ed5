//! Google: OpenID Connect. The id_token is verified in full — RS256 signature against
//! Google's JWKS (cached, refetched on an unknown `kid`), `iss`, `aud` = our client id,
//! `exp`, and the `nonce` we sent — and the account is keyed on `sub`. The e-mail is used
//! only when `email_verified`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Deserializer};
use tokio::sync::Mutex;

use super::Identity;
use super::config::ProviderConfig;
use crate::error::{AuthError, Result};

/// Keys are refetched at most this often on an unknown `kid` (a flood of made-up kids must
/// not turn into a flood of requests to Google)…
const REFETCH_COOLDOWN: Duration = Duration::from_secs(60);
/// …and at least this often, as Google rotates its keys.
const MAX_AGE: Duration = Duration::from_secs(3600);
/// Clock skew tolerated on `exp` and `iat`.
const LEEWAY_SECS: i64 = 30;

/// A cache of the provider's signing keys by `kid`.
#[derive(Default)]
pub(crate) struct Jwks {
    state: Mutex<JwksState>,
}

#[derive(Default)]
struct JwksState {
    keys: HashMap<String, DecodingKey>,
    fetched_at: Option<Instant>,
}

impl std::fmt::Debug for Jwks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Jwks")
    }
}

#[derive(Deserialize)]
struct KeySet {
    keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct Jwk {
    #[serde(default)]
    kid: Option<String>,
    kty: String,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
}

impl Jwks {
    async fn key(&self, http: &reqwest::Client, url: &str, kid: &str) -> Result<DecodingKey> {
        self.key_at(http, url, kid, Instant::now()).await
    }

    /// [`key`](Self::key) as of `now` (tests move time forward).
    async fn key_at(
        &self,
        http: &reqwest::Client,
        url: &str,
        kid: &str,
        now: Instant,
    ) -> Result<DecodingKey> {
        let mut state = self.state.lock().await;
        let age = |at: Instant| now.saturating_duration_since(at);
        let stale = state.fetched_at.is_none_or(|at| age(at) > MAX_AGE);
        let may_refetch = state.fetched_at.is_none_or(|at| age(at) > REFETCH_COOLDOWN);
        if stale || (!state.keys.contains_key(kid) && may_refetch) {
            state.keys = fetch(http, url).await?;
            state.fetched_at = Some(now);
        }
        state
            .keys
            .get(kid)
            .cloned()
            .ok_or_else(|| AuthError::OAuthRejected {
                reason: format!("id_token signed with unknown key `{kid}`"),
            })
    }
}

async fn fetch(http: &reqwest::Client, url: &str) -> Result<HashMap<String, DecodingKey>> {
    let unavailable = |e: String| AuthError::ProviderUnavailable { source: e.into() };
    let response = http
        .get(url)
        .send()
        .await
        .map_err(|e| unavailable(e.to_string()))?;
    if !response.status().is_success() {
        return Err(unavailable(format!("JWKS answered {}", response.status())));
    }
    let set: KeySet = response
        .json()
        .await
        .map_err(|e| unavailable(format!("JWKS: {e}")))?;
    Ok(set
        .keys
        .into_iter()
        .filter(|k| k.kty == "RSA")
        .filter_map(|k| {
            let key = DecodingKey::from_rsa_components(k.n.as_deref()?, k.e.as_deref()?).ok()?;
            Some((k.kid?, key))
        })
        .collect())
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    exp: i64,
    iat: i64,
    #[serde(default)]
    nonce: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default, deserialize_with = "bool_or_string")]
    email_verified: bool,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    picture: Option<String>,
}

/// Google has sent `email_verified` both as `true` and as `"true"`.
fn bool_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Flag {
        Bool(bool),
        Text(String),
    }
    Ok(match Flag::deserialize(d)? {
        Flag::Bool(b) => b,
        Flag::Text(s) => s.eq_ignore_ascii_case("true"),
    })
}

pub(crate) async fn identity(
    http: &reqwest::Client,
    jwks: &Jwks,
    config: &ProviderConfig,
    id_token: Option<&str>,
    expected_nonce: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Identity> {
    let reject = |reason: &str| AuthError::OAuthRejected {
        reason: reason.to_owned(),
    };
    let id_token = id_token.ok_or_else(|| reject("no id_token in the token response"))?;
    let header = jsonwebtoken::decode_header(id_token).map_err(|_| reject("malformed id_token"))?;
    if header.alg != Algorithm::RS256 {
        return Err(reject("id_token algorithm is not RS256"));
    }
    let kid = header.kid.ok_or_else(|| reject("id_token without kid"))?;
    let key = jwks.key(http, &config.jwks_url, &kid).await?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&config.issuers);
    validation.set_audience(&[&config.client_id]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    validation.validate_exp = false; // checked below against the injectable clock
    let claims = jsonwebtoken::decode::<Claims>(id_token, &key, &validation)
        .map_err(|e| AuthError::OAuthRejected {
            reason: format!("id_token: {e}"),
        })?
        .claims;
    let now = now.timestamp();
    if claims.exp + LEEWAY_SECS <= now {
        return Err(reject("id_token expired"));
    }
    if claims.iat > now + LEEWAY_SECS {
        return Err(reject("id_token issued in the future"));
    }
    let nonce_ok = match (expected_nonce, claims.nonce.as_deref()) {
        (Some(expected), Some(got)) => {
            subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), got.as_bytes()).into()
        }
        _ => false,
    };
    if !nonce_ok {
        return Err(reject("id_token nonce does not match"));
    }
    Ok(Identity {
        account_id: claims.sub,
        verified_email: claims.email.filter(|_| claims.email_verified),
        name: claims.name,
        image: claims.picture,
    })
}

#[cfg(test)]
mod tests {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;

    const JWKS: &str = include_str!("../../tests/fixtures/google_jwks.json");

    /// Serves `kids`, each with the fixture key's material; returns the JWKS URL.
    async fn serve(server: &MockServer, kids: &[&str]) -> String {
        let fixture: serde_json::Value = serde_json::from_str(JWKS).unwrap();
        let keys: Vec<serde_json::Value> = kids
            .iter()
            .map(|kid| {
                let mut key = fixture["keys"][0].clone();
                key["kid"] = serde_json::json!(kid);
                key
            })
            .collect();
        server.reset().await;
        Mock::given(method("GET"))
            .and(path("/jwks"))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(serde_json::json!({ "keys": keys })),
            )
            .mount(server)
            .await;
        format!("{}/jwks", server.uri())
    }

    async fn fetches(server: &MockServer) -> usize {
        server.received_requests().await.unwrap().len()
    }

    /// Google's keys are fetched once and cached; a `kid` Google has just rotated in is
    /// fetched on first sight — but made-up `kid`s cost at most one request a minute — and
    /// the whole set is refreshed hourly.
    #[tokio::test]
    async fn keys_are_cached_refetched_for_new_kids_and_rate_limited() {
        let server = MockServer::start().await;
        let url = serve(&server, &["k1"]).await;
        let (jwks, http, t0) = (Jwks::default(), reqwest::Client::new(), Instant::now());
        let at = |secs: u64| t0 + Duration::from_secs(secs);

        assert!(jwks.key_at(&http, &url, "k1", at(0)).await.is_ok());
        assert!(jwks.key_at(&http, &url, "k1", at(30)).await.is_ok());
        assert_eq!(fetches(&server).await, 1, "cached");

        // An unknown kid within a minute of the last fetch: refused without a request.
        assert!(jwks.key_at(&http, &url, "k2", at(40)).await.is_err());
        assert_eq!(fetches(&server).await, 1, "cooldown");

        // Google rotates k2 in; after the cooldown the unknown kid triggers one refetch.
        let url = serve(&server, &["k1", "k2"]).await;
        assert!(jwks.key_at(&http, &url, "k2", at(61)).await.is_ok());
        assert!(jwks.key_at(&http, &url, "made-up", at(62)).await.is_err());
        assert_eq!(
            fetches(&server).await,
            1,
            "one refetch, then cooldown again"
        );

        // k1 retired: still served from the cache until the hourly refresh drops it.
        let url = serve(&server, &["k2"]).await;
        assert!(jwks.key_at(&http, &url, "k1", at(3600)).await.is_ok());
        assert_eq!(fetches(&server).await, 0);
        assert!(jwks.key_at(&http, &url, "k1", at(61 + 3601)).await.is_err());
        assert_eq!(fetches(&server).await, 1, "hourly refresh");
    }
}
