//! Deleting one's own account: who may, what goes, what stays, and a refusing step (billing
//! with Stripe down) deleting nothing.

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use sea_orm::{ConnectionTrait, Statement};
use tollbooth_auth::*;
use tollbooth_db::testing::TestDb;
use tollbooth_db::{
    AccountRepo, BillingRepo, BookingRepo, NewAccount, NewBooking, PaymentUpsert, SessionRepo,
    UserRepo,
};
use uuid::Uuid;

use crate::common::*;
use crate::mfa::{challenge, code, enable, mfa};

/// Rows of `table` matching `condition` (raw SQL: the test looks under the repositories).
async fn count(t: &TestAuth, table: &str, condition: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) AS n FROM {table} WHERE {condition}");
    let db = t.db.connection();
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .unwrap();
    row.try_get("", "n").unwrap()
}

/// The kinds of the audit trail about `user`, oldest first.
async fn events(t: &TestAuth, user: Uuid) -> Vec<String> {
    trail(t, user).await.into_iter().map(|e| e.kind).collect()
}

/// A step standing in for billing: refuses (Stripe down) while `refuse` is set, and records
/// whom it was asked about.
#[derive(Clone, Default)]
struct Step {
    refuse: Arc<AtomicBool>,
    asked: Arc<Mutex<Vec<Uuid>>>,
    /// Something another request commits while the step runs.
    meanwhile: Arc<Mutex<Option<Meanwhile>>>,
}

#[derive(Clone)]
enum Meanwhile {
    Ban(tollbooth_db::Db),
    SignOutEverywhere(tollbooth_db::Db),
}

#[derive(Debug)]
struct StripeDown;

impl WireError for StripeDown {
    fn status(&self) -> tollbooth_core::http::StatusCode {
        tollbooth_core::http::StatusCode::SERVICE_UNAVAILABLE
    }
    fn code(&self) -> &'static str {
        "payment_provider_unavailable"
    }
    fn client_message(&self) -> Cow<'_, str> {
        "Stripe said: connection refused to 10.0.0.7".into()
    }
    fn server_message(&self) -> &'static str {
        "the payment provider is unavailable; try again later"
    }
}

#[async_trait::async_trait]
impl BeforeAccountDeletion for Step {
    async fn before_account_deletion(&self, user_id: Uuid) -> Result<(), DeletionRefused> {
        self.asked.lock().unwrap().push(user_id);
        let meanwhile = self.meanwhile.lock().unwrap().take();
        let now = tollbooth_db::now();
        match meanwhile {
            Some(Meanwhile::Ban(db)) => {
                db.ban_user(user_id, now, None, None).await.unwrap();
            }
            Some(Meanwhile::SignOutEverywhere(db)) => {
                db.revoke_user_sessions(user_id, None, now).await.unwrap();
            }
            None => {}
        }
        if self.refuse.load(Ordering::SeqCst) {
            Err(Box::new(StripeDown))
        } else {
            Ok(())
        }
    }
}

async fn the_account_goes_and_the_records_stay(db: TestDb) {
    let step = Step::default();
    let t = TestAuth::with(db, |c| c.before_account_deletion(step.clone()));
    let ada = t.user("ada@example.com").await;
    let bob = t.user("bob@example.com").await;
    t.db.create_account(NewAccount::oauth(ada.id, "github", "gh-42", None))
        .await
        .unwrap();
    let (session, cookie) = t.sign_in("ada@example.com").await;
    let (_, other_device) = t.sign_in("ada@example.com").await;
    let (_, bobs_cookie) = t.sign_in("bob@example.com").await;
    // A token, rate-limit counters (a failed sign-in, a reset), a payment and a booking.
    t.auth
        .request_password_reset("ada@example.com", &anon())
        .await
        .unwrap();
    assert!(
        t.auth
            .sign_in("ada@example.com", "wrong", &anon())
            .await
            .is_err()
    );
    let mut payment = PaymentUpsert::new("pi_ada", 4_900, "eur", "succeeded");
    payment.user_id = Some(ada.id);
    t.db.upsert_payment(payment).await.unwrap();
    let mut booking = NewBooking::new("bk_ada", tollbooth_db::now());
    booking.user_id = Some(ada.id);
    t.db.insert_booking(booking).await.unwrap();
    let account_counters = "key LIKE '%:account:%'";
    let before = count(&t, "rate_limits", account_counters).await;
    assert!(before >= 3, "{before}");
    let ip_counters = count(&t, "rate_limits", "key LIKE '%:ip:%'").await;

    let cleared = t
        .auth
        .delete_account(&session, None, &RequestInfo::new(&[], ip()))
        .await
        .unwrap();
    assert!(cleared.is_removal());

    assert_eq!(*step.asked.lock().unwrap(), [ada.id]);
    assert!(t.db.find_user(ada.id).await.unwrap().is_none());
    assert!(t.db.list_accounts(ada.id).await.unwrap().is_empty());
    assert!(t.db.list_user_sessions(ada.id).await.unwrap().is_empty());
    for table in ["sessions", "accounts", "verification_tokens", "two_factors"] {
        let user = format!("user_id = '{}'", ada.id);
        assert_eq!(count(&t, table, &user).await, 0, "{table}");
    }
    // Every cookie of hers is refused at once; Bob's is untouched.
    for headers in [&cookie, &other_device] {
        assert!(t.auth.get_session(headers).await.unwrap().is_none());
    }
    assert!(t.auth.get_session(&bobs_cookie).await.unwrap().is_some());
    // Her counters go (Bob's and the per-IP ones stay).
    assert_eq!(count(&t, "rate_limits", account_counters).await, before - 3);
    assert_eq!(
        count(&t, "rate_limits", "key LIKE '%:ip:%'").await,
        ip_counters
    );
    // Payments and bookings stay for the merchant, owned by nobody.
    let kept = t.db.find_payment("pi_ada").await.unwrap().unwrap();
    assert_eq!(kept.user_id, None);
    assert_eq!(
        t.db.find_booking("bk_ada").await.unwrap().unwrap().user_id,
        None
    );
    // The audit trail keeps her events, the deletion last.
    assert_eq!(events(&t, ada.id).await.last().unwrap(), "account_deleted");
    // The goodbye, to her address, after the commit.
    t.auth.flush_background_tasks().await;
    let goodbye = t.outbox.sent_to("ada@example.com").pop().unwrap();
    assert_eq!(goodbye.subject(), "Your Acme account is deleted");
    assert!(
        goodbye.text().contains("from the address 203.0.113.7"),
        "{}",
        goodbye.text()
    );
    // The address is free again.
    t.user("ada@example.com").await;
    assert!(t.db.find_user(bob.id).await.unwrap().is_some());
}

/// Only a fresh session deletes, and with MFA on only with a current code; none of the
/// refusals deletes anything or asks the steps.
async fn deletion_needs_a_fresh_session_and_the_second_factor(db: TestDb) {
    let step = Step::default();
    let t = TestAuth::with(db, |c| mfa(c).before_account_deletion(step.clone()));
    let ada = t.user("ada@example.com").await;
    let (secret, _, _) = enable(&t, "ada@example.com").await;
    t.clock.advance(chrono::TimeDelta::seconds(30)); // enrolment used this step's code
    let pending = challenge(&t, "ada@example.com").await;
    let signed_in = t
        .auth
        .mfa_verify(&pending.token, &code(&t, &secret, 0), &anon())
        .await
        .unwrap();
    let (session, cookie) = (signed_in.session, cookie_headers(&signed_in.cookie));
    let refused = |result: Result<SetCookie>| result.unwrap_err().code();

    assert_eq!(
        refused(t.auth.delete_account(&session, None, &anon()).await),
        "invalid_input"
    );
    assert_eq!(
        refused(
            t.auth
                .delete_account(&session, Some("000000"), &anon())
                .await
        ),
        "invalid_mfa_code"
    );
    t.clock.advance(minutes(11));
    let current = code(&t, &secret, 0);
    assert_eq!(
        refused(
            t.auth
                .delete_account(&session, Some(&current), &anon())
                .await
        ),
        "reauthentication_required"
    );
    assert!(step.asked.lock().unwrap().is_empty());
    assert!(t.db.find_user(ada.id).await.unwrap().is_some());
    assert!(
        !events(&t, ada.id)
            .await
            .contains(&"account_deleted".to_owned())
    );

    // The wrong code was counted against her user id.
    let mfa_counters = "key LIKE 'mfa:%'";
    assert!(count(&t, "rate_limits", mfa_counters).await > 0);

    // Re-authenticated, with a current code: deleted.
    t.clock.advance(minutes(1));
    t.auth
        .reauthenticate(&session, Some(PASSWORD), Some(&code(&t, &secret, 0)))
        .await
        .unwrap();
    let session = t.auth.get_session(&cookie).await.unwrap().unwrap().session;
    t.clock.advance(minutes(1));
    t.auth
        .delete_account(&session, Some(&code(&t, &secret, 0)), &anon())
        .await
        .unwrap();
    assert!(t.db.find_user(ada.id).await.unwrap().is_none());
    assert_eq!(
        count(&t, "two_factors", &format!("user_id = '{}'", ada.id)).await,
        0
    );
    assert_eq!(count(&t, "rate_limits", mfa_counters).await, 0);
    assert_eq!(
        count(&t, "backup_codes", &format!("user_id = '{}'", ada.id)).await,
        0
    );
}

/// A step that refuses (billing, Stripe down) ends the deletion with nothing deleted, and
/// its error is the answer (a 5xx body saying only its fixed message); once the step
/// succeeds, a retry deletes.
async fn a_refusing_step_deletes_nothing(db: TestDb) {
    let step = Step::default();
    let t = TestAuth::with(db, |c| c.before_account_deletion(step.clone()));
    let ada = t.user("ada@example.com").await;
    let (session, cookie) = t.sign_in("ada@example.com").await;
    step.refuse.store(true, Ordering::SeqCst);

    let refused = t
        .auth
        .delete_account(&session, None, &anon())
        .await
        .unwrap_err();
    assert!(matches!(refused, AuthError::DeletionRefused { .. }));
    assert_eq!(
        (refused.status().as_u16(), refused.code()),
        (503, "payment_provider_unavailable")
    );
    assert_eq!(
        error_body(&refused)["message"],
        "the payment provider is unavailable; try again later"
    );
    assert!(t.db.find_user(ada.id).await.unwrap().is_some());
    assert!(t.auth.get_session(&cookie).await.unwrap().is_some());
    assert!(
        !events(&t, ada.id)
            .await
            .contains(&"account_deleted".to_owned())
    );
    t.auth.flush_background_tasks().await;
    assert!(
        t.outbox
            .sent_to("ada@example.com")
            .iter()
            .all(|m| m.subject() != "Your Acme account is deleted")
    );

    step.refuse.store(false, Ordering::SeqCst);
    t.auth
        .delete_account(&session, None, &anon())
        .await
        .unwrap();
    assert_eq!(*step.asked.lock().unwrap(), [ada.id, ada.id]);
    assert!(t.db.find_user(ada.id).await.unwrap().is_none());
    // A second request of the same deletion (a double click) finds it done.
    t.auth
        .delete_account(&session, None, &anon())
        .await
        .unwrap();
    assert_eq!(events(&t, ada.id).await, ["signed_in", "account_deleted"]);
}

/// What commits while the steps run wins: a ban (a banned user must not free their
/// address by deleting the account) or the end of the asking session (a "this wasn't me"
/// report, a sign-out everywhere) refuses the deletion.
async fn a_ban_or_sign_out_during_the_steps_stops_the_deletion(db: TestDb) {
    let step = Step::default();
    let t = TestAuth::with(db, |c| c.before_account_deletion(step.clone()));
    let ada = t.user("ada@example.com").await;
    let (session, _) = t.sign_in("ada@example.com").await;
    *step.meanwhile.lock().unwrap() = Some(Meanwhile::SignOutEverywhere((*t.db).clone()));
    let refused = t.auth.delete_account(&session, None, &anon()).await;
    assert_eq!(refused.unwrap_err().code(), "unauthorized");
    assert!(t.db.find_user(ada.id).await.unwrap().is_some());

    let (session, _) = t.sign_in("ada@example.com").await;
    *step.meanwhile.lock().unwrap() = Some(Meanwhile::Ban((*t.db).clone()));
    let refused = t.auth.delete_account(&session, None, &anon()).await;
    assert_eq!(refused.unwrap_err().code(), "banned");
    assert!(t.db.find_user(ada.id).await.unwrap().is_some());
    assert!(
        !events(&t, ada.id)
            .await
            .contains(&"account_deleted".to_owned())
    );
}

/// The deletion and its event commit together: when the event cannot be written, the
/// account is not deleted.
async fn a_deletion_whose_event_cannot_be_written_is_not_made(db: TestDb) {
    let t = TestAuth::new(db);
    let ada = t.user("ada@example.com").await;
    let (session, cookie) = t.sign_in("ada@example.com").await;
    t.db.connection()
        .execute_unprepared("DROP TABLE security_events")
        .await
        .unwrap();
    let failed = t
        .auth
        .delete_account(&session, None, &anon())
        .await
        .unwrap_err();
    assert_eq!(failed.code(), "internal");
    assert!(t.db.find_user(ada.id).await.unwrap().is_some());
    assert!(t.auth.get_session(&cookie).await.unwrap().is_some());
}

tollbooth_db::engine_tests!(
    the_account_goes_and_the_records_stay,
    deletion_needs_a_fresh_session_and_the_second_factor,
    a_refusing_step_deletes_nothing,
    a_deletion_whose_event_cannot_be_written_is_not_made,
    a_ban_or_sign_out_during_the_steps_stops_the_deletion,
);
