//! `send_email` against a real local HTTP server standing in for Resend: the exact request.

use chrono::{TimeDelta, TimeZone, Utc};
use serde_json::{Value, json};
use tollbooth_email::*;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const KEY: &str = "re_test_0123456789";

async fn resend() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/emails"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ "id": "4ef9a417-02e9-4d39-ad75-9611e0fcc33c" })),
        )
        .mount(&server)
        .await;
    server
}

fn mailer(server: &MockServer) -> Mailer {
    let config = ResendConfig::new(ApiKey::new(KEY))
        .base_url(&server.uri())
        .unwrap();
    let sender = ResendSender::new(config).unwrap();
    let config = MailerConfig::new("Acme <noreply@acme.example>", "Acme")
        .unwrap()
        .reply_to("support@acme.example")
        .unwrap();
    Mailer::new(sender, config)
}

fn base() -> PublicBaseUrl {
    PublicBaseUrl::parse("https://app.acme.example").unwrap()
}

async fn only_request(server: &MockServer) -> (Request, Value) {
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1, "exactly one request");
    let request = requests.into_iter().next().unwrap();
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    (request, body)
}

/// Sends `T` and checks the request Resend received carries exactly the rendered template.
async fn assert_sends<T: EmailTemplate>(props: T::Props)
where
    T::Props: Clone,
{
    let server = resend().await;
    let mailer = mailer(&server);
    let expected = mailer.render::<T>(&props).unwrap();
    let key = format!("{}/user-42", T::NAME);

    let id = mailer
        .send::<T>(
            "Ada Lovelace <ada@example.com>",
            props,
            SendOptions::idempotency_key(&key),
        )
        .await
        .unwrap();
    assert_eq!(id.0, "4ef9a417-02e9-4d39-ad75-9611e0fcc33c");

    let (request, body) = only_request(&server).await;
    assert_eq!(request.method.as_str(), "POST");
    assert_eq!(request.url.path(), "/emails");
    assert_eq!(
        request.headers.get("authorization").unwrap(),
        &format!("Bearer {KEY}")
    );
    assert_eq!(
        request.headers.get("idempotency-key").unwrap(),
        key.as_str()
    );
    assert_eq!(
        request.headers.get("content-type").unwrap(),
        "application/json"
    );
    assert_eq!(body["from"], "Acme <noreply@acme.example>");
    assert_eq!(body["to"], json!(["Ada Lovelace <ada@example.com>"]));
    assert_eq!(body["reply_to"], json!(["support@acme.example"]));
    assert_eq!(body["subject"], expected.subject);
    assert_eq!(body["html"], expected.html);
    assert_eq!(body["text"], expected.text);
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for key in keys {
        assert!(
            ["from", "to", "reply_to", "subject", "html", "text"].contains(&key),
            "unexpected field `{key}` in {body}"
        );
    }
}

#[tokio::test]
async fn welcome() {
    let props = WelcomeProps {
        name: Some("Ada".into()),
        verify_url: Some(base().link("/verify-email", &[("token", "abc")])),
    };
    assert_sends::<WelcomeEmail>(props).await;
}

#[tokio::test]
async fn password_reset() {
    let props = PasswordResetProps {
        name: None,
        reset_url: base().link("/reset-password", &[("token", "abc")]),
        expires_in: TimeDelta::hours(1),
    };
    assert_sends::<PasswordResetEmail>(props).await;
}

#[tokio::test]
async fn subscription_confirmed() {
    let props = SubscriptionConfirmedProps {
        name: Some("Ada".into()),
        plan: "Pro".into(),
        price: Some((Money::new(1900, "usd"), "month".into())),
        trial_end: Some(Utc.with_ymd_and_hms(2026, 12, 9, 0, 0, 0).unwrap()),
        renews_at: None,
        manage_url: Link::parse("https://billing.stripe.com/p/session/test_123").unwrap(),
    };
    assert_sends::<SubscriptionConfirmedEmail>(props).await;
}

#[tokio::test]
async fn payment_failed() {
    let props = PaymentFailedProps {
        name: Some("Ada".into()),
        amount_due: Money::new(4900, "eur"),
        next_attempt_at: Some(Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap()),
        update_payment_url: base().link("/billing", &[]),
    };
    assert_sends::<PaymentFailedEmail>(props).await;
}

#[tokio::test]
async fn team_invite() {
    let props = TeamInviteProps {
        inviter_name: "Grace".into(),
        team_name: "Analytical Engines".into(),
        accept_url: base().link("/invites/accept", &[("token", "xyz")]),
        expires_in: TimeDelta::days(7),
    };
    assert_sends::<TeamInviteEmail>(props).await;
}

#[tokio::test]
async fn without_a_domain_key_each_send_still_has_one() {
    let server = resend().await;
    let mailer = mailer(&server);
    let props = WelcomeProps {
        name: None,
        verify_url: None,
    };
    send_email::<WelcomeEmail>(&mailer, "ada@example.com", props.clone())
        .await
        .unwrap();
    send_email::<WelcomeEmail>(&mailer, "ada@example.com", props)
        .await
        .unwrap();
    let keys: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| {
            r.headers
                .get("idempotency-key")
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(keys.len(), 2);
    assert!(keys.iter().all(|k| k.starts_with("welcome/")), "{keys:?}");
    assert_ne!(keys[0], keys[1], "independent sends are not deduplicated");
}

#[tokio::test]
async fn the_api_key_never_shows_in_debug_or_errors() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/emails"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "statusCode": 401, "name": "missing_api_key", "message": "Missing API key"
        })))
        .mount(&server)
        .await;
    let config = ResendConfig::new(ApiKey::new(KEY))
        .base_url(&server.uri())
        .unwrap();
    assert!(!format!("{config:?}").contains(KEY));
    let sender = ResendSender::new(config).unwrap();
    assert!(!format!("{sender:?}").contains(KEY));
    let mailer = Mailer::new(
        sender,
        MailerConfig::new("noreply@acme.example", "Acme").unwrap(),
    );
    let err = send_email::<WelcomeEmail>(
        &mailer,
        "ada@example.com",
        WelcomeProps {
            name: None,
            verify_url: None,
        },
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, EmailError::Rejected { status: 401, .. }),
        "{err:?}"
    );
    assert!(!format!("{err:?} {err}").contains(KEY));
}
