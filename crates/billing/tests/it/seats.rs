//! Seats: a per-seat plan's Stripe quantity follows an organization's members (absolute,
//! prorated, once per change, converging under concurrency across instances), and the
//! plan's seat limit is written on the organization for auth to enforce.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::common::*;
use serde_json::json;
use tollbooth_billing::*;
use tollbooth_db::testing::TestDb;
use tollbooth_db::{
    InvitationRepo, NewInvitation, NewOrganization, NewUser, Organization, OrganizationRepo,
    UserRepo,
};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

const TEAM: &str = "price_team_monthly";
const PERIOD_END: i64 = 1_800_000_000;

fn team_plan(c: BillingConfigBuilder) -> BillingConfigBuilder {
    c.plan(
        Plan::new("team", "Team")
            .monthly_price(TEAM)
            .per_seat()
            .seat_limit(5),
    )
}

/// Stripe's stand-in for `sub_team`: its item's quantity as last written.
async fn stripe_holds(t: &TestBilling, quantity: Arc<AtomicU64>) {
    let read = quantity.clone();
    Mock::given(method("GET"))
        .and(path("/v1/subscriptions/sub_team"))
        .respond_with(move |_: &wiremock::Request| {
            let mut subscription = team_subscription("active");
            subscription["items"]["data"][0]["quantity"] = json!(read.load(Ordering::SeqCst));
            ResponseTemplate::new(200).set_body_json(subscription)
        })
        .mount(&t.stripe)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/subscription_items/si_team"))
        .respond_with(move |request: &wiremock::Request| {
            let seats: u64 = form(request)["quantity"].parse().unwrap();
            quantity.store(seats, Ordering::SeqCst);
            ResponseTemplate::new(200).set_body_json(
                json!({ "id": "si_team", "object": "subscription_item", "quantity": seats }),
            )
        })
        .mount(&t.stripe)
        .await;
}

/// Acme, owned by Ada, with Stripe customer `cus_acme`.
async fn acme(t: &TestBilling) -> Organization {
    let ada = t.user("ada@example.com", None).await;
    let (acme, _) =
        t.db.create_organization(NewOrganization::new("Acme", "acme"), ada.id)
            .await
            .unwrap();
    t.db.set_organization_stripe_customer_id(acme.id, "cus_acme")
        .await
        .unwrap()
        .unwrap()
}

/// A pending invitation of `email` to `org`, sent by its owner.
async fn invite(t: &TestBilling, org: &Organization, email: &str, token: u8) {
    let ada =
        t.db.find_user_by_email("ada@example.com")
            .await
            .unwrap()
            .unwrap();
    let invited = NewInvitation::new(
        org.id,
        email,
        "member",
        ada.id,
        vec![token; 32],
        tollbooth_db::now() + chrono::Duration::days(7),
    );
    t.db.create_invitation(invited).await.unwrap();
}

async fn member(t: &TestBilling, org: &Organization, email: &str) {
    let user = t.db.create_user(NewUser::new(email)).await.unwrap();
    t.db.add_member(org.id, user.id, "member").await.unwrap();
}

/// `sub_team` of `cus_acme` in `status`, its item `si_team` (the quantity Checkout sold).
fn team_subscription(status: &str) -> serde_json::Value {
    let mut subscription = subscription_2024("sub_team", "cus_acme", status, TEAM, PERIOD_END);
    subscription["items"]["data"][0]["id"] = json!("si_team");
    subscription
}

/// Acme subscribes to Team (one seat sold); Stripe's stand-in holds `quantity`; the new
/// subscription's own sync has run.
async fn acme_on_team(t: &TestBilling, quantity: Arc<AtomicU64>) -> Organization {
    let acme = acme(t).await;
    stripe_holds(t, quantity).await;
    let created = event(
        "evt_1",
        "customer.subscription.created",
        1_790_000_000,
        team_subscription("active"),
    );
    t.deliver(&created).await.unwrap();
    t.billing.flush_background_tasks().await;
    acme
}

async fn seat_writes(t: &TestBilling) -> Vec<std::collections::HashMap<String, String>> {
    requests_to(t, "/v1/subscription_items/si_team")
        .await
        .iter()
        .map(form)
        .collect()
}

async fn seats_follow_members_and_the_plan_sets_the_limit(db: TestDb) {
    let t = TestBilling::with(db, team_plan).await;
    let quantity = Arc::new(AtomicU64::new(1));
    let acme = acme_on_team(&t, quantity.clone()).await;
    // The new subscription's own sync read Stripe, found one seat (Ada) and wrote nothing.
    assert!(
        !requests_to(&t, "/v1/subscriptions/sub_team")
            .await
            .is_empty()
    );
    assert!(seat_writes(&t).await.is_empty());
    let org = t.db.find_organization(acme.id).await.unwrap().unwrap();
    assert_eq!(org.seat_limit, Some(5), "written with the event");

    member(&t, &acme, "bob@example.com").await;
    member(&t, &acme, "carol@example.com").await;
    assert_eq!(
        t.billing.sync_seats(acme.id).await.unwrap(),
        SeatSync::Synced { seats: 3 }
    );
    let writes = seat_writes(&t).await;
    assert_eq!(writes.len(), 1);
    assert_eq!(writes[0]["quantity"], "3", "the count, not an increment");
    assert_eq!(writes[0]["proration_behavior"], "create_prorations");
    let billed = Customer::Organization(acme.id);
    let row = t.billing.get_subscription(billed).await.unwrap().unwrap();
    assert_eq!(row.quantity, 3, "what Stripe holds is stored");
    let org = t.db.find_organization(acme.id).await.unwrap().unwrap();
    assert_eq!(org.seat_sync_until, None, "the lease is given back");

    // Nothing changed: nothing written. A pending invitation is no seat by default.
    invite(&t, &acme, "dan@example.com", 7).await;
    assert_eq!(
        t.billing.sync_seats(acme.id).await.unwrap(),
        SeatSync::Synced { seats: 3 }
    );
    assert_eq!(seat_writes(&t).await.len(), 1);

    // Another instance holds the lease: this one leaves the change to it.
    let now = tollbooth_db::now();
    assert!(
        t.db.claim_seat_sync(acme.id, now, now + chrono::Duration::seconds(60))
            .await
            .unwrap()
    );
    member(&t, &acme, "erin@example.com").await;
    assert_eq!(t.billing.sync_seats(acme.id).await.unwrap(), SeatSync::Busy);
    assert_eq!(seat_writes(&t).await.len(), 1);
    t.db.release_seat_sync(acme.id, now + chrono::Duration::seconds(60))
        .await
        .unwrap();
    assert_eq!(
        t.billing.sync_seats(acme.id).await.unwrap(),
        SeatSync::Synced { seats: 4 }
    );
    assert_eq!(quantity.load(Ordering::SeqCst), 4);

    // Cancelled: the free plan's (no) limit, and nothing billed per seat.
    let ended = team_subscription("canceled");
    // (After the syncs' reads of Stripe, which the row remembers as of when they ran.)
    let later = tollbooth_db::now().timestamp() + 60;
    t.deliver(&event(
        "evt_2",
        "customer.subscription.deleted",
        later,
        ended,
    ))
    .await
    .unwrap();
    let org = t.db.find_organization(acme.id).await.unwrap().unwrap();
    assert_eq!(org.seat_limit, None);
    assert_eq!(
        t.billing.sync_seats(acme.id).await.unwrap(),
        SeatSync::NotPerSeat
    );
}

/// Pending invitations count as seats when configured.
async fn pending_invitations_are_seats_when_configured(db: TestDb) {
    let t = TestBilling::with(db, |c| {
        team_plan(c).count_pending_invitations_as_seats(true)
    })
    .await;
    let quantity = Arc::new(AtomicU64::new(1));
    let acme = acme_on_team(&t, quantity.clone()).await;
    invite(&t, &acme, "bob@example.com", 1).await;
    invite(&t, &acme, "carol@example.com", 2).await;
    assert_eq!(
        t.billing.sync_seats(acme.id).await.unwrap(),
        SeatSync::Synced { seats: 3 }
    );
    assert_eq!(quantity.load(Ordering::SeqCst), 3);
}

/// Members join while two instances sync at once: every join is followed by a sync on one
/// instance or the other, and Stripe ends at the member count with the lease released.
async fn concurrent_joins_and_syncs_end_at_the_member_count(db: TestDb) {
    let t = TestBilling::with(db, team_plan).await;
    let quantity = Arc::new(AtomicU64::new(1));
    let acme = acme_on_team(&t, quantity.clone()).await;
    let other = Billing::new(
        t.db.connect_again().await,
        mailer(tollbooth_email::OutboxSender::new()),
        team_plan(config(&t.stripe).await).build().unwrap(),
    )
    .unwrap();
    let join = |n: usize| {
        let billing = if n.is_multiple_of(2) {
            t.billing.clone()
        } else {
            other.clone()
        };
        let (t, acme) = (&t, &acme);
        async move {
            member(t, acme, &format!("m{n}@example.com")).await;
            billing.sync_seats(acme.id).await.unwrap()
        }
    };
    let (a, b, c, d, e, f) = tokio::join!(join(0), join(1), join(2), join(3), join(4), join(5));
    let results = [a, b, c, d, e, f];
    assert!(
        results.iter().any(|r| matches!(r, SeatSync::Synced { .. })),
        "{results:?}"
    );
    assert_eq!(quantity.load(Ordering::SeqCst), 7, "{results:?}");
    assert_eq!(t.db.count_members(acme.id).await.unwrap(), 7);
    let org = t.db.find_organization(acme.id).await.unwrap().unwrap();
    assert_eq!(org.seat_sync_until, None);
    for write in seat_writes(&t).await {
        let seats: u64 = write["quantity"].parse().unwrap();
        assert!((2..=7).contains(&seats), "a count, never more: {write:?}");
    }
}

tollbooth_db::engine_tests!(
    seats_follow_members_and_the_plan_sets_the_limit,
    pending_invitations_are_seats_when_configured,
    concurrent_joins_and_syncs_end_at_the_member_count,
);
