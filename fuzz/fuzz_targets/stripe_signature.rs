//! `Stripe-Signature` header parsing and verification.
//!
//! Input: `<header>\n<payload>` (no newline: all header, empty payload). The header is
//! delivered as-is with the payload to `Billing::handle_webhook`. Nearly every input must be
//! refused with `InvalidSignature`; anything else means the signature was accepted, and then
//! it must really be a valid HMAC of the payload (checked independently here).

#![no_main]

mod common;

use std::sync::LazyLock;

use common::BillingFixture;
use libfuzzer_sys::fuzz_target;
use tollbooth_billing::{BillingError, WebhookSecret, sign_webhook};

static FIXTURE: LazyLock<BillingFixture> =
    LazyLock::new(|| BillingFixture::new(common::billing_config()));

/// Stripe's default tolerance, as configured.
const TOLERANCE_SECS: u64 = 300;

/// Whether `header` carries exactly one `t` within the tolerance of `now` and a `v1` equal to
/// the HMAC of `payload` at that `t` — written independently of the crate's parser.
fn really_verifies(payload: &[u8], header: &str, now: i64) -> bool {
    let parts: Vec<&str> = header.split(',').map(str::trim).collect();
    let timestamps: Vec<i64> = parts
        .iter()
        .filter_map(|p| p.strip_prefix("t="))
        .filter_map(|v| v.parse().ok())
        .collect();
    let &[t] = timestamps.as_slice() else {
        return false;
    };
    if now.abs_diff(t) > TOLERANCE_SECS {
        return false;
    }
    let expected = sign_webhook(payload, &WebhookSecret::new(common::STRIPE_SECRET), t);
    let Some((_, expected_hex)) = expected.rsplit_once("v1=") else {
        return false;
    };
    parts
        .iter()
        .filter_map(|p| p.strip_prefix("v1="))
        .any(|v| v.eq_ignore_ascii_case(expected_hex))
}

fuzz_target!(|data: &[u8]| {
    let fixture = &*FIXTURE; // before any block_on: its initializer blocks too
    let (header, payload) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &data[data.len()..]),
    };
    let header = String::from_utf8_lossy(header).into_owned();
    let now = common::now();

    common::block_on(async {
        let result = fixture
            .billing
            .handle_webhook(payload, Some(header.as_str()), now)
            .await;
        let accepted = !matches!(result, Err(BillingError::InvalidSignature));
        if accepted {
            assert!(
                really_verifies(payload, &header, now.timestamp()),
                "a forged Stripe-Signature was accepted: header {header:?}, result {result:?}"
            );
        }

        // No header at all is always refused.
        let missing = fixture.billing.handle_webhook(payload, None, now).await;
        assert!(
            matches!(missing, Err(BillingError::InvalidSignature)),
            "a delivery without Stripe-Signature was not refused: {missing:?}"
        );

        if accepted {
            fixture.reset().await; // only an accepted delivery can have written anything
        }
    });
});
