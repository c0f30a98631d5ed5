//! The downstream service end to end: a real SQLite file, a local HTTP server standing in
//! for Stripe, the router driven request by request.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tollbooth_auth::tollbooth_email::{Mailer, MailerConfig, OutboxSender};
use tollbooth_auth::{Auth, AuthConfig, SigningKey};
use tollbooth_billing::{
    Billing, BillingConfig, Plan, StripeSecretKey, WebhookSecret, sign_stripe_webhook,
};
use tollbooth_downstream::{AppState, router};
use tower::ServiceExt;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ORIGIN: &str = "https://app.example.com";
const WEBHOOK_SECRET: &str = "whsec_downstream";

async fn call(app: &Router, request: Request<Body>) -> (StatusCode, Option<String>, Value) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let cookie = response
        .headers()
        .get(header::SET_COOKIE)
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, cookie, body)
}

fn post_json(uri: &str, body: Value) -> Request<Body> {
    Request::post(uri)
        .header(header::ORIGIN, ORIGIN)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_to_paid_plan_through_the_public_api() {
    let stripe = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/customers"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ "id": "cus_1", "object": "customer" })),
        )
        .mount(&stripe)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "cs_1", "object": "checkout.session", "mode": "subscription",
            "url": "https://checkout.stripe.com/c/pay/cs_1", "customer": "cus_1", "status": "open"
        })))
        .mount(&stripe)
        .await;

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("app.db").display());
    let db = tollbooth_auth::tollbooth_db::connect(url).await.unwrap();
    tollbooth_auth::tollbooth_db::migrate(&db).await.unwrap();
    let outbox = OutboxSender::new();
    let mailer = Mailer::new(
        outbox.clone(),
        MailerConfig::new("Acme <noreply@example.com>", "Acme").unwrap(),
    );
    let auth_config = AuthConfig::builder(ORIGIN)
        .signing_key(SigningKey::new("test", [42u8; 32]).unwrap())
        .build()
        .unwrap();
    let auth = Auth::new(db.clone(), mailer.clone(), auth_config);
    let billing_config = BillingConfig::builder(StripeSecretKey::new("sk_test_downstream"), ORIGIN)
        .api_base(stripe.uri())
        .plan(Plan::new("pro", "Pro").monthly_price("price_pro"))
        .webhook_secret(WebhookSecret::new(WEBHOOK_SECRET))
        .build()
        .unwrap();
    let billing = Billing::new(db, mailer, billing_config).unwrap();
    let app = router(AppState {
        auth: auth.clone(),
        billing,
    });

    // Sign up, follow the e-mailed link, sign in.
    let credentials =
        json!({ "email": "ada@example.com", "password": "correct horse battery staple" });
    let (status, _, _) = call(&app, post_json("/sign-up", credentials.clone())).await;
    assert_eq!(status, StatusCode::CREATED);
    auth.flush_background_tasks().await;
    let mail = outbox.sent_to("ada@example.com");
    let token = mail[0]
        .text()
        .split("token=")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let (status, _, _) = call(
        &app,
        Request::get(format!("/verify-email?token={token}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, cookie, _) = call(&app, post_json("/sign-in", credentials)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let cookie = cookie.expect("session cookie");
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("Secure")
            && cookie.contains("SameSite=Strict")
    );
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let with_cookie = |request: axum::http::request::Builder| {
        request
            .header(header::COOKIE, &cookie)
            .header(header::ORIGIN, ORIGIN)
    };

    // The session guard: 401 without the cookie, the user and the free plan with it.
    let (status, _, body) = call(&app, Request::get("/me").body(Body::empty()).unwrap()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthorized"))
    );
    let (status, _, body) = call(
        &app,
        with_cookie(Request::get("/me"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({ "email": "ada@example.com", "plan": "Free" }));

    // Checkout through "Stripe", then Stripe's signed webhook moves the user to Pro.
    let (status, _, body) = call(
        &app,
        with_cookie(Request::post("/checkout"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["url"].as_str()),
        (
            StatusCode::OK,
            Some("https://checkout.stripe.com/c/pay/cs_1")
        )
    );
    let now = tollbooth_auth::tollbooth_db::now().timestamp();
    let event = json!({
        "id": "evt_1", "object": "event", "api_version": "2024-04-10", "created": now, "type": "customer.subscription.created",
        "data": { "object": {
            "id": "sub_1", "object": "subscription", "customer": "cus_1", "status": "active",
            "cancel_at_period_end": false, "current_period_start": now, "current_period_end": now + 2_592_000,
            "items": { "object": "list", "data": [{ "id": "si_1", "price": { "id": "price_pro" }, "quantity": 1 }] },
            "metadata": {}
        } }
    })
    .to_string();
    let signature = sign_stripe_webhook(event.as_bytes(), &WebhookSecret::new(WEBHOOK_SECRET), now);
    let webhook = |signature: &str| {
        Request::post("/webhooks/stripe")
            .header("stripe-signature", signature)
            .body(Body::from(event.clone()))
            .unwrap()
    };
    // Same length and format, one hex digit different: the MAC comparison refuses it.
    let mut forged = signature.clone();
    let last = if forged.ends_with('0') { "1" } else { "0" };
    forged.replace_range(forged.len() - 1.., last);
    let (status, _, body) = call(&app, webhook(&forged)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_signature"))
    );
    let (status, _, body) = call(
        &app,
        with_cookie(Request::get("/me"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["plan"].as_str()),
        (StatusCode::OK, Some("Free")),
        "a forged event changes nothing"
    );
    let (status, _, _) = call(&app, webhook(&signature)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, body) = call(
        &app,
        with_cookie(Request::get("/me"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["plan"].as_str()),
        (StatusCode::OK, Some("Pro"))
    );
}
