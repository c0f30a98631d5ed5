//! Stripe webhook signatures: `Stripe-Signature: t=<unix>,v1=<hex hmac>[,v1=…]`, HMAC-SHA256
//! over `"{t}." + raw body` with the endpoint secret, compared in constant time.

use std::time::Duration;

use chrono::{DateTime, Utc};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::config::WebhookSecret;

/// Longest header accepted; a real one is ~140 bytes per signature.
const MAX_HEADER_LEN: usize = 2048;

/// Why a `Stripe-Signature` was refused. [`Billing::handle_stripe_webhook`](crate::Billing::handle_stripe_webhook)
/// logs it and answers [`BillingError::InvalidSignature`](crate::BillingError::InvalidSignature)
/// (the sender learns nothing about which check failed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// No `Stripe-Signature` header.
    #[error("no Stripe-Signature header")]
    Missing,
    /// Not `t=…,v1=…` (or longer than any real header).
    #[error("malformed Stripe-Signature header")]
    Malformed,
    /// No usable `v1` signature.
    #[error("no v1 signature")]
    NoSignature,
    /// `t` is further from now than the tolerance (a replay, or a skewed clock).
    #[error("signature timestamp outside the tolerance")]
    Stale,
    /// No `v1` matches any configured secret.
    #[error("no signature matches")]
    Mismatch,
}

/// Verifies a Stripe webhook delivery: `header` (`Stripe-Signature`) must carry one `t`
/// within `tolerance` of `now` and a `v1` equal to the HMAC-SHA256 of `"{t}." + payload`
/// under some secret (several during a rotation), compared in constant time. Pure but for
/// the clock, which is an argument.
pub fn verify_stripe_signature(
    payload: &[u8],
    header: Option<&str>,
    secrets: &[WebhookSecret],
    now: DateTime<Utc>,
    tolerance: Duration,
) -> Result<(), SignatureError> {
    verify(
        payload,
        header.ok_or(SignatureError::Missing)?,
        secrets,
        now.timestamp(),
        tolerance,
    )
}

fn verify(
    payload: &[u8],
    header: &str,
    secrets: &[WebhookSecret],
    now: i64,
    tolerance: Duration,
) -> Result<(), SignatureError> {
    if header.len() > MAX_HEADER_LEN {
        return Err(SignatureError::Malformed);
    }
    let mut timestamp: Option<i64> = None;
    let mut signatures: Vec<Vec<u8>> = Vec::new();
    for part in header.split(',') {
        let (key, value) = part
            .trim()
            .split_once('=')
            .ok_or(SignatureError::Malformed)?;
        match key {
            "t" if timestamp.is_none() => {
                timestamp = Some(value.parse().map_err(|_| SignatureError::Malformed)?);
            }
            "t" => return Err(SignatureError::Malformed),
            // A malformed v1 cannot match; skip it rather than reject its siblings.
            "v1" => signatures.extend(hex::decode(value).ok().filter(|s| s.len() == 32)),
            _ => {} // v0 (test mode legacy) and future schemes are ignored
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::NoSignature);
    }
    let tolerance = i64::try_from(tolerance.as_secs()).unwrap_or(i64::MAX);
    if now.abs_diff(timestamp) > tolerance.unsigned_abs() {
        return Err(SignatureError::Stale);
    }
    for secret in secrets {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes())
            .map_err(|_| SignatureError::Mismatch)?;
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(payload);
        for signature in &signatures {
            // `verify_slice` compares in constant time.
            if mac.clone().verify_slice(signature).is_ok() {
                return Ok(());
            }
        }
    }
    Err(SignatureError::Mismatch)
}

/// `t=…,v1=…` for `payload` signed with `secret` at `timestamp` — what Stripe sends; used
/// by tests and benchmarks, and by applications that replay events.
pub fn sign_stripe_webhook(payload: &[u8], secret: &WebhookSecret, timestamp: i64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes())
        .expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOLERANCE: Duration = Duration::from_secs(300);

    fn secret(s: &str) -> WebhookSecret {
        WebhookSecret::new(s)
    }

    #[test]
    fn accepts_a_valid_signature_and_refuses_everything_else() {
        let payload = br#"{"id":"evt_1"}"#;
        let s = secret("whsec_test");
        let header = sign_stripe_webhook(payload, &s, 1_700_000_000);
        assert_eq!(
            verify(
                payload,
                &header,
                std::slice::from_ref(&s),
                1_700_000_100,
                TOLERANCE
            ),
            Ok(())
        );

        let cases: [(&[u8], String, i64, SignatureError); 7] = [
            (
                br#"{"id":"evt_2"}"#,
                header.clone(),
                1_700_000_100,
                SignatureError::Mismatch,
            ),
            (
                payload,
                header.clone(),
                1_700_000_301,
                SignatureError::Stale,
            ),
            (
                payload,
                header.clone(),
                1_699_999_699,
                SignatureError::Stale,
            ),
            (
                payload,
                "t=1700000000".to_owned(),
                1_700_000_000,
                SignatureError::NoSignature,
            ),
            (
                payload,
                "v1=abcd".to_owned(),
                1_700_000_000,
                SignatureError::Malformed,
            ),
            (
                payload,
                "garbage".to_owned(),
                1_700_000_000,
                SignatureError::Malformed,
            ),
            (
                payload,
                format!("{header},t=1700000001"),
                1_700_000_000,
                SignatureError::Malformed,
            ),
        ];
        for (body, header, now, expected) in cases {
            assert_eq!(
                verify(body, &header, std::slice::from_ref(&s), now, TOLERANCE),
                Err(expected),
                "{header}"
            );
        }
        assert_eq!(
            verify(
                payload,
                &header,
                &[secret("whsec_other")],
                1_700_000_000,
                TOLERANCE
            ),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(payload, &header, &[], 1_700_000_000, TOLERANCE),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(payload, &"x".repeat(4096), &[s], 0, TOLERANCE),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn rotation_any_secret_any_v1() {
        let payload = b"{}";
        let (old, new) = (secret("whsec_old"), secret("whsec_new"));
        // During rotation Stripe signs with both secrets: two v1 values.
        let with_old = sign_stripe_webhook(payload, &old, 10);
        let with_new = sign_stripe_webhook(payload, &new, 10);
        let header = format!("{with_old},v1={}", with_new.split("v1=").nth(1).unwrap());
        assert_eq!(
            verify(payload, &header, std::slice::from_ref(&new), 10, TOLERANCE),
            Ok(())
        );
        assert_eq!(
            verify(payload, &header, std::slice::from_ref(&old), 10, TOLERANCE),
            Ok(())
        );
        // And we may hold both secrets while Stripe signs with one.
        assert_eq!(
            verify(payload, &with_new, &[old, new], 10, TOLERANCE),
            Ok(())
        );
        // A malformed extra v1 does not hide a valid one.
        assert_eq!(
            verify(
                payload,
                &format!("{with_new},v1=zz"),
                &[secret("whsec_new")],
                10,
                TOLERANCE
            ),
            Ok(())
        );
    }

    /// Stripe's documented scheme ("verify manually"): the signature is
    /// HMAC-SHA256(secret, "{t}.{payload}") in lower-case hex — checked against openssl.
    #[test]
    fn matches_an_independent_hmac_sha256() {
        let s = secret("whsec_5b1a");
        let header = sign_stripe_webhook(b"hello", &s, 1_492_774_577);
        // Computed with `printf '1492774577.hello' | openssl dgst -sha256 -hmac whsec_5b1a`.
        assert_eq!(
            header,
            "t=1492774577,v1=fd7439081e2b36967def38c341036093218f7df53946a57a8ef67d46ba223785"
        );
    }
}
