//! [`BillingConfig`]: Stripe credentials and version, plans, webhook secrets.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use tollbooth_email::{PublicBaseUrl, RetryPolicy};
use url::Url;

use crate::calcom::CalcomConfig;
use crate::error::{BillingError, Result};

/// The Stripe API version sent as `Stripe-Version` unless configured otherwise.
pub const DEFAULT_API_VERSION: &str = "2024-04-10";

/// A Stripe secret key (`sk_live_…`, `sk_test_…`, `rk_…`). `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct StripeSecretKey(String);

impl StripeSecretKey {
    /// Wraps a key.
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for StripeSecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StripeSecretKey([redacted])")
    }
}

/// A webhook endpoint signing secret (`whsec_…`). `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(String);

impl WebhookSecret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    pub(crate) fn expose(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret([redacted])")
    }
}

/// The plans a user can be on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Plan {
    /// No subscription; nothing to buy.
    Free,
    /// The paid plan.
    Pro,
    /// The larger paid plan.
    Enterprise,
}

impl Plan {
    /// `free`, `pro`, `enterprise` (the value stored on subscriptions).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Free => "free",
            Self::Pro => "pro",
            Self::Enterprise => "enterprise",
        }
    }

    /// `Free`, `Pro`, `Enterprise` (for people).
    pub fn display_name(self) -> &'static str {
        match self {
            Self::Free => "Free",
            Self::Pro => "Pro",
            Self::Enterprise => "Enterprise",
        }
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Plan {
    type Err = BillingError;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "free" => Ok(Self::Free),
            "pro" => Ok(Self::Pro),
            "enterprise" => Ok(Self::Enterprise),
            _ => Err(BillingError::invalid(
                "plan",
                "expected free, pro or enterprise",
            )),
        }
    }
}

/// Validated billing configuration; build it with [`BillingConfig::builder`].
#[derive(Clone, Debug)]
pub struct BillingConfig {
    pub(crate) secret_key: StripeSecretKey,
    pub(crate) api_version: String,
    pub(crate) api_base: Url,
    pub(crate) timeout: Duration,
    pub(crate) retry: RetryPolicy,
    pub(crate) webhook_secrets: Vec<WebhookSecret>,
    pub(crate) webhook_tolerance: Duration,
    pub(crate) pro_price: Option<String>,
    pub(crate) enterprise_price: Option<String>,
    pub(crate) trial_days: u32,
    pub(crate) public_base_url: PublicBaseUrl,
    pub(crate) billing_path: String,
    pub(crate) calcom: Option<CalcomConfig>,
}

impl BillingConfig {
    /// A configuration for `secret_key`, for the application at `public_base_url` (links in
    /// billing e-mails point to its billing page).
    pub fn builder(secret_key: StripeSecretKey, public_base_url: &str) -> BillingConfigBuilder {
        BillingConfigBuilder {
            secret_key,
            public_base_url: public_base_url.to_owned(),
            api_version: DEFAULT_API_VERSION.to_owned(),
            api_base: "https://api.stripe.com".to_owned(),
            timeout: Duration::from_secs(20),
            retry: RetryPolicy::default(),
            webhook_secrets: Vec::new(),
            webhook_tolerance: Duration::from_secs(300),
            pro_price: None,
            enterprise_price: None,
            trial_days: 0,
            billing_path: "/billing".to_owned(),
            calcom: None,
        }
    }

    /// The Stripe price of `plan`, if it can be bought.
    pub fn price_of(&self, plan: Plan) -> Option<&str> {
        match plan {
            Plan::Free => None,
            Plan::Pro => self.pro_price.as_deref(),
            Plan::Enterprise => self.enterprise_price.as_deref(),
        }
    }

    /// The plan a Stripe price belongs to (`None` for a price this configuration does not
    /// know, e.g. a legacy one).
    pub fn plan_of(&self, price_id: &str) -> Option<Plan> {
        [Plan::Pro, Plan::Enterprise]
            .into_iter()
            .find(|plan| self.price_of(*plan) == Some(price_id))
    }

    /// Free-trial days for a first subscription (0: no trial).
    pub fn trial_days(&self) -> u32 {
        self.trial_days
    }

    /// The `Stripe-Version` sent.
    pub fn api_version(&self) -> &str {
        &self.api_version
    }
}

/// Builder of [`BillingConfig`].
#[derive(Debug)]
#[must_use]
pub struct BillingConfigBuilder {
    secret_key: StripeSecretKey,
    public_base_url: String,
    api_version: String,
    api_base: String,
    timeout: Duration,
    retry: RetryPolicy,
    webhook_secrets: Vec<WebhookSecret>,
    webhook_tolerance: Duration,
    pro_price: Option<String>,
    enterprise_price: Option<String>,
    trial_days: u32,
    billing_path: String,
    calcom: Option<CalcomConfig>,
}

impl BillingConfigBuilder {
    /// Enables Cal.com booking links and booking webhooks.
    pub fn calcom(mut self, calcom: CalcomConfig) -> Self {
        self.calcom = Some(calcom);
        self
    }

    /// The price of a paid plan (`price_…`).
    pub fn plan_price(mut self, plan: Plan, price_id: impl Into<String>) -> Self {
        match plan {
            Plan::Free => {}
            Plan::Pro => self.pro_price = Some(price_id.into()),
            Plan::Enterprise => self.enterprise_price = Some(price_id.into()),
        }
        self
    }

    /// Free-trial days on a customer's first subscription (default 0).
    pub fn trial_days(mut self, days: u32) -> Self {
        self.trial_days = days;
        self
    }

    /// A webhook signing secret. Add several while rotating: any one verifies.
    pub fn webhook_secret(mut self, secret: WebhookSecret) -> Self {
        self.webhook_secrets.push(secret);
        self
    }

    /// `Stripe-Version` (default `2024-04-10`).
    pub fn api_version(mut self, version: impl Into<String>) -> Self {
        self.api_version = version.into();
        self
    }

    /// Stripe's API base URL (default `https://api.stripe.com`; tests point it elsewhere).
    pub fn api_base(mut self, url: impl Into<String>) -> Self {
        self.api_base = url.into();
        self
    }

    /// Timeout of one HTTP request (default 20 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Retries of 429, 5xx and network failures.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Accepted age of a webhook signature (default 300 s, Stripe's recommendation).
    pub fn webhook_tolerance(mut self, tolerance: Duration) -> Self {
        self.webhook_tolerance = tolerance;
        self
    }

    /// The application's billing page (default `/billing`), linked from billing e-mails.
    pub fn billing_path(mut self, path: impl Into<String>) -> Self {
        self.billing_path = path.into();
        self
    }

    /// Checks everything and builds the configuration.
    pub fn build(self) -> Result<BillingConfig> {
        let invalid = |reason: String| BillingError::InvalidConfig { reason };
        if self.secret_key.expose().trim().is_empty() {
            return Err(invalid("the Stripe secret key is empty".to_owned()));
        }
        let version_ok = self.api_version.len() >= 10
            && self.api_version.as_bytes()[..10]
                .iter()
                .enumerate()
                .all(|(i, b)| {
                    if i == 4 || i == 7 {
                        *b == b'-'
                    } else {
                        b.is_ascii_digit()
                    }
                })
            && !self.api_version.chars().any(char::is_control);
        if !version_ok {
            return Err(invalid(format!(
                "Stripe API version `{}` is not of the form YYYY-MM-DD[.name]",
                self.api_version
            )));
        }
        let api_base =
            Url::parse(&self.api_base).map_err(|e| invalid(format!("Stripe API base URL: {e}")))?;
        let public_base_url = PublicBaseUrl::parse(&self.public_base_url)
            .map_err(|e| invalid(format!("public base URL: {e}")))?;
        if self.retry.max_attempts == 0 {
            return Err(invalid("retry.max_attempts must be at least 1".to_owned()));
        }
        for price in [&self.pro_price, &self.enterprise_price]
            .into_iter()
            .flatten()
        {
            if price.trim().is_empty() {
                return Err(invalid("a plan price id is empty".to_owned()));
            }
        }
        if self.pro_price.is_some() && self.pro_price == self.enterprise_price {
            return Err(invalid("Pro and Enterprise share a price id".to_owned()));
        }
        Ok(BillingConfig {
            secret_key: self.secret_key,
            api_version: self.api_version,
            api_base,
            timeout: self.timeout,
            retry: self.retry,
            webhook_secrets: self.webhook_secrets,
            webhook_tolerance: self.webhook_tolerance,
            pro_price: self.pro_price,
            enterprise_price: self.enterprise_price,
            trial_days: self.trial_days,
            public_base_url,
            billing_path: self.billing_path,
            calcom: self.calcom,
        })
    }
}
