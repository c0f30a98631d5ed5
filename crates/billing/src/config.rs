//! [`BillingConfig`]: Stripe credentials and version, plans, webhook secrets.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use tollbooth_core::{ConfigError, RetryPolicy};
use tollbooth_email::PublicBaseUrl;
use url::Url;

use crate::calcom::CalcomConfig;
use crate::error::{BillingError, Result};

/// The Stripe API version sent as `Stripe-Version` unless configured otherwise.
pub const DEFAULT_API_VERSION: &str = "2024-04-10";

tollbooth_core::secret_type! {
    /// A Stripe secret key (`sk_live_…`, `sk_test_…`, `rk_…`). `Debug` never shows it.
    pub struct StripeSecretKey;
}

tollbooth_core::secret_type! {
    /// A webhook endpoint signing secret (`whsec_…`). `Debug` never shows it.
    pub struct WebhookSecret;
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

/// A Stripe id that maps to a plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum StripeId {
    Price(String),
    Product(String),
}

impl StripeId {
    fn as_str(&self) -> &str {
        match self {
            Self::Price(id) | Self::Product(id) => id,
        }
    }
}

impl fmt::Display for StripeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Price(id) => write!(f, "price `{id}`"),
            Self::Product(id) => write!(f, "product `{id}`"),
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
    pub(crate) plan_ids: Vec<(Plan, StripeId)>,
    pub(crate) trial_days: u32,
    pub(crate) past_due_grace: Duration,
    pub(crate) cancel_duplicate_subscriptions: bool,
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
            plan_ids: Vec::new(),
            trial_days: 0,
            past_due_grace: Duration::ZERO,
            cancel_duplicate_subscriptions: true,
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

    /// The plan a subscription item belongs to: by its price (the plan's current price or
    /// any of its [`legacy_price`](BillingConfigBuilder::legacy_price)s), else by the price's
    /// product ([`plan_product`](BillingConfigBuilder::plan_product)). `None` when neither
    /// is known.
    pub fn plan_of(&self, price_id: &str, product_id: Option<&str>) -> Option<Plan> {
        let by = |id: StripeId| {
            self.plan_ids
                .iter()
                .find(|(_, known)| *known == id)
                .map(|(plan, _)| *plan)
        };
        [Plan::Pro, Plan::Enterprise]
            .into_iter()
            .find(|plan| self.price_of(*plan) == Some(price_id))
            .or_else(|| by(StripeId::Price(price_id.to_owned())))
            .or_else(|| product_id.and_then(|product| by(StripeId::Product(product.to_owned()))))
    }

    /// Free-trial days for a first subscription (0: no trial).
    pub fn trial_days(&self) -> u32 {
        self.trial_days
    }

    /// How long a `past_due` subscription keeps its plan (default zero).
    pub fn past_due_grace(&self) -> Duration {
        self.past_due_grace
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
    plan_ids: Vec<(Plan, StripeId)>,
    trial_days: u32,
    past_due_grace: Duration,
    cancel_duplicate_subscriptions: bool,
    billing_path: String,
    calcom: Option<CalcomConfig>,
}

impl BillingConfigBuilder {
    /// Enables Cal.com booking links and booking webhooks.
    pub fn calcom(mut self, calcom: CalcomConfig) -> Self {
        self.calcom = Some(calcom);
        self
    }

    /// The price of a paid plan (`price_…`): what checkout sells.
    pub fn plan_price(mut self, plan: Plan, price_id: impl Into<String>) -> Self {
        match plan {
            Plan::Free => {}
            Plan::Pro => self.pro_price = Some(price_id.into()),
            Plan::Enterprise => self.enterprise_price = Some(price_id.into()),
        }
        self
    }

    /// Another price of a plan, no longer sold but still held by subscribers (Stripe prices
    /// cannot be edited, so a price change is a new price id). Add one per old price.
    pub fn legacy_price(mut self, plan: Plan, price_id: impl Into<String>) -> Self {
        self.plan_ids.push((plan, StripeId::Price(price_id.into())));
        self
    }

    /// The Stripe product of a plan (`prod_…`): any price of it maps to the plan, so a price
    /// created in the dashboard still resolves. A subscription whose price and product are
    /// both unknown keeps the plan it had (logged as an error), never dropping to Free.
    pub fn plan_product(mut self, plan: Plan, product_id: impl Into<String>) -> Self {
        self.plan_ids
            .push((plan, StripeId::Product(product_id.into())));
        self
    }

    /// How long a `past_due` subscription (a renewal payment failed, Stripe retrying) keeps
    /// its plan, counted from when it became past due. Default zero: access follows what
    /// Stripe says is paid. Set it to your Stripe retry schedule (Settings → Subscriptions
    /// → Smart Retries) to keep customers working while Stripe collects.
    pub fn past_due_grace(mut self, grace: Duration) -> Self {
        self.past_due_grace = grace;
        self
    }

    /// Whether a second live subscription of one customer (two checkouts completed at once,
    /// a subscription made in the dashboard) is cancelled at once with its payment refunded,
    /// so nobody pays twice (default `true`). Either way it is flagged
    /// (`duplicate_of`) and logged as an error. Turn it off if your customers may hold
    /// several subscriptions on purpose.
    pub fn cancel_duplicate_subscriptions(mut self, cancel: bool) -> Self {
        self.cancel_duplicate_subscriptions = cancel;
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
    pub fn build(self) -> Result<BillingConfig, ConfigError> {
        let invalid = |reason: String| ConfigError::new("billing", reason);
        if self.secret_key.expose_secret().trim().is_empty() {
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
        // Every id names one plan: a price or product mapped twice would make the plan of a
        // subscription depend on lookup order.
        let current = [
            (Plan::Pro, &self.pro_price),
            (Plan::Enterprise, &self.enterprise_price),
        ]
        .into_iter()
        .filter_map(|(plan, price)| Some((plan, StripeId::Price(price.clone()?))));
        let mut seen: Vec<(Plan, StripeId)> = Vec::new();
        for (plan, id) in current.chain(self.plan_ids.iter().cloned()) {
            if plan == Plan::Free {
                return Err(invalid(format!("the Free plan has no Stripe {id}")));
            }
            if id.as_str().trim().is_empty() {
                return Err(invalid(format!("an empty Stripe {id} for {plan}")));
            }
            if let Some((other, _)) = seen.iter().find(|(p, known)| *known == id && *p != plan) {
                return Err(invalid(format!("{id} belongs to both {other} and {plan}")));
            }
            seen.push((plan, id));
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
            plan_ids: self.plan_ids,
            trial_days: self.trial_days,
            past_due_grace: self.past_due_grace,
            cancel_duplicate_subscriptions: self.cancel_duplicate_subscriptions,
            public_base_url,
            billing_path: self.billing_path,
            calcom: self.calcom,
        })
    }
}
