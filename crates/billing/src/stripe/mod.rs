//! The Stripe transport: async-stripe's typed request builders produce the method, path and
//! form body; this client sends them with the configured `Stripe-Version`, an
//! `Idempotency-Key` on every POST, and bounded retries, and parses responses into
//! [`types`] — billing's own small serde structs (async-stripe's typed responses follow a
//! newer API version than the one we pin).

pub(crate) mod types;

use std::time::Duration;

use serde::de::DeserializeOwned;
use stripe_client_core::{RequestBuilder, StripeMethod, StripeRequest};
use tokio::time::Instant;
use tollbooth_core::{ConfigError, RetryPolicy};
use url::Url;

use crate::config::{BillingConfig, StripeSecretKey};
use crate::error::{BillingError, ProviderError, Result};

pub(crate) struct StripeApi {
    http: reqwest::Client,
    base: Url,
    key: StripeSecretKey,
    version: String,
    retry: RetryPolicy,
}

impl std::fmt::Debug for StripeApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeApi")
            .field("base", &self.base.as_str())
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// The error body Stripe sends with 4xx/5xx answers.
#[derive(serde::Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(serde::Deserialize)]
struct ErrorDetail {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

impl StripeApi {
    pub(crate) fn new(config: &BillingConfig) -> Result<Self, ConfigError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            // Stripe never redirects API calls; a redirect would be a misconfigured base URL.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ConfigError::new("billing", format!("HTTP client: {e}")))?;
        Ok(Self {
            http,
            base: config.api_base.clone(),
            key: config.secret_key.clone(),
            version: config.api_version.clone(),
            retry: config.retry.clone(),
        })
    }

    /// Sends a request built by async-stripe and parses the answer as `T`. POSTs carry
    /// `idempotency_key`, or a random key reused across this call's retries.
    pub(crate) async fn send<T: DeserializeOwned>(
        &self,
        request: &impl StripeRequest,
        idempotency_key: Option<String>,
    ) -> Result<T> {
        self.send_once(request, idempotency_key)
            .await?
            .map_err(|unusable| {
                BillingError::internal(format!("unexpected Stripe response: {unusable}"))
            })
    }

    /// Sends a request that changes something in Stripe. When Stripe accepted it (2xx) but
    /// the answer cannot be used, the change has still happened: the object is read back
    /// with `read_back`, so the caller learns (and stores) what Stripe now holds instead of
    /// failing with Stripe already changed.
    pub(crate) async fn mutate<T: DeserializeOwned>(
        &self,
        request: &impl StripeRequest,
        idempotency_key: Option<String>,
        read_back: &impl StripeRequest,
    ) -> Result<T> {
        match self.send_once(request, idempotency_key).await? {
            Ok(value) => Ok(value),
            Err(unusable) => {
                tracing::warn!(path = %request.build().path, %unusable,
                    "Stripe accepted a change but its answer is unusable; reading the object back");
                self.send(read_back, None).await
            }
        }
    }

    /// A parsed answer, or (inner `Err`) a 2xx whose body does not parse as `T`.
    async fn send_once<T: DeserializeOwned>(
        &self,
        request: &impl StripeRequest,
        idempotency_key: Option<String>,
    ) -> Result<std::result::Result<T, serde_json::Error>> {
        let built = request.build();
        let key = matches!(built.method, StripeMethod::Post)
            .then(|| idempotency_key.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()));
        let url = self.url(&built);
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let failure = match self.attempt(&built, &url, key.as_deref()).await {
                Ok(response) => match self.read(response).await? {
                    Read::Done(parsed) => return Ok(parsed),
                    Read::Retry(retryable) => retryable,
                },
                Err(network) => Retryable {
                    after: None,
                    error: Box::new(network),
                },
            };
            let Some(delay) = self.retry.delay(attempt, started, failure.after) else {
                return Err(BillingError::Stripe(ProviderError::Unavailable {
                    attempts: attempt,
                    source: failure.error,
                }));
            };
            tracing::warn!(attempt, ?delay, error = %failure.error, path = %built.path, "Stripe request failed; retrying");
            tokio::time::sleep(delay).await;
        }
    }

    fn url(&self, built: &RequestBuilder) -> String {
        let base = self.base.as_str().trim_end_matches('/');
        match &built.query {
            Some(query) if !query.is_empty() => format!("{base}/v1{}?{query}", built.path),
            _ => format!("{base}/v1{}", built.path),
        }
    }

    async fn attempt(
        &self,
        built: &RequestBuilder,
        url: &str,
        idempotency_key: Option<&str>,
    ) -> reqwest::Result<reqwest::Response> {
        let method = match built.method {
            StripeMethod::Get => reqwest::Method::GET,
            StripeMethod::Post => reqwest::Method::POST,
            StripeMethod::Delete => reqwest::Method::DELETE,
        };
        let mut request = self
            .http
            .request(method, url)
            .bearer_auth(self.key.expose_secret())
            .header("Stripe-Version", &self.version);
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        if let Some(body) = &built.body {
            request = request
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(body.clone());
        }
        request.send().await
    }

    /// A success (parsed or not), a failure worth retrying, or a final error.
    async fn read<T: DeserializeOwned>(&self, response: reqwest::Response) -> Result<Read<T>> {
        let status = response.status();
        let should_retry = response
            .headers()
            .get("stripe-should-retry")
            .and_then(|v| v.to_str().ok())
            .map(|v| v == "true");
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = match response.bytes().await {
            Ok(body) => body,
            Err(e) => {
                return Ok(Read::Retry(Retryable {
                    after: None,
                    error: Box::new(e),
                }));
            }
        };
        if status.is_success() {
            return Ok(Read::Done(serde_json::from_slice(&body)));
        }
        let detail = serde_json::from_slice::<ErrorBody>(&body)
            .ok()
            .map(|b| b.error);
        let retry = should_retry.unwrap_or(
            status.as_u16() == 429 || status.as_u16() == 409 || status.is_server_error(),
        );
        if retry {
            let message = detail
                .and_then(|d| d.message)
                .unwrap_or_else(|| String::from_utf8_lossy(&body).chars().take(200).collect());
            return Ok(Read::Retry(Retryable {
                after: retry_after,
                error: format!("HTTP {status}: {message}").into(),
            }));
        }
        let detail = detail.unwrap_or(ErrorDetail {
            kind: "api_error".to_owned(),
            code: None,
            message: None,
        });
        Err(BillingError::Stripe(ProviderError::Refused {
            status: status.as_u16(),
            kind: Some(detail.kind),
            code: detail.code,
            message: detail.message.unwrap_or_else(|| format!("HTTP {status}")),
        }))
    }
}

enum Read<T> {
    Done(std::result::Result<T, serde_json::Error>),
    Retry(Retryable),
}

struct Retryable {
    after: Option<Duration>,
    error: Box<dyn std::error::Error + Send + Sync>,
}
