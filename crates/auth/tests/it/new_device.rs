//! The new sign-in alert: a sign-in from a device the account has not signed in from lately
//! e-mails the owner, in the sign-in's transaction.

use chrono::TimeDelta;
use tollbooth_auth::*;
use tollbooth_db::testing::TestDb;

use crate::common::*;

const FIREFOX_130: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0";
const FIREFOX_131: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0";
const SAFARI: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 \
                      (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";

/// Signs ada in from `ip` with `user_agent`; how many alerts she has been sent since.
async fn sign_in_from(t: &TestAuth, ip: &str, user_agent: &str) -> usize {
    let headers = [("user-agent", user_agent)];
    let request = RequestInfo::new(&headers, ip.parse().unwrap());
    let outcome = t
        .auth
        .sign_in("ada@example.com", PASSWORD, &request)
        .await
        .unwrap();
    assert!(matches!(outcome, SignInOutcome::SignedIn(_)));
    t.auth.flush_background_tasks().await;
    t.outbox
        .sent_to("ada@example.com")
        .iter()
        .filter(|mail| mail.subject() == "New sign-in to your Acme account")
        .count()
}

async fn a_device_not_seen_lately_is_told_to_the_owner(db: TestDb) {
    let t = TestAuth::new(db);
    t.user("ada@example.com").await;
    // The first sign-in has nothing to compare with.
    assert_eq!(sign_in_from(&t, "198.51.100.10", FIREFOX_130).await, 0);
    // The same browser, updated, from another address of the same network: the same device.
    assert_eq!(sign_in_from(&t, "198.51.100.77", FIREFOX_131).await, 0);
    // Another browser: told, with the time, the address, the browser and a way out.
    assert_eq!(sign_in_from(&t, "198.51.100.10", SAFARI).await, 1);
    let alert = t.outbox.sent_to("ada@example.com").pop().unwrap();
    assert!(
        alert.text().contains("from the address 198.51.100.10"),
        "{}",
        alert.text()
    );
    assert!(
        alert
            .text()
            .contains("The browser said: Mozilla/5.0 (iPhone;")
    );
    let report = token_in(alert.text());
    // Now known: not told twice.
    assert_eq!(sign_in_from(&t, "198.51.100.10", SAFARI).await, 1);
    // A known browser from another network: told.
    assert_eq!(sign_in_from(&t, "203.0.113.50", FIREFOX_131).await, 2);
    // The link is the "this wasn't me" of security notices: every session ends.
    t.auth
        .report_unauthorized_change(&report, &anon())
        .await
        .unwrap();
    // After longer than the window (90 days by default) without a sign-in, any device is
    // one not seen lately: a dormant account is what credential stuffing finds.
    t.clock.advance(TimeDelta::days(91));
    assert_eq!(sign_in_from(&t, "198.51.100.10", FIREFOX_130).await, 3);
    assert_eq!(sign_in_from(&t, "198.51.100.10", FIREFOX_130).await, 3);
    assert_eq!(sign_in_from(&t, "192.0.2.1", FIREFOX_130).await, 4);
}

async fn the_alert_can_be_turned_off(db: TestDb) {
    let t = TestAuth::with(db, |c| c.new_sign_in_alert(None));
    t.user("ada@example.com").await;
    assert_eq!(sign_in_from(&t, "198.51.100.10", FIREFOX_130).await, 0);
    assert_eq!(sign_in_from(&t, "203.0.113.50", SAFARI).await, 0);
    assert!(
        AuthConfig::builder("https://app.acme.example")
            .signing_key(key())
            .new_sign_in_alert(Some(TimeDelta::zero()))
            .build()
            .is_err()
    );
}

tollbooth_db::engine_tests!(
    a_device_not_seen_lately_is_told_to_the_owner,
    the_alert_can_be_turned_off,
);
