//! One-time payments against a local server standing in for Stripe.

use std::collections::HashMap;

use crate::common::*;
use serde_json::json;
use tollbooth_billing::*;
use tollbooth_db::testing::TestDb;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

async fn a_payment_intent_returns_its_client_secret(db: TestDb) {
    let t = TestBilling::new(db).await;
    let ada = t.user("ada@example.com", None).await;
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "pi_1", "object": "payment_intent", "amount": 15000, "currency": "eur",
            "status": "requires_payment_method", "client_secret": "pi_1_secret_abc",
            "metadata": { "user_id": ada.id.to_string(), "event_type_id": "42" }
        })))
        .mount(&t.stripe)
        .await;
    let metadata = HashMap::from([
        ("user_id".to_owned(), ada.id.to_string()),
        ("event_type_id".to_owned(), "42".to_owned()),
    ]);
    let created = t
        .billing
        .create_payment_intent(15000, "EUR", metadata)
        .await
        .unwrap();
    assert_eq!(
        (created.id.as_str(), created.client_secret.as_str()),
        ("pi_1", "pi_1_secret_abc")
    );
    assert!(!format!("{created:?}").contains("secret_abc"));

    let request = &t.stripe.received_requests().await.unwrap()[0];
    let body: HashMap<String, String> = url::form_urlencoded::parse(&request.body)
        .into_owned()
        .collect();
    assert_eq!(body["amount"], "15000");
    assert_eq!(body["currency"], "eur");
    assert_eq!(body["metadata[event_type_id]"], "42");
    assert_eq!(body["automatic_payment_methods[enabled]"], "true");
    assert!(request.headers.get("idempotency-key").is_some());
    assert_eq!(request.headers.get("stripe-version").unwrap(), "2024-04-10");
    let local = t.billing.get_payment("pi_1").await.unwrap().unwrap();
    assert_eq!(
        (local.status.as_str(), local.user_id),
        ("requires_payment_method", Some(ada.id))
    );

    // Confirmation updates the local record.
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents/pi_1/confirm"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "pi_1", "object": "payment_intent", "amount": 15000, "currency": "eur", "status": "succeeded"
        })))
        .mount(&t.stripe)
        .await;
    let confirmed = t.billing.confirm_payment("pi_1").await.unwrap();
    // The response carried no metadata: what the payment is for is kept.
    assert_eq!(
        (confirmed.status.as_str(), confirmed.user_id),
        ("succeeded", Some(ada.id))
    );
    assert_eq!(
        confirmed.metadata,
        Some(json!({ "user_id": ada.id.to_string(), "event_type_id": "42" }))
    );

    // A declined card is a typed 402.
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents/pi_2/confirm"))
        .respond_with(ResponseTemplate::new(402).set_body_json(json!({ "error": {
            "type": "card_error", "code": "card_declined", "message": "Your card was declined."
        } })))
        .mount(&t.stripe)
        .await;
    let err = t.billing.confirm_payment("pi_2").await.unwrap_err();
    assert_eq!((err.status().as_u16(), err.code()), (402, "payment_failed"));
}

async fn invalid_amounts_currencies_and_metadata_never_reach_stripe(db: TestDb) {
    let t = TestBilling::new(db).await;
    let none = HashMap::new;
    for (amount, currency, field) in [
        (0, "usd", "amount"),
        (-100, "usd", "amount"),
        (100_000_000, "usd", "amount"),
        (100, "us", "currency"),
        (100, "xyz", "currency"),
        (100, "", "currency"),
    ] {
        let err = t
            .billing
            .create_payment_intent(amount, currency, none())
            .await
            .unwrap_err();
        assert!(
            matches!(err, BillingError::InvalidInput { field: f, .. } if f == field),
            "{amount} {currency}: {err:?}"
        );
        assert_eq!(err.status().as_u16(), 422);
    }
    let too_many: HashMap<String, String> =
        (0..51).map(|i| (format!("k{i}"), "v".to_owned())).collect();
    let long_key = HashMap::from([("k".repeat(41), "v".to_owned())]);
    let long_value = HashMap::from([("k".to_owned(), "v".repeat(501))]);
    let brackets = HashMap::from([("a[b]".to_owned(), "v".to_owned())]);
    for metadata in [too_many, long_key, long_value, brackets] {
        let err = t
            .billing
            .create_payment_intent(100, "usd", metadata)
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                BillingError::InvalidInput {
                    field: "metadata",
                    ..
                }
            ),
            "{err:?}"
        );
    }
    assert!(matches!(
        t.billing.confirm_payment("../customers").await,
        Err(BillingError::InvalidInput { .. })
    ));
    assert!(
        t.stripe.received_requests().await.unwrap().is_empty(),
        "nothing was sent"
    );
}

tollbooth_db::engine_tests!(
    a_payment_intent_returns_its_client_secret,
    invalid_amounts_currencies_and_metadata_never_reach_stripe,
);
