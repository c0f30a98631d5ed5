//! Billing's own view of Stripe objects: only the fields it uses, tolerant of fields added,
//! removed or moved between API versions (2024-04-10 and later, e.g. `current_period_end`
//! moved from the subscription to its items in 2025-03-31, and an invoice's subscription
//! moved under `parent.subscription_details`).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;

/// An id, or the object it names when the field was expanded.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub(crate) enum Expandable {
    Id(String),
    Object { id: String },
}

impl Expandable {
    pub(crate) fn id(&self) -> &str {
        match self {
            Self::Id(id) | Self::Object { id } => id,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
pub(crate) struct List<T> {
    pub(crate) data: Vec<T>,
    #[serde(default)]
    pub(crate) has_more: bool,
}

#[derive(Clone, Debug, Deserialize)]
pub(crate) struct Customer {
    pub(crate) id: String,
}

#[derive(Clone, Debug, Deserialize)]
pub(crate) struct CheckoutSession {
    pub(crate) id: String,
    /// `open`, `complete` or `expired`.
    #[serde(default)]
    pub(crate) status: Option<String>,
    #[serde(default)]
    pub(crate) url: Option<String>,
    #[serde(default)]
    pub(crate) expires_at: Option<i64>,
    #[serde(default)]
    pub(crate) mode: Option<String>,
    #[serde(default)]
    pub(crate) customer: Option<Expandable>,
    #[serde(default)]
    pub(crate) client_reference_id: Option<String>,
    #[serde(default)]
    pub(crate) metadata: HashMap<String, String>,
    /// Payment mode: the PaymentIntent, once the customer has submitted the payment.
    #[serde(default)]
    pub(crate) payment_intent: Option<Expandable>,
}

#[derive(Clone, Debug, Deserialize)]
pub(crate) struct PortalSession {
    pub(crate) url: String,
}

#[derive(Clone, Debug, Deserialize)]
pub(crate) struct Price {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) product: Option<Expandable>,
}

#[derive(Clone, Debug, Deserialize)]
pub(crate) struct SubscriptionItem {
    /// `si_…`: what a seat change updates.
    #[serde(default)]
    pub(crate) id: Option<String>,
    pub(crate) price: Price,
    #[serde(default)]
    pub(crate) quantity: Option<i64>,
    /// Here since 2025-03-31.
    #[serde(default)]
    pub(crate) current_period_end: Option<i64>,
}

#[derive(Clone, Debug, Deserialize)]
pub(crate) struct Subscription {
    pub(crate) id: String,
    pub(crate) customer: Expandable,
    pub(crate) status: String,
    #[serde(default)]
    pub(crate) cancel_at_period_end: bool,
    #[serde(default)]
    pub(crate) canceled_at: Option<i64>,
    #[serde(default)]
    pub(crate) ended_at: Option<i64>,
    #[serde(default)]
    pub(crate) trial_end: Option<i64>,
    /// Here until 2025-03-31.
    #[serde(default)]
    pub(crate) current_period_end: Option<i64>,
    pub(crate) items: List<SubscriptionItem>,
    #[serde(default)]
    pub(crate) metadata: HashMap<String, String>,
    /// When the subscription was created.
    #[serde(default)]
    pub(crate) created: Option<i64>,
    /// Expanded when asked for (`expand[]=latest_invoice`).
    #[serde(default)]
    pub(crate) latest_invoice: Option<LatestInvoice>,
}

/// A subscription's latest invoice: (expanded) what was paid and how, or just its id.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum LatestInvoice {
    Object(Box<Invoice>),
    Id(serde::de::IgnoredAny),
}

impl Subscription {
    pub(crate) fn first_item(&self) -> Option<&SubscriptionItem> {
        self.items.data.first()
    }

    /// End of the paid period, wherever this API version puts it.
    pub(crate) fn period_end(&self) -> Option<DateTime<Utc>> {
        self.current_period_end
            .or_else(|| self.first_item().and_then(|i| i.current_period_end))
            .and_then(timestamp)
    }
}

#[derive(Clone, Debug, Deserialize)]
pub(crate) struct Invoice {
    #[serde(default)]
    pub(crate) customer: Option<Expandable>,
    #[serde(default)]
    pub(crate) amount_paid: i64,
    /// Until 2025-03-31 (later versions list payments under `payments`).
    #[serde(default)]
    pub(crate) payment_intent: Option<Expandable>,
    /// Until 2025-03-31.
    #[serde(default)]
    pub(crate) subscription: Option<Expandable>,
    /// Since 2025-03-31.
    #[serde(default)]
    pub(crate) parent: Option<InvoiceParent>,
    #[serde(default)]
    pub(crate) amount_due: i64,
    pub(crate) currency: String,
    #[serde(default)]
    pub(crate) next_payment_attempt: Option<i64>,
}

#[derive(Clone, Debug, Deserialize)]
pub(crate) struct InvoiceParent {
    #[serde(default)]
    pub(crate) subscription_details: Option<SubscriptionDetails>,
}

#[derive(Clone, Debug, Deserialize)]
pub(crate) struct SubscriptionDetails {
    #[serde(default)]
    pub(crate) subscription: Option<Expandable>,
}

impl Invoice {
    pub(crate) fn subscription_id(&self) -> Option<&str> {
        self.subscription
            .as_ref()
            .or_else(|| {
                self.parent
                    .as_ref()
                    .and_then(|p| p.subscription_details.as_ref())
                    .and_then(|d| d.subscription.as_ref())
            })
            .map(Expandable::id)
    }
}

/// A charge, as `charge.refunded` carries it.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct Charge {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) payment_intent: Option<Expandable>,
    /// The running total refunded.
    #[serde(default)]
    pub(crate) amount_refunded: i64,
}

#[derive(Clone, Debug, Deserialize)]
pub(crate) struct PaymentIntent {
    pub(crate) id: String,
    pub(crate) amount: i64,
    pub(crate) currency: String,
    pub(crate) status: String,
    #[serde(default)]
    pub(crate) client_secret: Option<String>,
    #[serde(default)]
    pub(crate) customer: Option<Expandable>,
    #[serde(default)]
    pub(crate) metadata: HashMap<String, String>,
}

pub(crate) fn timestamp(secs: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(secs, 0)
}
