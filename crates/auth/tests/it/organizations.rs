//! Organizations: creation and slugs, the 404 for outsiders, roles and permissions, the
//! owner that every organization keeps (under concurrency too), the active organization of a
//! session, member pages, and the audit trail of every change.

use tollbooth_auth::*;
use tollbooth_db::testing::TestDb;
use tollbooth_db::{
    AccountRepo, InvitationRepo, NewAccount, NewUser, OrganizationRepo, SecurityEventRepo,
    SessionRepo, UserRepo,
};
use uuid::Uuid;

use crate::common::*;

/// A verified user `email`, made a member of `org` with `role`, signed in.
async fn join(t: &TestAuth, org: Uuid, email: &str, role: &OrgRole) -> Session {
    let user = t.user(email).await;
    t.db.add_member(org, user.id, role.as_str()).await.unwrap();
    t.sign_in(email).await.0
}

/// Ada, signed in, and the organization "Acme Corp" she created.
async fn acme(t: &TestAuth) -> (Session, OrgMember) {
    t.user("ada@example.com").await;
    let (ada, _) = t.sign_in("ada@example.com").await;
    let acme = t
        .auth
        .create_organization(&ada, "Acme Corp", None, &anon())
        .await
        .unwrap();
    (ada, acme)
}

fn not_found<T>(result: Result<T>) -> bool {
    matches!(result, Err(AuthError::OrganizationNotFound))
}

fn forbidden<T>(result: Result<T>) -> bool {
    matches!(result, Err(AuthError::Forbidden))
}

fn last<T>(result: Result<T>) -> bool {
    matches!(result, Err(AuthError::LastOwner))
}

fn kinds(events: &[tollbooth_db::SecurityEvent]) -> Vec<&str> {
    events.iter().map(|e| e.kind.as_str()).collect()
}

async fn organizations_are_created_with_their_creator_as_owner_and_canonical_slugs(db: TestDb) {
    let t = TestAuth::new(db);
    let (ada, acme) = acme(&t).await;
    assert_eq!(acme.organization.name, "Acme Corp");
    assert_eq!(acme.organization.slug, "acme-corp");
    assert_eq!(acme.role, OrgRole::OWNER);
    assert!(acme.can(&OrgPermission::DELETE_ORGANIZATION));

    // The same name again: the derived slug gets a suffix; a given slug taken is an error.
    let again = t
        .auth
        .create_organization(&ada, "  Acme   Corp ", None, &anon())
        .await
        .unwrap();
    assert_eq!(again.organization.name, "Acme   Corp");
    assert!(
        again.organization.slug.starts_with("acme-corp-") && again.organization.slug.len() == 16,
        "{}",
        again.organization.slug
    );
    assert!(matches!(
        t.auth
            .create_organization(&ada, "Other", Some("ACME-corp"), &anon())
            .await,
        Err(AuthError::SlugTaken)
    ));
    for (name, slug) in [
        ("", None),
        ("Ok", Some("-bad")),
        ("Ok", Some("a")),
        ("a\u{7}b", None),
    ] {
        assert!(
            matches!(
                t.auth.create_organization(&ada, name, slug, &anon()).await,
                Err(AuthError::InvalidInput { .. })
            ),
            "{name:?} {slug:?}"
        );
    }
    // A name with nothing to make a slug of still gets one.
    let symbols = t
        .auth
        .create_organization(&ada, "!!!", None, &anon())
        .await
        .unwrap();
    assert_eq!(symbols.organization.slug, "org");

    let mine = t.auth.organizations(&ada).await.unwrap();
    let slugs: Vec<_> = mine.iter().map(|m| m.organization.slug.as_str()).collect();
    assert_eq!(
        slugs,
        ["acme-corp", again.organization.slug.as_str(), "org"]
    );
    let by_slug = t.auth.org_member_by_slug(&ada, "Acme-Corp").await.unwrap();
    assert_eq!(by_slug.organization.id, acme.organization.id);

    // Renaming and re-slugging, refused onto a taken slug, recorded with before and after.
    let id = acme.organization.id;
    assert!(matches!(
        t.auth
            .update_organization(&ada, id, OrganizationUpdate::new().slug("org"), &anon())
            .await,
        Err(AuthError::SlugTaken)
    ));
    let renamed = t
        .auth
        .update_organization(
            &ada,
            id,
            OrganizationUpdate::new().name("Acme Inc").slug("acme"),
            &anon(),
        )
        .await
        .unwrap();
    assert_eq!(
        (
            renamed.organization.name.as_str(),
            renamed.organization.slug.as_str()
        ),
        ("Acme Inc", "acme")
    );
    let events = trail(&t, ada.user.id).await;
    let updated = events.last().unwrap();
    assert_eq!(updated.kind, "organization_updated");
    let detail = updated.detail.as_ref().unwrap();
    assert_eq!(detail["organization"], serde_json::json!(id));
    assert_eq!(detail["slug"]["from"], "acme-corp");
    assert_eq!(detail["slug"]["to"], "acme");
    assert_eq!(
        kinds(&events),
        [
            "signed_in",
            "organization_created",
            "organization_created",
            "organization_created",
            "organization_updated"
        ]
    );
}

async fn an_organization_is_not_found_by_those_outside_it(db: TestDb) {
    let t = TestAuth::new(db);
    let (_, acme) = acme(&t).await;
    let id = acme.organization.id;
    t.user("eve@example.com").await;
    let (eve, eve_cookie) = t.sign_in("eve@example.com").await;
    // An outsider cannot tell Acme from an organization that does not exist.
    for org in [id, Uuid::now_v7()] {
        assert!(not_found(t.auth.org_member(&eve, org).await));
        assert!(not_found(t.auth.require_org_member(&eve_cookie, org).await));
        assert!(not_found(t.auth.list_members(&eve, org, None, 10).await));
        assert!(not_found(
            t.auth
                .update_organization(&eve, org, OrganizationUpdate::new().name("Mine"), &anon())
                .await
        ));
        assert!(not_found(
            t.auth.delete_organization(&eve, org, &anon()).await
        ));
        assert!(not_found(
            t.auth.set_active_organization(&eve, Some(org)).await
        ));
        assert!(not_found(
            t.auth.leave_organization(&eve, org, &anon()).await
        ));
    }
    assert!(not_found(
        t.auth.org_member_by_slug(&eve, "acme-corp").await
    ));
    assert!(not_found(
        t.auth.org_member_by_slug(&eve, "not a slug").await
    ));
    // No session at all is a 401, before any organization is looked at.
    assert!(matches!(
        t.auth.require_org_member(&no_headers(), id).await,
        Err(AuthError::Unauthorized)
    ));
    assert_eq!(AuthError::OrganizationNotFound.status(), 404);
    assert_eq!(
        AuthError::OrganizationNotFound.code(),
        "organization_not_found"
    );
}

async fn roles_grant_their_permissions_and_only_owners_touch_owners(db: TestDb) {
    let billing = OrgRole::new("billing");
    let t = TestAuth::with(db, |c| {
        c.organization_role(billing.clone(), [OrgPermission::MANAGE_BILLING])
    });
    let (ada, acme) = acme(&t).await;
    let id = acme.organization.id;
    let bob = join(&t, id, "bob@example.com", &OrgRole::ADMIN).await;
    let cy = join(&t, id, "cy@example.com", &OrgRole::MEMBER).await;
    let dee = join(&t, id, "dee@example.com", &billing).await;
    let (_, bob_cookie) = t.sign_in("bob@example.com").await;
    let (_, cy_cookie) = t.sign_in("cy@example.com").await;

    // The guards: any member passes the membership check; permissions and roles differ.
    let (_, member) = t.auth.require_org_member(&cy_cookie, id).await.unwrap();
    assert_eq!(member.role, OrgRole::MEMBER);
    assert!(matches!(
        t.auth
            .require_org_permission(&cy_cookie, id, &OrgPermission::MANAGE_MEMBERS)
            .await,
        Err(AuthError::Forbidden)
    ));
    let (_, admin) = t
        .auth
        .require_org_permission(&bob_cookie, id, &OrgPermission::MANAGE_MEMBERS)
        .await
        .unwrap();
    assert_eq!(admin.role, OrgRole::ADMIN);
    let (lookup, _) = t
        .auth
        .require_org_role(&bob_cookie, id, &OrgRole::ADMIN)
        .await
        .unwrap();
    assert_eq!(lookup.session.user.id, bob.user.id);
    assert!(matches!(
        t.auth
            .require_org_role(&cy_cookie, id, &OrgRole::ADMIN)
            .await,
        Err(AuthError::Forbidden)
    ));
    assert!(
        t.auth
            .org_member(&dee, id)
            .await
            .unwrap()
            .can(&OrgPermission::MANAGE_BILLING)
    );

    // A member cannot manage members; an admin can, but not owners nor make one.
    assert!(forbidden(
        t.auth
            .change_member_role(&cy, id, dee.user.id, &OrgRole::ADMIN, &anon())
            .await
    ));
    assert!(forbidden(
        t.auth.remove_member(&cy, id, dee.user.id, &anon()).await
    ));
    assert!(forbidden(
        t.auth
            .change_member_role(&bob, id, ada.user.id, &OrgRole::MEMBER, &anon())
            .await
    ));
    assert!(forbidden(
        t.auth.remove_member(&bob, id, ada.user.id, &anon()).await
    ));
    assert!(forbidden(
        t.auth
            .change_member_role(&bob, id, cy.user.id, &OrgRole::OWNER, &anon())
            .await
    ));
    assert!(forbidden(
        t.auth.delete_organization(&bob, id, &anon()).await
    ));
    assert!(forbidden(
        t.auth
            .transfer_ownership(&bob, id, cy.user.id, &anon())
            .await
    ));
    assert!(matches!(
        t.auth
            .change_member_role(&bob, id, cy.user.id, &OrgRole::new("ghost"), &anon())
            .await,
        Err(AuthError::InvalidInput { field: "role", .. })
    ));
    assert!(matches!(
        t.auth
            .change_member_role(&bob, id, Uuid::now_v7(), &OrgRole::ADMIN, &anon())
            .await,
        Err(AuthError::MemberNotFound)
    ));
    let promoted = t
        .auth
        .change_member_role(&bob, id, cy.user.id, &billing, &anon())
        .await
        .unwrap();
    assert_eq!(promoted.role, billing);
    t.auth
        .remove_member(&bob, id, dee.user.id, &anon())
        .await
        .unwrap();
    assert!(matches!(
        t.auth.org_member(&dee, id).await,
        Err(AuthError::OrganizationNotFound)
    ));

    // Each change is in the trail of the member it concerns, by whoever made it.
    let cy_trail = trail(&t, cy.user.id).await;
    let changed = cy_trail.last().unwrap();
    assert_eq!(changed.kind, "member_role_changed");
    assert_eq!(changed.actor_user_id, Some(bob.user.id));
    let detail = changed.detail.as_ref().unwrap();
    assert_eq!(
        (&detail["from"], &detail["to"]),
        (&"member".into(), &"billing".into())
    );
    let dee_trail = trail(&t, dee.user.id).await;
    assert_eq!(dee_trail.last().unwrap().kind, "member_removed");
    assert_eq!(dee_trail.last().unwrap().actor_user_id, Some(bob.user.id));

    // A role name the configuration does not know is refused at build time when malformed.
    assert!(
        config(&ManualClock::new(tollbooth_db::now()))
            .organization_role(OrgRole::new("Not Valid"), [])
            .build()
            .is_err()
    );
}

async fn the_last_owner_can_never_go(db: TestDb) {
    let t = TestAuth::new(db);
    let (ada, acme) = acme(&t).await;
    let id = acme.organization.id;
    let bob = join(&t, id, "bob@example.com", &OrgRole::ADMIN).await;
    assert!(last(t.auth.leave_organization(&ada, id, &anon()).await));
    assert!(last(
        t.auth
            .change_member_role(&ada, id, ada.user.id, &OrgRole::ADMIN, &anon())
            .await
    ));
    assert!(last(
        t.auth.remove_member(&ada, id, ada.user.id, &anon()).await
    ));
    // Deleting her account would leave Acme ownerless: refused, nothing deleted.
    assert!(last(t.auth.delete_account(&ada, None, &anon()).await));
    assert!(t.auth.org_member(&ada, id).await.is_ok());
    assert_eq!(AuthError::LastOwner.status(), 409);

    // Ownership moves in one step; then she may go.
    assert!(matches!(
        t.auth
            .transfer_ownership(&ada, id, Uuid::now_v7(), &anon())
            .await,
        Err(AuthError::MemberNotFound)
    ));
    t.auth
        .transfer_ownership(&ada, id, bob.user.id, &anon())
        .await
        .unwrap();
    assert_eq!(
        t.auth.org_member(&bob, id).await.unwrap().role,
        OrgRole::OWNER
    );
    assert_eq!(
        t.auth.org_member(&ada, id).await.unwrap().role,
        OrgRole::ADMIN
    );
    assert_eq!(
        trail(&t, bob.user.id).await.last().unwrap().kind,
        "ownership_transferred"
    );
    t.auth.leave_organization(&ada, id, &anon()).await.unwrap();
    assert_eq!(
        trail(&t, ada.user.id).await.last().unwrap().kind,
        "member_left"
    );
    t.auth.delete_account(&ada, None, &anon()).await.unwrap();
    // Bob is the last owner now, of an organization with no one else.
    assert!(last(t.auth.leave_organization(&bob, id, &anon()).await));
    t.auth.delete_organization(&bob, id, &anon()).await.unwrap();
    assert!(t.db.find_organization(id).await.unwrap().is_none());
    assert_eq!(
        trail(&t, bob.user.id).await.last().unwrap().kind,
        "organization_deleted"
    );
}

/// The last two owners stepping down at once, on two instances: one wins, the other is
/// refused, and the organization keeps exactly one owner. Without the organization's lock
/// both would count two owners and both step down.
async fn concurrent_demotions_never_remove_the_last_owner(db: TestDb) {
    let t = TestAuth::new(db);
    let other = t.second_instance().await;
    let (ada, acme) = acme(&t).await;
    let id = acme.organization.id;
    let bob = join(&t, id, "bob@example.com", &OrgRole::OWNER).await;
    let request = anon();
    for round in 0..10 {
        let (a, b) = tokio::join!(
            t.auth
                .change_member_role(&ada, id, ada.user.id, &OrgRole::ADMIN, &request),
            other.change_member_role(&bob, id, bob.user.id, &OrgRole::ADMIN, &request),
        );
        let refused = [&a, &b]
            .into_iter()
            .filter(|r| matches!(r, Err(AuthError::LastOwner)))
            .count();
        assert_eq!(
            (a.is_ok() as u8 + b.is_ok() as u8, refused),
            (1, 1),
            "round {round}: {a:?} {b:?}"
        );
        assert_eq!(t.db.count_owners(id).await.unwrap(), 1, "round {round}");
        // The one still an owner makes the other an owner again for the next round.
        let (owner, demoted) = if a.is_ok() {
            (&bob, &ada)
        } else {
            (&ada, &bob)
        };
        t.auth
            .change_member_role(owner, id, demoted.user.id, &OrgRole::OWNER, &anon())
            .await
            .unwrap();
    }
    // Each demoting the other at once: the loser is no owner any more when its turn comes.
    let (a, b) = tokio::join!(
        t.auth
            .change_member_role(&ada, id, bob.user.id, &OrgRole::ADMIN, &request),
        other.change_member_role(&bob, id, ada.user.id, &OrgRole::ADMIN, &request),
    );
    assert_eq!(a.is_ok() as u8 + b.is_ok() as u8, 1, "{a:?} {b:?}");
    assert!(forbidden(if a.is_ok() { b } else { a }));
    assert_eq!(t.db.count_owners(id).await.unwrap(), 1);
    // Leaving at once (both owners again first): the same.
    let owners = t
        .auth
        .list_members(&ada, id, None, 10)
        .await
        .unwrap()
        .members;
    let owner = if owners[0].role == OrgRole::OWNER {
        &ada
    } else {
        &bob
    };
    let demoted = if owner.user.id == ada.user.id {
        &bob
    } else {
        &ada
    };
    t.auth
        .change_member_role(owner, id, demoted.user.id, &OrgRole::OWNER, &anon())
        .await
        .unwrap();
    let (a, b) = tokio::join!(
        t.auth.leave_organization(&ada, id, &request),
        other.leave_organization(&bob, id, &request),
    );
    assert_eq!(a.is_ok() as u8 + b.is_ok() as u8, 1, "{a:?} {b:?}");
    assert!(last(if a.is_ok() { b } else { a }));
    assert_eq!(t.db.count_owners(id).await.unwrap(), 1);
    assert_eq!(t.db.count_members(id).await.unwrap(), 1);
}

async fn the_active_organization_is_per_session_and_ends_with_the_membership(db: TestDb) {
    let t = TestAuth::new(db);
    let other = t.second_instance().await;
    let (ada, acme) = acme(&t).await;
    let id = acme.organization.id;
    let bob = join(&t, id, "bob@example.com", &OrgRole::MEMBER).await;
    let (_, bob_cookie) = t.sign_in("bob@example.com").await;
    let (bob_second, bob_second_cookie) = t.sign_in("bob@example.com").await;
    let active = |lookup: Option<SessionLookup>| lookup.unwrap().session.active_organization;

    // Switching one session leaves his others alone.
    let switched = t
        .auth
        .set_active_organization(&bob_second, Some(id))
        .await
        .unwrap();
    assert_eq!(switched.unwrap().organization.id, id);
    assert_eq!(
        active(other.get_session(&bob_second_cookie).await.unwrap()),
        Some(id)
    );
    assert_eq!(active(other.get_session(&bob_cookie).await.unwrap()), None);
    assert!(
        t.auth
            .set_active_organization(&bob_second, None)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        active(other.get_session(&bob_second_cookie).await.unwrap()),
        None
    );
    t.auth
        .set_active_organization(&bob_second, Some(id))
        .await
        .unwrap();

    // Removed on this instance: his very next request, on the other, no longer has it.
    t.auth
        .remove_member(&ada, id, bob.user.id, &anon())
        .await
        .unwrap();
    let lookup = other
        .get_session(&bob_second_cookie)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(lookup.session.active_organization, None);
    assert!(matches!(
        t.auth
            .set_active_organization(&lookup.session, Some(id))
            .await,
        Err(AuthError::OrganizationNotFound)
    ));

    // Deleting the organization clears it from every session that had it.
    let (ada_session, ada_cookie) = t.sign_in("ada@example.com").await;
    t.auth
        .set_active_organization(&ada_session, Some(id))
        .await
        .unwrap();
    t.auth.delete_organization(&ada, id, &anon()).await.unwrap();
    assert_eq!(active(other.get_session(&ada_cookie).await.unwrap()), None);
    let row = t.db.find_session(ada_session.id).await.unwrap().unwrap();
    assert_eq!(row.active_organization_id, None);
}

async fn members_are_listed_a_page_at_a_time(db: TestDb) {
    let t = TestAuth::new(db);
    let (ada, acme) = acme(&t).await;
    let id = acme.organization.id;
    for n in 0..4 {
        let user = t.user(&format!("m{n}@example.com")).await;
        t.db.add_member(id, user.id, "member").await.unwrap();
    }
    let first = t.auth.list_members(&ada, id, None, 3).await.unwrap();
    let emails = |page: &MemberPage| {
        page.members
            .iter()
            .map(|m| m.email.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        emails(&first),
        ["ada@example.com", "m0@example.com", "m1@example.com"]
    );
    assert_eq!(first.members[0].role, OrgRole::OWNER);
    let second = t.auth.list_members(&ada, id, first.next, 3).await.unwrap();
    assert_eq!(emails(&second), ["m2@example.com", "m3@example.com"]);
    assert_eq!(second.next, None);
    // A member already in is a conflict at the database.
    let m0 =
        t.db.find_user_by_email("m0@example.com")
            .await
            .unwrap()
            .unwrap();
    assert!(t.db.add_member(id, m0.id, "admin").await.is_err());
}

/// The invitation link of the last e-mail sent to `to`, and the e-mail's subject.
async fn invitation_sent_to(t: &TestAuth, to: &str) -> (String, String) {
    t.auth.flush_background_tasks().await;
    let mail = t.outbox.sent_to(to).pop().expect("an invitation was sent");
    assert!(
        mail.text().contains("/accept-invitation?token="),
        "{}",
        mail.text()
    );
    (token_in(mail.text()), mail.subject().to_owned())
}

async fn an_invitation_is_accepted_by_its_address_once_verified_and_only_once(db: TestDb) {
    // Unverified accounts may sign in here, so the acceptance itself must check.
    let t = TestAuth::with(db, |c| c.require_verified_email(false));
    let (ada, acme) = acme(&t).await;
    let id = acme.organization.id;
    let invitation = t
        .auth
        .invite_member(&ada, id, " Bob@Example.com ", &OrgRole::ADMIN, &anon())
        .await
        .unwrap();
    assert_eq!(invitation.email, "bob@example.com");
    assert_eq!(invitation.role, OrgRole::ADMIN);
    let (token, subject) = invitation_sent_to(&t, "bob@example.com").await;
    assert_eq!(
        subject,
        "ada@example.com invited you to join Acme Corp on Acme"
    );
    // The database keeps only the token's hash.
    let row = t.db.find_invitation(invitation.id).await.unwrap().unwrap();
    assert_ne!(row.token_hash, token.as_bytes());
    assert_eq!(row.token_hash.len(), 32);

    // The link shows what it is about before anyone signs in.
    let preview = t.auth.preview_invitation(&token).await.unwrap();
    assert_eq!(preview.organization_name, "Acme Corp");
    assert_eq!(preview.inviter_name.as_deref(), Some("ada@example.com"));
    assert!(!preview.account_exists);
    assert!(matches!(
        t.auth.preview_invitation("not-a-token").await,
        Err(AuthError::InvalidToken)
    ));

    // Inviting the address again while it is pending is refused; so is a member's.
    assert!(matches!(
        t.auth
            .invite_member(&ada, id, "bob@example.com", &OrgRole::MEMBER, &anon())
            .await,
        Err(AuthError::AlreadyInvited)
    ));
    assert!(matches!(
        t.auth
            .invite_member(&ada, id, "ada@example.com", &OrgRole::MEMBER, &anon())
            .await,
        Err(AuthError::AlreadyMember)
    ));
    assert!(matches!(
        t.auth
            .invite_member(&ada, id, "not an address", &OrgRole::MEMBER, &anon())
            .await,
        Err(AuthError::InvalidInput { field: "email", .. })
    ));

    // Someone else's account cannot accept it, nor Bob's before his address is verified.
    t.user("eve@example.com").await;
    let (eve, _) = t.sign_in("eve@example.com").await;
    assert!(matches!(
        t.auth.accept_invitation(&eve, &token, &anon()).await,
        Err(AuthError::InvitationForAnotherAddress)
    ));
    let bob_user =
        t.db.create_user(NewUser::new("bob@example.com"))
            .await
            .unwrap();
    t.db.create_account(NewAccount::credential(bob_user.id, password_hash()))
        .await
        .unwrap();
    let (unverified, _) = t.sign_in("bob@example.com").await;
    assert!(matches!(
        t.auth.accept_invitation(&unverified, &token, &anon()).await,
        Err(AuthError::EmailNotVerified)
    ));
    // Verified, he joins with the invited role; the link is then spent.
    t.db.mark_email_verified(bob_user.id, tollbooth_db::now())
        .await
        .unwrap();
    let (bob, _) = t.sign_in("bob@example.com").await;
    let joined = t
        .auth
        .accept_invitation(&bob, &token, &anon())
        .await
        .unwrap();
    assert_eq!((joined.organization.id, joined.role), (id, OrgRole::ADMIN));
    assert!(matches!(
        t.auth.accept_invitation(&bob, &token, &anon()).await,
        Err(AuthError::InvalidToken)
    ));
    assert!(t.auth.list_invitations(&ada, id).await.unwrap().is_empty());
    assert_eq!(
        kinds(&trail(&t, bob.user.id).await).last(),
        Some(&"member_joined")
    );
}

async fn invitations_are_revoked_sent_again_and_expire(db: TestDb) {
    let t = TestAuth::with(db, |c| c.invitation_ttl(chrono::TimeDelta::days(2)));
    let (ada, acme) = acme(&t).await;
    let id = acme.organization.id;
    let cy = join(&t, id, "cy@example.com", &OrgRole::MEMBER).await;
    t.user("bob@example.com").await;
    let (bob, _) = t.sign_in("bob@example.com").await;

    // Only members who may invite can; an admin cannot invite an owner.
    assert!(forbidden(
        t.auth
            .invite_member(&cy, id, "bob@example.com", &OrgRole::MEMBER, &anon())
            .await
    ));
    assert!(not_found(
        t.auth
            .invite_member(&bob, id, "eve@example.com", &OrgRole::MEMBER, &anon())
            .await
    ));
    let first = t
        .auth
        .invite_member(&ada, id, "bob@example.com", &OrgRole::MEMBER, &anon())
        .await
        .unwrap();
    let (old_token, _) = invitation_sent_to(&t, "bob@example.com").await;
    assert!(
        t.auth
            .preview_invitation(&old_token)
            .await
            .unwrap()
            .account_exists
    );
    assert!(forbidden(t.auth.list_invitations(&cy, id).await));
    let listed = t.auth.list_invitations(&ada, id).await.unwrap();
    assert_eq!(listed, std::slice::from_ref(&first));

    // Sent again: a new link, the old one dead, a later expiry.
    t.clock.advance(chrono::TimeDelta::days(1));
    let resent = t
        .auth
        .resend_invitation(&ada, id, first.id, &anon())
        .await
        .unwrap();
    assert!(resent.expires_at > first.expires_at);
    let (new_token, _) = invitation_sent_to(&t, "bob@example.com").await;
    assert_ne!(new_token, old_token);
    assert_eq!(t.outbox.sent_to("bob@example.com").len(), 2);
    assert!(matches!(
        t.auth.accept_invitation(&bob, &old_token, &anon()).await,
        Err(AuthError::InvalidToken)
    ));

    // Revoked: the new link is dead too, and it cannot be revoked twice.
    t.auth
        .revoke_invitation(&ada, id, first.id, &anon())
        .await
        .unwrap();
    assert!(matches!(
        t.auth.revoke_invitation(&ada, id, first.id, &anon()).await,
        Err(AuthError::InvitationNotFound)
    ));
    assert!(matches!(
        t.auth.accept_invitation(&bob, &new_token, &anon()).await,
        Err(AuthError::InvalidToken)
    ));
    assert!(t.auth.list_invitations(&ada, id).await.unwrap().is_empty());

    // Expired: refused, out of the list, and no obstacle to a new invitation.
    t.auth
        .invite_member(&ada, id, "bob@example.com", &OrgRole::MEMBER, &anon())
        .await
        .unwrap();
    let (token, _) = invitation_sent_to(&t, "bob@example.com").await;
    t.clock.advance(chrono::TimeDelta::days(2));
    assert!(matches!(
        t.auth.accept_invitation(&bob, &token, &anon()).await,
        Err(AuthError::InvalidToken)
    ));
    assert!(t.auth.list_invitations(&ada, id).await.unwrap().is_empty());
    t.auth
        .invite_member(&ada, id, "bob@example.com", &OrgRole::MEMBER, &anon())
        .await
        .unwrap();
    // The trail: four invitation e-mails (one sent again) and a revocation, by Ada.
    let of_kind = |kind| {
        let mut query = tollbooth_db::SecurityEventQuery::default();
        query.kind = Some(kind);
        let db = &t.db;
        async move { db.list_security_events(&query, 100).await.unwrap() }
    };
    let invited = of_kind(tollbooth_db::SecurityEventKind::MemberInvited).await;
    assert_eq!(invited.len(), 4);
    assert!(invited.iter().all(|e| e.actor_user_id == Some(ada.user.id)));
    let resent: Vec<_> = invited
        .iter()
        .filter(|e| e.detail.as_ref().unwrap()["resent"] == true)
        .collect();
    assert_eq!(resent.len(), 1);
    let revoked = of_kind(tollbooth_db::SecurityEventKind::InvitationRevoked).await;
    assert_eq!(revoked.len(), 1);
    assert_eq!(
        revoked[0].detail.as_ref().unwrap()["email"],
        "bob@example.com"
    );
}

/// Two tabs accepting one invitation at once: one joins, the other is refused, one
/// membership.
async fn an_invitation_is_accepted_once_under_concurrency(db: TestDb) {
    let t = TestAuth::new(db);
    let other = t.second_instance().await;
    let (ada, acme) = acme(&t).await;
    let id = acme.organization.id;
    t.user("bob@example.com").await;
    let (bob, _) = t.sign_in("bob@example.com").await;
    t.auth
        .invite_member(&ada, id, "bob@example.com", &OrgRole::MEMBER, &anon())
        .await
        .unwrap();
    let (token, _) = invitation_sent_to(&t, "bob@example.com").await;
    let request = anon();
    let (a, b) = tokio::join!(
        t.auth.accept_invitation(&bob, &token, &request),
        other.accept_invitation(&bob, &token, &request),
    );
    assert_eq!(a.is_ok() as u8 + b.is_ok() as u8, 1, "{a:?} {b:?}");
    assert!(matches!(
        if a.is_ok() { b } else { a },
        Err(AuthError::InvalidToken)
    ));
    assert_eq!(t.db.count_members(id).await.unwrap(), 2);
    let joined = kinds(&trail(&t, bob.user.id).await)
        .into_iter()
        .filter(|kind| *kind == "member_joined")
        .count();
    assert_eq!(joined, 1);
}

/// No one hands out more than they hold: an admin cannot give (or take) a role with a
/// permission they lack, nor invite with it; a role that may only invite cannot invite an
/// admin; an impersonating administrator changes nothing; an unverified account creates
/// nothing.
async fn no_one_grants_more_than_they_hold(db: TestDb) {
    let superadmin = OrgRole::new("superadmin");
    let recruiter = OrgRole::new("recruiter");
    let t = TestAuth::with(db, |c| {
        c.organization_role(superadmin.clone(), [OrgPermission::DELETE_ORGANIZATION])
            .organization_role(recruiter.clone(), [OrgPermission::INVITE_MEMBERS])
            .require_verified_email(false)
    });
    let (ada, acme) = acme(&t).await;
    let id = acme.organization.id;
    let bob = join(&t, id, "bob@example.com", &OrgRole::ADMIN).await;
    let rita = join(&t, id, "rita@example.com", &recruiter).await;
    let sam = join(&t, id, "sam@example.com", &superadmin).await;
    let request = anon();
    assert!(forbidden(
        t.auth
            .change_member_role(&bob, id, bob.user.id, &superadmin, &request)
            .await
    ));
    assert!(forbidden(
        t.auth
            .change_member_role(&bob, id, sam.user.id, &OrgRole::MEMBER, &request)
            .await
    ));
    assert!(forbidden(
        t.auth.remove_member(&bob, id, sam.user.id, &request).await
    ));
    assert!(forbidden(
        t.auth
            .invite_member(&bob, id, "x@example.com", &superadmin, &request)
            .await
    ));
    assert!(forbidden(
        t.auth
            .invite_member(&rita, id, "x@example.com", &OrgRole::ADMIN, &request)
            .await
    ));
    t.auth
        .invite_member(&rita, id, "x@example.com", &OrgRole::MEMBER, &request)
        .await
        .unwrap();
    // The owner may give anything.
    t.auth
        .change_member_role(&ada, id, bob.user.id, &superadmin, &request)
        .await
        .unwrap();

    // An administrator acting as Ada (the owner) can look, not change.
    let root = t.user("root@example.com").await;
    t.db.set_user_role(root.id, "admin").await.unwrap();
    let (root_session, _) = t.sign_in("root@example.com").await;
    let admin_request = RequestInfo::new(&NO_HEADERS, ip());
    let users = t.auth.user_admin(&root_session, &admin_request).unwrap();
    let acting = users.impersonate(ada.user.id).await.unwrap().session;
    assert!(t.auth.org_member(&acting, id).await.is_ok());
    let impersonating = |r: Result<()>| matches!(r, Err(AuthError::Impersonating));
    assert!(impersonating(
        t.auth
            .transfer_ownership(&acting, id, bob.user.id, &request)
            .await
            .map(|_| ())
    ));
    assert!(impersonating(
        t.auth
            .remove_member(&acting, id, rita.user.id, &request)
            .await
    ));
    assert!(impersonating(
        t.auth
            .change_member_role(&acting, id, rita.user.id, &OrgRole::MEMBER, &request)
            .await
            .map(|_| ())
    ));
    assert!(impersonating(
        t.auth
            .update_organization(
                &acting,
                id,
                OrganizationUpdate::new().name("Mine"),
                &request
            )
            .await
            .map(|_| ())
    ));
    assert_eq!(t.db.count_members(id).await.unwrap(), 4);

    // Creating an organization needs a verified address.
    let unverified =
        t.db.create_user(NewUser::new("new@example.com"))
            .await
            .unwrap();
    t.db.create_account(NewAccount::credential(unverified.id, password_hash()))
        .await
        .unwrap();
    let (new, _) = t.sign_in("new@example.com").await;
    assert!(matches!(
        t.auth
            .create_organization(&new, "Mine", None, &request)
            .await,
        Err(AuthError::EmailNotVerified)
    ));
}

static NO_HEADERS: [(&str, &str); 0] = [];

/// Removing a member revokes the invitations they sent; invitation e-mails are limited per
/// organization and per inviter, and a refused invitation counts nothing.
async fn invitations_end_with_their_inviter_and_are_limited(db: TestDb) {
    let t = TestAuth::with(db, |c| {
        let mut limits = RateLimits::default();
        limits.invitations = Limit::new(3, chrono::TimeDelta::days(1));
        c.rate_limits(limits)
    });
    let (ada, acme) = acme(&t).await;
    let id = acme.organization.id;
    let bob = join(&t, id, "bob@example.com", &OrgRole::ADMIN).await;
    let request = anon();
    t.auth
        .invite_member(
            &bob,
            id,
            "second-bob@example.com",
            &OrgRole::ADMIN,
            &request,
        )
        .await
        .unwrap();
    t.auth
        .remove_member(&ada, id, bob.user.id, &request)
        .await
        .unwrap();
    assert!(t.auth.list_invitations(&ada, id).await.unwrap().is_empty());
    let (token, _) = invitation_sent_to(&t, "second-bob@example.com").await;
    assert!(matches!(
        t.auth.preview_invitation(&token).await,
        Err(AuthError::InvalidToken)
    ));

    // Acme's count: Bob's invitation, then x and y; the refused repeat counts nothing.
    t.auth
        .invite_member(&ada, id, "x@example.com", &OrgRole::MEMBER, &request)
        .await
        .unwrap();
    assert!(matches!(
        t.auth
            .invite_member(&ada, id, "x@example.com", &OrgRole::MEMBER, &request)
            .await,
        Err(AuthError::AlreadyInvited)
    ));
    t.auth
        .invite_member(&ada, id, "y@example.com", &OrgRole::MEMBER, &request)
        .await
        .unwrap();
    assert!(matches!(
        t.auth
            .invite_member(&ada, id, "z@example.com", &OrgRole::MEMBER, &request)
            .await,
        Err(AuthError::RateLimited { .. })
    ));
    // Refused, it was not sent.
    t.auth.flush_background_tasks().await;
    assert!(t.outbox.sent_to("z@example.com").is_empty());
    // Her next organization does not reset her own count (x, y, then one more).
    let beta = t
        .auth
        .create_organization(&ada, "Beta", None, &request)
        .await
        .unwrap();
    let beta = beta.organization.id;
    t.auth
        .invite_member(&ada, beta, "z@example.com", &OrgRole::MEMBER, &request)
        .await
        .unwrap();
    assert!(matches!(
        t.auth
            .invite_member(&ada, beta, "w@example.com", &OrgRole::MEMBER, &request)
            .await,
        Err(AuthError::RateLimited { .. })
    ));
}

/// An owner transferring ownership to a member while that member deletes their account:
/// the organization keeps an owner whichever commits first.
async fn a_transfer_racing_the_new_owners_deletion_keeps_an_owner(db: TestDb) {
    let t = TestAuth::new(db);
    let other = t.second_instance().await;
    let (ada, acme) = acme(&t).await;
    let id = acme.organization.id;
    let request = anon();
    for round in 0..5 {
        let email = format!("b{round}@example.com");
        let bob = join(&t, id, &email, &OrgRole::ADMIN).await;
        // Ada owns Acme at the start of every round.
        let (transfer, deletion) = tokio::join!(
            t.auth.transfer_ownership(&ada, id, bob.user.id, &request),
            other.delete_account(&bob, None, &request),
        );
        assert!(
            t.db.count_owners(id).await.unwrap() >= 1,
            "round {round}: {transfer:?} {deletion:?}"
        );
        match (&transfer, &deletion) {
            (Ok(()), Err(AuthError::LastOwner)) => {
                // Bob owns Acme now: hand it back for the next round.
                t.auth
                    .transfer_ownership(&bob, id, ada.user.id, &request)
                    .await
                    .unwrap();
            }
            (Err(AuthError::MemberNotFound), Ok(_)) => {}
            other => panic!("round {round}: {other:?}"),
        }
    }
}

/// A step that refuses (billing, Stripe down) ends an organization's deletion with nothing
/// deleted and its error as the answer; steps run only for someone who may delete it; once
/// the step succeeds, a retry deletes.
async fn a_refusing_step_deletes_no_organization(db: TestDb) {
    #[derive(Clone, Default)]
    struct Step {
        refuse: std::sync::Arc<std::sync::atomic::AtomicBool>,
        asked: std::sync::Arc<std::sync::Mutex<Vec<Uuid>>>,
    }
    #[derive(Debug)]
    struct StripeDown;
    impl WireError for StripeDown {
        fn status(&self) -> tollbooth_core::http::StatusCode {
            tollbooth_core::http::StatusCode::SERVICE_UNAVAILABLE
        }
        fn code(&self) -> &'static str {
            "payment_provider_unavailable"
        }
        fn client_message(&self) -> std::borrow::Cow<'_, str> {
            "Stripe said: connection refused to 10.0.0.7".into()
        }
        fn server_message(&self) -> &'static str {
            "the payment provider is unavailable; try again later"
        }
    }
    #[async_trait::async_trait]
    impl BeforeOrganizationDeletion for Step {
        async fn before_organization_deletion(&self, id: Uuid) -> Result<(), DeletionRefused> {
            self.asked.lock().unwrap().push(id);
            if self.refuse.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(Box::new(StripeDown));
            }
            Ok(())
        }
    }

    let step = Step::default();
    let t = TestAuth::with(db, |c| c.before_organization_deletion(step.clone()));
    let (ada, acme) = acme(&t).await;
    let id = acme.organization.id;
    let bob = join(&t, id, "bob@example.com", &OrgRole::ADMIN).await;
    let request = anon();
    // An admin may not delete: the step is not even asked.
    assert!(forbidden(
        t.auth.delete_organization(&bob, id, &request).await
    ));
    assert!(step.asked.lock().unwrap().is_empty());

    step.refuse.store(true, std::sync::atomic::Ordering::SeqCst);
    let refused = t
        .auth
        .delete_organization(&ada, id, &request)
        .await
        .unwrap_err();
    assert!(matches!(refused, AuthError::DeletionRefused { .. }));
    assert_eq!(
        (refused.status().as_u16(), refused.code()),
        (503, "payment_provider_unavailable")
    );
    assert_eq!(
        error_body(&refused)["message"],
        "the payment provider is unavailable; try again later"
    );
    assert!(t.db.find_organization(id).await.unwrap().is_some());
    assert_eq!(t.db.count_members(id).await.unwrap(), 2);

    step.refuse
        .store(false, std::sync::atomic::Ordering::SeqCst);
    t.auth
        .delete_organization(&ada, id, &request)
        .await
        .unwrap();
    assert!(t.db.find_organization(id).await.unwrap().is_none());
    assert_eq!(*step.asked.lock().unwrap(), [id, id]);
}

/// Heard `SeatsChanged` events, by organization.
#[derive(Clone, Default)]
struct SeatEvents(std::sync::Arc<std::sync::Mutex<Vec<Uuid>>>);

#[async_trait::async_trait]
impl tollbooth_core::Hooks for SeatEvents {
    async fn on_event(
        &self,
        event: &tollbooth_core::DomainEvent,
    ) -> std::result::Result<(), tollbooth_core::HookError> {
        if let tollbooth_core::DomainEvent::SeatsChanged { organization_id } = event {
            self.0.lock().unwrap().push(*organization_id);
        }
        Ok(())
    }
}

/// The seat limit billing writes on the organization counts members and pending
/// invitations: an invitation beyond it, or an acceptance once members fill it, is
/// `seat_limit_reached` and changes nothing; no limit, no refusal. Every change of the seat
/// count is told to the hooks once it committed (billing syncs a per-seat subscription on
/// it, an account deletion's cascade included); a refused one is not.
async fn the_seat_limit_refuses_invitations_and_acceptances_beyond_it(db: TestDb) {
    let heard = SeatEvents::default();
    let t = TestAuth::with(db, |c| c.hooks(heard.clone()));
    let (ada, acme) = acme(&t).await;
    let id = acme.organization.id;
    assert_eq!(
        *heard.0.lock().unwrap(),
        [id],
        "the owner is the first seat"
    );
    let full =
        |r: Result<OrgInvitation>| matches!(r, Err(AuthError::SeatLimitReached { limit: 2 }));

    t.db.set_seat_limit(id, Some(2)).await.unwrap();
    let bob = t
        .auth
        .invite_member(&ada, id, "bob@example.com", &OrgRole::MEMBER, &anon())
        .await
        .unwrap();
    // Ada and Bob's pending invitation take both seats.
    assert!(full(
        t.auth
            .invite_member(&ada, id, "carol@example.com", &OrgRole::MEMBER, &anon())
            .await
    ));
    assert_eq!(t.db.list_pending_invitations(id).await.unwrap().len(), 1);
    t.auth
        .revoke_invitation(&ada, id, bob.id, &anon())
        .await
        .unwrap();
    t.auth
        .invite_member(&ada, id, "carol@example.com", &OrgRole::MEMBER, &anon())
        .await
        .unwrap();
    let (token, _) = invitation_sent_to(&t, "carol@example.com").await;

    // A downgrade to one seat meanwhile: Carol cannot take a seat that is no longer there.
    t.db.set_seat_limit(id, Some(1)).await.unwrap();
    t.user("carol@example.com").await;
    let (carol, _) = t.sign_in("carol@example.com").await;
    assert!(matches!(
        t.auth.accept_invitation(&carol, &token, &anon()).await,
        Err(AuthError::SeatLimitReached { limit: 1 })
    ));
    assert_eq!(t.db.count_members(id).await.unwrap(), 1);
    let e = AuthError::SeatLimitReached { limit: 1 };
    assert_eq!((e.status().as_u16(), e.code()), (409, "seat_limit_reached"));

    // No limit: the same acceptance goes through.
    t.db.set_seat_limit(id, None).await.unwrap();
    t.auth
        .accept_invitation(&carol, &token, &anon())
        .await
        .unwrap();
    assert_eq!(t.db.count_members(id).await.unwrap(), 2);
    // Created, invited Bob, revoked, invited Carol, Carol joined: five changes told.
    assert_eq!(*heard.0.lock().unwrap(), [id; 5]);

    // Carol deletes her account: her membership goes with it, and that is told too.
    t.auth.delete_account(&carol, None, &anon()).await.unwrap();
    assert_eq!(t.db.count_members(id).await.unwrap(), 1);
    assert_eq!(*heard.0.lock().unwrap(), [id; 6]);
}

tollbooth_db::engine_tests!(
    organizations_are_created_with_their_creator_as_owner_and_canonical_slugs,
    an_organization_is_not_found_by_those_outside_it,
    roles_grant_their_permissions_and_only_owners_touch_owners,
    the_last_owner_can_never_go,
    concurrent_demotions_never_remove_the_last_owner,
    the_active_organization_is_per_session_and_ends_with_the_membership,
    members_are_listed_a_page_at_a_time,
    an_invitation_is_accepted_by_its_address_once_verified_and_only_once,
    invitations_are_revoked_sent_again_and_expire,
    an_invitation_is_accepted_once_under_concurrency,
    no_one_grants_more_than_they_hold,
    invitations_end_with_their_inviter_and_are_limited,
    a_transfer_racing_the_new_owners_deletion_keeps_an_owner,
    a_refusing_step_deletes_no_organization,
    the_seat_limit_refuses_invitations_and_acceptances_beyond_it,
);
