//! Password hashing: off the async runtime, bounded, interoperable, and timing-neutral.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use common::*;
use tollbooth_auth::*;
use tollbooth_db::testing::TestDb;
use tollbooth_db::{AccountRepo, CREDENTIAL_PROVIDER, NewAccount, NewUser, UserRepo};

/// "Tr0ub4dor&3-staple" hashed at cost 12 by pyca/bcrypt 5.0 (OpenBSD's implementation).
const PYCA_COST_12: &str = "$2b$12$HTXYkXBa9EvEh/C1gQnVfeGPVYCLiD.wZw0H5d2UHz8UZrNd5voQm";

/// On a single-threaded runtime, a timer keeps ticking while a sign-in spends ~200 ms in
/// bcrypt: the hash runs on the blocking pool, not on the runtime's only thread. (Counting
/// ticks would not show it — a stalled interval bursts to catch up — so the test measures
/// the longest gap between two ticks.)
#[tokio::test(flavor = "current_thread")]
async fn a_timer_keeps_ticking_while_a_sign_in_hashes() {
    let t = TestAuth::new(TestDb::sqlite().await);
    t.user("ada@example.com").await;
    let longest_gap = Arc::new(AtomicU32::new(0));
    let ticker = {
        let longest_gap = longest_gap.clone();
        tokio::spawn(async move {
            let mut last = Instant::now();
            loop {
                tokio::time::sleep(Duration::from_millis(5)).await;
                let gap = u32::try_from(last.elapsed().as_millis()).unwrap_or(u32::MAX);
                longest_gap.fetch_max(gap, Ordering::Relaxed);
                last = Instant::now();
            }
        })
    };
    tokio::task::yield_now().await;
    let started = Instant::now();
    t.sign_in("ada@example.com").await;
    let elapsed = started.elapsed();
    ticker.abort();
    assert!(
        elapsed >= Duration::from_millis(50),
        "bcrypt-12 really ran: {elapsed:?}"
    );
    let gap = longest_gap.load(Ordering::Relaxed);
    // A hash on the runtime thread would stall the timer for the whole hash.
    assert!(
        gap < 40,
        "the timer stalled {gap} ms during a {elapsed:?} sign-in"
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
