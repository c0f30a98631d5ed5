//! The application's hooks hear of each committed subscription change once; a failing
//! hook undoes nothing.

use std::sync::{Arc, Mutex};

use crate::common::*;
use tollbooth_billing::*;
use tollbooth_db::testing::TestDb;

#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<DomainEvent>>>);

#[async_trait::async_trait]
impl Hooks for Recorder {
    async fn on_event(&self, event: &DomainEvent) -> Result<(), HookError> {
        self.0.lock().unwrap().push(event.clone());
        Err("the CRM is down".into())
    }
}

async fn a_subscription_change_is_told_once(db: TestDb) {
    let heard = Recorder::default();
    let t = TestBilling::with(db, |c| c.hooks(heard.clone())).await;
    let ada = t.user("ada@example.com", Some("cus_1")).await;
    let now = tollbooth_db::now().timestamp();
    let created = event(
        "evt_1",
        "customer.subscription.created",
        now,
        subscription_2024("sub_1", "cus_1", "active", PRO, now + 30 * 86_400),
    );
    assert_eq!(
        t.deliver(&created).await.unwrap().outcome,
        WebhookOutcome::Applied
    );
    // The same delivery again is a duplicate: nothing committed, nothing told.
    assert_eq!(
        t.deliver(&created).await.unwrap().outcome,
        WebhookOutcome::Duplicate
    );
    assert_eq!(
        *heard.0.lock().unwrap(),
        [DomainEvent::SubscriptionChanged {
            customer: ada.id.into(),
            subscription: "sub_1".to_owned(),
            status: "active".to_owned(),
            plan: "pro".to_owned(),
        }]
    );
    // The hook failed; the change stands.
    let row = t.billing.get_subscription(ada.id).await.unwrap().unwrap();
    assert_eq!(row.status, "active");
}

tollbooth_db::engine_tests!(a_subscription_change_is_told_once);
