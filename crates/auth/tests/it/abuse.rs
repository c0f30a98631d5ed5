//! Credential stuffing: many failed sign-ins across accounts and IPs are throttled by the
//! default policy, cost a bounded number of bcrypt verifications, open no session, and the
//! owner of an attacked account still gets in afterwards.

use std::net::IpAddr;

use crate::common::*;
use chrono::TimeDelta;
use tokio::task::JoinSet;
use tollbooth_auth::*;
use tollbooth_db::testing::TestDb;
use tollbooth_db::{RateLimitRepo, SessionRepo, UserRepo};

fn attacker(n: u8) -> IpAddr {
    IpAddr::from([198, 51, 100, n])
}

async fn credential_stuffing_is_throttled_and_the_owner_still_gets_in(db: TestDb) {
    let t = TestAuth::new(db); // the default policy, unchanged
    let policy = RateLimits::default();
    let accounts: Vec<String> = (0..6).map(|i| format!("user{i}@example.com")).collect();
    for account in &accounts {
        t.user(account).await;
    }

    // A botnet: 12 addresses, each trying its leaked password against every account, all at
    // once (so no attempt waits for another's result).
    const BOTS: u8 = 12;
    let mut attempts = JoinSet::new();
    for bot in 1..=BOTS {
        for account in &accounts {
            let (auth, account) = (t.auth.clone(), account.clone());
            attempts.spawn(async move {
                let headers: Vec<(String, String)> = Vec::new();
                let request = RequestInfo::new(&headers, attacker(bot));
                let outcome = auth
                    .sign_in(&account, &format!("leaked-password-{bot}"), &request)
                    .await;
                (account, outcome)
            });
        }
    }
    let mut checked = std::collections::HashMap::<String, usize>::new();
    let mut throttled = 0;
    while let Some(attempt) = attempts.join_next().await {
        match attempt.unwrap() {
            (account, Err(AuthError::InvalidCredentials)) => {
                *checked.entry(account).or_default() += 1
            }
            (_, Err(AuthError::RateLimited { .. })) => throttled += 1,
            (_, other) => panic!("a stuffing attempt must fail: {other:?}"),
        }
    }
    // The per-account limit is counted atomically before bcrypt runs, so however parallel
    // the attack, each account had at most `max` passwords checked in the window; the rest
    // were refused without hashing.
    let max = policy.sign_in_per_account.max as usize;
    let backoff = policy.backoff_after_failures as usize;
    assert_eq!(
        checked.len(),
        accounts.len(),
        "every account was tried: {checked:?}"
    );
    for (account, guesses) in &checked {
        // At least the failures before the backoff, at most the window's limit.
        assert!(
            (backoff..=max).contains(guesses),
            "{account}: {guesses} passwords checked, expected {backoff}..={max}"
        );
    }
    let total = usize::from(BOTS) * accounts.len();
    assert_eq!(checked.values().sum::<usize>() + throttled, total);
    assert!(throttled >= total - accounts.len() * max);

    // Nothing was opened.
    for account in &accounts {
        let user = t.db.find_user_by_email(account).await.unwrap().unwrap();
        let open =
            t.db.list_active_sessions(user.id, t.clock.now())
                .await
                .unwrap();
        assert!(open.is_empty(), "{account} has a session");
    }

    // The owner, from their own address, is held back while the account's window is full…
    let owner = "user0@example.com";
    assert!(matches!(
        t.auth.sign_in(owner, PASSWORD, &anon()).await,
        Err(AuthError::RateLimited { .. })
    ));
    // …and gets in when it has passed: the attack bought the attacker at most `max` guesses
    // per window, and the owner at most one window's wait (no permanent lock-out).
    t.clock.advance(policy.sign_in_per_account.window);
    let (session, _) = t.sign_in(owner).await;
    assert_eq!(session.user.email, owner);
}

async fn sequential_guesses_on_one_account_back_off(db: TestDb) {
    let t = TestAuth::new(db); // the default policy: backoff after 5 failures
    let policy = RateLimits::default();
    t.user("ada@example.com").await;
    // Eight guesses from eight addresses, below the per-account limit (10 per 15 minutes).
    let mut checked = 0;
    for bot in 1..=8u8 {
        let headers: Vec<(String, String)> = Vec::new();
        let request = RequestInfo::new(&headers, attacker(bot));
        match t
            .auth
            .sign_in("ada@example.com", "Password1!", &request)
            .await
        {
            Err(AuthError::InvalidCredentials) => checked += 1,
            // The backoff (1 s after the fifth failure), not the 15-minute account window.
            Err(AuthError::RateLimited { retry_after }) => assert_eq!(retry_after.as_secs(), 1),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        checked, policy.backoff_after_failures as usize,
        "one guess per failure until the backoff"
    );
    // The owner waits out the backoff (1 s after the fifth failure) and is in.
    t.clock.advance(TimeDelta::seconds(1));
    let (session, _) = t.sign_in("ada@example.com").await;
    assert_eq!(session.user.email, "ada@example.com");
}

async fn parallel_guesses_after_a_backoff_get_one_check(db: TestDb) {
    // Only the backoff stands in the way: a per-account window far above the attack.
    let t = TestAuth::with(db, |c| {
        let mut limits = RateLimits::default();
        limits.sign_in_per_account = Limit::new(1000, TimeDelta::minutes(15));
        c.rate_limits(limits)
    });
    let policy = RateLimits::default();
    t.user("ada@example.com").await;
    for bot in 1..=policy.backoff_after_failures {
        let headers: Vec<(String, String)> = Vec::new();
        let request = RequestInfo::new(&headers, attacker(bot as u8));
        assert!(matches!(
            t.auth
                .sign_in("ada@example.com", "Password1!", &request)
                .await,
            Err(AuthError::InvalidCredentials)
        ));
    }
    // The 1 s backoff passes and eight guesses arrive at once: the wait buys one guess, not
    // one per request that read the streak before the first failure was recorded.
    t.clock.advance(TimeDelta::seconds(1));
    let mut attempts = JoinSet::new();
    for bot in 10..18u8 {
        let auth = t.auth.clone();
        attempts.spawn(async move {
            let headers: Vec<(String, String)> = Vec::new();
            let request = RequestInfo::new(&headers, attacker(bot));
            auth.sign_in("ada@example.com", &format!("guess-{bot}"), &request)
                .await
        });
    }
    let (mut checked, mut throttled) = (0, 0);
    while let Some(outcome) = attempts.join_next().await {
        match outcome.unwrap() {
            Err(AuthError::InvalidCredentials) => checked += 1,
            Err(AuthError::RateLimited { .. }) => throttled += 1,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!((checked, throttled), (1, 7));
    // Six failures now: the owner waits 2 s and is in.
    t.clock.advance(TimeDelta::seconds(2));
    let (session, _) = t.sign_in("ada@example.com").await;
    assert_eq!(session.user.email, "ada@example.com");
}

async fn one_address_spraying_many_accounts_is_limited_per_ip(db: TestDb) {
    let t = TestAuth::with(db, |c| {
        let mut limits = RateLimits::default();
        limits.sign_in_per_ip = Limit::new(3, TimeDelta::minutes(5));
        c.rate_limits(limits)
    });
    for i in 0..4 {
        t.user(&format!("user{i}@example.com")).await;
    }
    let headers: Vec<(String, String)> = Vec::new();
    let sprayer = RequestInfo::new(&headers, attacker(9));
    for i in 0..3 {
        assert!(matches!(
            t.auth
                .sign_in(&format!("user{i}@example.com"), "Summer2026!", &sprayer)
                .await,
            Err(AuthError::InvalidCredentials)
        ));
    }
    // A fourth account, never tried before: refused for the address, not the account…
    match t
        .auth
        .sign_in("user3@example.com", PASSWORD, &sprayer)
        .await
    {
        Err(AuthError::RateLimited { retry_after }) => {
            assert!(
                retry_after.as_secs() > 60,
                "the per-IP window: {retry_after:?}"
            )
        }
        other => panic!("{other:?}"),
    }
    // …so its owner, elsewhere, signs in.
    let (session, _) = t.sign_in("user3@example.com").await;
    assert_eq!(session.user.email, "user3@example.com");
    // The window passes and the address may try again.
    t.clock.advance(TimeDelta::minutes(5));
    assert!(matches!(
        t.auth
            .sign_in("user0@example.com", "Summer2026!", &sprayer)
            .await,
        Err(AuthError::InvalidCredentials)
    ));
}

/// Once an address is over its limit, its further attempts are refused by the instance
/// that saw it — without a database write each (a flood of refused sign-ins would otherwise
/// be a flood of writes) — until the window ends.
async fn refused_attempts_stay_off_the_database(db: TestDb) {
    let t = TestAuth::with(db, |c| {
        let mut limits = RateLimits::default();
        limits.sign_in_per_ip = Limit::new(2, TimeDelta::minutes(5));
        c.rate_limits(limits)
    });
    let headers: Vec<(String, String)> = Vec::new();
    let flooder = RequestInfo::new(&headers, attacker(7));
    let key = "sign_in:ip:198.51.100.7";
    let hits = async || {
        t.db.peek_rate_limit(key, TimeDelta::minutes(5), t.clock.now())
            .await
            .unwrap()
            .map_or(0, |state| state.hits)
    };
    for _ in 0..3 {
        let _ = t
            .auth
            .sign_in("nobody@example.com", "guess", &flooder)
            .await;
    }
    assert_eq!(
        hits().await,
        3,
        "two allowed, the third counted and refused"
    );
    for _ in 0..50 {
        assert!(matches!(
            t.auth
                .sign_in("nobody@example.com", "guess", &flooder)
                .await,
            Err(AuthError::RateLimited { .. })
        ));
    }
    assert_eq!(hits().await, 3, "refused without a write");
    // Another instance has not seen it: it asks the database, which refuses too.
    let other = t.second_instance().await;
    assert!(matches!(
        other.sign_in("nobody@example.com", "guess", &flooder).await,
        Err(AuthError::RateLimited { .. })
    ));
    // The window ends: the address may try again.
    t.clock.advance(TimeDelta::minutes(5));
    assert!(matches!(
        t.auth
            .sign_in("nobody@example.com", "guess", &flooder)
            .await,
        Err(AuthError::InvalidCredentials)
    ));
}

tollbooth_db::engine_tests!(
    refused_attempts_stay_off_the_database,
    credential_stuffing_is_throttled_and_the_owner_still_gets_in,
    sequential_guesses_on_one_account_back_off,
    parallel_guesses_after_a_backoff_get_one_check,
    one_address_spraying_many_accounts_is_limited_per_ip,
);
