//! `Stripe-Signature` header parsing and verification.
//!
//! Input: `<header>\n<payload>` (no newline: all header, empty payload). The header goes
//! as-is with the payload to the verify stage, `verify_stripe_signature` (pure: no database,
//! no runtime). Nearly every input must be refused; an accepted one must really be a valid
//! HMAC of the payload (checked independently here).

#![no_main]

mod common;

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use tollbooth_billing::{SignatureError, WebhookSecret, sign_stripe_webhook, verify_stripe_signature};

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
    let expected = sign_stripe_webhook(payload, &WebhookSecret::new(common::STRIPE_SECRET), t);
    let Some((_, expected_hex)) = expected.rsplit_once("v1=") else {
        return false;
    };
    parts
        .iter()
        .filter_map(|p| p.strip_prefix("v1="))
        .any(|v| v.eq_ignore_ascii_case(expected_hex))
}

fuzz_target!(|data: &[u8]| {
    let (header, payload) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &data[data.len()..]),
    };
    let header = String::from_utf8_lossy(header).into_owned();
    let now = common::now();
    let secrets = [WebhookSecret::new(common::STRIPE_SECRET)];
    let tolerance = Duration::from_secs(TOLERANCE_SECS);

    let verified = verify_stripe_signature(payload, Some(&header), &secrets, now, tolerance);
    if verified.is_ok() {
        assert!(
            really_verifies(payload, &header, now.timestamp()),
            "a forged Stripe-Signature was accepted: header {header:?}"
        );
    }
    // No header at all is always refused.
    assert_eq!(
        verify_stripe_signature(payload, None, &secrets, now, tolerance),
        Err(SignatureError::Missing)
    );
});
