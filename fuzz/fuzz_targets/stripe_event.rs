//! Stripe event parsing and the exactly-once apply path, on arbitrary payloads.
//!
//! The input is the raw body; it is signed correctly (so it always gets past the signature)
//! and delivered to `Billing::handle_webhook`. The database holds one user, Stripe customer
//! `cus_fuzz`, so events naming that customer reach the subscription, invoice (e-mail
//! rendering) and payment paths. Errors are fine; panics are bugs. Invariants:
//! - a correctly signed delivery is never refused as `InvalidSignature`;
//! - an accepted event has an id of 1 to 255 characters;
//! - redelivering an accepted event is a `Duplicate` no-op (exactly once).

#![no_main]

mod common;

use std::sync::LazyLock;

use common::BillingFixture;
use libfuzzer_sys::fuzz_target;
use tollbooth_billing::{BillingError, WebhookOutcome, WebhookSecret, sign_webhook};

static FIXTURE: LazyLock<BillingFixture> =
    LazyLock::new(|| BillingFixture::new(common::billing_config()));

fuzz_target!(|data: &[u8]| {
    let fixture = &*FIXTURE; // before any block_on: its initializer blocks too
    let now = common::now();
    let header = sign_webhook(
        data,
        &WebhookSecret::new(common::STRIPE_SECRET),
        now.timestamp(),
    );

    common::block_on(async {
        let first = fixture
            .billing
            .handle_webhook(data, Some(header.as_str()), now)
            .await;
        assert!(
            !matches!(first, Err(BillingError::InvalidSignature)),
            "a correctly signed delivery was refused: {header:?}"
        );
        if let Ok(receipt) = &first {
            assert!(
                !receipt.event_id.is_empty() && receipt.event_id.len() <= 255,
                "accepted an event id of {} bytes",
                receipt.event_id.len()
            );
            assert_ne!(
                receipt.outcome,
                WebhookOutcome::Duplicate,
                "first delivery into an empty ledger reported as a duplicate"
            );
            let again = fixture
                .billing
                .handle_webhook(data, Some(header.as_str()), now)
                .await;
            assert!(
                matches!(&again, Ok(r) if r.outcome == WebhookOutcome::Duplicate),
                "redelivery of {:?} was not a duplicate: {again:?}",
                receipt.event_id
            );
        }
        fixture.reset().await;
    });
});
