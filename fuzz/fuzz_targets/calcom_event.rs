//! Cal.com booking webhooks: payload parsing and the apply path on arbitrary bodies, and the
//! `X-Cal-Signature-256` check on arbitrary signatures.
//!
//! 1. The input is signed correctly and delivered to `Billing::handle_calcom_webhook`: errors
//!    are fine, a correctly signed body is never refused as `InvalidSignature`, and
//!    redelivering an accepted body is a `Duplicate` no-op.
//! 2. The input is also used as the signature itself (over the same body): unless it happens
//!    to be the right HMAC (compared independently), it must be `InvalidSignature`.
//!
//! No Cal.com API call is made: the webhook path only touches the database.

#![no_main]

mod common;

use std::sync::LazyLock;

use common::BillingFixture;
use libfuzzer_sys::fuzz_target;
use tollbooth_billing::{
    BillingError, CalcomApiKey, CalcomConfig, WebhookOutcome, WebhookSecret, sign_calcom_webhook,
};

static FIXTURE: LazyLock<BillingFixture> = LazyLock::new(|| {
    BillingFixture::new(
        common::billing_config().calcom(
            CalcomConfig::new(CalcomApiKey::new("cal_test"))
                .webhook_secret(WebhookSecret::new(common::CALCOM_SECRET)),
        ),
    )
});

fuzz_target!(|data: &[u8]| {
    let fixture = &*FIXTURE; // before any block_on: its initializer blocks too
    let signature = sign_calcom_webhook(data, &WebhookSecret::new(common::CALCOM_SECRET));
    let input_as_signature = String::from_utf8_lossy(data).into_owned();

    common::block_on(async {
        let billing = &fixture.billing;

        let first = billing
            .handle_calcom_webhook(data, Some(signature.as_str()))
            .await;
        assert!(
            !matches!(first, Err(BillingError::InvalidSignature)),
            "a correctly signed Cal.com delivery was refused"
        );
        if let Ok(receipt) = &first {
            assert_ne!(
                receipt.outcome,
                WebhookOutcome::Duplicate,
                "first delivery into an empty ledger reported as a duplicate"
            );
            let again = billing
                .handle_calcom_webhook(data, Some(signature.as_str()))
                .await;
            assert!(
                matches!(&again, Ok(r) if r.outcome == WebhookOutcome::Duplicate),
                "redelivery was not a duplicate: {again:?}"
            );
        }

        // The input as the signature.
        let result = billing
            .handle_calcom_webhook(data, Some(input_as_signature.as_str()))
            .await;
        if !matches!(result, Err(BillingError::InvalidSignature)) {
            assert!(
                input_as_signature.trim().eq_ignore_ascii_case(&signature),
                "a forged X-Cal-Signature-256 was accepted: {input_as_signature:?} -> {result:?}"
            );
        }

        // No signature is always refused.
        let missing = billing.handle_calcom_webhook(data, None).await;
        assert!(
            matches!(missing, Err(BillingError::InvalidSignature)),
            "an unsigned Cal.com delivery was not refused: {missing:?}"
        );

        fixture.reset().await;
    });
});
