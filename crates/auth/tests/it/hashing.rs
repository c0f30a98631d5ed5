//! Password hashing: off the async runtime, bounded, interoperable, and timing-neutral.

use std::time::{Duration, Instant};

use crate::common::*;
use tollbooth_auth::*;
use tollbooth_db::testing::TestDb;
use tollbooth_db::{AccountRepo, CREDENTIAL_PROVIDER, NewAccount, NewUser, UserRepo};

/// "Tr0ub4dor&3-staple" hashed at cost 12 by pyca/bcrypt 5.0 (OpenBSD's implementation).
const PYCA_COST_12: &str = "$2b$12$HTXYkXBa9EvEh/C1gQnVfeGPVYCLiD.wZw0H5d2UHz8UZrNd5voQm";

/// bcrypt runs off the async runtime, shown by what happens rather than by a clock: on a
/// runtime with ONE thread and a hashing queue of one (`hashing_limits(1, 0)`), sign-ins
/// are tried while a first sign-in is in progress, until it ends. If the hash ran on the
/// runtime's thread, it would hold its queue place only inside one poll — nothing else
/// could run meanwhile, so no attempt could ever find the place taken. One that is refused
/// [`AuthError::Overloaded`] ran on the runtime thread *while a hash held the place*: the
/// hash was on another thread.
#[tokio::test(flavor = "current_thread")]
async fn another_request_runs_on_the_same_thread_while_a_sign_in_hashes() {
    let t = TestAuth::with(TestDb::sqlite().await, |c| c.hashing_limits(1, 0));
    t.user("ada@example.com").await;
    let first = tokio::spawn({
        let auth = t.auth.clone();
        async move { auth.sign_in("ada@example.com", PASSWORD, &anon()).await }
    });
    let mut refused_meanwhile = false;
    // A new unknown address each time, so no attempt meets an account's own limits.
    for attempt in 0.. {
        if first.is_finished() {
            break;
        }
        let email = format!("nobody{attempt}@example.com");
        match t.auth.sign_in(&email, "wrong password", &anon()).await {
            Err(AuthError::Overloaded) => {
                refused_meanwhile = true;
                break;
            }
            Err(AuthError::InvalidCredentials) => {} // it took the place itself
            other => panic!("{other:?}"),
        }
    }
    let first = first.await.unwrap();
    let first_overloaded = matches!(first, Err(AuthError::Overloaded));
    assert!(
        first_overloaded || matches!(first, Ok(SignInOutcome::SignedIn(_))),
        "{first:?}"
    );
    assert!(
        refused_meanwhile || first_overloaded,
        "no attempt ever overlapped a running hash: the hash blocked the runtime thread"
    );
}

#[tokio::test]
async fn hashes_interoperate_with_other_bcrypt_implementations() {
    let t = TestAuth::new(TestDb::sqlite().await);
    // A hash made by pyca/bcrypt is accepted…
    let user =
        t.db.create_user(NewUser::new("ada@example.com").verified_at(tollbooth_db::now()))
            .await
            .unwrap();
    t.db.create_account(NewAccount::credential(user.id, PYCA_COST_12))
        .await
        .unwrap();
    assert!(matches!(
        t.auth
            .sign_in("ada@example.com", "Tr0ub4dor&3-staple", &anon())
            .await,
        Ok(SignInOutcome::SignedIn(_))
    ));
    // …and ours verifies with an independent implementation (pwhash).
    let bob = t
        .auth
        .sign_up("bob@example.com", PASSWORD, None, &anon())
        .await
        .unwrap();
    let ours =
        t.db.find_user_account(bob.id, CREDENTIAL_PROVIDER)
            .await
            .unwrap()
            .unwrap()
            .password_hash
            .unwrap();
    assert!(pwhash::bcrypt::verify(PASSWORD, &ours), "{ours}");
    assert!(!pwhash::bcrypt::verify("wrong", &ours));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_hashing_queue_sheds_load() {
    let t = TestAuth::with(TestDb::sqlite().await, |c| c.hashing_limits(1, 0));
    t.user("ada@example.com").await;
    let request = anon();
    let (a, b) = tokio::join!(
        t.auth.sign_in("ada@example.com", PASSWORD, &request),
        t.auth.sign_in("ada@example.com", PASSWORD, &request),
    );
    let overloaded = [&a, &b]
        .iter()
        .filter(|r| matches!(r, Err(AuthError::Overloaded)))
        .count();
    assert_eq!(overloaded, 1, "{a:?} {b:?}");
    let err = [a, b].into_iter().find_map(Result::err).unwrap();
    assert_eq!((err.status().as_u16(), err.code()), (503, "overloaded"));
    // Once the queue drains, sign-in works again.
    t.sign_in("ada@example.com").await;
}

/// Under load an unknown e-mail answers like a known one (503), not with a quick 401 that
/// would tell an attacker who filled the queue which accounts exist.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_answers_unknown_emails_alike() {
    let t = TestAuth::with(TestDb::sqlite().await, |c| c.hashing_limits(1, 0));
    t.user("ada@example.com").await;
    let request = anon();
    // The dummy hash is made on first use; make it now.
    let warm_up = t.auth.sign_in("warmup@example.com", PASSWORD, &request);
    assert!(matches!(warm_up.await, Err(AuthError::InvalidCredentials)));
    // Two attempts at once on a queue of one: one is checked, the other refused with 503 —
    // whether the e-mails exist or not. (Which one wins the race is not fixed.)
    for (first, second) in [
        ("ada@example.com", "nobody@example.com"),
        ("nobody.else@example.com", "no.one@example.com"),
    ] {
        let (a, b) = tokio::join!(
            t.auth.sign_in(first, "wrong password", &request),
            t.auth.sign_in(second, "wrong password", &request),
        );
        let mut codes = [&a, &b].map(|r| r.as_ref().unwrap_err().code());
        codes.sort_unstable();
        assert_eq!(
            codes,
            ["invalid_credentials", "overloaded"],
            "{first}, {second}: {a:?} {b:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_email_costs_one_bcrypt_verification_too() {
    let t = TestAuth::new(TestDb::sqlite().await);
    t.user("ada@example.com").await;
    // Warm up (the dummy hash is made on first use).
    let _ = t.auth.sign_in("warmup@example.com", "x", &anon()).await;
    let time = |email: &'static str| {
        let auth = t.auth.clone();
        async move {
            let started = Instant::now();
            let _ = auth.sign_in(email, "wrong password", &anon()).await;
            started.elapsed()
        }
    };
    let known = time("ada@example.com").await;
    let unknown = time("nobody@example.com").await;
    assert!(known >= Duration::from_millis(50), "{known:?}");
    assert!(
        unknown >= known / 2,
        "unknown e-mail returned in {unknown:?} vs {known:?}"
    );
}
