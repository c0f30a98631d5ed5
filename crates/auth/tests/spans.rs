//! The hot paths carry tracing spans — and nothing logged on them, by Tollbooth or the crates
//! under it, carries a password, a session token or the user's address.
//!
//! A test binary of its own (the crate's other tests are `tests/it`): it installs the
//! process's global subscriber. In a shared binary, a test on another thread that reaches a
//! span's callsite first can cache it as disabled before this test's subscriber exists.

#[path = "it/common/mod.rs"]
mod common;

use std::io;
use std::sync::{Arc, Mutex};

use tollbooth_auth::*;
use tollbooth_db::testing::TestDb;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::FmtSpan;

use common::*;

/// Every line written, in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test(flavor = "current_thread")]
async fn sign_in_and_session_checks_are_spans_that_carry_no_secret() {
    let t = TestAuth::new(TestDb::sqlite().await);
    t.user("ada@example.com").await;
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(FmtSpan::CLOSE)
        .with_ansi(false)
        .finish();
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
    let (session, cookie) = t.sign_in("ada@example.com").await;
    let lookup = t.auth.require_auth(&cookie).await.unwrap();
    assert_eq!(lookup.session.id, session.id);
    let wrong = t
        .auth
        .sign_in("ada@example.com", "not the password", &anon())
        .await;
    assert!(
        matches!(wrong, Err(AuthError::InvalidCredentials)),
        "{wrong:?}"
    );

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    for span in ["tollbooth.sign_in", "tollbooth.get_session"] {
        assert!(log.contains(span), "no {span} span in:\n{log}");
    }
    assert!(
        log.contains("signed in"),
        "the events are captured too:\n{log}"
    );
    let cookie_value = &cookie[0].1;
    for secret in [
        PASSWORD,
        "not the password",
        "ada@example.com",
        session.token.as_str(),
        cookie_value.as_str(),
    ] {
        assert!(!log.contains(secret), "{secret:?} logged:\n{log}");
    }
}
