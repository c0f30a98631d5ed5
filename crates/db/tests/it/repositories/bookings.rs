//! Bookings: one row per Cal.com uid.

use tollbooth_db::testing::TestDb;
use tollbooth_db::*;

use super::{assert_conflict, user};

async fn duplicate_booking_uid_is_a_conflict(db: TestDb) {
    let ada = user(&*db, "ada@example.com").await;
    let at = now();
    let mut booking = NewBooking::new("uid-1", at);
    booking.user_id = Some(ada.id);
    booking.metadata = Some(serde_json::json!({ "videoCallUrl": "https://cal.com/v/1" }));
    let stored = db.insert_booking(booking.clone()).await.unwrap();
    assert_eq!(stored.status, BookingStatus::Created);
    assert_conflict(db.insert_booking(booking).await, "booking");

    let mut cancelled = stored.clone();
    cancelled.status = BookingStatus::Cancelled;
    cancelled.cancellation_reason = Some("ill".to_owned());
    let updated = db.update_booking(cancelled).await.unwrap();
    assert_eq!(updated.status, BookingStatus::Cancelled);
    assert_eq!(updated.created_at, stored.created_at);
    assert_eq!(db.find_booking("uid-1").await.unwrap(), Some(updated));
    assert_eq!(db.list_user_bookings(ada.id).await.unwrap().len(), 1);
}

tollbooth_db::engine_tests!(duplicate_booking_uid_is_a_conflict,);
