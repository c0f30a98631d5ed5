//! Retries against a local server playing a struggling Resend.

use std::time::{Duration, Instant};

use serde_json::json;
use tollbooth_email::*;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn fast_retries(attempts: u32) -> RetryPolicy {
    let mut policy = RetryPolicy::default();
    policy.max_attempts = attempts;
    policy.initial_backoff = Duration::from_millis(20);
    policy.max_backoff = Duration::from_millis(50);
    policy
}

fn mailer(base_url: &str, retry: RetryPolicy, requests_per_second: u32) -> Mailer {
    let mut config = ResendConfig::new(ApiKey::new("re_test"))
        .base_url(base_url)
        .unwrap();
    config.retry = retry;
    config.requests_per_second = requests_per_second;
    config.timeout = Duration::from_secs(2);
    Mailer::new(
        ResendSender::new(config).unwrap(),
        MailerConfig::new("noreply@acme.example", "Acme").unwrap(),
    )
}

fn welcome() -> WelcomeProps {
    WelcomeProps {
        name: None,
        verify_url: None,
    }
}

fn ok() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({ "id": "msg_1" }))
}

async fn send(mailer: &Mailer) -> Result<MessageId> {
    mailer
        .send::<WelcomeEmail>(
            "ada@example.com",
            welcome(),
            SendOptions::idempotency_key("welcome/u1"),
        )
        .await
}

async fn idempotency_keys(server: &MockServer) -> Vec<String> {
    server
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
        .collect()
}

#[tokio::test]
async fn a_429_then_200_sends_once_with_the_same_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/emails"))
        .respond_with(ResponseTemplate::new(429).set_body_json(json!({
            "statusCode": 429, "name": "rate_limit_exceeded", "message": "Too many requests"
        })))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/emails"))
        .respond_with(ok())
        .mount(&server)
        .await;

    let id = send(&mailer(&server.uri(), fast_retries(4), 100))
        .await
        .unwrap();
    assert_eq!(id.0, "msg_1");
    assert_eq!(
        idempotency_keys(&server).await,
        ["welcome/u1", "welcome/u1"]
    );
}

#[tokio::test]
async fn persistent_500s_give_up_after_the_bound_with_a_typed_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/emails"))
        .respond_with(ResponseTemplate::new(500).set_body_json(json!({
            "statusCode": 500, "name": "internal_server_error", "message": "boom"
        })))
        .mount(&server)
        .await;

    let err = send(&mailer(&server.uri(), fast_retries(3), 100))
        .await
        .unwrap_err();
    assert!(
        matches!(err, EmailError::Unavailable { attempts: 3, .. }),
        "{err:?}"
    );
    assert_eq!(idempotency_keys(&server).await.len(), 3, "bounded attempts");
}

#[tokio::test]
async fn a_proxy_html_502_is_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/emails"))
        .respond_with(
            ResponseTemplate::new(502).set_body_raw("<html>Bad Gateway</html>", "text/html"),
        )
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/emails"))
        .respond_with(ok())
        .mount(&server)
        .await;
    send(&mailer(&server.uri(), fast_retries(4), 100))
        .await
        .unwrap();
    assert_eq!(idempotency_keys(&server).await.len(), 3);
}

#[tokio::test]
async fn retries_stop_at_the_total_time_bound() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/emails"))
        .respond_with(ResponseTemplate::new(503).set_body_json(json!({
            "statusCode": 503, "name": "service_unavailable", "message": "later"
        })))
        .mount(&server)
        .await;
    let mut policy = fast_retries(100);
    policy.initial_backoff = Duration::from_millis(100);
    policy.max_backoff = Duration::from_millis(100);
    policy.max_elapsed = Duration::from_millis(300);
    let started = Instant::now();
    let err = send(&mailer(&server.uri(), policy, 100)).await.unwrap_err();
    assert!(matches!(err, EmailError::Unavailable { .. }), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(idempotency_keys(&server).await.len() < 100);
}

#[tokio::test]
async fn a_422_is_not_retried_and_carries_resends_name_and_message() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/emails"))
        .respond_with(ResponseTemplate::new(422).set_body_json(json!({
            "statusCode": 422,
            "name": "validation_error",
            "message": "The `from` domain is not verified."
        })))
        .mount(&server)
        .await;

    let err = send(&mailer(&server.uri(), fast_retries(4), 100))
        .await
        .unwrap_err();
    match err {
        EmailError::Rejected {
            status,
            name,
            message,
        } => {
            assert_eq!((status, name.as_str()), (422, "validation_error"));
            assert_eq!(message, "The `from` domain is not verified.");
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
    assert_eq!(idempotency_keys(&server).await.len(), 1, "not retried");
}

#[tokio::test]
async fn connection_failures_are_retried_then_reported() {
    // Nothing listens on this port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = send(&mailer(
        &format!("http://127.0.0.1:{port}"),
        fast_retries(3),
        100,
    ))
    .await
    .unwrap_err();
    assert!(
        matches!(err, EmailError::Unavailable { attempts: 3, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn sends_are_paced_to_the_configured_rate() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/emails"))
        .respond_with(ok())
        .mount(&server)
        .await;
    let mailer = mailer(&server.uri(), fast_retries(1), 10);
    let started = Instant::now();
    let sends: Vec<_> = (0..5)
        .map(|i| {
            let mailer = mailer.clone();
            tokio::spawn(async move {
                mailer
                    .send::<WelcomeEmail>(
                        "ada@example.com",
                        welcome(),
                        SendOptions::idempotency_key(format!("k{i}")),
                    )
                    .await
            })
        })
        .collect();
    for send in sends {
        send.await.unwrap().unwrap();
    }
    // Five concurrent sends at 10/s: slots at 0, 100, 200, 300, 400 ms.
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );
}
