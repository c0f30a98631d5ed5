//! The Resend transport (resend-rs), with pacing, bounded retries and idempotency keys.

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use resend_rs::types::CreateEmailBaseOptions;
use resend_rs::{ConfigBuilder, Resend};
use tokio::time::Instant;
use url::Url;

use tollbooth_core::RetryPolicy;

use super::pace::Pacer;
use crate::error::{EmailError, Result};
use crate::message::{Email, MessageId};
use crate::sender::EmailSender;

tollbooth_core::secret_type! {
    /// A Resend API key (`re_…`). `Debug` never shows it.
    pub struct ApiKey;
}

/// Settings of the Resend transport.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ResendConfig {
    /// API key.
    pub api_key: ApiKey,
    /// API base URL (default `https://api.resend.com`; point tests at a local server).
    pub base_url: Url,
    /// Timeout of one HTTP request.
    pub timeout: Duration,
    /// Retries of 429, 5xx and network failures.
    pub retry: RetryPolicy,
    /// Requests per second this process sends at most (Resend's default team limit is 2).
    pub requests_per_second: u32,
}

impl ResendConfig {
    /// Defaults: Resend's API, 10 s timeout, [`RetryPolicy::default`], 2 requests/s.
    pub fn new(api_key: ApiKey) -> Self {
        Self {
            api_key,
            base_url: Url::parse("https://api.resend.com").expect("static URL"),
            timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
            requests_per_second: 2,
        }
    }

    /// Points the transport at another server (tests, proxies).
    pub fn base_url(mut self, base_url: &str) -> Result<Self> {
        self.base_url = Url::parse(base_url).map_err(|e| EmailError::InvalidConfig {
            reason: format!("Resend base URL: {e}"),
        })?;
        Ok(self)
    }
}

/// Sends through Resend's `POST /emails`. Build it once and share it (it holds the HTTP
/// connection pool and the request pacer): clone the `Arc`, or use [`ResendSender::global`].
///
/// - Every request carries the message's `Idempotency-Key`; retries reuse it, so a retry
///   after a lost response never delivers twice.
/// - 429, 5xx and network errors are retried with exponential backoff and full jitter,
///   bounded in attempts and total time ([`RetryPolicy`]); then [`EmailError::Unavailable`].
/// - Other 4xx answers are not retried: [`EmailError::Rejected`] with Resend's `name` and
///   `message`.
/// - Requests are paced to `requests_per_second` across all tasks of the process.
pub struct ResendSender {
    client: Resend,
    retry: RetryPolicy,
    pacer: Pacer,
}

static GLOBAL: OnceLock<Arc<ResendSender>> = OnceLock::new();

impl ResendSender {
    /// A transport with this configuration.
    pub fn new(config: ResendConfig) -> Result<Self> {
        if config.api_key.expose_secret().trim().is_empty() {
            return Err(EmailError::InvalidConfig {
                reason: "Resend API key is empty".to_owned(),
            });
        }
        if config.requests_per_second == 0 || config.retry.max_attempts == 0 {
            return Err(EmailError::InvalidConfig {
                reason: "requests_per_second and retry.max_attempts must be at least 1".to_owned(),
            });
        }
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|e| EmailError::InvalidConfig {
                reason: format!("HTTP client: {e}"),
            })?;
        let client = Resend::with_config(
            ConfigBuilder::new(config.api_key.expose_secret())
                .base_url(config.base_url)
                .client(http)
                .build(),
        );
        Ok(Self {
            client,
            retry: config.retry,
            pacer: Pacer::per_second(config.requests_per_second),
        })
    }

    /// The process-wide transport, created from `config` on the first call; later calls
    /// return the same instance and ignore their argument. For binaries that want one shared
    /// client, like a module-level singleton; libraries should take a sender as a parameter.
    pub fn global(config: ResendConfig) -> Result<Arc<Self>> {
        if let Some(sender) = GLOBAL.get() {
            return Ok(sender.clone());
        }
        let sender = Arc::new(Self::new(config)?);
        Ok(GLOBAL.get_or_init(|| sender).clone())
    }
}

impl fmt::Debug for ResendSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResendSender")
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

/// What to do after a failed attempt.
enum Failure {
    Retry {
        after: Option<Duration>,
        error: resend_rs::Error,
    },
    Fatal(EmailError),
}

fn classify(error: resend_rs::Error) -> Failure {
    use resend_rs::Error as E;
    match error {
        E::RateLimit {
            ratelimit_reset, ..
        } => Failure::Retry {
            after: ratelimit_reset.map(Duration::from_secs),
            error,
        },
        // 409: a concurrent request with the same idempotency key is still in flight.
        E::Resend(ref e) if e.status_code >= 500 || matches!(e.status_code, 409 | 429) => {
            Failure::Retry { after: None, error }
        }
        E::Resend(e) => Failure::Fatal(EmailError::Rejected {
            status: e.status_code,
            name: e.name,
            message: e.message,
        }),
        // Network failures and unparseable (typically proxy-generated) error pages.
        E::Http(_) | E::Parse { .. } => Failure::Retry { after: None, error },
        other @ E::Other(_) => Failure::Fatal(EmailError::Unavailable {
            attempts: 1,
            source: Box::new(other),
        }),
    }
}

#[async_trait]
impl EmailSender for ResendSender {
    async fn send(&self, email: &Email) -> Result<MessageId> {
        let to: Vec<String> = email.to().iter().map(ToString::to_string).collect();
        let mut options =
            CreateEmailBaseOptions::new(email.from().to_string(), to, email.subject())
                .with_html(email.html())
                .with_text(email.text());
        if let Some(reply_to) = email.reply_to() {
            options = options.with_reply(&reply_to.to_string());
        }
        let request = options.with_idempotency_key(email.idempotency_key());

        let started = Instant::now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.pacer.wait().await;
            let error = match self.client.emails.send(request.clone()).await {
                Ok(sent) => return Ok(MessageId(sent.id.to_string())),
                Err(error) => error,
            };
            match classify(error) {
                Failure::Fatal(error) => return Err(error),
                Failure::Retry { after, error } => {
                    let Some(delay) = self.retry.delay(attempt, started, after) else {
                        return Err(EmailError::Unavailable {
                            attempts: attempt,
                            source: Box::new(error),
                        });
                    };
                    tracing::warn!(attempt, ?delay, %error, "Resend send failed; retrying");
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }
}
