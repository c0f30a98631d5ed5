//! One black-box suite, run against both example servers as real processes: axum and actix
//! on SQLite, and axum on PostgreSQL. Then two instances sharing one PostgreSQL.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tollbooth_billing::{WebhookSecret, sign_calcom_webhook, sign_stripe_webhook};
use tollbooth_db::testing::TestDb;
use tollbooth_db::{BookingRepo, WebhookEventRepo, WebhookSource};
use tollbooth_tests::*;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn sign_up_verify_sign_in_me_sign_out(flavor: Flavor, db: TestDb) {
    let server = Server::start(flavor, db.url(), &[]).await;
    let browser = Browser::new(&server);
    let user = verified_user(&server, &browser, "ada@example.com").await;
    assert_eq!(
        (user["email"].as_str(), user["email_verified"].as_bool()),
        (Some("ada@example.com"), Some(true))
    );

    let me = browser.get("/me").await;
    assert_eq!(
        (me.status, me.json["user"]["email"].as_str()),
        (200, Some("ada@example.com"))
    );
    assert!(me.header("x-request-id").is_some_and(|id| !id.is_empty()));
    let session = browser.get("/auth/session").await;
    assert_eq!(session.status, 200);
    let sessions = browser.get("/auth/sessions").await;
    assert_eq!(sessions.json["sessions"][0]["current"], json!(true));

    let signed_out = browser.post("/auth/sign-out", json!({})).await;
    assert_eq!(signed_out.status, 204);
    assert!(signed_out.set_cookies()[0].contains("Max-Age=0"));
    assert_eq!(browser.get("/me").await.status, 401);
    // The example's application hooks heard both, after they committed.
    for event in ["user_created", "signed_in"] {
        assert!(
            server.logged(&format!("event=\"{event}\"")).await,
            "{event}: {}",
            server.logs()
        );
    }
}

async fn documented_error_statuses(flavor: Flavor, db: TestDb) {
    let server = Server::start(
        flavor,
        db.url(),
        &[("ADMIN_EMAILS", "root@example.com".to_owned())],
    )
    .await;
    let anonymous = Browser::new(&server);
    let me = anonymous.get("/me").await;
    assert_eq!(
        (me.status, me.json["error"].as_str()),
        (401, Some("unauthorized"))
    );

    let ada = Browser::new(&server);
    verified_user(&server, &ada, "ada@example.com").await;
    let admin_only = ada.get("/admin/stats").await;
    assert_eq!(
        (admin_only.status, admin_only.json["error"].as_str()),
        (403, Some("forbidden"))
    );
    let root = Browser::new(&server);
    verified_user(&server, &root, "root@example.com").await;
    assert_eq!(root.get("/admin/stats").await.status, 200);

    let taken = anonymous
        .post(
            "/auth/sign-up",
            json!({ "email": "ADA@example.com", "password": PASSWORD }),
        )
        .await;
    assert_eq!(
        (taken.status, taken.json["error"].as_str()),
        (409, Some("email_taken"))
    );
    let weak = anonymous
        .post(
            "/auth/sign-up",
            json!({ "email": "bob@example.com", "password": "password1" }),
        )
        .await;
    assert_eq!(
        (weak.status, weak.json["error"].as_str()),
        (422, Some("invalid_password"))
    );

    // Five failed sign-ins for one address, then backoff: 429 with Retry-After.
    for _ in 0..5 {
        let wrong = anonymous
            .post(
                "/auth/sign-in",
                json!({ "email": "mallory@example.com", "password": "guess" }),
            )
            .await;
        assert_eq!(
            (wrong.status, wrong.json["error"].as_str()),
            (401, Some("invalid_credentials"))
        );
    }
    let limited = anonymous
        .post(
            "/auth/sign-in",
            json!({ "email": "mallory@example.com", "password": "guess" }),
        )
        .await;
    assert_eq!(
        (limited.status, limited.json["error"].as_str()),
        (429, Some("rate_limited"))
    );
    assert!(
        limited
            .header("retry-after")
            .and_then(|s| s.parse::<u64>().ok())
            .is_some_and(|s| s > 0)
    );
}

async fn session_fixation_and_cookie_attributes(flavor: Flavor, db: TestDb) {
    let server = Server::start(flavor, db.url(), &[]).await;
    let attacker = Browser::new(&server);
    verified_user(&server, &attacker, "mallory@example.com").await;
    let planted = attacker
        .cookie("__Host-tollbooth.session")
        .expect("attacker's cookie");

    // The victim's browser carries the attacker's cookie when the victim signs in.
    let victim = Browser::new(&server);
    let signed_up = victim
        .post(
            "/auth/sign-up",
            json!({ "email": "ada@example.com", "password": PASSWORD }),
        )
        .await;
    assert_eq!(signed_up.status, 201);
    let token = server
        .emailed_token("ada@example.com", "/verify-email")
        .await;
    victim
        .get(&format!("/auth/verify-email?token={token}"))
        .await;
    victim.set_cookie("__Host-tollbooth.session", &planted);
    let signed_in = victim
        .post(
            "/auth/sign-in",
            json!({ "email": "ada@example.com", "password": PASSWORD }),
        )
        .await;
    assert_eq!(signed_in.status, 200);
    let cookie = signed_in
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("__Host-tollbooth.session="))
        .expect("cookie");
    for attribute in [
        "HttpOnly",
        "Secure",
        "SameSite=Strict",
        "Path=/",
        "Max-Age=",
    ] {
        assert!(cookie.contains(attribute), "{attribute} missing: {cookie}");
    }
    assert!(!cookie.contains("Domain="));
    assert_ne!(
        victim.cookie("__Host-tollbooth.session").as_deref(),
        Some(planted.as_str()),
        "new session id"
    );
    // The cookie from before the sign-in is dead.
    assert_eq!(attacker.get("/me").await.status, 401);
    assert_eq!(
        victim.get("/me").await.json["user"]["email"],
        "ada@example.com"
    );
}

async fn mfa_sign_in(flavor: Flavor, db: TestDb) {
    let server = Server::start(flavor, db.url(), &[]).await;
    let browser = Browser::new(&server);
    verified_user(&server, &browser, "ada@example.com").await;
    let enrollment = browser.post("/auth/mfa/enroll", json!({})).await;
    assert_eq!(enrollment.status, 200, "{enrollment:?}");
    assert!(
        enrollment.json["qr_png_base64"]
            .as_str()
            .is_some_and(|q| q.len() > 100)
    );
    let secret = enrollment.json["secret"].as_str().unwrap().to_owned();
    let confirmed = browser
        .post("/auth/mfa/confirm", json!({ "code": totp_now(&secret, 0) }))
        .await;
    assert_eq!(confirmed.status, 200, "{confirmed:?}");
    let backup_codes = confirmed.json["backup_codes"].as_array().unwrap().clone();
    assert_eq!(backup_codes.len(), 10);
    browser.post("/auth/sign-out", json!({})).await;

    let first = browser
        .post(
            "/auth/sign-in",
            json!({ "email": "ada@example.com", "password": PASSWORD }),
        )
        .await;
    assert_eq!(
        (first.status, &first.json["mfa_required"]),
        (200, &json!(true))
    );
    assert!(
        first.set_cookies().is_empty(),
        "no session before the second factor"
    );
    let challenge = first.json["challenge"].as_str().unwrap();
    let wrong = browser
        .post(
            "/auth/mfa/verify",
            json!({ "challenge": challenge, "code": "000000" }),
        )
        .await;
    assert_eq!(
        (wrong.status, wrong.json["error"].as_str()),
        (401, Some("invalid_mfa_code"))
    );
    let backup = backup_codes[0].as_str().unwrap();
    let verified = browser
        .post(
            "/auth/mfa/verify",
            json!({ "challenge": challenge, "code": backup }),
        )
        .await;
    assert_eq!(verified.status, 200, "{verified:?}");
    assert_eq!(browser.get("/me").await.status, 200);
    assert_eq!(
        browser.get("/auth/mfa").await.json,
        json!({ "enabled": true, "backup_codes_left": 9 })
    );
}

async fn github_oauth_flow(flavor: Flavor, db: TestDb) {
    let github = github_stand_in().await;
    let env = [
        ("GITHUB_CLIENT_ID", "gh-id".to_owned()),
        ("GITHUB_CLIENT_SECRET", "gh-secret".to_owned()),
        ("GITHUB_OAUTH_BASE", github.uri()),
    ];
    let server = Server::start(flavor, db.url(), &env).await;
    let browser = Browser::new(&server);

    let start = browser.get("/auth/oauth/github?return_to=/dashboard").await;
    assert_eq!(start.status, 302);
    let location = url::Url::parse(start.header("location").unwrap()).unwrap();
    assert!(
        location
            .as_str()
            .starts_with(&format!("{}/authorize?", github.uri()))
    );
    let query: std::collections::HashMap<String, String> =
        location.query_pairs().into_owned().collect();
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(
        query["redirect_uri"],
        format!("{}/auth/oauth/github/callback", server.base)
    );
    let state = &query["state"];

    // Another browser (no state cookie) cannot complete it.
    let stranger = Browser::new(&server)
        .get(&format!("/auth/oauth/github/callback?code=c&state={state}"))
        .await;
    assert_eq!(
        (stranger.status, stranger.json["error"].as_str()),
        (400, Some("invalid_oauth_state"))
    );

    let back = browser
        .get(&format!("/auth/oauth/github/callback?code=c&state={state}"))
        .await;
    assert_eq!(
        (back.status, back.header("location")),
        (303, Some("/dashboard")),
        "{back:?}"
    );
    let me = browser.get("/me").await;
    assert_eq!(
        (
            me.json["user"]["email"].as_str(),
            me.json["user"]["email_verified"].as_bool()
        ),
        (Some("grace@example.com"), Some(true))
    );
    let methods = browser.get("/auth/sign-in-methods").await;
    assert_eq!(methods.status, 200, "{methods:?}");
    let listed: Vec<(&str, Option<&str>)> = methods.json["methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["provider"].as_str().unwrap(), m["email"].as_str()))
        .collect();
    assert_eq!(listed, [("github", Some("grace@example.com"))]);
    assert_eq!(
        Browser::new(&server)
            .get("/auth/sign-in-methods")
            .await
            .status,
        401
    );
    // Replaying the callback fails.
    assert_eq!(
        browser
            .get(&format!("/auth/oauth/github/callback?code=c&state={state}"))
            .await
            .status,
        400
    );
}

/// Google's signing key and JWKS stand-ins, shared with tollbooth-auth's own OAuth tests.
const GOOGLE_KEY: &str = include_str!("../../crates/auth/tests/fixtures/google_test_key.pem");
const GOOGLE_JWKS: &str = include_str!("../../crates/auth/tests/fixtures/google_jwks.json");
const ATTACKER_KEY: &str = include_str!("../../crates/auth/tests/fixtures/attacker_key.pem");

/// An id_token for `sub` as Google would sign it with `key`.
fn google_id_token(nonce: &str, key: &str) -> String {
    let now = tollbooth_db::now().timestamp();
    let claims = json!({
        "iss": "https://accounts.google.com", "aud": "g-id", "sub": "1101694844",
        "email": "katherine@example.com", "email_verified": true, "name": "Katherine Johnson",
        "nonce": nonce, "iat": now, "exp": now + 3600
    });
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some("test-key-1".to_owned());
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(key.as_bytes()).unwrap();
    jsonwebtoken::encode(&header, &claims, &key).unwrap()
}

async fn google_oauth_flow(flavor: Flavor, db: TestDb) {
    let google = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/jwks"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(GOOGLE_JWKS, "application/json"))
        .mount(&google)
        .await;
    let env = [
        ("GOOGLE_CLIENT_ID", "g-id".to_owned()),
        ("GOOGLE_CLIENT_SECRET", "g-secret".to_owned()),
        ("GOOGLE_OAUTH_BASE", google.uri()),
    ];
    let server = Server::start(flavor, db.url(), &env).await;
    let browser = Browser::new(&server);
    // Each sign-in attempt: start, let "Google" answer the code with `key`'s id_token, call back.
    let attempt = |key: &'static str| {
        let (browser, google) = (&browser, &google);
        async move {
            let start = browser.get("/auth/oauth/google").await;
            assert_eq!(start.status, 302);
            let location = url::Url::parse(start.header("location").unwrap()).unwrap();
            let query: std::collections::HashMap<String, String> =
                location.query_pairs().into_owned().collect();
            assert_eq!(query["code_challenge_method"], "S256");
            let token = google_id_token(&query["nonce"], key);
            Mock::given(method("POST"))
                .and(path("/token"))
                .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                    "access_token": "ya29.x", "token_type": "Bearer", "expires_in": 3599, "id_token": token
                })))
                .up_to_n_times(1)
                .mount(google)
                .await;
            browser
                .get(&format!(
                    "/auth/oauth/google/callback?code=c&state={}",
                    query["state"]
                ))
                .await
        }
    };

    // An id_token signed by anyone but Google is refused, and nobody is signed in.
    let forged = attempt(ATTACKER_KEY).await;
    assert_eq!(
        (forged.status, forged.json["error"].as_str()),
        (401, Some("oauth_rejected")),
        "{forged:?}"
    );
    assert_eq!(browser.get("/me").await.status, 401);

    let back = attempt(GOOGLE_KEY).await;
    assert_eq!(back.status, 303, "{back:?}");
    let me = browser.get("/me").await;
    assert_eq!(me.json["user"]["email"], "katherine@example.com");
    assert_eq!(me.json["user"]["email_verified"], true);
}

async fn checkout_and_signed_stripe_webhooks(flavor: Flavor, db: TestDb) {
    let stripe = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/customers"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ "id": "cus_bb", "object": "customer" })),
        )
        .mount(&stripe)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({ "id": "cs_bb", "url": "https://checkout.stripe.com/c/pay/cs_bb" }),
        ))
        .mount(&stripe)
        .await;
    let server = Server::start(flavor, db.url(), &stripe_env(&stripe, &[])).await;
    let browser = Browser::new(&server);
    verified_user(&server, &browser, "ada@example.com").await;

    let checkout = browser
        .post("/billing/checkout", json!({ "plan": "pro" }))
        .await;
    assert_eq!(
        (checkout.status, checkout.json["url"].as_str()),
        (200, Some("https://checkout.stripe.com/c/pay/cs_bb")),
        "{checkout:?}"
    );
    let sent = stripe.received_requests().await.unwrap();
    let session_request = sent
        .iter()
        .find(|r| r.url.path() == "/v1/checkout/sessions")
        .unwrap();
    assert_eq!(
        session_request.headers.get("stripe-version").unwrap(),
        "2024-04-10"
    );
    let form = String::from_utf8_lossy(&session_request.body).into_owned();
    assert!(
        form.contains("subscription_data[trial_period_days]=14"),
        "{form}"
    );
    assert!(form.contains("line_items[0][price]=price_pro"), "{form}");
    assert_eq!(
        browser
            .post("/billing/checkout", json!({ "plan": "free" }))
            .await
            .status,
        422
    );

    // Return URLs stay on this site: a path resolves under the public URL, and another
    // origin is refused before Stripe hears of it (no open redirect by way of Checkout).
    let success_url = |request: &wiremock::Request| {
        tollbooth_billing::url::form_urlencoded::parse(&request.body)
            .find(|(key, _)| key == "success_url")
            .map(|(_, value)| value.into_owned())
    };
    assert_eq!(
        success_url(session_request).as_deref(),
        Some(
            format!(
                "{}/billing/checkout/success?session_id={{CHECKOUT_SESSION_ID}}",
                server.public_url
            )
            .as_str()
        )
    );
    // (Another user: Ada's open session would be handed out again as it is.)
    let bob = Browser::new(&server);
    verified_user(&server, &bob, "bob@example.com").await;
    let custom = bob
        .post(
            "/billing/checkout",
            json!({ "plan": "pro", "success_url": "/welcome?from=checkout" }),
        )
        .await;
    assert_eq!(custom.status, 200, "{custom:?}");
    let sessions = || async {
        let sent = stripe.received_requests().await.unwrap();
        sent.into_iter()
            .filter(|r| r.url.path() == "/v1/checkout/sessions")
            .collect::<Vec<_>>()
    };
    let latest = sessions().await.pop().unwrap();
    assert_eq!(
        success_url(&latest),
        Some(format!("{}/welcome?from=checkout", server.public_url))
    );
    let sent_before = stripe.received_requests().await.unwrap().len();
    for elsewhere in [
        "https://evil.example/phish",
        "//evil.example/x",
        "/\\evil.example/x",
    ] {
        let refused = bob
            .post(
                "/billing/checkout",
                json!({ "plan": "pro", "cancel_url": elsewhere }),
            )
            .await;
        assert_eq!(
            (refused.status, refused.json["error"].as_str()),
            (422, Some("invalid_input")),
            "{elsewhere}: {refused:?}"
        );
    }
    assert_eq!(stripe.received_requests().await.unwrap().len(), sent_before);

    let now = tollbooth_db::now().timestamp();
    let event = json!({
        "id": "evt_bb_1", "type": "customer.subscription.created", "created": now,
        "data": { "object": { "id": "sub_bb", "customer": "cus_bb", "status": "trialing", "trial_end": now + 14 * 86_400,
            "current_period_end": now + 14 * 86_400,
            "items": { "data": [{ "price": { "id": "price_pro" }, "quantity": 1 }] } } }
    });
    let body = serde_json::to_vec(&event).unwrap();
    let signature = sign_stripe_webhook(&body, &WebhookSecret::new(STRIPE_WEBHOOK_SECRET), now);
    let webhook = Browser::at(&server.base);
    let delivered = webhook
        .send(reqwest::Method::POST, "/webhooks/stripe", None, &[])
        .await;
    assert_eq!(delivered.status, 400, "unsigned and empty");
    let raw = reqwest::Client::new()
        .post(format!("{}/webhooks/stripe", server.base))
        .header("stripe-signature", &signature)
        .header("content-type", "application/json")
        .body(body.clone());
    let first = raw.try_clone().unwrap().send().await.unwrap();
    assert_eq!(first.status(), 200);
    assert_eq!(first.json::<Value>().await.unwrap()["outcome"], "applied");
    let again = raw.send().await.unwrap();
    assert_eq!(again.json::<Value>().await.unwrap()["outcome"], "duplicate");

    let subscription = browser.get("/billing/subscription").await;
    assert_eq!(
        (
            subscription.json["plan"].as_str(),
            subscription.json["subscription"]["status"].as_str()
        ),
        (Some("pro"), Some("trialing"))
    );
    assert_eq!(
        browser
            .post("/billing/checkout", json!({ "plan": "pro" }))
            .await
            .status,
        409,
        "already subscribed"
    );
}

async fn bad_webhook_signatures_write_nothing(flavor: Flavor, db: TestDb) {
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
    let client = reqwest::Client::new();
    let body = br#"{"id":"evt_forged","type":"customer.subscription.deleted","created":1,"data":{"object":{}}}"#;
    let forged = sign_stripe_webhook(
        body,
        &WebhookSecret::new("whsec_not_ours"),
        tollbooth_db::now().timestamp(),
    );
    for signature in [Some(forged.as_str()), Some("t=1,v1=00"), None] {
        let mut request = client
            .post(format!("{}/webhooks/stripe", server.base))
            .body(&body[..]);
        if let Some(signature) = signature {
            request = request.header("stripe-signature", signature);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 400);
        assert_eq!(
            response.json::<Value>().await.unwrap()["error"],
            "invalid_signature"
        );
    }
    let cal_body = br#"{"triggerEvent":"BOOKING_CREATED","payload":{"uid":"forged"}}"#;
    for signature in ["no-secret-provided", "deadbeef"] {
        let response = client
            .post(format!("{}/webhooks/calcom", server.base))
            .header("x-cal-signature-256", signature)
            .body(&cal_body[..])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400);
    }
    assert!(
        db.find_webhook_event(WebhookSource::Stripe, "evt_forged")
            .await
            .unwrap()
            .is_none()
    );
    assert!(db.find_booking("forged").await.unwrap().is_none());
}

async fn calcom_webhook_creates_a_booking(flavor: Flavor, db: TestDb) {
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
    let event = json!({
        "triggerEvent": "BOOKING_CREATED", "createdAt": "2026-11-25T10:00:00.000Z",
        "payload": {
            "uid": "bb-uid-1", "eventTypeId": 42, "title": "Intro call",
            "startTime": "2026-12-01T10:00:00.000Z", "endTime": "2026-12-01T10:30:00.000Z",
            "organizer": { "name": "Ada", "email": "ada@acme.example", "timeZone": "Europe/London" },
            "attendees": [{ "name": "Grace", "email": "grace@example.com", "timeZone": "America/New_York" }],
            "responses": { "email": { "label": "email_address", "value": "grace@example.com" } },
            "metadata": { "videoCallUrl": "https://app.cal.com/video/bb-uid-1" }
        }
    });
    let body = serde_json::to_vec(&event).unwrap();
    let signature = sign_calcom_webhook(&body, &WebhookSecret::new(CALCOM_WEBHOOK_SECRET));
    let response = reqwest::Client::new()
        .post(format!("{}/webhooks/calcom", server.base))
        .header("x-cal-signature-256", signature)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await.unwrap()["outcome"],
        "applied"
    );
    let booking = db
        .find_booking("bb-uid-1")
        .await
        .unwrap()
        .expect("booking stored");
    assert_eq!(booking.attendee_email.as_deref(), Some("grace@example.com"));
}

/// A subscription object as Stripe's 2024-04-10 API sends it.
fn subscription(id: &str, customer: &str, status: &str, price: &str, created: i64) -> Value {
    let now = tollbooth_db::now().timestamp();
    json!({
        "id": id, "object": "subscription", "customer": customer, "status": status, "created": created,
        "cancel_at_period_end": false, "current_period_end": now + 30 * 86_400,
        "items": { "data": [{ "price": { "id": price, "product": "prod_pro" }, "quantity": 1 }] }
    })
}

async fn billing_follows_what_stripe_says_is_paid(flavor: Flavor, db: TestDb) {
    let stripe = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/customers"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ "id": "cus_bb", "object": "customer" })),
        )
        .mount(&stripe)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(IdempotentCheckout::default())
        .mount(&stripe)
        .await;
    let mut cancelled = subscription("sub_2", "cus_bb", "canceled", "price_pro", 2);
    cancelled["latest_invoice"] = json!({ "object": "invoice", "amount_due": 1900, "amount_paid": 1900,
                                         "currency": "usd", "payment_intent": "pi_dup" });
    Mock::given(method("DELETE"))
        .and(path("/v1/subscriptions/sub_2"))
        // Slow enough that the duplicate is seen live before Stripe cancels it.
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(cancelled)
                .set_delay(Duration::from_secs(1)),
        )
        .mount(&stripe)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/refunds"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({ "id": "re_1", "object": "refund" })),
        )
        .mount(&stripe)
        .await;
    let env = stripe_env(
        &stripe,
        &[("STRIPE_LEGACY_PRICES_PRO", "price_pro_2024".to_owned())],
    );
    let server = Server::start(flavor, db.url(), &env).await;
    let browser = Browser::new(&server);
    verified_user(&server, &browser, "ada@example.com").await;

    // A double click: two checkouts at once, one Stripe session; and again later, the same.
    let checkout = || browser.post("/billing/checkout", json!({ "plan": "pro" }));
    let (first, second) = tokio::join!(checkout(), checkout());
    assert_eq!(
        (first.status, second.status),
        (200, 200),
        "{first:?} {second:?}"
    );
    assert_eq!(first.json["url"], second.json["url"]);
    assert_eq!(checkout().await.json["url"], first.json["url"]);

    // The first payment is not made (3-D Secure pending): no plan, and no second checkout.
    let incomplete = subscription("sub_1", "cus_bb", "incomplete", "price_pro", 1);
    let applied = deliver_stripe(
        &server,
        &stripe_event("evt_1", "customer.subscription.created", incomplete),
    )
    .await;
    assert_eq!(applied.json["outcome"], "applied", "{applied:?}");
    let state = browser.get("/billing/subscription").await;
    assert_eq!(
        (
            state.json["plan"].as_str(),
            state.json["subscription"]["status"].as_str()
        ),
        (Some("free"), Some("incomplete")),
        "{state:?}"
    );
    assert_eq!(checkout().await.status, 409);

    // Paid, on last year's price: Pro. (Both events are likely of the same second: Stripe's
    // own state, read back, decides then.)
    let active = subscription("sub_1", "cus_bb", "active", "price_pro_2024", 1);
    Mock::given(method("GET"))
        .and(path("/v1/subscriptions/sub_1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(active.clone()))
        .mount(&stripe)
        .await;
    let applied = deliver_stripe(
        &server,
        &stripe_event("evt_2", "customer.subscription.updated", active),
    )
    .await;
    assert_eq!(applied.json["outcome"], "applied", "{applied:?}");
    assert_eq!(
        browser.get("/billing/subscription").await.json["plan"],
        "pro"
    );

    // A second live subscription of the same customer is never hidden, and is cancelled
    // and refunded in Stripe.
    let second = subscription("sub_2", "cus_bb", "active", "price_pro", 2);
    let applied = deliver_stripe(
        &server,
        &stripe_event("evt_3", "customer.subscription.created", second),
    )
    .await;
    assert_eq!(applied.json["outcome"], "applied", "{applied:?}");
    let state = browser.get("/billing/subscription").await;
    assert_eq!(state.json["subscription"]["id"], "sub_1", "{state:?}");
    let listed = state.json["subscriptions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let duplicate = listed.iter().find(|s| s["id"] == "sub_2");
    assert_eq!(
        (listed.len(), duplicate.map(|d| &d["duplicate_of"])),
        (2, Some(&json!("sub_1"))),
        "{state:?}"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let sent = stripe.received_requests().await.unwrap();
        if sent.iter().any(|r| r.url.path() == "/v1/refunds") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "duplicate never refunded"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let state = browser.get("/billing/subscription").await;
    assert_eq!(state.json["plan"], "pro");
    let listed = state.json["subscriptions"].as_array().unwrap();
    assert_eq!(
        listed.len(),
        1,
        "the cancelled duplicate has ended: {state:?}"
    );
}

async fn provider_failures_answer_without_their_detail(flavor: Flavor, db: TestDb) {
    let stripe = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/customers"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({ "error": {
            "type": "invalid_request_error", "message": "No such price: 'price_pro'; a similar object exists in live mode"
        } })))
        .mount(&stripe)
        .await;
    let server = Server::start(flavor, db.url(), &stripe_env(&stripe, &[])).await;
    let browser = Browser::new(&server);
    verified_user(&server, &browser, "ada@example.com").await;
    let refused = browser
        .post("/billing/checkout", json!({ "plan": "pro" }))
        .await;
    assert_eq!(
        (refused.status, refused.json["error"].as_str()),
        (502, Some("payment_provider_error")),
        "{refused:?}"
    );
    let message = refused.json["message"].as_str().unwrap();
    for detail in ["Stripe", "404", "price_pro", "live mode"] {
        assert!(!message.contains(detail), "{detail} in {message}");
    }
    assert!(server.logged("No such price").await, "the cause is logged");
}

async fn refunded_and_rescheduled_paid_sessions(flavor: Flavor, db: TestDb) {
    let stripe = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/event-types/42"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({ "status": "success", "data": {
            "id": 42, "slug": "intro", "users": [{ "username": "ada" }] } })),
        )
        .mount(&stripe)
        .await;
    let env = stripe_env(
        &stripe,
        &[
            ("CALCOM_API_KEY", "cal_key".to_owned()),
            ("CALCOM_WEBHOOK_SECRET", CALCOM_WEBHOOK_SECRET.to_owned()),
            ("CALCOM_API_BASE", stripe.uri()),
        ],
    );
    let server = Server::start(flavor, db.url(), &env).await;
    let browser = Browser::new(&server);
    let user = verified_user(&server, &browser, "grace@example.com").await;
    let paid = |id: &str| {
        json!({ "id": id, "object": "payment_intent", "amount": 20000, "currency": "usd", "status": "succeeded",
                "metadata": { "user_id": user["id"], "calcom_event_type_id": "42" } })
    };
    let booking = |trigger: &str, uid: &str, at: &str, extra: Value| {
        let mut payload = json!({ "uid": uid, "eventTypeId": 42, "startTime": "2026-12-01T10:00:00.000Z",
                                  "endTime": "2026-12-01T10:30:00.000Z", "metadata": {} });
        for (k, v) in extra.as_object().unwrap() {
            payload[k] = v.clone();
        }
        json!({ "triggerEvent": trigger, "createdAt": at, "payload": payload })
    };
    for id in ["pi_refunded", "pi_moved"] {
        let receipt = deliver_stripe(
            &server,
            &stripe_event(&format!("evt_{id}"), "payment_intent.succeeded", paid(id)),
        )
        .await;
        assert_eq!(receipt.json["outcome"], "applied", "{receipt:?}");
    }

    // Refunded in full: the paid session yields no booking link.
    let refund = json!({ "id": "ch_1", "object": "charge", "amount": 20000, "amount_refunded": 20000,
                         "refunded": true, "payment_intent": "pi_refunded" });
    let applied = deliver_stripe(
        &server,
        &stripe_event("evt_refund", "charge.refunded", refund),
    )
    .await;
    assert_eq!(applied.json["outcome"], "applied", "{applied:?}");
    let link = browser
        .get("/billing/payments/pi_refunded/booking-link")
        .await;
    assert_eq!(
        (link.status, link.json["error"].as_str()),
        (409, Some("payment_refunded")),
        "{link:?}"
    );

    // Booked, rescheduled, then the new booking cancelled: bookable again.
    let metadata = json!({ "metadata": { "payment_intent": "pi_moved", "user_id": user["id"] } });
    let steps = [
        booking(
            "BOOKING_CREATED",
            "bb-1",
            "2026-11-25T10:00:00.000Z",
            metadata,
        ),
        booking(
            "BOOKING_RESCHEDULED",
            "bb-2",
            "2026-11-25T11:00:00.000Z",
            json!({ "rescheduleUid": "bb-1" }),
        ),
    ];
    for step in &steps {
        assert_eq!(
            deliver_calcom(&server, step).await.json["outcome"],
            "applied"
        );
    }
    let link = browser.get("/billing/payments/pi_moved/booking-link").await;
    assert_eq!(
        (link.status, link.json["error"].as_str()),
        (409, Some("already_booked"))
    );
    let cancel = booking(
        "BOOKING_CANCELLED",
        "bb-2",
        "2026-11-25T12:00:00.000Z",
        json!({}),
    );
    deliver_calcom(&server, &cancel).await;
    let link = browser.get("/billing/payments/pi_moved/booking-link").await;
    assert_eq!(link.status, 200, "{link:?}");
    assert!(link.json["url"].as_str().unwrap().contains("/ada/intro"));
}

async fn emails_survive_a_stop_between_commit_and_send(flavor: Flavor, db: TestDb) {
    let stripe = MockServer::start().await;
    // An instance that commits but never sends: killed before any worker runs.
    let quiet = stripe_env(&stripe, &[("EMAIL_OUTBOX_WORKER", "false".to_owned())]);
    let first = Server::start(flavor, db.url(), &quiet).await;
    let browser = Browser::new(&first);
    sign_up(&browser, "ada@example.com").await;
    let user = db_user_id(&db, "ada@example.com").await;
    let completed = json!({ "id": "cs_1", "object": "checkout.session", "mode": "subscription",
        "customer": "cus_1", "client_reference_id": user, "metadata": { "plan": "pro" } });
    let event = stripe_event("evt_done", "checkout.session.completed", completed);
    assert_eq!(
        deliver_stripe(&first, &event).await.json["outcome"],
        "applied"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !first.logs().contains("console transport"),
        "nothing sent yet:\n{}",
        first.logs()
    );
    first.signal("KILL");
    drop(first);

    // The next instance finds both e-mails in the outbox and sends each once.
    let second = Server::start(flavor, db.url(), &stripe_env(&stripe, &[])).await;
    let token = second
        .emailed_token("ada@example.com", "/verify-email")
        .await;
    assert!(!token.is_empty());
    let key = "stripe/evt_done/confirmed/0";
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while second.emails_with_key(key) == 0 {
        assert!(std::time::Instant::now() < deadline, "{}", second.logs());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Stripe redelivers: a duplicate, and no second e-mail.
    assert_eq!(
        deliver_stripe(&second, &event).await.json["outcome"],
        "duplicate"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(second.emails_with_key(key), 1);
    assert_eq!(
        second.emails_with_key(&format!("welcome/{}", user.as_str().unwrap())),
        1
    );
}

/// The id of the user with this e-mail, read from the database.
async fn db_user_id(db: &TestDb, email: &str) -> Value {
    use tollbooth_db::UserRepo;
    let user = db.find_user_by_email(email).await.unwrap().expect("user");
    json!(user.id.to_string())
}

/// Follows a GitHub round trip started at `start` (a `/auth/oauth/github…` path) through
/// the stand-in; the callback's answer.
async fn through_github(browser: &Browser, start: &str) -> Resp {
    let started = browser.get(start).await;
    assert_eq!(started.status, 302, "{started:?}");
    let location = url::Url::parse(started.header("location").unwrap()).unwrap();
    let state = location
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    browser
        .get(&format!("/auth/oauth/github/callback?code=c&state={state}"))
        .await
}

async fn a_stolen_session_is_stopped_and_the_owner_undoes_it(flavor: Flavor, db: TestDb) {
    let github = github_stand_in().await;
    let env = [
        ("GITHUB_CLIENT_ID", "gh-id".to_owned()),
        ("GITHUB_CLIENT_SECRET", "gh-secret".to_owned()),
        ("GITHUB_OAUTH_BASE", github.uri()),
        ("REAUTHENTICATION_WINDOW_SECONDS", "2".to_owned()),
    ];
    let server = Server::start(flavor, db.url(), &env).await;
    let owner = Browser::new(&server);
    verified_user(&server, &owner, "ada@example.com").await;
    // The attacker holds a copy of the owner's session cookie, no longer fresh.
    let attacker = owner.moved_to(&server);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let refused = attacker.post("/auth/mfa/enroll", json!({})).await;
    assert_eq!(
        (refused.status, refused.json["error"].as_str()),
        (403, Some("reauthentication_required")),
        "{refused:?}"
    );
    let refused = attacker.get("/auth/oauth/github/link").await;
    assert_eq!(refused.status, 403, "{refused:?}");
    let wrong = attacker
        .post("/auth/reauthenticate", json!({ "password": "a guess" }))
        .await;
    assert_eq!(wrong.status, 401);

    // Suppose the password leaked too: re-authenticated, both changes go through.
    let again = attacker
        .post("/auth/reauthenticate", json!({ "password": PASSWORD }))
        .await;
    assert_eq!(again.status, 204, "{again:?}");
    let enrollment = attacker.post("/auth/mfa/enroll", json!({})).await;
    let secret = enrollment.json["secret"].as_str().unwrap().to_owned();
    let confirmed = attacker
        .post("/auth/mfa/confirm", json!({ "code": totp_now(&secret, 0) }))
        .await;
    assert_eq!(confirmed.status, 200, "{confirmed:?}");
    let linked = through_github(&attacker, "/auth/oauth/github/link").await;
    assert_eq!(linked.status, 303, "{linked:?}");

    // The owner reads the notice and says "this wasn't me": every session ends, and the
    // recovery reset removes the second factor and the provider link.
    let report = server
        .emailed_token("ada@example.com", "/security-report")
        .await;
    let mail_client = Browser::new(&server);
    let reported = mail_client
        .post("/auth/security-report", json!({ "token": report }))
        .await;
    assert_eq!(reported.status, 200, "{reported:?}");
    assert_eq!(attacker.get("/me").await.status, 401);
    let reset = mail_client
        .post(
            "/auth/reset-password",
            json!({ "token": reported.json["reset_token"], "password": "the owner's new passphrase" }),
        )
        .await;
    assert_eq!(reset.status, 204, "{reset:?}");
    let signed_in = mail_client
        .post(
            "/auth/sign-in",
            json!({ "email": "ada@example.com", "password": "the owner's new passphrase" }),
        )
        .await;
    assert_eq!(
        (signed_in.status, signed_in.json["user"]["email"].as_str()),
        (200, Some("ada@example.com")),
        "no second factor in front of the owner: {signed_in:?}"
    );
    // The attacker's GitHub identity no longer leads into the owner's account.
    let back_door = Browser::new(&server);
    through_github(&back_door, "/auth/oauth/github").await;
    assert_eq!(
        back_door.get("/me").await.json["user"]["email"],
        "grace@example.com"
    );
}

async fn per_ip_limits_see_clients_behind_a_trusted_proxy(flavor: Flavor, db: TestDb) {
    let behind_proxy = [("TRUSTED_PROXIES", "127.0.0.1/32, ::1".to_owned())];
    let server = Server::start(flavor, db.url(), &behind_proxy).await;
    let sign_up = |i: usize, forwarded_for: String| {
        let browser = Browser::new(&server);
        async move {
            browser
                .send(
                    reqwest::Method::POST,
                    "/auth/sign-up",
                    Some(json!({ "email": format!("u{i}@example.com"), "password": PASSWORD })),
                    &[("x-forwarded-for", &forwarded_for)],
                )
                .await
                .status
        }
    };
    // One client (whatever it prepends) gets the per-IP allowance of 10 an hour…
    for i in 0..10 {
        assert_eq!(sign_up(i, format!("6.6.6.{i}, 198.51.100.1")).await, 201);
    }
    assert_eq!(sign_up(10, "6.6.6.99, 198.51.100.1".to_owned()).await, 429);
    // …and another client behind the same proxy is not blocked by it.
    assert_eq!(sign_up(11, "198.51.100.2".to_owned()).await, 201);
    drop(server);

    // Without trusted proxies the headers are ignored: every request is its socket peer.
    let server = Server::start(flavor, db.url(), &[]).await;
    let sign_up = |i: usize| {
        let browser = Browser::new(&server);
        async move {
            browser
                .send(
                    reqwest::Method::POST,
                    "/auth/sign-up",
                    Some(json!({ "email": format!("v{i}@example.com"), "password": PASSWORD })),
                    &[("x-forwarded-for", &format!("203.0.113.{i}"))],
                )
                .await
                .status
        }
    };
    for i in 0..10 {
        assert_eq!(sign_up(i).await, 201);
    }
    assert_eq!(sign_up(10).await, 429);
}

async fn small_contract_fixes(flavor: Flavor, db: TestDb) {
    let env = [("ADMIN_EMAILS", "boss@example.com".to_owned())];
    let server = Server::start(flavor, db.url(), &env).await;
    let browser = Browser::new(&server);

    // ADMIN_EMAILS grants the role once the address is proved, not at sign-up.
    let signed_up = browser
        .post(
            "/auth/sign-up",
            json!({ "email": "boss@example.com", "password": PASSWORD }),
        )
        .await;
    assert_eq!(signed_up.json["user"]["role"], "user", "{signed_up:?}");
    let token = server
        .emailed_token("boss@example.com", "/verify-email")
        .await;
    let verified = browser
        .get(&format!("/auth/verify-email?token={token}"))
        .await;
    assert_eq!(verified.json["user"]["role"], "admin", "{verified:?}");

    // A 72-byte password works end to end; 73 bytes is a clear 422.
    let password = format!("{}é", "x9#Qv".repeat(14));
    assert_eq!(password.len(), 72);
    let created = browser
        .post(
            "/auth/sign-up",
            json!({ "email": "long@example.com", "password": password }),
        )
        .await;
    assert_eq!(created.status, 201, "{created:?}");
    let too_long = browser
        .post(
            "/auth/sign-up",
            json!({ "email": "longer@example.com", "password": format!("{password}!") }),
        )
        .await;
    assert_eq!(
        (too_long.status, too_long.json["error"].as_str()),
        (422, Some("invalid_password"))
    );

    // A JSON array is not an object.
    let array = browser
        .post("/auth/sign-in", json!(["boss@example.com", PASSWORD]))
        .await;
    assert_eq!(
        (array.status, array.json["error"].as_str()),
        (400, Some("invalid_body")),
        "{array:?}"
    );
    // Unknown paths and methods answer the JSON error shape.
    let missing = browser.get("/no/such/route").await;
    assert_eq!(
        (missing.status, missing.json["error"].as_str()),
        (404, Some("not_found")),
        "{missing:?}"
    );
    let wrong_method = browser.delete("/health").await;
    assert_eq!(
        (wrong_method.status, wrong_method.json["error"].as_str()),
        (405, Some("method_not_allowed")),
        "{wrong_method:?}"
    );

    // A body the server will not read: 413, and it says the connection ends (a client that
    // reused it would meet a reset otherwise). The read ends because the server closes.
    let address = server.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST /auth/sign-in HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n",
        2 * 1024 * 1024
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response))
        .await
        .expect("the server closes the connection after its 413")
        .unwrap();
    let response = String::from_utf8_lossy(&response).to_ascii_lowercase();
    assert!(response.starts_with("http/1.1 413"), "{response}");
    assert!(response.contains("\r\nconnection: close\r\n"), "{response}");
}

async fn the_plan_catalog_is_the_servers_configuration(flavor: Flavor, db: TestDb) {
    let stripe = MockServer::start().await;
    let env = stripe_env(
        &stripe,
        &[
            ("BILLING_PLANS", "starter:Starter,pro:Pro".to_owned()),
            ("STRIPE_PRICE_STARTER", "price_starter".to_owned()),
            (
                "STRIPE_PRICE_STARTER_YEARLY",
                "price_starter_yearly".to_owned(),
            ),
        ],
    );
    let server = Server::start(flavor, db.url(), &env).await;
    let browser = Browser::new(&server);
    let plans = browser.get("/billing/plans").await;
    assert_eq!(plans.status, 200, "{plans:?}");
    let listed: Vec<(&str, &str, Option<&str>, Option<&str>)> = plans.json["plans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap(),
                p["name"].as_str().unwrap(),
                p["prices"]["monthly"].as_str(),
                p["prices"]["yearly"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("free", "Free", None, None),
            (
                "starter",
                "Starter",
                Some("price_starter"),
                Some("price_starter_yearly")
            ),
            ("pro", "Pro", Some("price_pro"), None),
        ]
    );
    verified_user(&server, &browser, "ada@example.com").await;
    let refused = browser
        .post("/billing/checkout", json!({ "plan": "enterprise" }))
        .await;
    assert_eq!(
        (refused.status, refused.json["error"].as_str()),
        (422, Some("plan_not_purchasable")),
        "{refused:?}"
    );
    assert!(stripe.received_requests().await.unwrap().is_empty());
}

/// Sends only the headers of a JSON POST declaring a `length`-byte body and reads the answer.
async fn declare_body(server: &Server, path: &str, length: usize) -> (u16, Value) {
    let address = server.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Content-Length: {length}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response))
        .await
        .expect("answered without waiting for the body")
        .unwrap();
    let response = String::from_utf8(response).unwrap();
    let status = response[9..12].parse().unwrap();
    let (_, body) = response.split_once("\r\n\r\n").unwrap();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

async fn malformed_oversized_and_cross_site_requests(flavor: Flavor, db: TestDb) {
    let server = Server::start(flavor, db.url(), &[]).await;
    let client = reqwest::Client::new();
    let url = format!("{}/auth/sign-in", server.base);
    let text = client
        .post(&url)
        .header("content-type", "text/plain")
        .body("email=a")
        .send()
        .await
        .unwrap();
    assert_eq!(text.status(), 415);
    let broken = client
        .post(&url)
        .header("content-type", "application/json")
        .body("{\"email\":")
        .send()
        .await
        .unwrap();
    assert_eq!(broken.status(), 400);
    assert_eq!(
        broken.json::<Value>().await.unwrap()["error"],
        "invalid_body"
    );
    let deep = format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000));
    let bomb = client
        .post(&url)
        .header("content-type", "application/json")
        .body(deep)
        .send()
        .await
        .unwrap();
    assert_eq!(
        bomb.status(),
        400,
        "deeply nested JSON is refused, not a crash"
    );
    // The limit is 1 MiB: a body just under it is read (and refused as JSON); one declared
    // over it is answered 413 from the headers alone, before the client sends any of it.
    let mut padded = vec![b' '; 1024 * 1024 - 2];
    padded.extend_from_slice(b"{}");
    let under = client
        .post(&url)
        .header("content-type", "application/json")
        .body(padded)
        .send()
        .await
        .unwrap();
    assert_eq!(under.status(), 400);
    let (status, body) = declare_body(&server, "/auth/sign-in", 2 * 1024 * 1024).await;
    assert_eq!(status, 413);
    assert_eq!(body["error"], "payload_too_large");
    let cross_site = client
        .post(&url)
        .header("content-type", "application/json")
        .header("origin", "https://evil.example")
        .body(json!({ "email": "a@example.com", "password": "x" }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), 403);
    let fetch_metadata = client
        .post(format!("{}/auth/sign-out", server.base))
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(fetch_metadata.status(), 403);
    assert_eq!(
        client
            .get(format!("{}/health", server.base))
            .send()
            .await
            .unwrap()
            .status(),
        200,
        "still serving"
    );
}

/// `DATABASE_MAX_CONNECTIONS` sizes the pool: one connection is enough for the whole
/// sign-up → verify → sign-in → `/me` path, and a value that is not a positive number stops
/// the start-up with a message naming the variable.
async fn database_pool_size_from_the_environment(flavor: Flavor, db: TestDb) {
    for bad in ["lots", "0", "-3"] {
        let env = [("DATABASE_MAX_CONNECTIONS", bad.to_owned())];
        let (code, logs) = Server::start_refused(flavor, db.url(), &env).await;
        assert_eq!(code, Some(1), "{bad}: {logs}");
        assert!(
            logs.contains("cannot start") && logs.contains("DATABASE_MAX_CONNECTIONS"),
            "{bad}: {logs}"
        );
    }
    let env = [("DATABASE_MAX_CONNECTIONS", "1".to_owned())];
    let server = Server::start(flavor, db.url(), &env).await;
    let browser = Browser::new(&server);
    verified_user(&server, &browser, "ada@example.com").await;
    assert_eq!(
        browser.get("/me").await.json["user"]["email"],
        "ada@example.com"
    );
}

/// SIGINT (Ctrl-C) and SIGTERM (orchestrators) both stop a server gracefully: it stops
/// accepting, drains, flushes queued e-mails and exits 0.
async fn signals_stop_the_server_gracefully(flavor: Flavor, db: TestDb) {
    for (signal, email) in [("INT", "ada@example.com"), ("TERM", "bob@example.com")] {
        let mut server = Server::start(flavor, db.url(), &[]).await;
        sign_up(&Browser::new(&server), email).await;
        server.signal(signal);
        let (code, logs) = server.exited().await;
        assert_eq!(code, Some(0), "SIG{signal}: {logs}");
        assert!(
            logs.contains("shutdown signal received") && logs.contains(&format!("to={email}")),
            "SIG{signal}: drained and flushed the welcome e-mail:\n{logs}"
        );
    }
}

/// With no keys and no outside services configured the server still starts — loudly about
/// its throwaway development keys — serves the auth contract, and answers 404
/// `not_configured` where billing, OAuth and Cal.com would be.
async fn zero_configuration_start(flavor: Flavor, db: TestDb) {
    // Empty counts as unset.
    let env = [
        ("SESSION_SIGNING_KEY", String::new()),
        ("MFA_ENCRYPTION_KEY", String::new()),
    ];
    let server = Server::start(flavor, db.url(), &env).await;
    let logs = server.logs();
    for key in ["SESSION_SIGNING_KEY", "MFA_ENCRYPTION_KEY"] {
        assert!(
            logs.contains(&format!("{key} is not set: using a random development key")),
            "{key}:\n{logs}"
        );
    }
    let browser = Browser::new(&server);
    verified_user(&server, &browser, "ada@example.com").await;
    assert_eq!(browser.get("/me").await.status, 200);
    let subscription = browser.get("/billing/subscription").await;
    assert_eq!(
        (subscription.status, subscription.json["error"].as_str()),
        (404, Some("not_configured"))
    );
    let github = browser.get("/auth/oauth/github").await;
    assert_eq!(
        (github.status, github.json["error"].as_str()),
        (404, Some("provider_not_configured"))
    );
    for webhook in ["/webhooks/stripe", "/webhooks/calcom"] {
        let answer = Browser::at(&server.base).post(webhook, json!({})).await;
        assert_eq!(
            (answer.status, answer.json["error"].as_str()),
            (404, Some("not_configured")),
            "{webhook}"
        );
    }
}

/// Sessions, passwords and sign-out-everywhere through HTTP: list and revoke a session,
/// change the password (other sessions end), reset it by e-mail (every session ends), and
/// sign out everywhere.
async fn account_management(flavor: Flavor, db: TestDb) {
    let server = Server::start(flavor, db.url(), &[]).await;
    let laptop = Browser::new(&server);
    verified_user(&server, &laptop, "ada@example.com").await;
    let sign_in = |browser: Browser, password: &'static str| async move {
        let answer = browser
            .post(
                "/auth/sign-in",
                json!({ "email": "ada@example.com", "password": password }),
            )
            .await;
        assert_eq!(answer.status, 200, "{answer:?}");
        browser
    };
    let phone = sign_in(Browser::new(&server), PASSWORD).await;

    // The profile: name and picture; a picture that is not an https URL is refused.
    let saved = laptop
        .post(
            "/auth/profile",
            json!({ "name": "Ada Lovelace", "image": "https://cdn.example.com/ada.png" }),
        )
        .await;
    assert_eq!(saved.status, 200, "{saved:?}");
    assert_eq!(
        (&saved.json["user"]["name"], &saved.json["user"]["image"]),
        (
            &json!("Ada Lovelace"),
            &json!("https://cdn.example.com/ada.png")
        )
    );
    let refused = laptop
        .post("/auth/profile", json!({ "image": "javascript:alert(1)" }))
        .await;
    assert_eq!(
        (refused.status, refused.json["error"].as_str()),
        (422, Some("invalid_input"))
    );
    let cleared = laptop.post("/auth/profile", json!({ "image": "" })).await;
    assert_eq!(
        (
            &cleared.json["user"]["name"],
            &cleared.json["user"]["image"]
        ),
        (&json!("Ada Lovelace"), &Value::Null)
    );
    assert_eq!(
        Browser::new(&server)
            .post("/auth/profile", json!({}))
            .await
            .status,
        401
    );

    // Two sessions; the laptop revokes the phone's.
    let sessions = laptop.get("/auth/sessions").await;
    let list = sessions.json["sessions"].as_array().unwrap();
    assert_eq!(list.len(), 2, "{sessions:?}");
    let phone_id = list.iter().find(|s| s["current"] == json!(false)).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let revoked = laptop.delete(&format!("/auth/sessions/{phone_id}")).await;
    assert_eq!(revoked.status, 204, "{revoked:?}");
    assert_eq!(phone.get("/me").await.status, 401);
    let unknown = laptop
        .delete("/auth/sessions/0190f5a8-0000-7000-8000-000000000000")
        .await;
    assert_eq!(unknown.status, 404);

    // Changing the password ends the other sessions, not this one.
    let phone = sign_in(Browser::new(&server), PASSWORD).await;
    let wrong = laptop
        .post(
            "/auth/change-password",
            json!({ "current_password": "not it at all", "new_password": "a different passphrase 42" }),
        )
        .await;
    assert_eq!(wrong.status, 401, "{wrong:?}");
    let changed = laptop
        .post(
            "/auth/change-password",
            json!({ "current_password": PASSWORD, "new_password": "a different passphrase 42" }),
        )
        .await;
    assert_eq!(changed.status, 204, "{changed:?}");
    assert_eq!(laptop.get("/me").await.status, 200);
    assert_eq!(phone.get("/me").await.status, 401);

    // A reset by e-mail ends every session and signs nobody in; unknown addresses get the
    // same answer.
    let anonymous = Browser::new(&server);
    for email in ["ada@example.com", "nobody@example.com"] {
        let asked = anonymous
            .post("/auth/forgot-password", json!({ "email": email }))
            .await;
        assert_eq!(asked.status, 202, "{email}: {asked:?}");
    }
    let token = server
        .emailed_token("ada@example.com", "/reset-password")
        .await;
    let reset = anonymous
        .post(
            "/auth/reset-password",
            json!({ "token": token, "password": "the third passphrase 7" }),
        )
        .await;
    assert_eq!(reset.status, 204, "{reset:?}");
    assert!(anonymous.cookie("__Host-tollbooth.session").is_none());
    assert_eq!(laptop.get("/me").await.status, 401);

    // Sign out everywhere.
    let laptop = sign_in(Browser::new(&server), "the third passphrase 7").await;
    let phone = sign_in(Browser::new(&server), "the third passphrase 7").await;
    let out = laptop.post("/auth/sign-out-everywhere", json!({})).await;
    assert_eq!(out.status, 204, "{out:?}");
    assert_eq!(laptop.get("/me").await.status, 401);
    assert_eq!(phone.get("/me").await.status, 401);
}

/// A change of address applied by the link sent to the new address (the other sessions end,
/// the old address is told), the export of one's data, and a first password for an account
/// made through GitHub.
async fn own_account_lifecycle(flavor: Flavor, db: TestDb) {
    let github = github_stand_in().await;
    let env = [
        ("GITHUB_CLIENT_ID", "gh-id".to_owned()),
        ("GITHUB_CLIENT_SECRET", "gh-secret".to_owned()),
        ("GITHUB_OAUTH_BASE", github.uri()),
    ];
    let server = Server::start(flavor, db.url(), &env).await;
    let laptop = Browser::new(&server);
    verified_user(&server, &laptop, "ada@example.com").await;
    verified_user(&server, &Browser::new(&server), "bob@example.com").await;
    let sign_in = |email: &'static str, password: &'static str| {
        let browser = Browser::new(&server);
        async move {
            let answer = browser
                .post(
                    "/auth/sign-in",
                    json!({ "email": email, "password": password }),
                )
                .await;
            (answer.status, browser)
        }
    };
    let (_, phone) = sign_in("ada@example.com", PASSWORD).await;

    let taken = laptop
        .post("/auth/change-email", json!({ "email": "Bob@Example.com" }))
        .await;
    assert_eq!(
        (taken.status, taken.json["error"].as_str()),
        (409, Some("email_taken")),
        "{taken:?}"
    );
    let asked = laptop
        .post("/auth/change-email", json!({ "email": "ada@new.example" }))
        .await;
    assert_eq!(asked.status, 202, "{asked:?}");
    assert_eq!(
        laptop.get("/me").await.json["user"]["email"],
        "ada@example.com",
        "nothing changes before the link is opened"
    );
    let token = server
        .emailed_token("ada@new.example", "/confirm-email-change")
        .await;
    // The link is opened anywhere: it needs no session.
    let confirmed = Browser::new(&server)
        .post("/auth/confirm-email-change", json!({ "token": token }))
        .await;
    assert_eq!(confirmed.status, 200, "{confirmed:?}");
    assert_eq!(
        (
            &confirmed.json["user"]["email"],
            &confirmed.json["user"]["email_verified"]
        ),
        (&json!("ada@new.example"), &json!(true))
    );
    let again = Browser::new(&server)
        .post("/auth/confirm-email-change", json!({ "token": token }))
        .await;
    assert_eq!(
        (again.status, again.json["error"].as_str()),
        (422, Some("invalid_token"))
    );
    assert_eq!(
        laptop.get("/me").await.json["user"]["email"],
        "ada@new.example"
    );
    assert_eq!(
        phone.get("/me").await.status,
        401,
        "the other session ended"
    );
    assert_eq!(sign_in("ada@new.example", PASSWORD).await.0, 200);
    assert_eq!(sign_in("ada@example.com", PASSWORD).await.0, 401);
    // The old address was told, with the link that gives it back.
    server
        .emailed_token("ada@example.com", "/security-report")
        .await;
    let activity = laptop.get("/auth/security-activity").await;
    let kinds: Vec<_> = activity.json["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .filter(|kind| kind != "signed_in")
        .collect();
    assert_eq!(
        kinds,
        ["email_changed", "email_change_requested"],
        "{kinds:?}"
    );
    assert_eq!(
        Browser::new(&server)
            .post("/auth/change-email", json!({ "email": "x@example.net" }))
            .await
            .status,
        401
    );

    // Her data, as one JSON document: everything about her, not one secret.
    let export = laptop.get("/auth/export").await;
    assert_eq!(export.status, 200, "{export:?}");
    assert_eq!(export.json["user"]["email"], "ada@new.example");
    assert_eq!(
        export.json["sign_in_methods"][0]["provider"], "credential",
        "{export:?}"
    );
    assert!(export.json["sessions"].as_array().unwrap().len() >= 3);
    let text = export.json.to_string();
    let cookie = laptop.cookie("__Host-tollbooth.session").unwrap();
    for secret in [PASSWORD, cookie.as_str(), token.as_str()] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    assert_eq!(Browser::new(&server).get("/auth/export").await.status, 401);

    // An account made through GitHub adds a password by an e-mailed link; then both work.
    let refused = laptop.post("/auth/set-password-link", json!({})).await;
    assert_eq!(
        (refused.status, refused.json["error"].as_str()),
        (422, Some("invalid_input")),
        "an account with a password changes it instead"
    );
    let grace = Browser::new(&server);
    through_github(&grace, "/auth/oauth/github").await;
    assert_eq!(
        grace.get("/me").await.json["user"]["email"],
        "grace@example.com"
    );
    let asked = grace.post("/auth/set-password-link", json!({})).await;
    assert_eq!(asked.status, 202, "{asked:?}");
    let token = server
        .emailed_token("grace@example.com", "/reset-password")
        .await;
    let set = Browser::new(&server)
        .post(
            "/auth/reset-password",
            json!({ "token": token, "password": "grace's own passphrase" }),
        )
        .await;
    assert_eq!(set.status, 204, "{set:?}");
    assert_eq!(
        sign_in("grace@example.com", "grace's own passphrase")
            .await
            .0,
        200
    );
    let by_github = Browser::new(&server);
    through_github(&by_github, "/auth/oauth/github").await;
    assert_eq!(
        by_github.get("/me").await.json["user"]["email"],
        "grace@example.com"
    );
}

/// An administrator finds a user, bans them (every session ends, sign-in is refused), sets a
/// role, lifts the ban, ends their sessions, and reads it all back from the audit trail; the
/// user reads their own security activity.
async fn administering_users(flavor: Flavor, db: TestDb) {
    let server = Server::start(
        flavor,
        db.url(),
        &[("ADMIN_EMAILS", "root@example.com".to_owned())],
    )
    .await;
    let root = Browser::new(&server);
    let root_id = verified_user(&server, &root, "root@example.com").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let laptop = Browser::new(&server);
    let ada = verified_user(&server, &laptop, "ada@example.com").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let at = &server;
    let sign_in = |password: &'static str| async move {
        let browser = Browser::new(at);
        let answer = browser
            .post(
                "/auth/sign-in",
                json!({ "email": "ada@example.com", "password": password }),
            )
            .await;
        (browser, answer)
    };
    let (phone, _) = sign_in(PASSWORD).await;

    // Only administrators.
    let refused = laptop.get("/admin/users").await;
    assert_eq!(
        (refused.status, refused.json["error"].as_str()),
        (403, Some("forbidden"))
    );

    // Search and page.
    let found = root.get("/admin/users?email=AD").await;
    assert_eq!(found.status, 200, "{found:?}");
    assert_eq!(found.json["users"][0]["user"]["id"], json!(ada));
    assert_eq!(found.json["users"].as_array().unwrap().len(), 1);
    assert_eq!(found.json["users"][0]["ban"], Value::Null);
    let first = root.get("/admin/users?limit=1").await;
    assert_eq!(first.json["users"].as_array().unwrap().len(), 1);
    let after = first.json["next"].as_str().expect("a next page").to_owned();
    let second = root
        .get(&format!("/admin/users?limit=1&after={after}"))
        .await;
    assert_eq!(second.json["users"].as_array().unwrap().len(), 1);
    assert_eq!(second.json["next"], Value::Null);
    let bad = root.get("/admin/users?banned=maybe").await;
    assert_eq!(
        (bad.status, bad.json["error"].as_str()),
        (400, Some("invalid_query"))
    );
    let overview = root.get(&format!("/admin/users/{ada}")).await;
    assert_eq!(overview.status, 200, "{overview:?}");
    assert_eq!(overview.json["sessions"].as_array().unwrap().len(), 2);
    assert_eq!(overview.json["sign_in_methods"], json!(["credential"]));
    assert_eq!(overview.json["mfa_enabled"], json!(false));
    for missing in ["not-a-uuid", "0190f5a8-0000-7000-8000-000000000000"] {
        let answer = root.get(&format!("/admin/users/{missing}")).await;
        assert_eq!(
            (answer.status, answer.json["error"].as_str()),
            (404, Some("user_not_found")),
            "{missing}"
        );
    }

    // A ban ends both of ada's sessions at once and refuses her password.
    let banned = root
        .post(
            &format!("/admin/users/{ada}/ban"),
            json!({ "reason": "chargeback fraud" }),
        )
        .await;
    assert_eq!(banned.status, 200, "{banned:?}");
    assert_eq!(banned.json["user"]["ban"]["reason"], "chargeback fraud");
    assert_eq!(banned.json["user"]["ban"]["expires_at"], Value::Null);
    assert_eq!(laptop.get("/me").await.status, 401);
    assert_eq!(phone.get("/me").await.status, 401);
    let (_, refused) = sign_in(PASSWORD).await;
    assert_eq!(
        (refused.status, refused.json["error"].as_str()),
        (403, Some("banned"))
    );
    let listed = root.get("/admin/users?banned=true").await;
    assert_eq!(listed.json["users"][0]["user"]["id"], json!(ada));
    let past = root
        .post(
            &format!("/admin/users/{ada}/ban"),
            json!({ "expires_at": "2020-01-01T00:00:00Z" }),
        )
        .await;
    assert_eq!(
        (past.status, past.json["error"].as_str()),
        (422, Some("invalid_input"))
    );
    let own = root
        .post(&format!("/admin/users/{root_id}/ban"), json!({}))
        .await;
    assert_eq!(
        (own.status, own.json["error"].as_str()),
        (422, Some("invalid_input"))
    );

    // A role, the ban lifted, and the sessions of the day ended.
    let role = root
        .post(
            &format!("/admin/users/{ada}/role"),
            json!({ "role": "editor" }),
        )
        .await;
    assert_eq!(role.json["user"]["user"]["role"], "editor", "{role:?}");
    let unbanned = root
        .post(&format!("/admin/users/{ada}/unban"), json!({}))
        .await;
    assert_eq!(unbanned.json["user"]["ban"], Value::Null, "{unbanned:?}");
    let (ada_again, signed_in) = sign_in(PASSWORD).await;
    assert_eq!(signed_in.status, 200, "{signed_in:?}");
    assert_eq!(ada_again.get("/me").await.json["user"]["role"], "editor");
    let revoked = root
        .post(&format!("/admin/users/{ada}/revoke-sessions"), json!({}))
        .await;
    assert_eq!(revoked.json["revoked"], json!(1), "{revoked:?}");
    assert_eq!(ada_again.get("/me").await.status, 401);

    // The audit trail, newest first, with who did it and from where.
    let trail = root
        .get(&format!("/admin/security-events?user={ada}"))
        .await;
    let kinds: Vec<&str> = trail.json["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "sessions_revoked_by_admin",
            "signed_in",
            "unbanned",
            "role_changed",
            "banned",
            "signed_in",
            "signed_in"
        ]
    );
    let ban_event = &trail.json["events"][4];
    assert_eq!(ban_event["actor_user_id"], json!(root_id));
    assert_eq!(ban_event["detail"]["reason"], "chargeback fraud");
    assert_eq!(ban_event["ip"], "127.0.0.1");
    let unknown = root.get("/admin/security-events?kind=bogus").await;
    assert_eq!(
        (unknown.status, unknown.json["error"].as_str()),
        (400, Some("invalid_query"))
    );

    // The user's own activity.
    let (ada_again, _) = sign_in(PASSWORD).await;
    let changed = ada_again
        .post(
            "/auth/change-password",
            json!({ "current_password": PASSWORD, "new_password": "a different passphrase 42" }),
        )
        .await;
    assert_eq!(changed.status, 204, "{changed:?}");
    let activity = ada_again.get("/auth/security-activity").await;
    assert_eq!(activity.status, 200, "{activity:?}");
    assert_eq!(activity.json["events"][0]["kind"], "password_changed");
    assert_eq!(activity.json["events"][1]["kind"], "signed_in");
    assert_eq!(activity.json["events"][1]["detail"]["method"], "password");
    assert_eq!(activity.json["events"].as_array().unwrap().len(), 9);
    let roots = root.get("/auth/security-activity").await;
    assert_eq!(
        roots.json["events"].as_array().unwrap().len(),
        1,
        "{roots:?}"
    );
}

/// Both servers serve every operation the document lists: no documented (method, path) meets
/// the router's own 404 or 405. With the check of every answer against the document (an
/// undocumented route answers where the document expects the router's 404), the routers
/// and the document describe the same operations.
async fn every_documented_operation_is_served(flavor: Flavor, db: TestDb) {
    let server = Server::start(flavor, db.url(), &[]).await;
    let browser = Browser::new(&server);
    let document = browser.get("/openapi.json").await;
    let paths = document.json["paths"].as_object().unwrap();
    let mut served = 0;
    for (template, item) in paths {
        let path: String = template
            .split('/')
            .map(|part| if part.starts_with('{') { "x" } else { part })
            .collect::<Vec<_>>()
            .join("/");
        for method in item.as_object().unwrap().keys() {
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let body = (method == reqwest::Method::POST).then(|| json!({}));
            let answer = browser.send(method.clone(), &path, body, &[]).await;
            let routers_own = answer.status == 405
                || (answer.status == 404 && answer.json["message"] == "no such route");
            assert!(!routers_own, "{method} {template}: {answer:?}");
            served += 1;
        }
    }
    assert!(served >= 42, "{served} operations");
}

/// The document every answer is checked against says no to what it does not describe: a
/// field of the wrong type, a status it does not list, a body where there is none, a
/// success on an unknown path. (Every other test's answers pass it.)
async fn the_openapi_document_refuses_what_it_does_not_describe(flavor: Flavor, db: TestDb) {
    let server = Server::start(flavor, db.url(), &[]).await;
    let browser = Browser::new(&server);
    let document = browser.get("/openapi.json").await;
    assert_eq!(
        (document.status, document.json["openapi"].as_str()),
        (200, Some("3.1.0"))
    );
    let contract = Contract::get().expect("installed when the server started");
    let bad = |method, path, status, body: &str| {
        let violations = contract.violations(method, path, status, body.as_bytes());
        assert!(
            !violations.is_empty(),
            "{method} {path} {status} {body} passed"
        );
    };
    bad(
        "GET",
        "/me",
        200,
        r#"{"user": {"id": "not-a-uuid", "email": 1}}"#,
    );
    bad("GET", "/me", 200, r#"{}"#);
    bad("GET", "/me", 201, r#"{"user": null}"#);
    bad("POST", "/auth/sign-out", 204, r#"{"signed_out": true}"#);
    bad("GET", "/auth/session", 401, r#"{"message": "no code"}"#);
    bad("GET", "/no/such/route", 200, r#"{}"#);
    bad("PUT", "/me", 200, r#"{}"#);
    let fine = |method, path, status, body: &str| {
        let violations = contract.violations(method, path, status, body.as_bytes());
        assert!(
            violations.is_empty(),
            "{method} {path} {status}: {violations:?}"
        );
    };
    fine("POST", "/auth/sign-out", 204, "");
    fine(
        "GET",
        "/auth/session",
        401,
        r#"{"error": "unauthorized", "message": "sign in"}"#,
    );
    fine(
        "GET",
        "/no/such/route",
        404,
        r#"{"error": "not_found", "message": "no"}"#,
    );
    fine(
        "DELETE",
        "/auth/sessions/0193b8c4-1f2a-7c3d-9e4f-5a6b7c8d9e0f",
        204,
        "",
    );
}

/// A one-off payment through Stripe Checkout (payment mode): checked before Stripe hears of
/// it, one session per double click, the PaymentIntent tagged with the user, the payment
/// recorded when the browser comes back — for its payer only — and, as a paid Cal.com
/// session, bookable.
async fn a_one_off_payment_through_checkout(flavor: Flavor, db: TestDb) {
    let stripe = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/customers"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ "id": "cus_once", "object": "customer" })),
        )
        .mount(&stripe)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(IdempotentCheckout::default())
        .mount(&stripe)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/event-types/42"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({ "status": "success", "data": {
            "id": 42, "slug": "intro", "users": [{ "username": "ada" }] } })),
        )
        .mount(&stripe)
        .await;
    let env = stripe_env(
        &stripe,
        &[
            ("CALCOM_API_KEY", "cal_key".to_owned()),
            ("CALCOM_API_BASE", stripe.uri()),
        ],
    );
    let server = Server::start(flavor, db.url(), &env).await;
    let browser = Browser::new(&server);
    let user = verified_user(&server, &browser, "grace@example.com").await;
    let user_id = user["id"].as_str().unwrap().to_owned();
    let checkout_session = |id: &str, owner: &str, payment_intent: Value| {
        json!({ "id": id, "object": "checkout.session", "mode": "payment", "status": "complete",
                "client_reference_id": owner, "payment_intent": payment_intent, "metadata": {} })
    };
    for (id, owner, intent) in [
        ("cs_open", user_id.as_str(), Value::Null),
        ("cs_paid", user_id.as_str(), json!("pi_once")),
        (
            "cs_other",
            "0190f0e4-0000-7000-8000-000000000000",
            json!("pi_other"),
        ),
    ] {
        Mock::given(method("GET"))
            .and(path(format!("/v1/checkout/sessions/{id}")))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(checkout_session(id, owner, intent)),
            )
            .mount(&stripe)
            .await;
    }
    Mock::given(method("GET"))
        .and(path("/v1/payment_intents/pi_once"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "pi_once", "object": "payment_intent", "amount": 5000, "currency": "usd",
            "status": "succeeded", "metadata": { "user_id": user_id, "calcom_event_type_id": "42" }
        })))
        .mount(&stripe)
        .await;
    let purchase = json!({ "name": "Consultation", "amount": 5000, "currency": "USD",
                           "calcom_event_type_id": 42 });
    let checkout_requests = || async {
        stripe
            .received_requests()
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.url.path() == "/v1/checkout/sessions")
            .collect::<Vec<_>>()
    };

    // Refused before any call to Stripe.
    for (bad, field) in [
        (
            json!({ "name": "Consultation", "amount": 0, "currency": "usd" }),
            "amount",
        ),
        (
            json!({ "name": "Consultation", "amount": 5000, "currency": "xyz" }),
            "currency",
        ),
        (
            json!({ "name": "", "amount": 5000, "currency": "usd" }),
            "name",
        ),
        (
            json!({ "name": "Consultation", "amount": 5000, "currency": "usd",
                 "success_url": "https://elsewhere.example/" }),
            "success_url",
        ),
    ] {
        let refused = browser.post("/billing/payments/checkout", bad).await;
        assert_eq!(
            (refused.status, refused.json["error"].as_str()),
            (422, Some("invalid_input")),
            "{refused:?}"
        );
        assert!(
            refused.json["message"].as_str().unwrap().contains(field),
            "{refused:?}"
        );
    }
    assert!(checkout_requests().await.is_empty());

    // A double click (two at once, or one after the other) opens one session; the PaymentIntent will carry the user and the
    // event type.
    let (first, again) = tokio::join!(
        browser.post("/billing/payments/checkout", purchase.clone()),
        browser.post("/billing/payments/checkout", purchase.clone()),
    );
    let later = browser
        .post("/billing/payments/checkout", purchase.clone())
        .await;
    assert_eq!(first.status, 200, "{first:?}");
    assert_eq!(first.json["url"], again.json["url"]);
    assert_eq!(first.json["url"], later.json["url"]);
    let sent = checkout_requests().await;
    let form: std::collections::HashMap<String, String> =
        tollbooth_billing::url::form_urlencoded::parse(&sent[0].body)
            .into_owned()
            .collect();
    for (key, value) in [
        ("mode", "payment"),
        ("customer", "cus_once"),
        ("client_reference_id", user_id.as_str()),
        ("line_items[0][price_data][unit_amount]", "5000"),
        ("line_items[0][price_data][currency]", "usd"),
        (
            "line_items[0][price_data][product_data][name]",
            "Consultation",
        ),
        ("line_items[0][quantity]", "1"),
        ("payment_intent_data[metadata][user_id]", user_id.as_str()),
        ("payment_intent_data[metadata][calcom_event_type_id]", "42"),
    ] {
        assert_eq!(
            form.get(key).map(String::as_str),
            Some(value),
            "{key}: {form:?}"
        );
    }
    assert_eq!(
        form["success_url"],
        format!(
            "{}/billing/payments/checkout/success?session_id={{CHECKOUT_SESSION_ID}}",
            server.public_url
        )
    );
    // A client's own key: the same key, the same session; another key, another session.
    let keyed = |key: &str| {
        let mut body = purchase.clone();
        body["idempotency_key"] = json!(key);
        body
    };
    let a = browser
        .post("/billing/payments/checkout", keyed("attempt-1"))
        .await;
    let b = browser
        .post("/billing/payments/checkout", keyed("attempt-1"))
        .await;
    let c = browser
        .post("/billing/payments/checkout", keyed("attempt-2"))
        .await;
    assert_eq!(a.json["url"], b.json["url"]);
    assert_ne!(a.json["url"], c.json["url"]);
    assert_ne!(a.json["url"], first.json["url"]);

    // Back from Checkout: not paid yet, someone else's, then paid.
    let success = |id: &str| format!("/billing/payments/checkout/success?session_id={id}");
    let missing = browser.get("/billing/payments/checkout/success").await;
    assert_eq!(
        (missing.status, missing.json["error"].as_str()),
        (400, Some("invalid_query"))
    );
    let open = browser.get(&success("cs_open")).await;
    assert_eq!(
        (open.status, open.json["error"].as_str()),
        (409, Some("checkout_incomplete")),
        "{open:?}"
    );
    let other = browser.get(&success("cs_other")).await;
    assert_eq!(
        (other.status, other.json["error"].as_str()),
        (404, Some("not_found"))
    );
    assert!(
        tollbooth_db::BillingRepo::find_payment(&*db, "pi_other")
            .await
            .unwrap()
            .is_none()
    );
    let paid = browser.get(&success("cs_paid")).await;
    assert_eq!(paid.status, 200, "{paid:?}");
    assert_eq!(
        (
            paid.json["id"].as_str(),
            paid.json["status"].as_str(),
            paid.json["amount"].as_i64(),
            paid.json["calcom_event_type_id"].as_i64()
        ),
        (Some("pi_once"), Some("succeeded"), Some(5000), Some(42))
    );
    let payments = browser.get("/billing/payments").await;
    assert_eq!(payments.status, 200);
    let ids: Vec<_> = payments.json["payments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].clone())
        .collect();
    assert_eq!(ids, [json!("pi_once")]);
    // Another user sees none of it.
    let bob = Browser::new(&server);
    verified_user(&server, &bob, "bob@example.com").await;
    assert_eq!(
        bob.get("/billing/payments").await.json["payments"],
        json!([])
    );
    assert_eq!(bob.get(&success("cs_paid")).await.status, 404);

    // Paid once: buying the same again is a new session, and the paid session books.
    let next = browser
        .post("/billing/payments/checkout", purchase.clone())
        .await;
    assert_ne!(next.json["url"], first.json["url"]);
    let link = browser.get("/billing/payments/pi_once/booking-link").await;
    assert_eq!(link.status, 200, "{link:?}");
    assert!(
        link.json["url"].as_str().unwrap().contains("/ada/intro"),
        "{link:?}"
    );
}

/// Rows past their retention are purged on a schedule (`PURGE_INTERVAL_SECONDS`) and on
/// demand (`<server> purge`), and nothing still in use goes with them.
async fn spent_rows_are_purged_on_a_schedule_and_on_demand(flavor: Flavor, db: TestDb) {
    let old = tollbooth_db::now() - Duration::from_secs(31 * 86_400);
    let received = |id: &'static str, at| {
        let db = &db;
        async move {
            db.record_webhook_event(WebhookSource::Stripe, id, "invoice.paid", at)
                .await
                .unwrap();
        }
    };
    let kept = |id: &'static str| {
        let db = &db;
        async move {
            db.find_webhook_event(WebhookSource::Stripe, id)
                .await
                .unwrap()
                .is_some()
        }
    };
    received("evt_old", old).await;
    received("evt_recent", tollbooth_db::now()).await;

    let env = [("PURGE_INTERVAL_SECONDS", "1".to_owned())];
    let server = Server::start(flavor, db.url(), &env).await;
    assert!(
        server.logged("purged rows past their retention").await,
        "{}",
        server.logs()
    );
    assert!(!kept("evt_old").await);
    assert!(kept("evt_recent").await);
    drop(server);

    received("evt_old_again", old).await;
    let off = [("PURGE_INTERVAL_SECONDS", "0".to_owned())];
    let purged = Server::run_command(flavor, db.url(), &off, &["purge"]);
    let printed = String::from_utf8_lossy(&purged.stdout);
    assert!(purged.status.success(), "{purged:?}");
    assert!(printed.contains(", 1 webhook events,"), "{printed}");
    assert!(!kept("evt_old_again").await);
    assert!(kept("evt_recent").await);
}

/// Deleting an account: refused with nothing deleted while Stripe is down; once Stripe is
/// back, the open Checkout session is expired and the subscription cancelled before the
/// account goes, its cookies are 401 at once, and its payments stay.
async fn deleting_an_account_cancels_its_subscription_first(flavor: Flavor, db: TestDb) {
    let stripe = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/customers"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ "id": "cus_del", "object": "customer" })),
        )
        .mount(&stripe)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "cs_del", "object": "checkout.session", "status": "open",
            "url": "https://checkout.stripe.com/c/pay/cs_del"
        })))
        .mount(&stripe)
        .await;
    let server = Server::start(flavor, db.url(), &stripe_env(&stripe, &[])).await;
    let laptop = Browser::new(&server);
    verified_user(&server, &laptop, "ada@example.com").await;
    let phone = Browser::new(&server);
    let signed_in = phone
        .post(
            "/auth/sign-in",
            json!({ "email": "ada@example.com", "password": PASSWORD }),
        )
        .await;
    assert_eq!(signed_in.status, 200);
    let ada = db_user_id(&db, "ada@example.com").await;
    let checkout = laptop
        .post("/billing/checkout", json!({ "plan": "pro" }))
        .await;
    assert_eq!(checkout.status, 200, "{checkout:?}");
    let paid = json!({ "id": "pi_del", "object": "payment_intent", "amount": 1900,
        "currency": "usd", "status": "succeeded", "customer": "cus_del",
        "metadata": { "user_id": ada } });
    let applied = deliver_stripe(
        &server,
        &stripe_event("evt_pi_del", "payment_intent.succeeded", paid),
    )
    .await;
    assert_eq!(applied.json["outcome"], "applied", "{applied:?}");

    // Stripe lists her open Checkout session; then it is down: 503 with the fixed
    // message, and nothing deleted.
    Mock::given(method("GET"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "list", "has_more": false,
            "data": [{ "id": "cs_del", "object": "checkout.session", "status": "open" }]
        })))
        .mount(&stripe)
        .await;
    let down = Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions/cs_del/expire"))
        .respond_with(ResponseTemplate::new(503))
        .mount_as_scoped(&stripe)
        .await;
    let refused = laptop.post("/auth/delete-account", json!({})).await;
    assert_eq!(
        (refused.status, refused.json["error"].as_str()),
        (503, Some("payment_provider_unavailable")),
        "{refused:?}"
    );
    assert_eq!(
        refused.json["message"],
        "the payment provider is unavailable; try again later"
    );
    drop(down);
    assert_eq!(laptop.get("/me").await.status, 200);
    assert_eq!(phone.get("/me").await.status, 200);
    assert_eq!(db_user_id(&db, "ada@example.com").await, ada);

    // Stripe back: the checkout expired, the subscription (known only to Stripe) cancelled,
    // then the account deleted.
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions/cs_del/expire"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "cs_del", "object": "checkout.session", "status": "expired"
        })))
        .mount(&stripe)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/subscriptions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "list", "has_more": false,
            "data": [subscription("sub_del", "cus_del", "active", "price_pro", 1)]
        })))
        .mount(&stripe)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/v1/subscriptions/sub_del"))
        .respond_with(ResponseTemplate::new(200).set_body_json(subscription(
            "sub_del",
            "cus_del",
            "canceled",
            "price_pro",
            1,
        )))
        .mount(&stripe)
        .await;
    let deleted = laptop.post("/auth/delete-account", json!({})).await;
    assert_eq!(deleted.status, 204, "{deleted:?}");
    assert!(
        deleted
            .set_cookies()
            .iter()
            .any(|c| c.contains("Max-Age=0")),
        "{deleted:?}"
    );
    let sent = stripe.received_requests().await.unwrap();
    let to = |verb: &str, route: &str| {
        sent.iter()
            .filter(|r| r.method.as_str() == verb && r.url.path() == route)
            .count()
    };
    // Expired (refused once while down, then done), then the subscription cancelled.
    assert!(to("POST", "/v1/checkout/sessions/cs_del/expire") >= 2);
    assert_eq!(to("DELETE", "/v1/subscriptions/sub_del"), 1);
    assert_eq!(
        phone.get("/me").await.status,
        401,
        "every cookie is refused"
    );
    let again = phone
        .post(
            "/auth/sign-in",
            json!({ "email": "ada@example.com", "password": PASSWORD }),
        )
        .await;
    assert_eq!(again.status, 401);
    {
        use tollbooth_db::{BillingRepo, UserRepo};
        assert!(
            db.find_user_by_email("ada@example.com")
                .await
                .unwrap()
                .is_none()
        );
        let kept = db
            .find_payment("pi_del")
            .await
            .unwrap()
            .expect("the payment stays");
        assert_eq!(kept.user_id, None);
    }
    let goodbye = format!("account-deleted/{}", ada.as_str().unwrap());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while server.emails_with_key(&goodbye) == 0 {
        assert!(std::time::Instant::now() < deadline, "{}", server.logs());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(server.emails_with_key(&goodbye), 1);
}

/// An administrator acts as a user: marked on the user object, unable to change what
/// only the user may, hidden from the user's devices, audited, and back to their own
/// session when they stop.
async fn impersonation_cannot_change_credentials(flavor: Flavor, db: TestDb) {
    let server = Server::start(
        flavor,
        db.url(),
        &[(
            "ADMIN_EMAILS",
            "root@example.com,boss@example.com".to_owned(),
        )],
    )
    .await;
    let root = Browser::new(&server);
    let root_id = verified_user(&server, &root, "root@example.com").await["id"].clone();
    let boss = verified_user(&server, &Browser::new(&server), "boss@example.com").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let laptop = Browser::new(&server);
    let ada = verified_user(&server, &laptop, "ada@example.com").await["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let other_admin = root
        .post(&format!("/admin/users/{boss}/impersonate"), json!({}))
        .await;
    assert_eq!(
        (other_admin.status, other_admin.json["error"].as_str()),
        (403, Some("forbidden"))
    );
    let started = root
        .post(&format!("/admin/users/{ada}/impersonate"), json!({}))
        .await;
    assert_eq!(started.status, 200, "{started:?}");
    assert_eq!(started.json["user"]["id"], json!(ada));
    assert_eq!(started.json["user"]["impersonated_by"], root_id);
    assert_eq!(started.set_cookies().len(), 2, "{started:?}");
    let me = root.get("/me").await;
    assert_eq!(
        (
            &me.json["user"]["email"],
            &me.json["user"]["impersonated_by"]
        ),
        (&json!("ada@example.com"), &root_id)
    );

    let refusals = [
        root.post(
            "/auth/change-password",
            json!({ "current_password": PASSWORD, "new_password": "stolen by support" }),
        )
        .await,
        root.post(
            "/auth/change-email",
            json!({ "email": "thief@example.net" }),
        )
        .await,
        root.post("/auth/mfa/enroll", json!({})).await,
        root.post("/auth/reauthenticate", json!({ "password": PASSWORD }))
            .await,
        root.get("/auth/export").await,
        root.post("/auth/delete-account", json!({})).await,
    ];
    for refused in refusals {
        assert_eq!(
            (refused.status, refused.json["error"].as_str()),
            (403, Some("impersonating")),
            "{refused:?}"
        );
    }
    // Not one of her devices; still her password.
    let devices = laptop.get("/auth/sessions").await;
    assert_eq!(
        devices.json["sessions"].as_array().unwrap().len(),
        1,
        "{devices:?}"
    );

    let stopped = root.post("/auth/stop-impersonating", json!({})).await;
    assert_eq!(stopped.status, 200, "{stopped:?}");
    assert_eq!(stopped.json["user"]["id"], root_id);
    assert!(stopped.json["user"].get("impersonated_by").is_none());
    assert_eq!(
        root.get("/me").await.json["user"]["email"],
        "root@example.com"
    );
    assert_eq!(
        root.get("/admin/users").await.status,
        200,
        "an administrator again"
    );
    let again = root.post("/auth/stop-impersonating", json!({})).await;
    assert_eq!(again.status, 422, "{again:?}");
    let signed_in = Browser::new(&server)
        .post(
            "/auth/sign-in",
            json!({ "email": "ada@example.com", "password": PASSWORD }),
        )
        .await;
    assert_eq!(signed_in.status, 200);
    let activity = laptop.get("/auth/security-activity").await;
    let kinds: Vec<_> = activity.json["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap().to_owned(),
                e["actor_user_id"].clone(),
            )
        })
        .filter(|(kind, _)| kind.starts_with("impersonation"))
        .collect();
    assert_eq!(
        kinds,
        [
            ("impersonation_stopped".to_owned(), root_id.clone()),
            ("impersonation_started".to_owned(), root_id.clone()),
        ]
    );
}

/// Organizations end to end: one created, a second user invited by e-mail (the link read
/// from the console transport) and joining, an outsider told nothing (404), the last owner
/// kept, a removed member's session no longer acting in it, and the organization deleted.
async fn organizations_members_and_invitations(flavor: Flavor, db: TestDb) {
    let server = Server::start(flavor, db.url(), &[]).await;
    let ada = Browser::new(&server);
    verified_user(&server, &ada, "ada@example.com").await;
    let bob = Browser::new(&server);
    let bob_id = verified_user(&server, &bob, "bob@example.com").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let eve = Browser::new(&server);
    verified_user(&server, &eve, "eve@example.com").await;

    let created = ada.post("/orgs", json!({ "name": "Acme Corp" })).await;
    assert_eq!(created.status, 201, "{created:?}");
    let org = &created.json["organization"];
    assert_eq!(
        (&org["slug"], &org["role"]),
        (&json!("acme-corp"), &json!("owner"))
    );
    let id = org["id"].as_str().unwrap().to_owned();
    let taken = ada
        .post("/orgs", json!({ "name": "Other", "slug": "acme-corp" }))
        .await;
    assert_eq!(
        (taken.status, taken.json["error"].as_str()),
        (409, Some("slug_taken"))
    );
    assert_eq!(
        ada.get("/orgs").await.json["organizations"][0]["id"],
        json!(id)
    );

    // An outsider cannot tell it from an organization that does not exist.
    for path in [
        format!("/orgs/{id}"),
        format!("/orgs/{id}/members"),
        "/orgs/not-an-id".to_owned(),
        format!("/orgs/{}", uuid::Uuid::now_v7()),
    ] {
        let hidden = eve.get(&path).await;
        assert_eq!(
            (hidden.status, hidden.json["error"].as_str()),
            (404, Some("organization_not_found")),
            "{path}"
        );
    }

    // Invited by e-mail; the link works for Bob's account only.
    let invited = ada
        .post(
            &format!("/orgs/{id}/invitations"),
            json!({ "email": "bob@example.com", "role": "admin" }),
        )
        .await;
    assert_eq!(invited.status, 201, "{invited:?}");
    let again = ada
        .post(
            &format!("/orgs/{id}/invitations"),
            json!({ "email": "bob@example.com" }),
        )
        .await;
    assert_eq!(
        (again.status, again.json["error"].as_str()),
        (409, Some("already_invited"))
    );
    let token = server
        .emailed_token("bob@example.com", "/accept-invitation")
        .await;
    let preview = Browser::new(&server)
        .get(&format!("/invitations/preview?token={token}"))
        .await;
    assert_eq!(preview.status, 200, "{preview:?}");
    assert_eq!(
        (&preview.json["organization_name"], &preview.json["role"]),
        (&json!("Acme Corp"), &json!("admin"))
    );
    let wrong = eve
        .post("/invitations/accept", json!({ "token": token }))
        .await;
    assert_eq!(
        (wrong.status, wrong.json["error"].as_str()),
        (403, Some("invitation_for_another_address"))
    );
    let joined = bob
        .post("/invitations/accept", json!({ "token": token }))
        .await;
    assert_eq!(joined.status, 200, "{joined:?}");
    assert_eq!(joined.json["organization"]["role"], "admin");
    let spent = bob
        .post("/invitations/accept", json!({ "token": token }))
        .await;
    assert_eq!(
        (spent.status, spent.json["error"].as_str()),
        (422, Some("invalid_token"))
    );
    let members = ada.get(&format!("/orgs/{id}/members")).await;
    let emails: Vec<_> = members.json["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["ada@example.com", "bob@example.com"]);

    // Bob acts in it; an admin cannot demote the owner, who cannot leave as the last one.
    let active = bob
        .post(
            "/auth/active-organization",
            json!({ "organization_id": id }),
        )
        .await;
    assert_eq!(active.json["session"]["active_organization_id"], json!(id));
    assert_eq!(
        bob.get("/auth/session").await.json["session"]["active_organization_id"],
        json!(id)
    );
    let ada_id = ada.get("/me").await.json["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let demote = bob
        .post(
            &format!("/orgs/{id}/members/{ada_id}/role"),
            json!({ "role": "member" }),
        )
        .await;
    assert_eq!(
        (demote.status, demote.json["error"].as_str()),
        (403, Some("forbidden"))
    );
    let leave = ada.post(&format!("/orgs/{id}/leave"), json!({})).await;
    assert_eq!(
        (leave.status, leave.json["error"].as_str()),
        (409, Some("last_owner"))
    );
    let renamed = ada
        .send(
            reqwest::Method::PATCH,
            &format!("/orgs/{id}"),
            Some(json!({ "name": "Acme Inc" })),
            &[],
        )
        .await;
    assert_eq!(
        renamed.json["organization"]["name"], "Acme Inc",
        "{renamed:?}"
    );

    // Removed: Bob's very next request no longer acts in it, nor sees it.
    let removed = ada.delete(&format!("/orgs/{id}/members/{bob_id}")).await;
    assert_eq!(removed.status, 204, "{removed:?}");
    assert_eq!(
        bob.get("/auth/session").await.json["session"]["active_organization_id"],
        Value::Null
    );
    assert_eq!(bob.get(&format!("/orgs/{id}")).await.status, 404);

    let deleted = ada.delete(&format!("/orgs/{id}")).await;
    assert_eq!(deleted.status, 204, "{deleted:?}");
    assert_eq!(ada.get(&format!("/orgs/{id}")).await.status, 404);
    assert!(
        ada.get("/orgs").await.json["organizations"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

/// `sub_org` on Pro, as Stripe holds it with `quantity` seats.
fn per_seat_subscription(quantity: u64) -> Value {
    let now = tollbooth_db::now().timestamp();
    json!({
        "id": "sub_org", "object": "subscription", "customer": "cus_org", "status": "active",
        "created": 1, "cancel_at_period_end": false, "current_period_end": now + 30 * 86_400,
        "items": { "data": [{ "id": "si_org", "price": { "id": "price_pro", "product": "prod_pro" },
                              "quantity": quantity }] }
    })
}

/// Waits (at most 10 s) until `done`, failing with the server's logs.
async fn wait_until(server: &Server, done: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(std::time::Instant::now() < deadline, "{}", server.logs());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// An organization's billing: owners and billing admins check out, read and cancel it; a
/// plain member sees only the plan (403 for the rest); an outsider gets 404. Webhooks give
/// the organization — not whoever paid — the plan, and deleting the organization cancels
/// its subscription first (Stripe down: 503 and nothing deleted).
async fn organization_billing(flavor: Flavor, db: TestDb) {
    let stripe = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/customers"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ "id": "cus_org", "object": "customer" })),
        )
        .mount(&stripe)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "cs_org", "object": "checkout.session", "status": "open",
            "url": "https://checkout.stripe.com/c/pay/cs_org"
        })))
        .mount(&stripe)
        .await;
    // Pro is billed per seat, three at most; Stripe's stand-in keeps the item's quantity.
    let seats = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(1));
    let held = seats.clone();
    Mock::given(method("GET"))
        .and(path("/v1/subscriptions/sub_org"))
        .respond_with(move |_: &wiremock::Request| {
            let quantity = held.load(std::sync::atomic::Ordering::SeqCst);
            ResponseTemplate::new(200).set_body_json(per_seat_subscription(quantity))
        })
        .mount(&stripe)
        .await;
    let written = seats.clone();
    Mock::given(method("POST"))
        .and(path("/v1/subscription_items/si_org"))
        .respond_with(move |request: &wiremock::Request| {
            let quantity: u64 = tollbooth_billing::url::form_urlencoded::parse(&request.body)
                .find(|(key, _)| key == "quantity")
                .and_then(|(_, value)| value.parse().ok())
                .unwrap();
            written.store(quantity, std::sync::atomic::Ordering::SeqCst);
            ResponseTemplate::new(200)
                .set_body_json(json!({ "id": "si_org", "quantity": quantity }))
        })
        .mount(&stripe)
        .await;
    let billed_seats = || seats.load(std::sync::atomic::Ordering::SeqCst);
    let env = stripe_env(
        &stripe,
        &[
            ("BILLING_PER_SEAT_PRO", "true".to_owned()),
            ("BILLING_SEAT_LIMIT_PRO", "3".to_owned()),
        ],
    );
    let server = Server::start(flavor, db.url(), &env).await;
    let ada = Browser::new(&server);
    verified_user(&server, &ada, "ada@example.com").await;
    let bob = Browser::new(&server);
    let bob_id = verified_user(&server, &bob, "bob@example.com").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let eve = Browser::new(&server);
    verified_user(&server, &eve, "eve@example.com").await;
    let created = ada.post("/orgs", json!({ "name": "Acme Corp" })).await;
    assert_eq!(created.status, 201, "{created:?}");
    let id = created.json["organization"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    {
        use tollbooth_db::OrganizationRepo;
        let org = uuid::Uuid::parse_str(&id).unwrap();
        let bob = uuid::Uuid::parse_str(&bob_id).unwrap();
        db.add_member(org, bob, "member").await.unwrap();
    }

    let checkout = format!("/orgs/{id}/billing/checkout");
    let started = ada.post(&checkout, json!({ "plan": "pro" })).await;
    assert_eq!(started.status, 200, "{started:?}");
    assert_eq!(
        started.json["url"],
        "https://checkout.stripe.com/c/pay/cs_org"
    );
    let sent = stripe.received_requests().await.unwrap();
    let session = sent
        .iter()
        .find(|r| r.url.path() == "/v1/checkout/sessions")
        .unwrap();
    let form: std::collections::HashMap<String, String> =
        tollbooth_billing::url::form_urlencoded::parse(&session.body)
            .into_owned()
            .collect();
    assert_eq!(form["metadata[organization_id]"], id);
    assert_eq!(
        form["success_url"],
        format!("{}/organizations/{id}?checkout=done", server.public_url)
    );
    let forbidden = bob.post(&checkout, json!({ "plan": "pro" })).await;
    assert_eq!(
        (forbidden.status, forbidden.json["error"].as_str()),
        (403, Some("forbidden")),
        "{forbidden:?}"
    );
    for path in [
        checkout.clone(),
        format!("/orgs/{id}/billing/portal"),
        format!("/orgs/{id}/billing/subscription/cancel"),
    ] {
        let hidden = eve.post(&path, json!({ "plan": "pro" })).await;
        assert_eq!(
            (hidden.status, hidden.json["error"].as_str()),
            (404, Some("organization_not_found")),
            "{path}: {hidden:?}"
        );
    }

    let paid = deliver_stripe(
        &server,
        &stripe_event(
            "evt_org_sub",
            "customer.subscription.created",
            per_seat_subscription(1),
        ),
    )
    .await;
    assert_eq!(paid.json["outcome"], "applied", "{paid:?}");
    // Checkout sold one seat; Acme has two members: billed for two right after.
    wait_until(&server, || billed_seats() == 2).await;
    let billing = format!("/orgs/{id}/billing/subscription");
    let owner_view = ada.get(&billing).await;
    assert_eq!(owner_view.json["plan"], "pro", "{owner_view:?}");
    assert_eq!(owner_view.json["subscription"]["id"], "sub_org");
    let member_view = bob.get(&billing).await;
    assert_eq!(
        (member_view.status, &member_view.json["plan"]),
        (200, &json!("pro")),
        "{member_view:?}"
    );
    assert_eq!(member_view.json["subscription"], Value::Null);
    assert_eq!(
        ada.get("/billing/subscription").await.json["plan"],
        "free",
        "the owner's own plan is not the organization's"
    );
    assert_eq!(eve.get(&billing).await.status, 404);

    // Three seats at most: Ada, Bob and one pending invitation fill them.
    let invitations = format!("/orgs/{id}/invitations");
    let invite = |email: &str| ada.post(&invitations, json!({ "email": email }));
    assert_eq!(invite("carol@example.com").await.status, 201);
    let full = invite("dan@example.com").await;
    assert_eq!(
        (full.status, full.json["error"].as_str()),
        (409, Some("seat_limit_reached")),
        "{full:?}"
    );
    // Bob removed: one seat billed (prorated by Stripe), and room for Dan.
    let removed = ada.delete(&format!("/orgs/{id}/members/{bob_id}")).await;
    assert_eq!(removed.status, 204, "{removed:?}");
    wait_until(&server, || billed_seats() == 1).await;
    assert_eq!(invite("dan@example.com").await.status, 201);
    let prorated = stripe
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == "/v1/subscription_items/si_org")
        .all(|r| String::from_utf8_lossy(&r.body).contains("proration_behavior=create_prorations"));
    assert!(prorated);

    // Deleting the organization: Stripe down refuses it (nothing deleted); Stripe back,
    // the subscription is cancelled, then the organization deleted.
    let down = Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(503))
        .mount_as_scoped(&stripe)
        .await;
    let refused = ada.delete(&format!("/orgs/{id}")).await;
    assert_eq!(
        (refused.status, refused.json["error"].as_str()),
        (503, Some("payment_provider_unavailable")),
        "{refused:?}"
    );
    drop(down);
    assert_eq!(ada.get(&format!("/orgs/{id}")).await.status, 200);
    Mock::given(method("GET"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "list", "has_more": false, "data": []
        })))
        .mount(&stripe)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/subscriptions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "list", "has_more": false,
            "data": [subscription("sub_org", "cus_org", "active", "price_pro", 1)]
        })))
        .mount(&stripe)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/v1/subscriptions/sub_org"))
        .respond_with(ResponseTemplate::new(200).set_body_json(subscription(
            "sub_org",
            "cus_org",
            "canceled",
            "price_pro",
            1,
        )))
        .mount(&stripe)
        .await;
    let deleted = ada.delete(&format!("/orgs/{id}")).await;
    assert_eq!(deleted.status, 204, "{deleted:?}");
    let cancels = stripe
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "DELETE" && r.url.path() == "/v1/subscriptions/sub_org")
        .count();
    assert_eq!(cancels, 1);
    assert_eq!(ada.get(&format!("/orgs/{id}")).await.status, 404);
}

contract_tests!(
    the_openapi_document_refuses_what_it_does_not_describe,
    every_documented_operation_is_served,
    sign_up_verify_sign_in_me_sign_out,
    zero_configuration_start,
    account_management,
    own_account_lifecycle,
    deleting_an_account_cancels_its_subscription_first,
    administering_users,
    impersonation_cannot_change_credentials,
    signals_stop_the_server_gracefully,
    database_pool_size_from_the_environment,
    documented_error_statuses,
    session_fixation_and_cookie_attributes,
    mfa_sign_in,
    github_oauth_flow,
    google_oauth_flow,
    checkout_and_signed_stripe_webhooks,
    bad_webhook_signatures_write_nothing,
    calcom_webhook_creates_a_booking,
    malformed_oversized_and_cross_site_requests,
    billing_follows_what_stripe_says_is_paid,
    provider_failures_answer_without_their_detail,
    refunded_and_rescheduled_paid_sessions,
    a_one_off_payment_through_checkout,
    spent_rows_are_purged_on_a_schedule_and_on_demand,
    emails_survive_a_stop_between_commit_and_send,
    a_stolen_session_is_stopped_and_the_owner_undoes_it,
    per_ip_limits_see_clients_behind_a_trusted_proxy,
    small_contract_fixes,
    the_plan_catalog_is_the_servers_configuration,
    organizations_members_and_invitations,
    organization_billing,
);

/// Two instances (one axum, one actix) on one PostgreSQL: a session made on one works on the
/// other, and one Stripe event delivered to both at once is applied once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_one_postgres() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let stripe = MockServer::start().await;
    // Replicas behind one load balancer share the public URL (JWT issuer/audience, links).
    let env = stripe_env(
        &stripe,
        &[
            ("PUBLIC_URL", "http://localhost".to_owned()),
            ("ADMIN_EMAILS", "root@example.com".to_owned()),
        ],
    );
    let (a, b) = tokio::join!(
        Server::start(Flavor::Axum, db.url(), &env),
        Server::start(Flavor::Actix, db.url(), &env)
    );
    let on_a = Browser::new(&a);
    verified_user(&a, &on_a, "ada@example.com").await;
    let on_b = on_a.moved_to(&b);
    assert_eq!(
        on_b.get("/me").await.json["user"]["email"],
        "ada@example.com",
        "session valid on the other instance"
    );
    // Sign-out on B ends it on A.
    on_b.post("/auth/sign-out", json!({})).await;
    assert_eq!(on_a.get("/me").await.status, 401);

    // A ban on A ends the user's session on B at once.
    let ada = on_a
        .post(
            "/auth/sign-in",
            json!({ "email": "ada@example.com", "password": PASSWORD }),
        )
        .await
        .json["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let ada_on_b = on_a.moved_to(&b);
    assert_eq!(ada_on_b.get("/me").await.status, 200);
    let root = Browser::new(&a);
    verified_user(&a, &root, "root@example.com").await;
    let banned = root
        .post(&format!("/admin/users/{ada}/ban"), json!({}))
        .await;
    assert_eq!(banned.status, 200, "{banned:?}");
    assert_eq!(
        ada_on_b.get("/me").await.status,
        401,
        "banned on the other instance"
    );

    // Removed from an organization on A, a member's session on B no longer acts in it on
    // its very next request.
    let org = root.post("/orgs", json!({ "name": "Acme" })).await;
    let org = org.json["organization"]["id"].as_str().unwrap().to_owned();
    let grace_on_a = Browser::new(&a);
    let grace = verified_user(&a, &grace_on_a, "grace@example.com").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let invited = root
        .post(
            &format!("/orgs/{org}/invitations"),
            json!({ "email": "grace@example.com" }),
        )
        .await;
    assert_eq!(invited.status, 201, "{invited:?}");
    let token = a
        .emailed_token("grace@example.com", "/accept-invitation")
        .await;
    let joined = grace_on_a
        .post("/invitations/accept", json!({ "token": token }))
        .await;
    assert_eq!(joined.status, 200, "{joined:?}");
    let grace_on_b = grace_on_a.moved_to(&b);
    let switched = grace_on_b
        .post(
            "/auth/active-organization",
            json!({ "organization_id": org }),
        )
        .await;
    assert_eq!(
        switched.json["session"]["active_organization_id"],
        json!(org)
    );
    let removed = root.delete(&format!("/orgs/{org}/members/{grace}")).await;
    assert_eq!(removed.status, 204, "{removed:?}");
    let next = grace_on_b.get("/auth/session").await;
    assert_eq!(next.status, 200);
    assert_eq!(next.json["session"]["active_organization_id"], Value::Null);
    assert_eq!(
        grace_on_b.get(&format!("/orgs/{org}")).await.status,
        404,
        "not a member on the other instance"
    );

    let now = tollbooth_db::now().timestamp();
    let body = serde_json::to_vec(&json!({
        "id": "evt_both", "type": "customer.created", "created": now, "data": { "object": { "id": "cus_x" } }
    }))
    .unwrap();
    let signature = sign_stripe_webhook(&body, &WebhookSecret::new(STRIPE_WEBHOOK_SECRET), now);
    let deliver = |base: String| {
        let (body, signature) = (body.clone(), signature.clone());
        async move {
            let response = reqwest::Client::new()
                .post(format!("{base}/webhooks/stripe"))
                .header("stripe-signature", signature)
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            response.json::<Value>().await.unwrap()["outcome"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let (first, second) = tokio::join!(deliver(a.base.clone()), deliver(b.base.clone()));
    let mut outcomes = [first, second];
    outcomes.sort();
    assert_eq!(
        outcomes,
        ["duplicate", "ignored"],
        "recorded once, by one instance"
    );
}
