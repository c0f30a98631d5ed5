//! The e-mail outbox: exclusive, leased claims.

use chrono::Duration;
use tollbooth_db::testing::TestDb;
use tollbooth_db::*;

fn outbox_email(key: &str) -> NewOutboxEmail {
    NewOutboxEmail::new(
        key,
        "welcome",
        "Acme <noreply@acme.example>",
        vec!["ada@example.com".to_owned()],
        "Welcome",
        "<a href=\"https://acme.example/verify?token=secret\">verify</a>",
        "https://acme.example/verify?token=secret",
    )
}

async fn outbox_claims_are_exclusive_and_leased(db: TestDb) {
    assert!(db.enqueue_email(outbox_email("welcome/1")).await.unwrap());
    assert!(
        !db.enqueue_email(outbox_email("welcome/1")).await.unwrap(),
        "one key, one message"
    );

    // Two workers on two pools claim at once: one gets it.
    let other = db.connect_again().await;
    let now = now();
    let lease = Duration::minutes(2);
    let (a, b) = tokio::join!(
        db.claim_due_emails(now, lease, 10),
        other.claim_due_emails(now, lease, 10)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.len() + b.len(), 1, "{a:?} {b:?}");
    let claimed = a.into_iter().chain(b).next().unwrap();
    assert_eq!(claimed.attempts, 1);
    // Leased: nobody else takes it until the lease runs out (a worker that died).
    assert!(
        db.claim_due_emails(now + Duration::minutes(1), lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let again = db
        .claim_due_emails(now + Duration::minutes(3), lease, 10)
        .await
        .unwrap();
    assert_eq!(again.iter().map(|e| e.attempts).collect::<Vec<_>>(), [2]);

    // A failure to retry later, then success: bodies emptied, never claimed again.
    let id = again[0].id;
    let retry_at = now + Duration::minutes(10);
    db.mark_email_failed(id, "provider down", DeliveryFailure::RetryAt(retry_at), now)
        .await
        .unwrap();
    assert!(
        db.claim_due_emails(now + Duration::minutes(9), lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let due = db.claim_due_emails(retry_at, lease, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    db.mark_email_sent(id, retry_at).await.unwrap();
    let sent = db.find_outbox_email("welcome/1").await.unwrap().unwrap();
    assert!(
        sent.sent_at.is_some() && sent.html.is_empty() && sent.text_body.is_empty(),
        "{sent:?}"
    );
    assert!(
        db.claim_due_emails(retry_at + Duration::days(1), lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(!format!("{sent:?}").contains("token=secret"));

    // Given up: emptied too.
    db.enqueue_email(outbox_email("welcome/2")).await.unwrap();
    let now = tollbooth_db::now();
    let row = db.claim_due_emails(now, lease, 10).await.unwrap().remove(0);
    db.mark_email_failed(row.id, "rejected", DeliveryFailure::GiveUp, now)
        .await
        .unwrap();
    let failed = db.find_outbox_email("welcome/2").await.unwrap().unwrap();
    assert!(failed.failed_at.is_some() && failed.text_body.is_empty());
    assert!(
        db.claim_due_emails(now + Duration::days(1), lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

tollbooth_db::engine_tests!(outbox_claims_are_exclusive_and_leased,);
