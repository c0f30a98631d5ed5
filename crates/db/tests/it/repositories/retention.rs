//! The purge: only rows past their retention go, every kind at once.

use chrono::Duration;
use tollbooth_db::testing::TestDb;
use tollbooth_db::*;

use super::user;

fn email(key: &str) -> NewOutboxEmail {
    NewOutboxEmail::new(
        key,
        "welcome",
        "Acme <noreply@acme.example>",
        vec!["ada@example.com".to_owned()],
        "Welcome",
        "<p>hi</p>",
        "hi",
    )
}

async fn a_purge_deletes_only_what_retention_lets_go(db: TestDb) {
    let now = now();
    let ada = user(&*db, "ada@example.com").await;
    let hour = Duration::hours(1);
    // Ended 40 days ago and 10 days ago, and live.
    let old = db
        .create_session(NewSession::new(
            ada.id,
            now - Duration::days(40),
            hour,
            hour,
        ))
        .await
        .unwrap();
    let recent = db
        .create_session(NewSession::new(
            ada.id,
            now - Duration::days(10),
            hour,
            hour,
        ))
        .await
        .unwrap();
    let live = db
        .create_session(NewSession::new(ada.id, now, hour, hour))
        .await
        .unwrap();
    // Delivered 31 days ago, delivered today, and still due (queued long ago).
    for key in ["sent/old", "sent/new", "due"] {
        db.enqueue_email(email(key)).await.unwrap();
    }
    for (key, at) in [("sent/old", now - Duration::days(31)), ("sent/new", now)] {
        let row = db.find_outbox_email(key).await.unwrap().unwrap();
        db.mark_email_sent(row.id, at).await.unwrap();
    }
    // Received 31 days ago and yesterday.
    db.record_webhook_event(
        WebhookSource::Stripe,
        "evt_old",
        "invoice.paid",
        now - Duration::days(31),
    )
    .await
    .unwrap();
    db.record_webhook_event(
        WebhookSource::Stripe,
        "evt_new",
        "invoice.paid",
        now - Duration::days(1),
    )
    .await
    .unwrap();

    // Security events of 400 and 300 days ago: the trail keeps a year.
    for days in [400, 300] {
        let at = now - Duration::days(days);
        let event = NewSecurityEvent::new(SecurityEventKind::Banned, at, None, Some(ada.id));
        db.record_security_event(event).await.unwrap();
    }

    // A ledger shorter than Stripe's retry horizon is refused, and nothing is deleted.
    let short = Retention::default().webhook_events(Duration::days(2));
    assert!(matches!(
        db.purge(&short, now).await,
        Err(DbError::InvalidConfig { .. })
    ));
    assert!(db.find_session(old.id).await.unwrap().is_some());

    let report = db.purge(&Retention::default(), now).await.unwrap();
    assert_eq!(
        (
            report.sessions,
            report.webhook_events,
            report.emails,
            report.security_events
        ),
        (1, 1, 1, 1),
        "{report:?}"
    );
    assert_eq!(report.total(), 4 + report.tokens + report.rate_limits);
    let mut about_ada = SecurityEventQuery::default();
    about_ada.subject_user_id = Some(ada.id);
    let kept = db.list_security_events(&about_ada, 10).await.unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].at, micros(now - Duration::days(300)));
    assert!(db.find_session(old.id).await.unwrap().is_none());
    for kept in [recent.id, live.id] {
        assert!(db.find_session(kept).await.unwrap().is_some());
    }
    assert!(db.find_outbox_email("sent/old").await.unwrap().is_none());
    for kept in ["sent/new", "due"] {
        assert!(
            db.find_outbox_email(kept).await.unwrap().is_some(),
            "{kept}"
        );
    }
    assert!(
        db.find_webhook_event(WebhookSource::Stripe, "evt_old")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        db.find_webhook_event(WebhookSource::Stripe, "evt_new")
            .await
            .unwrap()
            .is_some()
    );
    // Run again (another instance, the next tick): nothing left to do.
    assert_eq!(
        db.purge(&Retention::default(), now).await.unwrap().total(),
        0
    );
}

tollbooth_db::engine_tests!(a_purge_deletes_only_what_retention_lets_go,);
