//! The plan catalog: plans are the application's — an id, a name, Stripe prices, and the
//! entitlements they grant.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// The id of the plan every user without a paid subscription is on.
pub const FREE_PLAN_ID: &str = "free";

/// A billing interval of a plan's price.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Interval {
    /// Billed every month.
    Monthly,
    /// Billed every year.
    Yearly,
}

/// A plan an application sells (or its free plan): a stable id (stored on subscriptions),
/// a display name, its Stripe prices — the ones checkout sells, older ones subscribers still
/// hold, and its products (any price of which maps to it) — and the entitlements it grants
/// (features as flags, limits as numbers).
///
/// ```
/// use tollbooth_billing::{Interval, Plan};
///
/// let pro = Plan::new("pro", "Pro")
///     .monthly_price("price_pro_monthly")
///     .yearly_price("price_pro_yearly")
///     .legacy_price("price_pro_2024")
///     .product("prod_pro")
///     .feature("api_access")
///     .limit("projects", 50);
/// assert_eq!(pro.price(Interval::Yearly), Some("price_pro_yearly"));
/// assert!(pro.has_feature("api_access") && !pro.has_feature("sso"));
/// assert_eq!(pro.limit_of("projects"), Some(50));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    id: String,
    name: String,
    monthly_price: Option<String>,
    yearly_price: Option<String>,
    pub(crate) legacy_prices: Vec<String>,
    pub(crate) products: Vec<String>,
    features: BTreeSet<String>,
    limits: BTreeMap<String, u64>,
    per_seat: bool,
    seat_limit: Option<u32>,
}

impl Plan {
    /// A plan `id` (lower-case letters, digits, `_` and `-`: it is stored and sent to Stripe
    /// as metadata) shown as `name`, with no price yet.
    pub fn new(id: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            monthly_price: None,
            yearly_price: None,
            legacy_prices: Vec::new(),
            products: Vec::new(),
            features: BTreeSet::new(),
            limits: BTreeMap::new(),
            per_seat: false,
            seat_limit: None,
        }
    }

    /// The monthly price checkout sells (`price_…`).
    #[must_use]
    pub fn monthly_price(mut self, price_id: impl Into<String>) -> Self {
        self.monthly_price = Some(price_id.into());
        self
    }

    /// The yearly price checkout sells.
    #[must_use]
    pub fn yearly_price(mut self, price_id: impl Into<String>) -> Self {
        self.yearly_price = Some(price_id.into());
        self
    }

    /// A price no longer sold but still held by subscribers (Stripe prices cannot be
    /// edited, so a price change is a new price id). Add one per old price.
    #[must_use]
    pub fn legacy_price(mut self, price_id: impl Into<String>) -> Self {
        self.legacy_prices.push(price_id.into());
        self
    }

    /// A Stripe product of the plan (`prod_…`): any price of it maps to the plan, so a
    /// price created in the dashboard still resolves.
    #[must_use]
    pub fn product(mut self, product_id: impl Into<String>) -> Self {
        self.products.push(product_id.into());
        self
    }

    /// A feature the plan grants.
    #[must_use]
    pub fn feature(mut self, name: impl Into<String>) -> Self {
        self.features.insert(name.into());
        self
    }

    /// A limit the plan grants (`projects`: 50).
    #[must_use]
    pub fn limit(mut self, name: impl Into<String>, value: u64) -> Self {
        self.limits.insert(name.into(), value);
        self
    }

    /// Billed per seat: an organization's subscription to the plan has as many seats
    /// (Stripe `quantity`) as the organization has members — plus its pending invitations
    /// with [`BillingConfigBuilder::count_pending_invitations_as_seats`](crate::BillingConfigBuilder::count_pending_invitations_as_seats)
    /// — kept so by [`Billing::sync_seats`](crate::Billing::sync_seats) (prorated).
    #[must_use]
    pub fn per_seat(mut self) -> Self {
        self.per_seat = true;
        self
    }

    /// At most `seats` members (and pending invitations) in an organization on this plan:
    /// an invitation or acceptance beyond it is refused (`seat_limit_reached`). On the free
    /// plan, it is what an organization gets without a subscription.
    #[must_use]
    pub fn seat_limit(mut self, seats: u32) -> Self {
        self.seat_limit = Some(seats.max(1));
        self
    }

    /// Whether the plan is billed per seat ([`per_seat`](Self::per_seat)).
    pub fn is_per_seat(&self) -> bool {
        self.per_seat
    }

    /// The plan's seat limit, if it sets one.
    pub fn seats_allowed(&self) -> Option<u32> {
        self.seat_limit
    }

    /// The stable id (`pro`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// For people (`Pro`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The price checkout sells for `interval`, if any.
    pub fn price(&self, interval: Interval) -> Option<&str> {
        match interval {
            Interval::Monthly => self.monthly_price.as_deref(),
            Interval::Yearly => self.yearly_price.as_deref(),
        }
    }

    /// Whether the plan grants `feature`.
    pub fn has_feature(&self, feature: &str) -> bool {
        self.features.contains(feature)
    }

    /// The plan's `limit`, if it sets one.
    pub fn limit_of(&self, limit: &str) -> Option<u64> {
        self.limits.get(limit).copied()
    }

    /// Every feature granted.
    pub fn features(&self) -> impl Iterator<Item = &str> {
        self.features.iter().map(String::as_str)
    }

    /// Every limit set.
    pub fn limits(&self) -> impl Iterator<Item = (&str, u64)> {
        self.limits.iter().map(|(k, v)| (k.as_str(), *v))
    }

    /// Whether it is the free plan ([`FREE_PLAN_ID`]).
    pub fn is_free(&self) -> bool {
        self.id == FREE_PLAN_ID
    }

    /// Every Stripe price that maps to the plan: sold ones first, then legacy ones.
    pub(crate) fn price_ids(&self) -> impl Iterator<Item = &str> {
        self.monthly_price
            .iter()
            .chain(&self.yearly_price)
            .chain(&self.legacy_prices)
            .map(String::as_str)
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id)
    }
}
