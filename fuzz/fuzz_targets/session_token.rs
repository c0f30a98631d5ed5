//! Session JWT parsing and verification, and the session lookup over request headers.
//!
//! The input (lossy UTF-8) is tried as a whole token, and after a valid-looking JWT header
//! (`{"alg":"HS256","typ":"session+jwt","kid":"k"}`) so the fuzzer also reaches the claims and
//! signature checks. Each is passed to `Auth::verify_session_token`, and to
//! `Auth::get_session` as a raw `Cookie` header, as the session cookie, and as
//! `Authorization: Bearer`. Nobody issued a token here, so nothing may verify and no
//! session may be found (an HS256 MAC cannot be guessed).

#![no_main]

mod common;

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use tollbooth_auth::Auth;

static AUTH: LazyLock<Auth> = LazyLock::new(|| common::auth());

/// base64url(`{"alg":"HS256","typ":"session+jwt","kid":"k"}`), no padding.
const SESSION_JWT_HEADER: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6InNlc3Npb24rand0Iiwia2lkIjoiayJ9";

fuzz_target!(|data: &[u8]| {
    let auth = &*AUTH; // before any block_on: its initializer blocks too
    let input = String::from_utf8_lossy(data).into_owned();
    let cookie_name = auth.config().cookie_name().to_owned();

    for token in [input.clone(), format!("{SESSION_JWT_HEADER}.{input}")] {
        let verified = auth.verify_session_token(&token);
        assert!(
            verified.is_err(),
            "a session token nobody issued verified: {token:?} -> {verified:?}"
        );

        let headers: Vec<(String, String)> = vec![
            ("cookie".to_owned(), token.clone()),
            ("cookie".to_owned(), format!("{cookie_name}={token}")),
            ("authorization".to_owned(), format!("Bearer {token}")),
        ];
        let session = common::block_on(auth.get_session(&headers));
        assert!(
            !matches!(session, Ok(Some(_))),
            "a session was found for a token nobody issued: {token:?}"
        );
    }
});
