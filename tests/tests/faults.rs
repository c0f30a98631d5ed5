//! Faults and abuse, black-box: the example servers as processes, with their database or a
//! provider failing underneath them, and hostile input on the webhook and JSON routes.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tollbooth_billing::{WebhookSecret, sign_calcom_webhook, sign_stripe_webhook};
use tollbooth_db::sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait};
use tollbooth_db::{BillingRepo, Db, NewUser, UserRepo};
use tollbooth_tests::*;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn webhook_events(db: &Db) -> u64 {
    tollbooth_db::entities::webhook_event::Entity::find()
        .count(db.connection())
        .await
        .unwrap()
}

async fn users(db: &Db) -> u64 {
    tollbooth_db::entities::user::Entity::find()
        .count(db.connection())
        .await
        .unwrap()
}

/// A `customer.subscription.created` event for `customer`, as 2024-04-10 sends it.
fn subscription_created(id: &str, customer: &str) -> Vec<u8> {
    let now = tollbooth_db::now().timestamp();
    serde_json::to_vec(&json!({
        "id": id, "object": "event", "api_version": "2024-04-10", "created": now,
        "type": "customer.subscription.created",
        "data": { "object": {
            "id": "sub_outage", "object": "subscription", "customer": customer, "status": "active",
            "cancel_at_period_end": false, "current_period_start": now, "current_period_end": now + 2_592_000,
            "items": { "object": "list", "data": [{ "id": "si_1", "price": { "id": "price_pro" }, "quantity": 1 }] },
            "metadata": {}
        } }
    }))
    .unwrap()
}

/// Runs `sql` on the cluster's maintenance database.
async fn as_admin(db: &TestDb, sql: &str) {
    let (cluster, _) = db.url().rsplit_once('/').unwrap();
    let admin = tollbooth_db::connect(format!("{cluster}/postgres"))
        .await
        .unwrap();
    admin.connection().execute_unprepared(sql).await.unwrap();
    admin.close().await.unwrap();
}

/// The database goes away while Stripe delivers an event: the server answers 503 (Stripe
/// retries any non-2xx), records nothing, and applies the redelivery exactly once after the
/// database is back — without a restart.
async fn database_outage_during_a_stripe_webhook(flavor: Flavor) {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let ada = db
        .create_user(NewUser::new("ada@example.com"))
        .await
        .unwrap();
    db.set_stripe_customer_id(ada.id, "cus_outage")
        .await
        .unwrap();
    let stripe = MockServer::start().await;
    let server = Server::start(flavor, db.url(), &stripe_env(&stripe, &[])).await;
    let body = subscription_created("evt_outage", "cus_outage");
    let signature = sign_stripe_webhook(
        &body,
        &WebhookSecret::new(STRIPE_WEBHOOK_SECRET),
        tollbooth_db::now().timestamp(),
    );
    let headers = [("stripe-signature", signature.as_str())];
    let deliver = || post_raw(&server, "/webhooks/stripe", &headers, body.clone());

    let name = db.url().rsplit('/').next().unwrap().to_owned();
    as_admin(
        &db,
        &format!(
            "ALTER DATABASE \"{name}\" WITH ALLOW_CONNECTIONS false; \
             SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid();"
        ),
    )
    .await;
    let Resp {
        status,
        json: error,
        ..
    } = deliver().await;
    assert_eq!(
        (status, error["error"].as_str()),
        (503, Some("unavailable")),
        "{error}"
    );
    assert!(
        !error.to_string().contains("terminat"),
        "no internal detail: {error}"
    );

    as_admin(
        &db,
        &format!("ALTER DATABASE \"{name}\" WITH ALLOW_CONNECTIONS true"),
    )
    .await;
    let fresh = db.connect_again().await;
    assert_eq!(webhook_events(&fresh).await, 0, "nothing marked processed");
    assert!(
        fresh
            .list_subscriptions(ada.id.into())
            .await
            .unwrap()
            .is_empty()
    );

    // Stripe redelivers: the same server process, its pool reconnected.
    let Resp {
        status,
        json: receipt,
        ..
    } = deliver().await;
    assert_eq!(
        (status, receipt["outcome"].as_str()),
        (200, Some("applied")),
        "{receipt}"
    );
    let Resp {
        status,
        json: receipt,
        ..
    } = deliver().await;
    assert_eq!(
        (status, receipt["outcome"].as_str()),
        (200, Some("duplicate"))
    );
    assert_eq!(webhook_events(&fresh).await, 1);
    let subscriptions = fresh.list_subscriptions(ada.id.into()).await.unwrap();
    assert_eq!(subscriptions.len(), 1);
    assert_eq!(subscriptions[0].stripe_subscription_id, "sub_outage");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_during_a_stripe_webhook_axum() {
    database_outage_during_a_stripe_webhook(Flavor::Axum).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_during_a_stripe_webhook_actix() {
    database_outage_during_a_stripe_webhook(Flavor::Actix).await;
}

async fn resend_requests(resend: &MockServer) -> Vec<wiremock::Request> {
    resend.received_requests().await.unwrap()
}

/// Waits until Resend has received `count` requests (the sends happen in the background).
async fn wait_for_requests(resend: &MockServer, count: usize) -> Vec<wiremock::Request> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let requests = resend_requests(resend).await;
        if requests.len() >= count {
            return requests;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {count} requests",
            requests.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn idempotency_key(request: &wiremock::Request) -> String {
    request
        .headers
        .get("idempotency-key")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned()
}

/// Resend is down when a user signs up: the account exists anyway, the welcome e-mail is
/// retried a bounded number of times under one idempotency key (Resend delivers a key at most
/// once), and once Resend is back the user re-requests the link and gets in.
async fn resend_outage_during_sign_up(flavor: Flavor, db: TestDb) {
    let resend = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/emails"))
        .respond_with(ResponseTemplate::new(500).set_body_json(
            json!({ "statusCode": 500, "name": "internal_server_error", "message": "down" }),
        ))
        .mount(&resend)
        .await;
    let env = [
        ("RESEND_API_KEY", "re_test_faults".to_owned()),
        ("RESEND_BASE_URL", resend.uri()),
    ];
    let server = Server::start(flavor, db.url(), &env).await;
    let browser = Browser::new(&server);
    let credentials = json!({ "email": "ada@example.com", "password": PASSWORD });

    let signed_up = browser.post("/auth/sign-up", credentials.clone()).await;
    assert_eq!(signed_up.status, 201, "{signed_up:?}");
    let attempts = wait_for_requests(&resend, 4).await;
    // Longer than any further backoff (full jitter below 4 s) plus the 2/s pacing.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let attempts_after = resend_requests(&resend).await;
    assert_eq!(attempts_after.len(), attempts.len(), "retries are bounded");
    assert_eq!(attempts.len(), 4);
    let key = idempotency_key(&attempts[0]);
    assert!(key.starts_with("welcome/"), "{key}");
    assert!(
        attempts.iter().all(|r| idempotency_key(r) == key),
        "one key across retries"
    );
    // The account exists: the password is right, the address is not verified yet.
    let refused = browser.post("/auth/sign-in", credentials.clone()).await;
    assert_eq!(
        (refused.status, refused.json["error"].as_str()),
        (403, Some("email_not_verified"))
    );

    // Resend is back; the user asks for the link again.
    resend.reset().await;
    Mock::given(method("POST"))
        .and(path("/emails"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "id": "msg_1" })))
        .mount(&resend)
        .await;
    let resent = browser
        .post(
            "/auth/resend-verification",
            json!({ "email": "ada@example.com" }),
        )
        .await;
    assert_eq!(resent.status, 202, "{resent:?}");
    let delivered = wait_for_requests(&resend, 1).await;
    // A second e-mail would follow within the pacing interval (0.5 s); wait well past it.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        resend_requests(&resend).await.len(),
        1,
        "one e-mail, not one per earlier failure"
    );
    let mail: Value = serde_json::from_slice(&delivered[0].body).unwrap();
    assert_eq!(mail["to"], json!(["ada@example.com"]));
    let text = mail["text"].as_str().unwrap();
    let token = text
        .split("/verify-email?token=")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| c.is_whitespace() || c == '&').next())
        .unwrap();
    let verified = browser
        .get(&format!("/auth/verify-email?token={token}"))
        .await;
    assert_eq!(verified.status, 200, "{verified:?}");
    let signed_in = browser.post("/auth/sign-in", credentials).await;
    assert_eq!(signed_in.status, 200, "{signed_in:?}");
}

/// Oversized bodies, JSON bombs, junk and header injection: a 4xx each, the server still
/// healthy, and nothing written.
async fn hostile_bodies_get_4xx_and_write_nothing(flavor: Flavor, db: TestDb) {
    let stripe = MockServer::start().await;
    let env = stripe_env(
        &stripe,
        &[
            ("CALCOM_API_KEY", "cal_key".to_owned()),
            ("CALCOM_WEBHOOK_SECRET", CALCOM_WEBHOOK_SECRET.to_owned()),
            ("CALCOM_API_BASE", stripe.uri()),
        ],
    );
    let server = Server::start(flavor, db.url(), &env).await;
    let stripe_secret = WebhookSecret::new(STRIPE_WEBHOOK_SECRET);
    let cal_secret = WebhookSecret::new(CALCOM_WEBHOOK_SECRET);
    let now = tollbooth_db::now().timestamp();

    let mut oversized =
        br#"{"id":"evt_big","type":"customer.created","data":{"object":{"pad":""#.to_vec();
    oversized.extend(std::iter::repeat_n(b'a', 1_536 * 1024));
    oversized.extend_from_slice(br#""}}}"#);
    let bomb = "[".repeat(200_000).into_bytes();
    let bodies: [(&str, Vec<u8>, u16, &str); 5] = [
        (
            "1.5 MiB, correctly signed",
            oversized,
            413,
            "payload_too_large",
        ),
        ("nested 200,000 deep", bomb, 400, "invalid_payload"),
        (
            "truncated JSON",
            br#"{"id":"evt_1","type":"#.to_vec(),
            400,
            "invalid_payload",
        ),
        (
            "JSON but no event",
            br#"{"hello":"world"}"#.to_vec(),
            400,
            "invalid_payload",
        ),
        (
            "not UTF-8",
            vec![0xff, 0xfe, 0x00, 0x7b],
            400,
            "invalid_payload",
        ),
    ];
    for (what, body, status, code) in bodies {
        let signature = sign_stripe_webhook(&body, &stripe_secret, now);
        let Resp {
            status: got,
            json: error,
            ..
        } = post_raw(
            &server,
            "/webhooks/stripe",
            &[("stripe-signature", &signature)],
            body.clone(),
        )
        .await;
        assert_eq!(
            (got, error["error"].as_str()),
            (status, Some(code)),
            "Stripe, {what}: {error}"
        );
        let signature = sign_calcom_webhook(&body, &cal_secret);
        let Resp {
            status: got,
            json: error,
            ..
        } = post_raw(
            &server,
            "/webhooks/calcom",
            &[("x-cal-signature-256", &signature)],
            body,
        )
        .await;
        assert_eq!(
            (got, error["error"].as_str()),
            (status, Some(code)),
            "Cal.com, {what}: {error}"
        );
    }

    // JSON routes: the wrong content type, and CR/LF smuggled into a header-bound field.
    let form = post_raw(
        &server,
        "/auth/sign-up",
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("origin", &server.public_url),
        ],
        b"email=ada%40example.com&password=x".to_vec(),
    )
    .await;
    assert_eq!(form.status, 415, "{form:?}");
    let browser = Browser::new(&server);
    for email in [
        "ada@example.com\r\nBcc: everyone@example.com",
        "ada@example.com\nSubject: hi",
        "ada\0@example.com",
    ] {
        let injected = browser
            .post(
                "/auth/sign-up",
                json!({ "email": email, "password": PASSWORD }),
            )
            .await;
        assert_eq!(
            (injected.status, injected.json["error"].as_str()),
            (422, Some("invalid_input")),
            "{email:?}"
        );
    }

    assert_eq!(browser.get("/health").await.status, 200);
    let db = db.connect_again().await;
    assert_eq!(webhook_events(&db).await, 0);
    assert_eq!(users(&db).await, 0);
}

contract_tests!(
    resend_outage_during_sign_up,
    hostile_bodies_get_4xx_and_write_nothing
);
