//! Stripe event parsing and the exactly-once apply path, on arbitrary payloads.
//!
//! The input is the raw body, given to the parse stage (`StripeEvent::parse`, no signature
//! needed) and, when it parses, to the apply stage (`Billing::apply_stripe_event`). The
//! database holds one user, Stripe customer `cus_fuzz`, so events naming that customer reach
//! the subscription, invoice (e-mail rendering) and payment paths. Errors are fine; panics
//! are bugs. Invariants:
//! - a parsed event has an id of 1 to 255 characters;
//! - applying a parsed event twice is a `Duplicate` the second time (exactly once).

#![no_main]

mod common;

use std::sync::LazyLock;

use common::BillingFixture;
use libfuzzer_sys::fuzz_target;
use tollbooth_billing::{StripeEvent, WebhookOutcome};

static FIXTURE: LazyLock<BillingFixture> =
    LazyLock::new(|| BillingFixture::new(common::billing_config()));

fuzz_target!(|data: &[u8]| {
    let fixture = &*FIXTURE; // before any block_on: its initializer blocks too
    let now = common::now();
    let Ok(event) = StripeEvent::parse(data) else {
        return;
    };
    assert!(
        !event.id().is_empty() && event.id().len() <= 255,
        "parsed an event id of {} bytes",
        event.id().len()
    );

    common::block_on(async {
        let first = fixture.billing.apply_stripe_event(&event, now).await;
        if let Ok(receipt) = &first {
            assert_ne!(
                receipt.outcome,
                WebhookOutcome::Duplicate,
                "first delivery into an empty ledger reported as a duplicate"
            );
            let again = fixture.billing.apply_stripe_event(&event, now).await;
            assert!(
                matches!(&again, Ok(r) if r.outcome == WebhookOutcome::Duplicate),
                "redelivery of {:?} was not a duplicate: {again:?}",
                receipt.event_id
            );
        }
        fixture.reset().await;
    });
});
