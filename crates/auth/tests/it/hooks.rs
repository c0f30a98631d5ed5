//! Application hooks: each committed change told once, in order; a failing hook undoes
//! nothing; a change that did not commit tells nothing.

use std::sync::{Arc, Mutex};

use tollbooth_auth::*;
use tollbooth_core::{DomainEvent, HookError, Hooks};
use tollbooth_db::UserRepo;
use tollbooth_db::testing::TestDb;

use crate::common::*;

/// Records every event; fails every call when `fail` (after recording).
#[derive(Clone, Default)]
struct Recorder {
    events: Arc<Mutex<Vec<DomainEvent>>>,
    fail: bool,
}

#[async_trait::async_trait]
impl Hooks for Recorder {
    async fn on_event(&self, event: &DomainEvent) -> Result<(), HookError> {
        self.events.lock().unwrap().push(event.clone());
        if self.fail {
            return Err("the analytics service is down".into());
        }
        Ok(())
    }
}

impl Recorder {
    fn names(&self) -> Vec<&'static str> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .map(DomainEvent::name)
            .collect()
    }
}

async fn committed_changes_are_told_in_order(db: TestDb) {
    let failing = Recorder {
        fail: true,
        ..Recorder::default()
    };
    let heard = Recorder::default();
    let t = TestAuth::with(db, |c| c.hooks(failing.clone()).hooks(heard.clone()));

    let ada = t
        .auth
        .sign_up("ada@example.com", PASSWORD, None, &anon())
        .await
        .unwrap();
    // A sign-up that does not commit (the address is taken) tells nothing.
    assert!(
        t.auth
            .sign_up("ada@example.com", PASSWORD, None, &anon())
            .await
            .is_err()
    );
    t.db.mark_email_verified(ada.id, t.clock.now())
        .await
        .unwrap();
    let (session, _) = t.sign_in("ada@example.com").await;
    t.auth
        .change_password(&session, PASSWORD, "another fine passphrase", &anon())
        .await
        .unwrap();

    let root = t.user("root@example.com").await;
    t.db.set_user_role(root.id, "admin").await.unwrap();
    let (admin, _) = t.sign_in("root@example.com").await;
    let request = anon();
    let users = t.auth.user_admin(&admin, &request).unwrap();
    users.set_role(ada.id, &Role::new("editor")).await.unwrap();
    users.ban(ada.id, Ban::new()).await.unwrap();
    users.unban(ada.id).await.unwrap();

    let events = heard.events.lock().unwrap().clone();
    assert_eq!(
        events[0],
        DomainEvent::UserCreated {
            user_id: ada.id,
            email: "ada@example.com".to_owned()
        }
    );
    assert_eq!(
        events[1],
        DomainEvent::SignedIn {
            user_id: ada.id,
            session_id: session.id
        }
    );
    assert_eq!(events[2], DomainEvent::PasswordChanged { user_id: ada.id });
    assert_eq!(
        events[4],
        DomainEvent::RoleChanged {
            user_id: ada.id,
            by: root.id,
            role: "editor".to_owned()
        }
    );
    assert_eq!(
        heard.names(),
        [
            "user_created",
            "signed_in",
            "password_changed",
            "signed_in",
            "role_changed",
            "banned",
            "unbanned",
        ]
    );
    // The failing hook heard the same, and undid nothing.
    assert_eq!(failing.names(), heard.names());
    let ada = t.db.find_user(ada.id).await.unwrap().unwrap();
    assert_eq!(ada.role, "editor");

    // The account deleted: told last.
    let signed_in = t
        .auth
        .sign_in("ada@example.com", "another fine passphrase", &anon())
        .await
        .unwrap();
    let SignInOutcome::SignedIn(signed_in) = signed_in else {
        panic!("no MFA here");
    };
    t.auth
        .delete_account(&signed_in.session, None, &anon())
        .await
        .unwrap();
    assert_eq!(
        heard.events.lock().unwrap().last(),
        Some(&DomainEvent::AccountDeleted { user_id: ada.id })
    );
}

tollbooth_db::engine_tests!(committed_changes_are_told_in_order);
