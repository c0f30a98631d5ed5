//! How other crates unit-test code that sends e-mail: mock the `EmailSender` seam.

use mockall::predicate::function;
use tollbooth_email::*;

/// A caller, as auth's sign-up is: it sends a welcome e-mail with a verification link.
async fn invite_to_verify(mailer: &Mailer, email: &str, token: &str) -> Result<MessageId> {
    let base = PublicBaseUrl::parse("https://app.acme.example")?;
    let props = WelcomeProps {
        name: None,
        verify_url: Some(base.link("/verify-email", &[("token", token)])),
    };
    mailer
        .send::<WelcomeEmail>(
            email,
            props,
            SendOptions::idempotency_key(format!("welcome/{email}")),
        )
        .await
}

#[tokio::test]
async fn sends_the_verification_link_once_with_a_domain_key() {
    let mut sender = MockEmailSender::new();
    sender
        .expect_send()
        .with(function(|e: &Email| {
            e.to()[0].address().as_str() == "ada@example.com"
                && e.idempotency_key() == "welcome/ada@example.com"
                && e.text()
                    .contains("https://app.acme.example/verify-email?token=t0k3n")
        }))
        .times(1)
        .returning(|_| Ok(MessageId("m-1".into())));
    let mailer = Mailer::new(
        sender,
        MailerConfig::new("noreply@acme.example", "Acme").unwrap(),
    );

    let id = invite_to_verify(&mailer, "ada@example.com", "t0k3n")
        .await
        .unwrap();
    assert_eq!(id, MessageId("m-1".into()));
}

#[tokio::test]
async fn a_transport_failure_reaches_the_caller() {
    let mut sender = MockEmailSender::new();
    sender.expect_send().returning(|_| {
        Err(EmailError::Rejected {
            status: 403,
            name: "invalid_from_address".into(),
            message: "domain not verified".into(),
        })
    });
    let mailer = Mailer::new(
        sender,
        MailerConfig::new("noreply@acme.example", "Acme").unwrap(),
    );
    let err = invite_to_verify(&mailer, "ada@example.com", "t")
        .await
        .unwrap_err();
    assert!(matches!(err, EmailError::Rejected { status: 403, .. }));
}
