//! OAuth: callback query parsing, `return_to` validation (open redirects), and the callback
//! state checks, on arbitrary strings.
//!
//! - `OAuthCallback::from_query(input)`: never panics; kept values are at most 2048 bytes.
//! - `Auth::oauth_authorize(GitHub, Some(input))`: when accepted, `input` (stored verbatim as
//!   the post-sign-in redirect; `OAuthStart` does not expose it) must be a same-origin path:
//!   `/…`, no `//host` or `/\host` (also after the tab/CR/LF stripping browsers do), no control
//!   characters, and resolving it against the site keeps the site's origin. The provider
//!   redirect must still point at GitHub.
//! - `Auth::oauth_callback(GitHub, from_query(input), request with a fixed state cookie)`: must
//!   fail (no state the fuzzer can know matches), never panic, never reach the network.

#![no_main]

mod common;

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use tollbooth_auth::url::Url;
use tollbooth_auth::{Auth, OAuthCallback, Provider, RequestInfo};

static AUTH: LazyLock<Auth> = LazyLock::new(|| common::auth());

/// The state-binding cookie an attacker's browser might present.
const STATE_COOKIE: &str = "__Host-tollbooth.oauth=fuzz-binding";

/// Panics unless `return_to` is a path that stays on this site.
fn assert_same_origin_path(return_to: &str) {
    if return_to.is_empty() {
        return; // means "/"
    }
    assert!(
        return_to.starts_with('/'),
        "accepted a return_to that is not a path: {return_to:?}"
    );
    assert!(
        !return_to.chars().any(char::is_control),
        "accepted a return_to with control characters: {return_to:?}"
    );
    // What a browser would do with it: drop ASCII tab/LF/CR, read `\` as `/`.
    let as_browser_reads_it: String = return_to
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .map(|c| if c == '\\' { '/' } else { c })
        .collect();
    assert!(
        !as_browser_reads_it.starts_with("//"),
        "accepted a protocol-relative return_to: {return_to:?}"
    );
    let site = Url::parse(common::PUBLIC_BASE_URL).expect("static URL");
    match site.join(return_to) {
        Ok(resolved) => assert!(
            resolved.scheme() == site.scheme()
                && resolved.host_str() == site.host_str()
                && resolved.port_or_known_default() == site.port_or_known_default(),
            "return_to {return_to:?} leaves the site: {resolved}"
        ),
        Err(e) => panic!("accepted a return_to that is not a URL path: {return_to:?} ({e})"),
    }
}

fuzz_target!(|data: &[u8]| {
    let auth = &*AUTH; // before any block_on: its initializer blocks too
    let input = String::from_utf8_lossy(data).into_owned();

    let callback = OAuthCallback::from_query(&input);
    for value in [&callback.code, &callback.state, &callback.error]
        .into_iter()
        .flatten()
    {
        assert!(value.len() <= 2048, "kept a {}-byte value", value.len());
    }

    common::block_on(async {
        let authorized = auth
            .oauth_authorize(Provider::GitHub, Some(input.as_str()))
            .await;
        if let Ok(start) = &authorized {
            assert_same_origin_path(&input);
            assert_eq!(
                (start.redirect_url.scheme(), start.redirect_url.host_str()),
                ("https", Some("github.com")),
                "the provider redirect moved: {}",
                start.redirect_url
            );
        }

        let headers: Vec<(String, String)> = vec![("cookie".to_owned(), STATE_COOKIE.to_owned())];
        let request = RequestInfo::without_ip(&headers);
        let completed = auth
            .oauth_callback(Provider::GitHub, &callback, &request)
            .await;
        assert!(
            completed.is_err(),
            "an OAuth callback without a known state completed: {callback:?}"
        );

        // An accepted oauth_authorize stored a state row; start every input afresh.
        if authorized.is_ok() {
            common::clear_tables(auth.db(), &["verification_tokens"]).await;
        }
    });
});
