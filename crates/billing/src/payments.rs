//! One-time payments (PaymentIntents).

use std::collections::HashMap;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use stripe_checkout::CheckoutSessionMode;
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionLineItemsPriceData,
    CreateCheckoutSessionPaymentIntentData, ProductData, RetrieveCheckoutSession,
};
use stripe_core::payment_intent::{
    ConfirmPaymentIntent, CreatePaymentIntent, CreatePaymentIntentAutomaticPaymentMethods,
    RetrievePaymentIntent,
};
use stripe_types::Currency;
use tollbooth_db::{BillingRepo, Customer, Payment, PaymentUpsert};
use url::Url;
use uuid::Uuid;

use crate::checkout::absolute_url;
use crate::error::{BillingError, Result};
use crate::service::Billing;
use crate::stripe::types::{CheckoutSession, PaymentIntent};

/// Stripe's metadata limits.
const MAX_METADATA_KEYS: usize = 50;
const MAX_METADATA_KEY_CHARS: usize = 40;
const MAX_METADATA_VALUE_CHARS: usize = 500;
/// Stripe's largest charge (99,999,999 minor units — $999,999.99).
const MAX_AMOUNT: i64 = 99_999_999;
/// The longest name shown on a Checkout page for a one-off purchase.
const MAX_NAME_CHARS: usize = 250;
/// Requests within this window share a derived idempotency key (see
/// [`Billing::create_payment_checkout`]).
const PAYMENT_KEY_WINDOW_SECS: i64 = 3600;
/// A client's idempotency key, within Stripe's 255 once prefixed with the user.
const MAX_CLIENT_KEY_CHARS: usize = 200;

/// A one-off purchase to pay on a Stripe Checkout page: what it is called there, what it
/// costs, and the metadata its PaymentIntent carries (a `user_id` entry is always added;
/// [`EVENT_TYPE_METADATA_KEY`](crate::EVENT_TYPE_METADATA_KEY) makes it a paid Cal.com
/// session).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentCheckout {
    name: String,
    amount: i64,
    currency: String,
    metadata: HashMap<String, String>,
}

impl PaymentCheckout {
    /// `amount` minor units (1 to 99,999,999) of `currency` (ISO 4217, any case) for `name`
    /// (1 to 250 characters without control characters, shown on the Checkout page);
    /// [`BillingError::InvalidInput`] otherwise.
    pub fn new(name: impl Into<String>, amount: i64, currency: &str) -> Result<Self> {
        let name = name.into().trim().to_owned();
        if name.is_empty()
            || name.chars().count() > MAX_NAME_CHARS
            || name.chars().any(char::is_control)
        {
            return Err(BillingError::invalid(
                "name",
                format!("must be 1 to {MAX_NAME_CHARS} characters without control characters"),
            ));
        }
        validate_amount(amount)?;
        validate_currency(currency)?;
        Ok(Self {
            name,
            amount,
            currency: currency.trim().to_ascii_lowercase(),
            metadata: HashMap::new(),
        })
    }

    /// Adds a metadata entry (Stripe's limits apply: 50 keys, keys ≤ 40 characters without
    /// `[` or `]`, values ≤ 500).
    #[must_use]
    pub fn with_metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// The name shown on the Checkout page.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The price in minor units.
    pub fn amount(&self) -> i64 {
        self.amount
    }

    /// The currency (ISO 4217, lower case).
    pub fn currency(&self) -> &str {
        &self.currency
    }

    /// The metadata its PaymentIntent will carry (besides `user_id`).
    pub fn metadata(&self) -> &HashMap<String, String> {
        &self.metadata
    }
}

/// A created PaymentIntent: hand `client_secret` to Stripe.js to collect the payment.
#[derive(Clone, PartialEq, Eq)]
pub struct CreatedPayment {
    /// `pi_…`.
    pub id: String,
    /// The secret the browser needs (never log it).
    pub client_secret: String,
}

impl std::fmt::Debug for CreatedPayment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedPayment")
            .field("id", &self.id)
            .field("client_secret", &"[redacted]")
            .finish()
    }
}

impl Billing {
    /// Creates a PaymentIntent of `amount` minor units of `currency` (ISO 4217, any case)
    /// with `metadata` (a `user_id` entry attributes it to a user). Everything is checked
    /// before any network call: amount in 1..=99,999,999, a currency Stripe knows, metadata
    /// within Stripe's limits (50 keys, keys ≤ 40 characters without `[` or `]`, values ≤ 500).
    pub async fn create_payment_intent(
        &self,
        amount: i64,
        currency: &str,
        metadata: HashMap<String, String>,
    ) -> Result<CreatedPayment> {
        let currency = validate_currency(currency)?;
        validate_amount(amount)?;
        validate_metadata(&metadata)?;
        let request = CreatePaymentIntent::new(amount, currency.clone())
            .automatic_payment_methods(CreatePaymentIntentAutomaticPaymentMethods::new(true))
            .metadata(metadata);
        let intent: PaymentIntent = self.inner.stripe.send(&request, None).await?;
        self.record_payment(&intent).await?;
        let client_secret = intent
            .client_secret
            .ok_or_else(|| BillingError::internal("Stripe returned no client_secret"))?;
        Ok(CreatedPayment {
            id: intent.id,
            client_secret,
        })
    }

    /// Confirms a PaymentIntent server-side and records its new status — read back from
    /// Stripe if the confirmation's answer cannot be used (the charge may have happened).
    pub async fn confirm_payment(&self, intent_id: &str) -> Result<Payment> {
        if !intent_id.starts_with("pi_")
            || intent_id.len() > 255
            || intent_id.contains(['/', '?', '#'])
        {
            return Err(BillingError::invalid(
                "payment_intent",
                "not a PaymentIntent id",
            ));
        }
        let intent: PaymentIntent = self
            .inner
            .stripe
            .mutate(
                &ConfirmPaymentIntent::new(intent_id),
                None,
                &RetrievePaymentIntent::new(intent_id),
            )
            .await?;
        self.record_payment(&intent).await
    }

    /// A Stripe Checkout page (payment mode) where `user_id` pays for `purchase` once — no
    /// Stripe.js needed: Stripe collects the card, handles 3-D Secure, and sends the browser
    /// to `success_url` (put `{CHECKOUT_SESSION_ID}` in it for
    /// [`sync_payment_checkout`](Self::sync_payment_checkout)) or back to `cancel_url`.
    ///
    /// The user's Stripe customer is created on first use; the PaymentIntent Stripe creates
    /// carries the purchase's metadata and `user_id`, so its webhooks record the payment
    /// against the user. Metadata and URLs are checked before any network call (the
    /// purchase itself was checked by [`PaymentCheckout::new`]).
    ///
    /// **A double click pays once**: requests share an idempotency key derived from the
    /// user, the purchase, the URLs, the hour and how many payments the user has recorded,
    /// so a repeated request opens the same Checkout session — and buying the same thing
    /// again once the first payment is recorded opens a new one. `idempotency_key` (for
    /// example a token in the purchase form) replaces the derived key; it is scoped to the
    /// user.
    pub async fn create_payment_checkout(
        &self,
        user_id: Uuid,
        purchase: &PaymentCheckout,
        success_url: &str,
        cancel_url: &str,
        idempotency_key: Option<&str>,
    ) -> Result<Url> {
        let name = purchase.name.as_str();
        let currency = validate_currency(&purchase.currency)?;
        let mut metadata = purchase.metadata.clone();
        metadata.insert("user_id".to_owned(), user_id.to_string());
        validate_metadata(&metadata)?;
        let success_url = absolute_url("success_url", success_url)?;
        let cancel_url = absolute_url("cancel_url", cancel_url)?;
        if let Some(key) = idempotency_key
            && (key.is_empty()
                || key.len() > MAX_CLIENT_KEY_CHARS
                || !key.bytes().all(|b| b.is_ascii_graphic()))
        {
            return Err(BillingError::invalid(
                "idempotency_key",
                format!("must be 1 to {MAX_CLIENT_KEY_CHARS} visible ASCII characters"),
            ));
        }
        let account = self.account(Customer::User(user_id)).await?;
        let key = match idempotency_key {
            Some(key) => format!("payment-checkout/{user_id}/{key}"),
            None => {
                // Everything that shapes the session is in the key (Stripe refuses a key
                // reused with other parameters), and so is the count of recorded payments:
                // once this purchase is paid, buying it again is a new session.
                let recorded = self.inner.db.list_payments(user_id).await?.len();
                let mut entries: Vec<_> = metadata.iter().collect();
                entries.sort();
                let request = format!(
                    "{name}\n{}\n{}\n{entries:?}\n{success_url}\n{cancel_url}\n{recorded}",
                    purchase.amount, purchase.currency
                );
                let digest = hex::encode(&Sha256::digest(request.as_bytes())[..8]);
                let window = tollbooth_db::now()
                    .timestamp()
                    .div_euclid(PAYMENT_KEY_WINDOW_SECS);
                format!("payment-checkout/{user_id}/{window}/{digest}")
            }
        };
        let customer = self.ensure_customer(&account).await?;

        let mut price = CreateCheckoutSessionLineItemsPriceData::new(currency);
        price.unit_amount = Some(purchase.amount);
        price.product_data = Some(ProductData::new(name));
        let mut item = CreateCheckoutSessionLineItems::new();
        item.price_data = Some(price);
        item.quantity = Some(1);
        let mut intent = CreateCheckoutSessionPaymentIntentData::new();
        intent.metadata = Some(metadata.clone());
        let request = CreateCheckoutSession::new()
            .mode(CheckoutSessionMode::Payment)
            .customer(customer)
            .client_reference_id(user_id.to_string())
            .line_items(vec![item])
            .payment_intent_data(intent)
            .metadata(metadata)
            .success_url(success_url.as_str())
            .cancel_url(cancel_url.as_str());
        let session: CheckoutSession = self.inner.stripe.send(&request, Some(key)).await?;
        let url = session.url.ok_or_else(|| {
            BillingError::internal("Stripe returned a checkout session without a URL")
        })?;
        tracing::info!(%user_id, session = %session.id, amount = purchase.amount, "payment checkout session created");
        Url::parse(&url).map_err(BillingError::internal)
    }

    /// Where a payment Checkout session returns: reads the session and its PaymentIntent
    /// from Stripe and records the payment (the webhook may be slower than the browser).
    ///
    /// A session of another user, or not in payment mode, is
    /// [`BillingError::NotFound`] (no existence oracle); one the customer has not paid yet
    /// is [`BillingError::CheckoutIncomplete`]. The payment comes back in the status Stripe
    /// gives — `succeeded`, or `processing` for slower methods.
    pub async fn sync_payment_checkout(
        &self,
        user_id: Uuid,
        checkout_session_id: &str,
    ) -> Result<Payment> {
        if !checkout_session_id.starts_with("cs_")
            || checkout_session_id.len() > 255
            || checkout_session_id.contains(['/', '?', '#'])
        {
            return Err(BillingError::invalid(
                "session_id",
                "not a Checkout session id",
            ));
        }
        let stripe = &self.inner.stripe;
        let session: CheckoutSession = stripe
            .send(&RetrieveCheckoutSession::new(checkout_session_id), None)
            .await?;
        let user = user_id.to_string();
        if session.mode.as_deref() != Some("payment")
            || session.client_reference_id.as_deref() != Some(user.as_str())
        {
            return Err(BillingError::NotFound { what: "payment" });
        }
        let intent_id = session
            .payment_intent
            .ok_or(BillingError::CheckoutIncomplete)?;
        let intent: PaymentIntent = stripe
            .send(&RetrievePaymentIntent::new(intent_id.id()), None)
            .await?;
        self.record_payment(&intent).await
    }

    /// The user's recorded payments, newest first.
    pub async fn list_payments(&self, user_id: Uuid) -> Result<Vec<Payment>> {
        Ok(self.inner.db.list_payments(user_id).await?)
    }

    /// The locally recorded payment.
    pub async fn get_payment(&self, intent_id: &str) -> Result<Option<Payment>> {
        Ok(self.inner.db.find_payment(intent_id).await?)
    }

    /// Mirrors `intent` as Stripe answered it now; the row is returned as stored (a webhook
    /// may have recorded a final status already).
    pub(crate) async fn record_payment(&self, intent: &PaymentIntent) -> Result<Payment> {
        let mut upsert = payment_upsert(intent, tollbooth_db::now());
        upsert.fetched = true;
        let written = self.inner.db.upsert_payment(upsert).await?;
        Ok(written.into_inner())
    }
}

/// The local row for a PaymentIntent, as of `event_at`.
pub(crate) fn payment_upsert(intent: &PaymentIntent, event_at: DateTime<Utc>) -> PaymentUpsert {
    let mut upsert =
        PaymentUpsert::new(&intent.id, intent.amount, &intent.currency, &intent.status);
    upsert.event_at = event_at;
    upsert.user_id = intent
        .metadata
        .get("user_id")
        .and_then(|id| Uuid::parse_str(id).ok());
    // Metadata is set when the intent is created; a response or event without it (some
    // expansions and API versions omit it) must not erase what the payment was for.
    upsert.metadata = (!intent.metadata.is_empty()).then(|| serde_json::json!(intent.metadata));
    upsert
}

fn validate_currency(currency: &str) -> Result<Currency> {
    let lower = currency.trim().to_ascii_lowercase();
    let known = lower.len() == 3
        && lower.bytes().all(|b| b.is_ascii_lowercase())
        && !matches!(Currency::from_str(&lower), Ok(Currency::Unknown(_)));
    if known {
        Ok(Currency::from_str(&lower).unwrap_or(Currency::USD))
    } else {
        Err(BillingError::invalid(
            "currency",
            format!("`{currency}` is not an ISO 4217 currency Stripe supports"),
        ))
    }
}

fn validate_amount(amount: i64) -> Result<()> {
    if (1..=MAX_AMOUNT).contains(&amount) {
        Ok(())
    } else {
        Err(BillingError::invalid(
            "amount",
            format!("must be 1 to {MAX_AMOUNT} minor units, got {amount}"),
        ))
    }
}

fn validate_metadata(metadata: &HashMap<String, String>) -> Result<()> {
    if metadata.len() > MAX_METADATA_KEYS {
        return Err(BillingError::invalid(
            "metadata",
            format!("{} keys; at most {MAX_METADATA_KEYS}", metadata.len()),
        ));
    }
    for (key, value) in metadata {
        if key.is_empty()
            || key.chars().count() > MAX_METADATA_KEY_CHARS
            || key.contains(['[', ']'])
        {
            return Err(BillingError::invalid(
                "metadata",
                format!(
                    "key `{key}` must be 1 to {MAX_METADATA_KEY_CHARS} characters without `[` or `]`"
                ),
            ));
        }
        if value.chars().count() > MAX_METADATA_VALUE_CHARS {
            return Err(BillingError::invalid(
                "metadata",
                format!("value of `{key}` exceeds {MAX_METADATA_VALUE_CHARS} characters"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currencies() {
        assert!(validate_currency("usd").is_ok());
        assert!(validate_currency("EUR").is_ok());
        for bad in ["", "us", "usdd", "xyz", "u$d", "💶"] {
            assert!(validate_currency(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_purchase_is_checked_when_made() {
        let ok = PaymentCheckout::new("  Consultation ", 5000, "USD").unwrap();
        assert_eq!(
            (ok.name(), ok.amount(), ok.currency()),
            ("Consultation", 5000, "usd")
        );
        let field = |result: Result<PaymentCheckout>| match result {
            Err(BillingError::InvalidInput { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(PaymentCheckout::new(" ", 5000, "usd")), "name");
        assert_eq!(field(PaymentCheckout::new("a\nb", 5000, "usd")), "name");
        assert_eq!(
            field(PaymentCheckout::new("x".repeat(251), 5000, "usd")),
            "name"
        );
        assert!(PaymentCheckout::new("x".repeat(250), 5000, "usd").is_ok());
        for amount in [0, -1, MAX_AMOUNT + 1] {
            assert_eq!(field(PaymentCheckout::new("x", amount, "usd")), "amount");
        }
        assert_eq!(field(PaymentCheckout::new("x", 5000, "xyz")), "currency");
    }

    #[test]
    fn metadata_limits() {
        let ok: HashMap<String, String> = (0..50)
            .map(|i| (format!("k{i}"), "v".repeat(500)))
            .collect();
        assert!(validate_metadata(&ok).is_ok());
        let mut too_many = ok.clone();
        too_many.insert("k50".into(), "v".into());
        assert!(validate_metadata(&too_many).is_err());
        for (k, v) in [
            ("k".repeat(41), "v".to_owned()),
            ("a[b]".to_owned(), "v".to_owned()),
            ("k".to_owned(), "v".repeat(501)),
            (String::new(), "v".to_owned()),
        ] {
            assert!(
                validate_metadata(&HashMap::from([(k.clone(), v)])).is_err(),
                "{k}"
            );
        }
    }
}
