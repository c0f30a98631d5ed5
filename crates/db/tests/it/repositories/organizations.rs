//! Organizations: the owner membership created with the organization, the constraints the
//! schema holds itself, and what goes with a membership or an organization.

use sea_orm::{ConnectionTrait, Statement};
use tollbooth_db::testing::TestDb;
use tollbooth_db::{
    NewOrganization, NewSession, OWNER_ROLE, OrganizationRepo, SessionRepo, UserRepo,
};

use super::{assert_conflict, user};

async fn an_organization_starts_with_its_owner_and_slugs_are_unique(db: TestDb) {
    let ada = user(&*db, "ada@example.com").await;
    let (acme, owner) = db
        .create_organization(NewOrganization::new("Acme", "acme"), ada.id)
        .await
        .unwrap();
    assert_eq!((owner.user_id, owner.role.as_str()), (ada.id, OWNER_ROLE));
    assert_eq!(db.count_owners(acme.id).await.unwrap(), 1);
    assert_conflict(
        db.create_organization(NewOrganization::new("Other", "acme"), ada.id)
            .await,
        "organization",
    );
    // The failed creation left no membership behind.
    assert_eq!(db.user_organizations(ada.id).await.unwrap().len(), 1);
    assert_conflict(db.add_member(acme.id, ada.id, "admin").await, "membership");
    // A writer that skips the library's canonical form is stopped by the schema.
    assert!(
        db.create_organization(NewOrganization::new("Loud", "LOUD"), ada.id)
            .await
            .is_err()
    );
    assert!(
        db.create_organization(NewOrganization::new("", "empty"), ada.id)
            .await
            .is_err()
    );
    assert_eq!(
        db.find_organization_by_slug("acme")
            .await
            .unwrap()
            .unwrap()
            .id,
        acme.id
    );
}

async fn a_removal_or_deletion_clears_the_active_organization_of_sessions(db: TestDb) {
    let ada = user(&*db, "ada@example.com").await;
    let bob = user(&*db, "bob@example.com").await;
    let (acme, _) = db
        .create_organization(NewOrganization::new("Acme", "acme"), ada.id)
        .await
        .unwrap();
    db.add_member(acme.id, bob.id, "member").await.unwrap();
    let now = tollbooth_db::now();
    let day = chrono::TimeDelta::days(1);
    let mut sessions = Vec::new();
    for who in [ada.id, bob.id] {
        let session = db
            .create_session(NewSession::new(who, now, day, day))
            .await
            .unwrap();
        assert!(
            db.set_active_organization(session.id, Some(acme.id))
                .await
                .unwrap()
        );
        sessions.push(session.id);
    }
    let active = |id| {
        let db = &db;
        async move {
            db.find_session(id)
                .await
                .unwrap()
                .unwrap()
                .active_organization_id
        }
    };
    assert!(db.remove_member(acme.id, bob.id).await.unwrap());
    assert!(!db.remove_member(acme.id, bob.id).await.unwrap());
    assert_eq!(active(sessions[1]).await, None);
    assert_eq!(active(sessions[0]).await, Some(acme.id));
    // Invitations go with the organization, as memberships do.
    db.connection()
        .execute_raw(Statement::from_sql_and_values(
            db.connection().get_database_backend(),
            "INSERT INTO invitations (id, organization_id, email, role, token_hash, \
             status, expires_at, created_at, updated_at) \
             VALUES ($1, $2, 'cy@example.com', 'member', 'h', 'pending', $3, $3, $3)",
            [uuid::Uuid::now_v7().into(), acme.id.into(), now.into()],
        ))
        .await
        .unwrap();
    assert!(db.delete_organization(acme.id).await.unwrap());
    assert_eq!(active(sessions[0]).await, None);
    assert!(db.user_organizations(ada.id).await.unwrap().is_empty());
    let left = db
        .connection()
        .query_one_raw(Statement::from_string(
            db.connection().get_database_backend(),
            "SELECT COUNT(*) AS n FROM invitations",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap();
    assert_eq!(left, 0);
    // Deleting a user takes their memberships.
    let (beta, _) = db
        .create_organization(NewOrganization::new("Beta", "beta"), ada.id)
        .await
        .unwrap();
    db.add_member(beta.id, bob.id, "member").await.unwrap();
    db.delete_user(bob.id).await.unwrap();
    assert_eq!(db.count_members(beta.id).await.unwrap(), 1);
}

/// The seat-sync lease: one holder at a time; an expired lease can be taken over, and the
/// slow holder it was taken from can neither extend nor give back the new holder's.
async fn the_seat_sync_lease_has_one_holder(db: TestDb) {
    use tollbooth_db::chrono::Duration;
    let ada = user(&*db, "ada@example.com").await;
    let (acme, _) = db
        .create_organization(NewOrganization::new("Acme", "acme"), ada.id)
        .await
        .unwrap();
    let t0 = tollbooth_db::now();
    let first = t0 + Duration::seconds(60);
    assert!(db.claim_seat_sync(acme.id, t0, first).await.unwrap());
    assert!(
        !db.claim_seat_sync(acme.id, t0 + Duration::seconds(30), t0)
            .await
            .unwrap()
    );
    // The first holder is slow: at t0 + 61 s its lease has run out and another takes it.
    let later = t0 + Duration::seconds(61);
    let second = later + Duration::seconds(60);
    assert!(db.claim_seat_sync(acme.id, later, second).await.unwrap());
    assert!(
        !db.extend_seat_sync(acme.id, first, second + Duration::seconds(5))
            .await
            .unwrap()
    );
    db.release_seat_sync(acme.id, first).await.unwrap();
    let held = db.find_organization(acme.id).await.unwrap().unwrap();
    assert_eq!(held.seat_sync_until, Some(tollbooth_db::micros(second)));
    assert!(!db.claim_seat_sync(acme.id, later, later).await.unwrap());
    // The holder extends and gives back its own.
    let extended = second + Duration::seconds(60);
    assert!(
        db.extend_seat_sync(acme.id, second, extended)
            .await
            .unwrap()
    );
    db.release_seat_sync(acme.id, extended).await.unwrap();
    assert!(db.claim_seat_sync(acme.id, later, later).await.unwrap());
}

tollbooth_db::engine_tests!(
    an_organization_starts_with_its_owner_and_slugs_are_unique,
    a_removal_or_deletion_clears_the_active_organization_of_sessions,
    the_seat_sync_lease_has_one_holder,
);
