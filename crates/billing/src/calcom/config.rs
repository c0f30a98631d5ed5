//! Cal.com settings.

use std::time::Duration;

use tollbooth_core::{ConfigError, RetryPolicy};
use url::Url;

use crate::config::WebhookSecret;
use crate::error::Result;

tollbooth_core::secret_type! {
    /// A Cal.com API key (`cal_live_…`). `Debug` never shows it.
    pub struct CalcomApiKey;
}

/// Cal.com API v2 access, booking pages, and the webhook secret.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct CalcomConfig {
    /// API key.
    pub api_key: CalcomApiKey,
    /// API base (default `https://api.cal.com`).
    pub api_base: Url,
    /// Where booking pages live (default `https://cal.com`).
    pub booking_base: Url,
    /// `cal-api-version` of the event-type endpoint (default `2024-06-14`).
    pub api_version: String,
    /// The webhook secret set in Cal.com (without one Cal.com does not sign, and every
    /// delivery is refused).
    pub webhook_secret: Option<WebhookSecret>,
    /// How long an event type lookup is reused (default 5 min).
    pub cache_ttl: Duration,
    /// Timeout of one HTTP request (default 10 s).
    pub timeout: Duration,
    /// Retries of 5xx, 429 and network failures.
    pub retry: RetryPolicy,
}

impl CalcomConfig {
    /// Defaults for Cal.com's cloud.
    pub fn new(api_key: CalcomApiKey) -> Self {
        Self {
            api_key,
            api_base: Url::parse("https://api.cal.com").expect("static URL"),
            booking_base: Url::parse("https://cal.com").expect("static URL"),
            api_version: "2024-06-14".to_owned(),
            webhook_secret: None,
            cache_ttl: Duration::from_secs(300),
            timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
        }
    }

    /// The webhook secret.
    pub fn webhook_secret(mut self, secret: WebhookSecret) -> Self {
        self.webhook_secret = Some(secret);
        self
    }

    /// Points the API and the booking pages elsewhere (self-hosted Cal.com, tests).
    pub fn urls(mut self, api_base: &str, booking_base: &str) -> Result<Self, ConfigError> {
        let parse = |what: &str, url: &str| {
            Url::parse(url).map_err(|e| ConfigError::new("billing", format!("Cal.com {what}: {e}")))
        };
        self.api_base = parse("API base", api_base)?;
        self.booking_base = parse("booking base", booking_base)?;
        if self.booking_base.cannot_be_a_base() {
            return Err(ConfigError::new(
                "billing",
                "the Cal.com booking base cannot hold a path",
            ));
        }
        Ok(self)
    }
}
