//! Cal.com: booking links against a local server standing in for Cal.com API v2, the
//! payment → booking link → booking webhook flow, and signed booking webhooks.

use std::collections::HashMap;

use crate::common::*;
use serde_json::{Value, json};
use tollbooth_billing::*;
use tollbooth_db::testing::TestDb;
use tollbooth_db::{BillingRepo, BookingRepo, BookingStatus};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const CAL_SECRET: &str = "cal_webhook_secret";

fn calcom_config(api_base: &str) -> CalcomConfig {
    let mut calcom = CalcomConfig::new(CalcomApiKey::new("cal_test_key"))
        .urls(api_base, "https://cal.example")
        .unwrap()
        .webhook_secret(WebhookSecret::new(CAL_SECRET));
    calcom.retry = fast_retries();
    calcom
}

async fn with_calcom(db: TestDb) -> (TestBilling, MockServer) {
    let cal = MockServer::start().await;
    let uri = cal.uri();
    let t = TestBilling::with(db, move |c| c.calcom(calcom_config(&uri))).await;
    (t, cal)
}

/// An event type as Cal.com API v2 (cal-api-version 2024-06-14) returns it.
fn event_type(id: i64, username: &str, slug: &str) -> Value {
    json!({
        "status": "success",
        "data": {
            "id": id, "ownerId": 10, "lengthInMinutes": 30, "title": "Strategy call", "slug": slug,
            "description": "", "locations": [{ "type": "integration", "integration": "cal-video" }],
            "bookingFields": [], "disableGuests": false, "schedulingType": null, "metadata": {},
            "users": [{ "id": 10, "name": "Ada Lovelace", "username": username, "avatarUrl": null,
                        "weekStart": "Monday", "brandColor": null, "darkBrandColor": null, "metadata": {} }]
        }
    })
}

async fn serve_event_type(cal: &MockServer, id: i64) {
    Mock::given(method("GET"))
        .and(path(format!("/v2/event-types/{id}")))
        .and(header("authorization", "Bearer cal_test_key"))
        .and(header("cal-api-version", "2024-06-14"))
        .respond_with(ResponseTemplate::new(200).set_body_json(event_type(
            id,
            "ada-lovelace",
            "strategy-call",
        )))
        .mount(cal)
        .await;
}

/// A Cal.com webhook delivery with a realistic booking payload.
fn booking_event(trigger: &str, uid: &str, created_at: &str, extra: Value) -> Value {
    let mut payload = json!({
        "type": "strategy-call", "title": "Strategy call between Ada and Grace",
        "description": "", "additionalNotes": "Looking forward", "customInputs": {},
        "startTime": "2026-12-01T10:00:00.000Z", "endTime": "2026-12-01T10:30:00.000Z",
        "organizer": { "id": 10, "name": "Ada Lovelace", "email": "ada@acme.example", "username": "ada-lovelace",
                       "timeZone": "Europe/London", "language": { "locale": "en" }, "timeFormat": "h:mma", "utcOffset": 0 },
        "responses": { "name": { "label": "your_name", "value": "Grace Hopper" },
                       "email": { "label": "email_address", "value": "grace@example.com" },
                       "notes": { "label": "additional_notes", "value": "Looking forward" } },
        "userFieldsResponses": {},
        "attendees": [{ "email": "grace@example.com", "name": "Grace Hopper", "timeZone": "America/New_York",
                        "language": { "locale": "en" } }],
        "location": "integrations:daily", "destinationCalendar": null, "hideCalendarNotes": false,
        "requiresConfirmation": null, "eventTypeId": 42, "seatsShowAttendees": true, "seatsPerTimeSlot": null,
        "uid": uid, "iCalUID": format!("{uid}@Cal.com"), "eventTitle": "Strategy call", "eventDescription": "",
        "price": 0, "currency": "usd", "length": 30, "bookingId": 91, "status": "ACCEPTED",
        "metadata": { "videoCallUrl": format!("https://app.cal.com/video/{uid}") }
    });
    for (k, v) in extra.as_object().unwrap() {
        payload[k] = v.clone();
    }
    json!({ "triggerEvent": trigger, "createdAt": created_at, "payload": payload })
}

async fn deliver(t: &TestBilling, event: &Value) -> Result<CalcomReceipt> {
    let body = serde_json::to_vec(event).unwrap();
    let signature = sign_calcom_webhook(&body, &WebhookSecret::new(CAL_SECRET));
    t.billing
        .handle_calcom_webhook(&body, Some(&signature))
        .await
}

async fn booking_links_are_built_from_the_event_type_and_cached(db: TestDb) {
    let (t, cal) = with_calcom(db).await;
    serve_event_type(&cal, 42).await;
    let metadata = HashMap::from([
        ("payment_intent".to_owned(), "pi_1".to_owned()),
        ("note".to_owned(), "a b&c=d/é".to_owned()),
    ]);
    let prefill = Prefill::new(
        Some("Grace Hopper".into()),
        Some("grace+cal@example.com".into()),
    );
    let url = t
        .billing
        .create_calcom_booking_link(42, &metadata, &prefill)
        .await
        .unwrap();
    assert_eq!(
        url.as_str(),
        "https://cal.example/ada-lovelace/strategy-call?metadata%5Bnote%5D=a+b%26c%3Dd%2F%C3%A9\
         &metadata%5Bpayment_intent%5D=pi_1&name=Grace+Hopper&email=grace%2Bcal%40example.com"
    );
    // Round trip: the query decodes back to exactly what was given.
    let decoded: HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(decoded["metadata[note]"], "a b&c=d/é");
    assert_eq!(decoded["email"], "grace+cal@example.com");

    // Cached: the second link makes no request.
    let plain = t
        .billing
        .create_calcom_booking_link(42, &HashMap::new(), &Prefill::default())
        .await
        .unwrap();
    assert_eq!(
        plain.as_str(),
        "https://cal.example/ada-lovelace/strategy-call"
    );
    assert_eq!(cal.received_requests().await.unwrap().len(), 1);
}

async fn lookup_failures_and_bad_metadata_are_typed(db: TestDb) {
    let (t, cal) = with_calcom(db).await;
    Mock::given(method("GET"))
        .and(path("/v2/event-types/404"))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(
                json!({ "status": "error", "error": { "code": "NotFoundException" } }),
            ),
        )
        .mount(&cal)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/event-types/500"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&cal)
        .await;
    let none = HashMap::new();
    let err = t
        .billing
        .create_calcom_booking_link(404, &none, &Prefill::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, BillingError::NotFound { what: "event type" }),
        "{err:?}"
    );
    assert_eq!(err.status().as_u16(), 404);
    let err = t
        .billing
        .create_calcom_booking_link(500, &none, &Prefill::default())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            BillingError::Calcom(ProviderError::Unavailable { attempts: 4, .. })
        ),
        "{err:?}"
    );
    assert_eq!(err.status().as_u16(), 503);
    let requests_before = cal.received_requests().await.unwrap().len();
    for metadata in [
        HashMap::from([("a[b]".to_owned(), "v".to_owned())]),
        HashMap::from([("k".to_owned(), "line\nbreak".to_owned())]),
        HashMap::from([("k".repeat(41), "v".to_owned())]),
        HashMap::from([("k".to_owned(), "v".repeat(501))]),
        (0..51).map(|i| (format!("k{i}"), "v".to_owned())).collect(),
    ] {
        let err = t
            .billing
            .create_calcom_booking_link(42, &metadata, &Prefill::default())
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                BillingError::InvalidInput {
                    field: "metadata",
                    ..
                }
            ),
            "{err:?}"
        );
    }
    assert_eq!(
        cal.received_requests().await.unwrap().len(),
        requests_before,
        "refused before any request"
    );
}

async fn a_paid_session_is_booked_once(db: TestDb) {
    let (t, cal) = with_calcom(db).await;
    serve_event_type(&cal, 42).await;
    let grace = t.user("grace@example.com", None).await;

    // Stripe reports the payment; its booking link is made after the commit, off the
    // response path, and stored with the payment.
    let paid = event(
        "evt_pi",
        "payment_intent.succeeded",
        1_764_000_000,
        json!({
            "id": "pi_paid", "object": "payment_intent", "amount": 20000, "currency": "usd", "status": "succeeded",
            "metadata": { "user_id": grace.id.to_string(), EVENT_TYPE_METADATA_KEY: "42" }
        }),
    );
    assert_eq!(
        t.deliver(&paid).await.unwrap().outcome,
        WebhookOutcome::Applied
    );
    t.billing.flush_background_tasks().await;
    let stored =
        t.db.find_payment("pi_paid")
            .await
            .unwrap()
            .unwrap()
            .booking_url;
    let link = url::Url::parse(&stored.expect("a booking link for the paid session")).unwrap();
    let query: HashMap<String, String> = link.query_pairs().into_owned().collect();
    assert_eq!(link.path(), "/ada-lovelace/strategy-call");
    assert_eq!(query["metadata[payment_intent]"], "pi_paid");
    assert_eq!(query["metadata[user_id]"], grace.id.to_string());
    assert_eq!(query["email"], "grace@example.com");
    // Retrievable by payment id (stored: no new lookup).
    assert_eq!(
        t.billing.booking_link_for_payment("pi_paid").await.unwrap(),
        link
    );
    assert_eq!(cal.received_requests().await.unwrap().len(), 1);

    // Cal.com reports the booking made through that link.
    let created = booking_event(
        "BOOKING_CREATED",
        "uid-paid",
        "2026-11-25T10:00:00.000Z",
        json!({
            "metadata": { "videoCallUrl": "https://app.cal.com/video/uid-paid",
                          "payment_intent": "pi_paid", "user_id": grace.id.to_string() }
        }),
    );
    assert_eq!(
        deliver(&t, &created).await.unwrap().outcome,
        WebhookOutcome::Applied
    );
    let booking = t.db.find_booking("uid-paid").await.unwrap().unwrap();
    assert_eq!(
        (booking.user_id, booking.stripe_payment_intent_id.as_deref()),
        (Some(grace.id), Some("pi_paid"))
    );
    // …and the paid session cannot be booked twice.
    let err = t
        .billing
        .booking_link_for_payment("pi_paid")
        .await
        .unwrap_err();
    assert!(matches!(err, BillingError::AlreadyBooked));
    assert_eq!(err.status().as_u16(), 409);

    // The link used again (it is only a URL): the second booking is stored without the
    // payment, and the receipt names the payment so the app can cancel or charge it.
    let paid_metadata = json!({
        "metadata": { "payment_intent": "pi_paid", "user_id": grace.id.to_string() }
    });
    let again = booking_event(
        "BOOKING_CREATED",
        "uid-again",
        "2026-11-25T11:00:00.000Z",
        paid_metadata.clone(),
    );
    let receipt = deliver(&t, &again).await.unwrap();
    assert_eq!(
        (receipt.outcome, receipt.reused_payment.as_deref()),
        (WebhookOutcome::Applied, Some("pi_paid"))
    );
    let unpaid = t.db.find_booking("uid-again").await.unwrap().unwrap();
    assert_eq!(unpaid.stripe_payment_intent_id, None);
    let paid_for = t.billing.bookings_for_payment("pi_paid").await.unwrap();
    assert_eq!(paid_for.len(), 1);
    // Once the paid booking is cancelled, the session can be booked again.
    let cancelled = booking_event(
        "BOOKING_CANCELLED",
        "uid-paid",
        "2026-11-25T12:00:00.000Z",
        json!({}),
    );
    deliver(&t, &cancelled).await.unwrap();
    let rebooked = booking_event(
        "BOOKING_CREATED",
        "uid-rebooked",
        "2026-11-25T13:00:00.000Z",
        paid_metadata,
    );
    let receipt = deliver(&t, &rebooked).await.unwrap();
    assert_eq!(receipt.reused_payment, None);
    let rebooked = t.db.find_booking("uid-rebooked").await.unwrap().unwrap();
    assert_eq!(
        rebooked.stripe_payment_intent_id.as_deref(),
        Some("pi_paid")
    );

    // A payment Tollbooth has not recorded has no link.
    let err = t
        .billing
        .booking_link_for_payment("pi_unknown")
        .await
        .unwrap_err();
    assert!(
        matches!(err, BillingError::NotFound { what: "payment" }),
        "{err:?}"
    );
}

/// A create and a cancel reported at the same instant end cancelled, in either order.
async fn a_create_never_undoes_a_cancel_of_the_same_instant(db: TestDb) {
    let (t, _cal) = with_calcom(db).await;
    let at = "2026-11-25T10:00:00.000Z";
    for (uid, cancel_first) in [("uid-a", true), ("uid-b", false)] {
        let created = booking_event("BOOKING_CREATED", uid, at, json!({}));
        let cancelled = booking_event("BOOKING_CANCELLED", uid, at, json!({}));
        let (first, second) = if cancel_first {
            (cancelled, created)
        } else {
            (created, cancelled)
        };
        deliver(&t, &first).await.unwrap();
        let later = deliver(&t, &second).await.unwrap().outcome;
        let expected = if cancel_first {
            WebhookOutcome::Stale
        } else {
            WebhookOutcome::Applied
        };
        assert_eq!(later, expected, "{uid}");
        let booking = t.db.find_booking(uid).await.unwrap().unwrap();
        assert_eq!(booking.status, BookingStatus::Cancelled, "{uid}");
    }
}

/// Two instances receiving a booking's create and its cancel at the same moment: no
/// delivery fails, and the booking ends cancelled every time.
async fn concurrent_deliveries_for_one_booking_apply_in_order(db: TestDb) {
    let (t, cal) = with_calcom(db).await;
    let config = config(&t.stripe)
        .await
        .calcom(calcom_config(&cal.uri()))
        .build()
        .unwrap();
    let other = Billing::new(
        t.db.connect_again().await,
        mailer(tollbooth_email::OutboxSender::new()),
        config,
    )
    .unwrap();
    let signed = |event: &Value| {
        let body = serde_json::to_vec(event).unwrap();
        let signature = sign_calcom_webhook(&body, &WebhookSecret::new(CAL_SECRET));
        (body, signature)
    };
    for round in 0..8 {
        let uid = format!("uid-race-{round}");
        let created = signed(&booking_event(
            "BOOKING_CREATED",
            &uid,
            "2026-11-25T10:00:00.000Z",
            json!({}),
        ));
        let cancelled = signed(&booking_event(
            "BOOKING_CANCELLED",
            &uid,
            "2026-11-25T10:05:00.000Z",
            json!({ "cancellationReason": "Race" }),
        ));
        let (a, b) = tokio::join!(
            t.billing
                .handle_calcom_webhook(&created.0, Some(&created.1)),
            other.handle_calcom_webhook(&cancelled.0, Some(&cancelled.1)),
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(b.outcome, WebhookOutcome::Applied, "round {round}");
        assert!(
            matches!(a.outcome, WebhookOutcome::Applied | WebhookOutcome::Stale),
            "round {round}: {a:?}"
        );
        let booking = t.db.find_booking(&uid).await.unwrap().unwrap();
        assert_eq!(
            (booking.status, booking.cancellation_reason.as_deref()),
            (BookingStatus::Cancelled, Some("Race")),
            "round {round}"
        );
    }
}

async fn booking_webhooks_create_cancel_and_reschedule(db: TestDb) {
    let (t, _cal) = with_calcom(db).await;
    let created = booking_event(
        "BOOKING_CREATED",
        "uid-1",
        "2026-11-25T10:00:00.000Z",
        json!({}),
    );
    let receipt = deliver(&t, &created).await.unwrap();
    assert_eq!(
        (receipt.trigger.as_str(), &receipt.outcome),
        ("BOOKING_CREATED", &WebhookOutcome::Applied)
    );
    let booking = t.db.find_booking("uid-1").await.unwrap().unwrap();
    assert_eq!(booking.status, BookingStatus::Created);
    assert_eq!(booking.event_type_id, Some(42));
    assert_eq!(
        booking.start_at.unwrap().to_rfc3339(),
        "2026-12-01T10:00:00+00:00"
    );
    assert_eq!(booking.attendee_email.as_deref(), Some("grace@example.com"));
    assert_eq!(booking.organizer_email.as_deref(), Some("ada@acme.example"));
    assert_eq!(
        booking.metadata.unwrap()["videoCallUrl"],
        "https://app.cal.com/video/uid-1"
    );

    // The same delivery again changes nothing.
    assert_eq!(
        deliver(&t, &created).await.unwrap().outcome,
        WebhookOutcome::Duplicate
    );

    // Rescheduled: a new booking, and the old one points to it.
    let rescheduled = booking_event(
        "BOOKING_RESCHEDULED",
        "uid-2",
        "2026-11-25T11:00:00.000Z",
        json!({
            "rescheduleUid": "uid-1", "startTime": "2026-12-02T10:00:00.000Z", "endTime": "2026-12-02T10:30:00.000Z"
        }),
    );
    assert_eq!(
        deliver(&t, &rescheduled).await.unwrap().outcome,
        WebhookOutcome::Applied
    );
    let old = t.db.find_booking("uid-1").await.unwrap().unwrap();
    assert_eq!(
        (old.status, old.rescheduled_to_uid.as_deref()),
        (BookingStatus::Rescheduled, Some("uid-2"))
    );
    let new = t.db.find_booking("uid-2").await.unwrap().unwrap();
    assert_eq!(
        (new.status, new.rescheduled_from_uid.as_deref()),
        (BookingStatus::Created, Some("uid-1"))
    );
    assert_eq!(
        new.start_at.unwrap().to_rfc3339(),
        "2026-12-02T10:00:00+00:00"
    );

    // Cancelled, with the reason.
    let cancelled = booking_event(
        "BOOKING_CANCELLED",
        "uid-2",
        "2026-11-25T12:00:00.000Z",
        json!({
            "cancellationReason": "Conflict", "status": "CANCELLED"
        }),
    );
    assert_eq!(
        deliver(&t, &cancelled).await.unwrap().outcome,
        WebhookOutcome::Applied
    );
    let new = t.db.find_booking("uid-2").await.unwrap().unwrap();
    assert_eq!(
        (new.status, new.cancellation_reason.as_deref()),
        (BookingStatus::Cancelled, Some("Conflict"))
    );

    // Triggers Tollbooth does not use are recorded and acknowledged.
    let ping = json!({ "triggerEvent": "PING", "createdAt": "2026-11-25T09:00:00.000Z", "payload": { "type": "Test", "title": "Test trigger event" } });
    assert!(matches!(
        deliver(&t, &ping).await.unwrap().outcome,
        WebhookOutcome::Ignored { .. }
    ));
}

async fn a_cancel_that_arrives_first_still_ends_cancelled(db: TestDb) {
    let (t, _cal) = with_calcom(db).await;
    let cancelled = booking_event(
        "BOOKING_CANCELLED",
        "uid-9",
        "2026-11-25T12:00:00.000Z",
        json!({ "cancellationReason": "Sick" }),
    );
    let created = booking_event(
        "BOOKING_CREATED",
        "uid-9",
        "2026-11-25T10:00:00.000Z",
        json!({}),
    );
    assert_eq!(
        deliver(&t, &cancelled).await.unwrap().outcome,
        WebhookOutcome::Applied
    );
    assert_eq!(
        deliver(&t, &created).await.unwrap().outcome,
        WebhookOutcome::Stale
    );
    let booking = t.db.find_booking("uid-9").await.unwrap().unwrap();
    assert_eq!(
        (booking.status, booking.cancellation_reason.as_deref()),
        (BookingStatus::Cancelled, Some("Sick"))
    );
    assert_eq!(
        booking.attendee_email.as_deref(),
        Some("grace@example.com"),
        "the cancel carried the booking's data"
    );
}

async fn bad_signatures_change_nothing(db: TestDb) {
    let (t, _cal) = with_calcom(db).await;
    let body = serde_json::to_vec(&booking_event(
        "BOOKING_CREATED",
        "uid-1",
        "2026-11-25T10:00:00.000Z",
        json!({}),
    ))
    .unwrap();
    let good = sign_calcom_webhook(&body, &WebhookSecret::new(CAL_SECRET));
    let wrong = sign_calcom_webhook(&body, &WebhookSecret::new("other"));
    let mut tampered = body.clone();
    *tampered.iter_mut().rev().nth(5).unwrap() ^= 1;
    let cases: [(&[u8], Option<&str>, &str); 6] = [
        (&body, None, "missing"),
        (&body, Some(""), "empty"),
        (
            &body,
            Some("no-secret-provided"),
            "Cal.com's no-secret marker",
        ),
        (&body, Some("zz-not-hex"), "not hex"),
        (&body, Some(&wrong), "wrong secret"),
        (&tampered, Some(&good), "tampered body"),
    ];
    for (payload, signature, case) in cases {
        let err = t
            .billing
            .handle_calcom_webhook(payload, signature)
            .await
            .unwrap_err();
        assert!(
            matches!(err, BillingError::InvalidSignature),
            "{case}: {err:?}"
        );
    }
    assert_eq!(t.recorded_events().await, 0);
    assert_eq!(t.db.find_booking("uid-1").await.unwrap(), None);
    t.billing
        .handle_calcom_webhook(&body, Some(&good))
        .await
        .unwrap();
    assert!(t.db.find_booking("uid-1").await.unwrap().is_some());
}

async fn without_a_secret_every_delivery_is_refused(db: TestDb) {
    let cal = MockServer::start().await;
    let uri = cal.uri();
    let t = TestBilling::with(db, move |c| {
        c.calcom(
            CalcomConfig::new(CalcomApiKey::new("k"))
                .urls(&uri, "https://cal.example")
                .unwrap(),
        )
    })
    .await;
    let body = b"{\"triggerEvent\":\"BOOKING_CREATED\",\"payload\":{\"uid\":\"x\"}}";
    let err = t
        .billing
        .handle_calcom_webhook(body, Some("no-secret-provided"))
        .await
        .unwrap_err();
    assert!(matches!(err, BillingError::InvalidSignature));
    // And without Cal.com configured at all: a clear 404.
    let plain = TestBilling::new(TestDb::sqlite().await).await;
    let err = plain
        .billing
        .handle_calcom_webhook(body, None)
        .await
        .unwrap_err();
    assert_eq!(
        (err.status().as_u16(), err.to_string().as_str()),
        (404, "Cal.com is not configured")
    );
}

/// `payment_intent.succeeded` of a paid session `pi_paid` for `user`.
fn paid_session(user: uuid::Uuid) -> Value {
    event(
        "evt_pi",
        "payment_intent.succeeded",
        1_764_000_000,
        json!({
            "id": "pi_paid", "object": "payment_intent", "amount": 20000, "currency": "usd", "status": "succeeded",
            "metadata": { "user_id": user.to_string(), EVENT_TYPE_METADATA_KEY: "42" }
        }),
    )
}

/// `charge.refunded` with Stripe's running total of what was refunded.
fn refunded(id: &str, created: i64, intent: &str, amount_refunded: i64) -> Value {
    event(
        id,
        "charge.refunded",
        created,
        json!({
            "id": "ch_1", "object": "charge", "amount": 20000, "currency": "usd", "payment_intent": intent,
            "amount_refunded": amount_refunded, "refunded": amount_refunded == 20000, "status": "succeeded"
        }),
    )
}

async fn a_refunded_paid_session_yields_no_booking_link(db: TestDb) {
    let (t, cal) = with_calcom(db).await;
    serve_event_type(&cal, 42).await;
    let grace = t.user("grace@example.com", None).await;
    t.deliver(&paid_session(grace.id)).await.unwrap();
    let link = t.billing.booking_link_for_payment("pi_paid").await.unwrap();

    // Partly refunded: the session still stands.
    let partial = refunded("evt_r1", 1_764_000_100, "pi_paid", 5_000);
    assert_eq!(
        t.deliver(&partial).await.unwrap().outcome,
        WebhookOutcome::Applied
    );
    let payment = t.db.find_payment("pi_paid").await.unwrap().unwrap();
    assert_eq!(payment.amount_refunded, 5_000);
    assert_eq!(
        t.billing.booking_link_for_payment("pi_paid").await.unwrap(),
        link
    );

    // Booked, then refunded in full: the booking is flagged…
    let booked = booking_event(
        "BOOKING_CREATED",
        "uid-paid",
        "2026-11-25T10:00:00.000Z",
        json!({ "metadata": { "payment_intent": "pi_paid", "user_id": grace.id.to_string() } }),
    );
    deliver(&t, &booked).await.unwrap();
    t.deliver(&refunded("evt_r2", 1_764_000_200, "pi_paid", 20_000))
        .await
        .unwrap();
    let booking = t.db.find_booking("uid-paid").await.unwrap().unwrap();
    assert_eq!(
        booking.payment_refunded_at.map(|at| at.timestamp()),
        Some(1_764_000_200)
    );
    // …and once it is cancelled the link is not issued again: nothing is paid for.
    let cancelled = booking_event(
        "BOOKING_CANCELLED",
        "uid-paid",
        "2026-11-25T12:00:00.000Z",
        json!({}),
    );
    deliver(&t, &cancelled).await.unwrap();
    let err = t
        .billing
        .booking_link_for_payment("pi_paid")
        .await
        .unwrap_err();
    assert_eq!(
        (err.status().as_u16(), err.code()),
        (409, "payment_refunded")
    );

    // Refund events in any order end at the largest total.
    t.deliver(&refunded("evt_r0", 1_764_000_050, "pi_paid", 5_000))
        .await
        .unwrap();
    assert_eq!(
        t.db.find_payment("pi_paid")
            .await
            .unwrap()
            .unwrap()
            .amount_refunded,
        20_000
    );

    // A refund of a payment not recorded yet: the payment is read from Stripe first.
    stripe_answers(
        &t,
        "GET",
        "/v1/payment_intents/pi_elsewhere",
        json!({
            "id": "pi_elsewhere", "object": "payment_intent", "amount": 20000, "currency": "usd",
            "status": "succeeded", "metadata": { EVENT_TYPE_METADATA_KEY: "42" }
        }),
    )
    .await;
    t.deliver(&refunded("evt_r3", 1_764_000_300, "pi_elsewhere", 20_000))
        .await
        .unwrap();
    let payment = t.db.find_payment("pi_elsewhere").await.unwrap().unwrap();
    assert_eq!(
        (payment.status.as_str(), payment.amount_refunded),
        ("succeeded", 20_000)
    );
    assert!(matches!(
        t.billing.booking_link_for_payment("pi_elsewhere").await,
        Err(BillingError::PaymentRefunded)
    ));
}

async fn a_rescheduled_then_cancelled_booking_frees_its_paid_session(db: TestDb) {
    let (t, cal) = with_calcom(db).await;
    serve_event_type(&cal, 42).await;
    let grace = t.user("grace@example.com", None).await;
    t.deliver(&paid_session(grace.id)).await.unwrap();
    let link = t.billing.booking_link_for_payment("pi_paid").await.unwrap();
    let booked = booking_event(
        "BOOKING_CREATED",
        "uid-1",
        "2026-11-25T10:00:00.000Z",
        json!({ "metadata": { "payment_intent": "pi_paid", "user_id": grace.id.to_string() } }),
    );
    deliver(&t, &booked).await.unwrap();
    // Rescheduled (Cal.com's successor payload carries no metadata of ours): the successor
    // holds the payment, the old booking no longer does.
    let rescheduled = booking_event(
        "BOOKING_RESCHEDULED",
        "uid-2",
        "2026-11-25T11:00:00.000Z",
        json!({ "rescheduleUid": "uid-1", "metadata": {} }),
    );
    deliver(&t, &rescheduled).await.unwrap();
    let successor = t.db.find_booking("uid-2").await.unwrap().unwrap();
    assert_eq!(
        successor.stripe_payment_intent_id.as_deref(),
        Some("pi_paid")
    );
    assert!(matches!(
        t.billing.booking_link_for_payment("pi_paid").await,
        Err(BillingError::AlreadyBooked)
    ));
    // The successor cancelled: the paid session can be booked again.
    let cancelled = booking_event(
        "BOOKING_CANCELLED",
        "uid-2",
        "2026-11-25T12:00:00.000Z",
        json!({}),
    );
    deliver(&t, &cancelled).await.unwrap();
    assert_eq!(
        t.billing.booking_link_for_payment("pi_paid").await.unwrap(),
        link
    );
}

async fn cal_com_down_does_not_hold_up_the_payment_webhook(db: TestDb) {
    let (t, cal) = with_calcom(db).await;
    let grace = t.user("grace@example.com", None).await;
    // Cal.com answers nothing useful yet: the payment is still recorded, at once.
    let receipt = t.deliver(&paid_session(grace.id)).await.unwrap();
    assert_eq!(receipt.outcome, WebhookOutcome::Applied);
    t.billing.flush_background_tasks().await;
    let payment = t.db.find_payment("pi_paid").await.unwrap().unwrap();
    assert_eq!(
        (payment.status.as_str(), payment.booking_url),
        ("succeeded", None)
    );
    // Once Cal.com is back, the link is made on demand.
    serve_event_type(&cal, 42).await;
    let link = t.billing.booking_link_for_payment("pi_paid").await.unwrap();
    assert_eq!(link.path(), "/ada-lovelace/strategy-call");
}

tollbooth_db::engine_tests!(
    booking_links_are_built_from_the_event_type_and_cached,
    lookup_failures_and_bad_metadata_are_typed,
    a_paid_session_is_booked_once,
    booking_webhooks_create_cancel_and_reschedule,
    a_cancel_that_arrives_first_still_ends_cancelled,
    a_create_never_undoes_a_cancel_of_the_same_instant,
    concurrent_deliveries_for_one_booking_apply_in_order,
    bad_signatures_change_nothing,
    without_a_secret_every_delivery_is_refused,
    a_refunded_paid_session_yields_no_booking_link,
    a_rescheduled_then_cancelled_booking_frees_its_paid_session,
    cal_com_down_does_not_hold_up_the_payment_webhook,
);
