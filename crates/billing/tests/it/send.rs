//! Every public async operation produces a `Send` future (web frameworks require it); this
//! test fails to compile otherwise.

use tollbooth_billing::*;
use uuid::Uuid;

fn send<T: Send>(_: T) {}

#[allow(dead_code)]
fn every_future_is_send(billing: &Billing) {
    let user = Uuid::nil();
    send(billing.create_checkout_session(user, "pro", "", "", None));
    send(billing.create_billing_portal_session(user, ""));
    send(billing.get_subscription(user));
    send(billing.current_plan(user));
    send(billing.sync_subscription(user));
    send(billing.cancel_subscription(user, true));
    send(billing.resume_subscription(user));
    send(billing.reconcile());
    send(billing.create_payment_intent(1, "usd", Default::default()));
    send(billing.confirm_payment("pi_1"));
    send(billing.handle_stripe_webhook(b"", None, tollbooth_db::now()));
    send(billing.create_calcom_booking_link(1, &Default::default(), &Prefill::default()));
    send(billing.booking_link_for_payment("pi_1"));
    send(billing.handle_calcom_webhook(b"", None));
    send(billing.flush_background_tasks());
}

#[test]
fn compiles() {}
