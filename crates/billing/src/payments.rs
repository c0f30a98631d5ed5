//! One-time payments (PaymentIntents).

use std::collections::HashMap;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use stripe_core::payment_intent::{
    ConfirmPaymentIntent, CreatePaymentIntent, CreatePaymentIntentAutomaticPaymentMethods,
    RetrievePaymentIntent,
};
use stripe_types::Currency;
use tollbooth_db::{BillingRepo, Payment, PaymentUpsert};
use uuid::Uuid;

use crate::error::{BillingError, Result};
use crate::service::Billing;
use crate::stripe::types::PaymentIntent;

/// Stripe's metadata limits.
const MAX_METADATA_KEYS: usize = 50;
const MAX_METADATA_KEY_CHARS: usize = 40;
const MAX_METADATA_VALUE_CHARS: usize = 500;
/// Stripe's largest charge (99,999,999 minor units — $999,999.99).
const MAX_AMOUNT: i64 = 99_999_999;

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
        if !(1..=MAX_AMOUNT).contains(&amount) {
            return Err(BillingError::invalid(
                "amount",
                format!("must be 1 to {MAX_AMOUNT} minor units, got {amount}"),
            ));
        }
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
