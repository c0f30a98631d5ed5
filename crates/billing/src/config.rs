//! [`BillingConfig`]: Stripe credentials and version, plans, webhook secrets.

use std::time::Duration;

use tollbooth_core::{ConfigError, HookList, RetryPolicy};
use tollbooth_email::PublicBaseUrl;
use url::Url;

use crate::calcom::CalcomConfig;
use crate::error::Result;
use crate::plan::{FREE_PLAN_ID, Plan};

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
    pub(crate) plans: Vec<Plan>,
    pub(crate) free_plan: Plan,
    pub(crate) trial_days: u32,
    pub(crate) past_due_grace: Duration,
    pub(crate) cancel_duplicate_subscriptions: bool,
    pub(crate) cancel_at_period_end_on_deletion: bool,
    pub(crate) pending_invitations_are_seats: bool,
    pub(crate) hooks: HookList,
    pub(crate) public_base_url: PublicBaseUrl,
    pub(crate) billing_path: String,
    pub(crate) organization_billing_path: String,
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
            plans: Vec::new(),
            free_plan: Plan::new(FREE_PLAN_ID, "Free"),
            trial_days: 0,
            past_due_grace: Duration::ZERO,
            cancel_duplicate_subscriptions: true,
            cancel_at_period_end_on_deletion: false,
            pending_invitations_are_seats: false,
            hooks: HookList::default(),
            billing_path: "/billing".to_owned(),
            organization_billing_path: "/organizations/{id}".to_owned(),
            calcom: None,
        }
    }

    /// The plan with this id (the free plan included).
    pub fn plan(&self, id: &str) -> Option<&Plan> {
        if id == self.free_plan.id() {
            return Some(&self.free_plan);
        }
        self.plans.iter().find(|p| p.id() == id)
    }

    /// The plans that can be bought, in the order configured.
    pub fn plans(&self) -> &[Plan] {
        &self.plans
    }

    /// The plan of every user without a paid subscription.
    pub fn free_plan(&self) -> &Plan {
        &self.free_plan
    }

    /// The plan a subscription item belongs to: by its price (sold or legacy), else by the
    /// price's product. `None` when neither is known.
    pub fn plan_of(&self, price_id: &str, product_id: Option<&str>) -> Option<&Plan> {
        self.plans
            .iter()
            .find(|p| p.price_ids().any(|id| id == price_id))
            .or_else(|| {
                let product = product_id?;
                self.plans
                    .iter()
                    .find(|p| p.products.iter().any(|id| id == product))
            })
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
    plans: Vec<Plan>,
    free_plan: Plan,
    trial_days: u32,
    past_due_grace: Duration,
    cancel_duplicate_subscriptions: bool,
    cancel_at_period_end_on_deletion: bool,
    pending_invitations_are_seats: bool,
    hooks: HookList,
    billing_path: String,
    organization_billing_path: String,
    calcom: Option<CalcomConfig>,
}

impl BillingConfigBuilder {
    /// Enables Cal.com booking links and booking webhooks.
    pub fn calcom(mut self, calcom: CalcomConfig) -> Self {
        self.calcom = Some(calcom);
        self
    }

    /// A plan to sell (replacing one configured with the same id).
    pub fn plan(mut self, plan: Plan) -> Self {
        self.plans.retain(|p| p.id() != plan.id());
        self.plans.push(plan);
        self
    }

    /// The free plan's entitlements (default: a plan `free` named `Free` granting nothing).
    /// Its id stays [`FREE_PLAN_ID`] and it has no price.
    pub fn free_plan(mut self, plan: Plan) -> Self {
        self.free_plan = plan;
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

    /// How a deleted account's subscriptions end (see
    /// [`Billing::end_billing_for_deletion`](crate::Billing::end_billing_for_deletion)):
    /// at once (the default: nothing more is charged, nothing is refunded), or at the end of
    /// the period already paid for (`true`; Stripe charges nothing more either way).
    pub fn cancel_at_period_end_on_account_deletion(mut self, at_period_end: bool) -> Self {
        self.cancel_at_period_end_on_deletion = at_period_end;
        self
    }

    /// The application's [`Hooks`](tollbooth_core::Hooks), told of every
    /// [`DomainEvent::SubscriptionChanged`](tollbooth_core::DomainEvent::SubscriptionChanged)
    /// billing commits (a webhook, a sync, a cancellation), in the order added. A hook's
    /// failure is logged and never undoes the change.
    pub fn hooks(mut self, hooks: impl tollbooth_core::Hooks + 'static) -> Self {
        self.hooks.push(hooks);
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

    /// Whether an organization's pending invitations count as seats of a per-seat plan
    /// (default no: only members are billed; the seat limit always counts both).
    pub fn count_pending_invitations_as_seats(mut self, count: bool) -> Self {
        self.pending_invitations_are_seats = count;
        self
    }

    /// An organization's billing page (default `/organizations/{id}`; `{id}` is replaced by
    /// the organization's id), linked from the billing e-mails its owners receive.
    pub fn organization_billing_path(mut self, path: impl Into<String>) -> Self {
        self.organization_billing_path = path.into();
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
        validate_catalog(&self.plans, &self.free_plan).map_err(invalid)?;
        Ok(BillingConfig {
            secret_key: self.secret_key,
            api_version: self.api_version,
            api_base,
            timeout: self.timeout,
            retry: self.retry,
            webhook_secrets: self.webhook_secrets,
            webhook_tolerance: self.webhook_tolerance,
            plans: self.plans,
            free_plan: self.free_plan,
            trial_days: self.trial_days,
            past_due_grace: self.past_due_grace,
            cancel_duplicate_subscriptions: self.cancel_duplicate_subscriptions,
            cancel_at_period_end_on_deletion: self.cancel_at_period_end_on_deletion,
            pending_invitations_are_seats: self.pending_invitations_are_seats,
            hooks: self.hooks,
            public_base_url,
            billing_path: self.billing_path,
            organization_billing_path: self.organization_billing_path,
            calcom: self.calcom,
        })
    }
}

/// Every plan id well-formed and unique, the free plan priceless, and every Stripe price or
/// product naming one plan: one mapped twice would make a subscription's plan depend on
/// lookup order.
fn validate_catalog(plans: &[Plan], free: &Plan) -> std::result::Result<(), String> {
    if !free.is_free() || free.price_ids().next().is_some() || !free.products.is_empty() {
        return Err(format!(
            "the free plan has the id `{FREE_PLAN_ID}` and no Stripe price or product"
        ));
    }
    let mut ids: Vec<(&str, &str)> = Vec::new();
    for plan in plans {
        let well_formed = !plan.id().is_empty()
            && plan.id().len() <= 64
            && plan
                .id()
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !well_formed {
            return Err(format!(
                "plan id `{}` must be 1 to 64 of a-z, 0-9, `_`, `-`",
                plan.id()
            ));
        }
        if plan.is_free() || plans.iter().filter(|p| p.id() == plan.id()).count() > 1 {
            return Err(format!("plan id `{}` is used twice", plan.id()));
        }
        if plan.name().trim().is_empty() {
            return Err(format!("plan `{}` has no name", plan.id()));
        }
        for id in plan
            .price_ids()
            .chain(plan.products.iter().map(String::as_str))
        {
            if id.trim().is_empty() {
                return Err(format!("an empty Stripe id in plan `{}`", plan.id()));
            }
            if let Some((_, other)) = ids
                .iter()
                .find(|(known, owner)| *known == id && *owner != plan.id())
            {
                return Err(format!("`{id}` belongs to both {other} and {}", plan.id()));
            }
            ids.push((id, plan.id()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builder() -> BillingConfigBuilder {
        BillingConfig::builder(StripeSecretKey::new("sk_test_1"), "https://app.example.com")
    }

    #[test]
    fn the_catalog_is_the_applications_and_each_stripe_id_names_one_plan() {
        let config = builder()
            .plan(
                Plan::new("team", "Team")
                    .monthly_price("price_team")
                    .limit("seats", 10),
            )
            .plan(
                Plan::new("solo", "Solo")
                    .monthly_price("price_solo")
                    .product("prod_solo"),
            )
            .free_plan(Plan::new(FREE_PLAN_ID, "Hobby").limit("projects", 1))
            .build()
            .unwrap();
        assert_eq!(
            config.plans().iter().map(Plan::id).collect::<Vec<_>>(),
            ["team", "solo"]
        );
        assert_eq!(config.plan("free").unwrap().name(), "Hobby");
        assert_eq!(config.plan("free").unwrap().limit_of("projects"), Some(1));
        assert_eq!(config.plan_of("price_team", None).unwrap().id(), "team");
        assert_eq!(
            config.plan_of("price_new", Some("prod_solo")).unwrap().id(),
            "solo"
        );
        assert!(config.plan_of("price_new", Some("prod_other")).is_none());
        // A plan given twice replaces the first.
        let replaced = builder()
            .plan(Plan::new("team", "Team"))
            .plan(Plan::new("team", "Teams"))
            .build()
            .unwrap();
        assert_eq!(replaced.plans().len(), 1);
        assert_eq!(replaced.plans()[0].name(), "Teams");

        for (bad, why) in [
            (
                builder().plan(Plan::new("Pro Plan", "Pro")),
                "must be 1 to 64",
            ),
            (
                builder().plan(Plan::new("free", "Free").monthly_price("p")),
                "used twice",
            ),
            (builder().plan(Plan::new("pro", " ")), "no name"),
            (
                builder()
                    .plan(Plan::new("a", "A").monthly_price("price_1"))
                    .plan(Plan::new("b", "B").legacy_price("price_1")),
                "`price_1` belongs to both a and b",
            ),
            (
                builder()
                    .plan(Plan::new("a", "A").product("prod_1"))
                    .plan(Plan::new("b", "B").product("prod_1")),
                "belongs to both",
            ),
            (
                builder().free_plan(Plan::new("basic", "Basic")),
                "the free plan",
            ),
            (
                builder().free_plan(Plan::new(FREE_PLAN_ID, "Free").monthly_price("p")),
                "the free plan",
            ),
        ] {
            let err = bad.build().unwrap_err();
            assert!(err.reason().contains(why), "expected `{why}`: {err}");
        }
    }
}
