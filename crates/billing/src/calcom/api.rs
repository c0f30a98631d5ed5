//! Cal.com API v2: event-type lookups (cached) and booking links.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio::sync::Mutex;
use url::Url;

use tollbooth_core::ConfigError;

use super::config::CalcomConfig;
use crate::error::{BillingError, ProviderError, Result};

/// Cal.com stores booking metadata with Stripe-like limits.
const MAX_METADATA_KEYS: usize = 50;
const MAX_KEY_CHARS: usize = 40;
const MAX_VALUE_CHARS: usize = 500;

/// Optional booking-form prefill.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Prefill {
    /// Attendee name.
    pub name: Option<String>,
    /// Attendee e-mail.
    pub email: Option<String>,
}

impl Prefill {
    /// Prefills name and e-mail.
    pub fn new(name: Option<String>, email: Option<String>) -> Self {
        Self { name, email }
    }
}

/// What a booking page URL needs from an event type.
#[derive(Clone, Debug, PartialEq, Eq)]
struct EventType {
    username: String,
    slug: String,
}

#[derive(Deserialize)]
struct Envelope {
    data: EventTypeData,
}

#[derive(Deserialize)]
struct EventTypeData {
    slug: String,
    #[serde(default)]
    users: Vec<EventTypeUser>,
}

#[derive(Deserialize)]
struct EventTypeUser {
    #[serde(default)]
    username: Option<String>,
}

pub(crate) struct CalcomApi {
    http: reqwest::Client,
    config: CalcomConfig,
    cache: Mutex<HashMap<i64, (EventType, Instant)>>,
}

impl std::fmt::Debug for CalcomApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CalcomApi")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl CalcomApi {
    pub(crate) fn new(config: CalcomConfig) -> Result<Self, ConfigError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ConfigError::new("billing", format!("Cal.com HTTP client: {e}")))?;
        Ok(Self {
            http,
            config,
            cache: Mutex::new(HashMap::new()),
        })
    }

    pub(crate) fn config(&self) -> &CalcomConfig {
        &self.config
    }

    /// `{booking_base}/{username}/{slug}?metadata[k]=v…&name=…&email=…`, percent-encoded.
    pub(crate) async fn booking_link(
        &self,
        event_type_id: i64,
        metadata: &HashMap<String, String>,
        prefill: &Prefill,
    ) -> Result<Url> {
        validate_metadata(metadata)?;
        let event_type = self.event_type(event_type_id).await?;
        let mut url = self.config.booking_base.clone();
        url.path_segments_mut()
            // `urls` refused such a base when the configuration was built.
            .map_err(|()| BillingError::internal("Cal.com booking base cannot hold a path"))?
            .pop_if_empty()
            .push(&event_type.username)
            .push(&event_type.slug);
        {
            let mut query = url.query_pairs_mut();
            let mut keys: Vec<&String> = metadata.keys().collect();
            keys.sort(); // stable URLs, cache- and test-friendly
            for key in keys {
                query.append_pair(&format!("metadata[{key}]"), &metadata[key]);
            }
            if let Some(name) = &prefill.name {
                query.append_pair("name", name);
            }
            if let Some(email) = &prefill.email {
                query.append_pair("email", email);
            }
        }
        if url.query() == Some("") {
            url.set_query(None);
        }
        Ok(url)
    }

    /// The event type's owner and slug: cached for `cache_ttl`, else `GET /v2/event-types/{id}`.
    async fn event_type(&self, id: i64) -> Result<EventType> {
        if let Some((cached, at)) = self.cache.lock().await.get(&id)
            && at.elapsed() < self.config.cache_ttl
        {
            return Ok(cached.clone());
        }
        let fetched = self.fetch_event_type(id).await?;
        self.cache
            .lock()
            .await
            .insert(id, (fetched.clone(), Instant::now()));
        Ok(fetched)
    }

    async fn fetch_event_type(&self, id: i64) -> Result<EventType> {
        let base = self.config.api_base.as_str().trim_end_matches('/');
        let url = format!("{base}/v2/event-types/{id}");
        let started = tokio::time::Instant::now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (retry_after, error): (Option<Duration>, Box<dyn std::error::Error + Send + Sync>) =
                match self
                    .http
                    .get(&url)
                    .bearer_auth(self.config.api_key.expose_secret())
                    .header("cal-api-version", &self.config.api_version)
                    .send()
                    .await
                {
                    Ok(response) if response.status().is_success() => {
                        let envelope: Envelope = response.json().await.map_err(|e| {
                            BillingError::internal(format!(
                                "unexpected Cal.com event type response: {e}"
                            ))
                        })?;
                        let username = envelope
                        .data
                        .users
                        .into_iter()
                        .find_map(|u| u.username)
                        .ok_or_else(|| BillingError::invalid("event_type", "the event type has no user with a username (team event types are not supported)"))?;
                        return Ok(EventType {
                            username,
                            slug: envelope.data.slug,
                        });
                    }
                    Ok(response) if response.status().as_u16() == 404 => {
                        return Err(BillingError::NotFound { what: "event type" });
                    }
                    Ok(response)
                        if response.status().as_u16() == 429
                            || response.status().is_server_error() =>
                    {
                        let after = response
                            .headers()
                            .get("retry-after")
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| v.parse().ok())
                            .map(Duration::from_secs);
                        (
                            after,
                            format!("Cal.com answered {}", response.status()).into(),
                        )
                    }
                    Ok(response) => {
                        let status = response.status().as_u16();
                        let message = response
                            .text()
                            .await
                            .unwrap_or_default()
                            .chars()
                            .take(300)
                            .collect();
                        return Err(BillingError::Calcom(ProviderError::Refused {
                            status,
                            kind: None,
                            code: None,
                            message,
                        }));
                    }
                    Err(e) => (None, Box::new(e)),
                };
            let Some(delay) = self.config.retry.delay(attempt, started, retry_after) else {
                return Err(BillingError::Calcom(ProviderError::Unavailable {
                    attempts: attempt,
                    source: error,
                }));
            };
            tracing::warn!(attempt, ?delay, %error, "Cal.com request failed; retrying");
            tokio::time::sleep(delay).await;
        }
    }
}

/// Keys and values that survive `metadata[key]=value` in a URL and Cal.com's storage.
pub(crate) fn validate_metadata(metadata: &HashMap<String, String>) -> Result<()> {
    if metadata.len() > MAX_METADATA_KEYS {
        return Err(BillingError::invalid(
            "metadata",
            format!("at most {MAX_METADATA_KEYS} keys"),
        ));
    }
    for (key, value) in metadata {
        let key_ok = !key.is_empty()
            && key.chars().count() <= MAX_KEY_CHARS
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if !key_ok {
            return Err(BillingError::invalid(
                "metadata",
                format!("key `{key}` must be 1 to {MAX_KEY_CHARS} of A-Z a-z 0-9 _ - ."),
            ));
        }
        if value.chars().count() > MAX_VALUE_CHARS || value.chars().any(char::is_control) {
            return Err(BillingError::invalid(
                "metadata",
                format!(
                    "value of `{key}` must be at most {MAX_VALUE_CHARS} characters without control characters"
                ),
            ));
        }
    }
    Ok(())
}
