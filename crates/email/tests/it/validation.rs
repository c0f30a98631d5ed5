//! Bad input is refused before any network call.

use chrono::TimeDelta;
use serde_json::json;
use tollbooth_email::*;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A Resend stand-in that fails the test if it receives anything.
async fn untouched_resend() -> (MockServer, Mailer) {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "id": "x" })))
        .expect(0)
        .mount(&server)
        .await;
    let config = ResendConfig::new(ApiKey::new("re_test"))
        .base_url(&server.uri())
        .unwrap();
    let mailer = Mailer::new(
        ResendSender::new(config).unwrap(),
        MailerConfig::new("Acme <noreply@acme.example>", "Acme").unwrap(),
    );
    (server, mailer)
}

fn welcome() -> WelcomeProps {
    WelcomeProps {
        name: None,
        verify_url: None,
    }
}

fn invite(team: &str) -> TeamInviteProps {
    TeamInviteProps {
        inviter_name: "Grace".into(),
        team_name: team.into(),
        accept_url: Link::parse("https://app.acme.example/accept").unwrap(),
        expires_in: TimeDelta::days(1),
    }
}

/// A template with a blank subject (our own templates never have one).
struct Blank;
impl EmailTemplate for Blank {
    type Props = ();
    const NAME: &'static str = "blank";
    fn render((): &(), _: &Brand) -> Result<Rendered> {
        Ok(Rendered {
            subject: "  ".into(),
            html: "<p>x</p>".into(),
            text: "x".into(),
        })
    }
}

#[tokio::test]
async fn invalid_recipient() {
    let (server, mailer) = untouched_resend().await;
    let err = send_email::<WelcomeEmail>(&mailer, "not-an-address", welcome())
        .await
        .unwrap_err();
    assert!(
        matches!(err, EmailError::InvalidAddress { field: "to" }),
        "{err:?}"
    );
    server.verify().await;
}

#[tokio::test]
async fn too_many_or_no_recipients() {
    let (server, mailer) = untouched_resend().await;
    let many: Vec<String> = (0..51).map(|i| format!("u{i}@example.com")).collect();
    let err = send_email::<WelcomeEmail>(&mailer, many, welcome())
        .await
        .unwrap_err();
    assert!(
        matches!(err, EmailError::TooManyRecipients { count: 51, max: 50 }),
        "{err:?}"
    );
    let err = send_email::<WelcomeEmail>(&mailer, Vec::<String>::new(), welcome())
        .await
        .unwrap_err();
    assert!(matches!(err, EmailError::NoRecipient), "{err:?}");
    server.verify().await;
}

#[tokio::test]
async fn empty_subject() {
    let (server, mailer) = untouched_resend().await;
    let err = send_email::<Blank>(&mailer, "ada@example.com", ())
        .await
        .unwrap_err();
    assert!(matches!(err, EmailError::EmptySubject), "{err:?}");
    server.verify().await;
}

#[tokio::test]
async fn header_injection_in_any_header_bound_field() {
    let (server, mailer) = untouched_resend().await;
    // Through a prop that lands in the subject.
    let err = send_email::<TeamInviteEmail>(
        &mailer,
        "ada@example.com",
        invite("Evil\r\nBcc: all@example.com"),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, EmailError::HeaderInjection { field: "subject" }),
        "{err:?}"
    );
    // In a recipient.
    let err =
        send_email::<WelcomeEmail>(&mailer, "ada@example.com\nBcc: all@example.com", welcome())
            .await
            .unwrap_err();
    assert!(
        matches!(err, EmailError::HeaderInjection { field: "to" }),
        "{err:?}"
    );
    // In the idempotency key (it is an HTTP header).
    let err = mailer
        .send::<WelcomeEmail>(
            "ada@example.com",
            welcome(),
            SendOptions::idempotency_key("k\r\nX-Evil: 1"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            EmailError::HeaderInjection {
                field: "idempotency_key"
            }
        ),
        "{err:?}"
    );
    server.verify().await;

    // In the configured sender identity.
    assert!(matches!(
        MailerConfig::new("Acme\r\n <noreply@acme.example>", "Acme"),
        Err(EmailError::HeaderInjection { field: "from" })
    ));
    assert!(matches!(
        MailerConfig::new("noreply@acme.example", "Acme")
            .unwrap()
            .reply_to("x@example.com\r\n"),
        Err(EmailError::HeaderInjection { field: "reply_to" })
    ));
}

#[test]
fn configuration_errors_are_clear() {
    assert!(matches!(
        MailerConfig::new("Acme", "Acme"),
        Err(EmailError::InvalidAddress { field: "from" })
    ));
    let err = ResendSender::new(ResendConfig::new(ApiKey::new(" "))).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid e-mail configuration: Resend API key is empty"
    );
    assert!(matches!(
        ResendConfig::new(ApiKey::new("re_x")).base_url("not a url"),
        Err(EmailError::InvalidConfig { .. })
    ));
    assert!(matches!(
        Link::parse("http://evil.example/reset"),
        Err(EmailError::InvalidLink { .. })
    ));
}
