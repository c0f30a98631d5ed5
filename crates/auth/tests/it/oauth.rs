//! GitHub and Google sign-in against local servers standing in for the providers.

use crate::common::*;
use chrono::TimeDelta;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tollbooth_auth::*;
use tollbooth_db::testing::TestDb;
use tollbooth_db::{AccountRepo, NewAccount, NewUser, TwoFactorRepo, UserRepo};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const GOOGLE_KEY: &str = include_str!("../fixtures/google_test_key.pem");
const ATTACKER_KEY: &str = include_str!("../fixtures/attacker_key.pem");
const JWKS: &str = include_str!("../fixtures/google_jwks.json");
const GOOGLE_CLIENT: &str = "client-123.apps.googleusercontent.com";

struct Providers {
    github: MockServer,
    google: MockServer,
}

async fn setup(db: TestDb) -> (TestAuth, Providers) {
    let github = MockServer::start().await;
    let google = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/jwks"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(JWKS, "application/json"))
        .mount(&google)
        .await;
    let (gh, gg) = (github.uri(), google.uri());
    let t = TestAuth::with(db, move |c| {
        c.oauth_provider(
            ProviderConfig::github(
                "gh-client",
                ClientSecret::new("gh-secret"),
                "https://app.acme.example/auth/github/callback",
            )
            .endpoints_at(&gh),
        )
        .oauth_provider(
            ProviderConfig::google(
                GOOGLE_CLIENT,
                ClientSecret::new("g-secret"),
                "https://app.acme.example/auth/google/callback",
            )
            .endpoints_at(&gg),
        )
        .mfa(MfaConfig::new(EncryptionKey::new("mfa-1", [9; 32]), "Acme"))
    });
    (t, Providers { github, google })
}

/// Starts a round trip; returns the authorize URL's query and the browser's cookie header.
async fn start(
    t: &TestAuth,
    provider: Provider,
    return_to: Option<&str>,
) -> (Vec<(String, String)>, Vec<(String, String)>) {
    let start = t.auth.oauth_authorize(provider, return_to).await.unwrap();
    let query: Vec<(String, String)> = start.redirect_url.query_pairs().into_owned().collect();
    (query, cookie_headers(&start.state_cookie))
}

fn param<'q>(query: &'q [(String, String)], name: &str) -> &'q str {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {name}"))
}

fn callback(code: &str, state: &str) -> OAuthCallback {
    OAuthCallback::from_query(&format!("code={code}&state={state}"))
}

async fn github_stubs(server: &MockServer, emails: Value) {
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "gho_test", "token_type": "bearer", "scope": "read:user,user:email"
        })))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/user"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": 4242, "login": "ada-l", "name": "Ada Lovelace", "avatar_url": "https://avatars.example/4242"
        })))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/user/emails"))
        .respond_with(ResponseTemplate::new(200).set_body_json(emails))
        .mount(server)
        .await;
}

fn verified_primary(email: &str) -> Value {
    json!([
        { "email": "old@example.com", "primary": false, "verified": true },
        { "email": email, "primary": true, "verified": true, "visibility": "private" }
    ])
}

/// An id_token as Google would sign it, with `tweak` applied to the claims.
fn id_token(nonce: &str, key_pem: &str, kid: &str, tweak: impl FnOnce(&mut Value)) -> String {
    let now = tollbooth_db::now().timestamp();
    let mut claims = json!({
        "iss": "https://accounts.google.com", "aud": GOOGLE_CLIENT, "azp": GOOGLE_CLIENT,
        "sub": "110169484474386276334", "email": "ada@example.com", "email_verified": true,
        "name": "Ada Lovelace", "picture": "https://lh3.example/a.jpg",
        "nonce": nonce, "iat": now, "exp": now + 3600
    });
    tweak(&mut claims);
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_rsa_pem(key_pem.as_bytes()).unwrap(),
    )
    .unwrap()
}

async fn google_token(server: &MockServer, id_token: &str) {
    server.reset().await;
    Mock::given(method("GET"))
        .and(path("/jwks"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(JWKS, "application/json"))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "ya29.test", "token_type": "Bearer", "expires_in": 3599,
            "scope": "openid email profile", "id_token": id_token
        })))
        .mount(server)
        .await;
}

/// The whole link flow from settings: `session` (whose browser sends `cookie`) links the
/// Google identity `sub` with `email`, returning to `return_to`; the callback's answer.
async fn link_google(
    t: &TestAuth,
    providers: &Providers,
    (session, cookie): (&Session, &[(String, String)]),
    (sub, email): (&str, &str),
    return_to: Option<&str>,
) -> Result<OAuthCompleted> {
    let start_link = t
        .auth
        .oauth_link(session, Provider::Google, return_to)
        .await?;
    let query: Vec<(String, String)> = start_link.redirect_url.query_pairs().into_owned().collect();
    google_token(
        &providers.google,
        &id_token(param(&query, "nonce"), GOOGLE_KEY, "test-key-1", |c| {
            c["sub"] = json!(sub);
            c["email"] = json!(email);
        }),
    )
    .await;
    let mut headers = cookie.to_vec();
    headers.push((
        "cookie".into(),
        cookie_headers(&start_link.state_cookie)[0].1.clone(),
    ));
    t.auth
        .oauth_callback(
            Provider::Google,
            &callback("g", param(&query, "state")),
            &RequestInfo::new(&headers, ip()),
        )
        .await
}

async fn users(t: &TestAuth) -> usize {
    use sea_orm::{EntityTrait, PaginatorTrait};
    tollbooth_db::entities::user::Entity::find()
        .count(t.db.connection())
        .await
        .unwrap() as usize
}

async fn github_sign_up_creates_user_account_and_session(db: TestDb) {
    let (t, providers) = setup(db).await;
    github_stubs(&providers.github, verified_primary("ada@example.com")).await;
    let (query, cookies) = start(&t, Provider::GitHub, Some("/dashboard")).await;
    assert_eq!(param(&query, "code_challenge_method"), "S256");
    assert_eq!(param(&query, "code_challenge").len(), 43);
    assert_eq!(param(&query, "state").len(), 43);
    assert_eq!(param(&query, "client_id"), "gh-client");
    assert_eq!(param(&query, "scope"), "read:user user:email");
    assert_eq!(
        param(&query, "redirect_uri"),
        "https://app.acme.example/auth/github/callback"
    );
    assert!(cookies[0].1.starts_with("__Host-tollbooth.oauth="));

    let state = param(&query, "state").to_owned();
    let request = RequestInfo::new(&cookies, ip());
    let done = t
        .auth
        .oauth_callback(Provider::GitHub, &callback("gh-code", &state), &request)
        .await
        .unwrap();
    assert_eq!(done.return_to, "/dashboard");
    assert!(done.clear_state_cookie.as_str().contains("Max-Age=0"));
    let OAuthResult::SignedIn {
        outcome: SignInOutcome::SignedIn(signed_in),
        new_user: true,
    } = done.result
    else {
        panic!("expected a new signed-in user: {:?}", done.result)
    };
    let user = &signed_in.session.user;
    assert_eq!(
        (user.email.as_str(), user.name.as_deref()),
        ("ada@example.com", Some("Ada Lovelace"))
    );
    assert!(user.email_verified_at.is_some(), "GitHub verified it");
    let account =
        t.db.find_account("github", "4242")
            .await
            .unwrap()
            .expect("keyed on the numeric id");
    assert_eq!(account.user_id, user.id);
    assert!(
        t.auth
            .get_session(&cookie_headers(&signed_in.cookie))
            .await
            .unwrap()
            .is_some()
    );

    // The token request carried the code and the PKCE verifier.
    let token_request = providers
        .github
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.url.path() == "/token")
        .unwrap();
    let form: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(&token_request.body)
            .into_owned()
            .collect();
    assert_eq!(form["code"], "gh-code");
    assert_eq!(form["grant_type"], "authorization_code");
    assert!(form["code_verifier"].len() >= 43);

    // A welcome e-mail, without a verification link.
    t.auth.flush_background_tasks().await;
    let mail = &t.outbox.sent_to("ada@example.com")[0];
    assert_eq!(mail.subject(), "Welcome to Acme");
    assert!(!mail.text().contains("token="));

    // The state was single-use.
    let replay = t
        .auth
        .oauth_callback(Provider::GitHub, &callback("gh-code", &state), &request)
        .await
        .unwrap_err();
    assert!(matches!(replay, AuthError::InvalidOAuthState));
}

/// OAuth sign-in is a sign-in like any other: a session the browser presented (a fixated
/// one, say) is revoked, and the new session has a new id.
async fn oauth_sign_in_rotates_the_presented_session(db: TestDb) {
    let (t, providers) = setup(db).await;
    t.user("ada@example.com").await; // verified, so the GitHub identity links
    let (old, old_cookie) = t.sign_in("ada@example.com").await;
    github_stubs(&providers.github, verified_primary("ada@example.com")).await;
    let (query, mut headers) = start(&t, Provider::GitHub, None).await;
    headers.push(old_cookie[0].clone());
    let request = RequestInfo::new(&headers, ip());
    let done = t
        .auth
        .oauth_callback(
            Provider::GitHub,
            &callback("gh-code", param(&query, "state")),
            &request,
        )
        .await
        .unwrap();
    let OAuthResult::SignedIn {
        outcome: SignInOutcome::SignedIn(signed_in),
        new_user: false,
    } = done.result
    else {
        panic!("expected a sign-in: {:?}", done.result)
    };
    assert_ne!(signed_in.session.id, old.id);
    assert_eq!(signed_in.session.user.id, old.user.id);
    assert!(t.auth.get_session(&old_cookie).await.unwrap().is_none());
    let new_cookie = cookie_headers(&signed_in.cookie);
    assert!(t.auth.get_session(&new_cookie).await.unwrap().is_some());
}

/// The token request is sent by a client that follows no redirect: a provider (or a
/// network attacker) answering 302 cannot send the code and PKCE verifier elsewhere.
async fn provider_redirects_are_not_followed(db: TestDb) {
    let (t, providers) = setup(db).await;
    let elsewhere = format!("{}/elsewhere", providers.github.uri());
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(307).insert_header("location", elsewhere.as_str()))
        .mount(&providers.github)
        .await;
    Mock::given(path("/elsewhere"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "gho_test", "token_type": "bearer", "scope": "read:user,user:email"
        })))
        .mount(&providers.github)
        .await;
    let (query, cookies) = start(&t, Provider::GitHub, None).await;
    let request = RequestInfo::new(&cookies, ip());
    let result = t
        .auth
        .oauth_callback(
            Provider::GitHub,
            &callback("gh-code", param(&query, "state")),
            &request,
        )
        .await;
    assert!(result.is_err(), "{result:?}");
    let paths: Vec<String> = providers
        .github
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.url.path().to_owned())
        .collect();
    assert_eq!(paths, ["/token"], "the redirect was not followed");
    assert_eq!(users(&t).await, 0);
}

async fn github_without_a_verified_primary_email_creates_nothing(db: TestDb) {
    let (t, providers) = setup(db).await;
    github_stubs(
        &providers.github,
        json!([
            { "email": "ada@example.com", "primary": true, "verified": false },
            { "email": "other@example.com", "primary": false, "verified": true }
        ]),
    )
    .await;
    let (query, cookies) = start(&t, Provider::GitHub, None).await;
    let request = RequestInfo::without_ip(&cookies);
    let err = t
        .auth
        .oauth_callback(
            Provider::GitHub,
            &callback("c", param(&query, "state")),
            &request,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::ProviderEmailUnverified), "{err:?}");
    assert_eq!(err.status().as_u16(), 403);
    assert_eq!(users(&t).await, 0);
}

async fn google_id_tokens_are_verified_in_full(db: TestDb) {
    let (t, providers) = setup(db).await;
    type Case = (&'static str, &'static str, &'static str, fn(&mut Value));
    let cases: [Case; 7] = [
        ("wrong aud", GOOGLE_KEY, "test-key-1", |c| {
            c["aud"] = json!("someone-else.apps.googleusercontent.com")
        }),
        ("wrong iss", GOOGLE_KEY, "test-key-1", |c| {
            c["iss"] = json!("https://accounts.evil.example")
        }),
        ("expired", GOOGLE_KEY, "test-key-1", |c| {
            c["exp"] = json!(tollbooth_db::now().timestamp() - 120);
            c["iat"] = json!(tollbooth_db::now().timestamp() - 3720);
        }),
        ("wrong nonce", GOOGLE_KEY, "test-key-1", |c| {
            c["nonce"] = json!("not-the-nonce")
        }),
        ("missing nonce", GOOGLE_KEY, "test-key-1", |c| {
            c.as_object_mut().unwrap().remove("nonce");
        }),
        ("bad signature", ATTACKER_KEY, "test-key-1", |_| {}),
        ("unknown kid", GOOGLE_KEY, "rotated-away", |_| {}),
    ];
    for (case, key, kid, tweak) in cases {
        let (query, cookies) = start(&t, Provider::Google, None).await;
        google_token(
            &providers.google,
            &id_token(param(&query, "nonce"), key, kid, tweak),
        )
        .await;
        let request = RequestInfo::without_ip(&cookies);
        let err = t
            .auth
            .oauth_callback(
                Provider::Google,
                &callback("g", param(&query, "state")),
                &request,
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, AuthError::OAuthRejected { .. }),
            "{case}: {err:?}"
        );
        assert_eq!(err.status().as_u16(), 401, "{case}");
    }
    assert_eq!(users(&t).await, 0, "nothing written");

    // The genuine token signs up, keyed on `sub`.
    let (query, cookies) = start(&t, Provider::Google, None).await;
    assert_eq!(param(&query, "scope"), "openid email profile");
    google_token(
        &providers.google,
        &id_token(param(&query, "nonce"), GOOGLE_KEY, "test-key-1", |_| {}),
    )
    .await;
    let request = RequestInfo::without_ip(&cookies);
    let done = t
        .auth
        .oauth_callback(
            Provider::Google,
            &callback("g", param(&query, "state")),
            &request,
        )
        .await
        .unwrap();
    assert!(matches!(
        done.result,
        OAuthResult::SignedIn {
            outcome: SignInOutcome::SignedIn(_),
            new_user: true
        }
    ));
    assert!(
        t.db.find_account("google", "110169484474386276334")
            .await
            .unwrap()
            .is_some()
    );

    // `email_verified: false` gives no usable e-mail for a new identity.
    let (query, cookies) = start(&t, Provider::Google, None).await;
    google_token(
        &providers.google,
        &id_token(param(&query, "nonce"), GOOGLE_KEY, "test-key-1", |c| {
            c["sub"] = json!("999");
            c["email"] = json!("eve@example.com");
            c["email_verified"] = json!("false");
        }),
    )
    .await;
    let request = RequestInfo::without_ip(&cookies);
    let err = t
        .auth
        .oauth_callback(
            Provider::Google,
            &callback("g", param(&query, "state")),
            &request,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::ProviderEmailUnverified), "{err:?}");
}

async fn bad_state_is_rejected_before_any_token_request(db: TestDb) {
    let (t, providers) = setup(db).await;
    github_stubs(&providers.github, verified_primary("ada@example.com")).await;
    let (query, cookies) = start(&t, Provider::GitHub, None).await;
    let state = param(&query, "state").to_owned();
    type Case = (&'static str, OAuthCallback, Vec<(String, String)>);
    let cases: [Case; 5] = [
        (
            "missing state",
            OAuthCallback::from_query("code=c"),
            cookies.clone(),
        ),
        (
            "unknown state",
            callback("c", "forged-state-value"),
            cookies.clone(),
        ),
        ("no binding cookie", callback("c", &state), no_headers()),
        (
            "another browser's cookie",
            callback("c", &state),
            vec![(
                "cookie".into(),
                "__Host-tollbooth.oauth=someone-else".into(),
            )],
        ),
        (
            "empty code",
            OAuthCallback::from_query(&format!("code=&state={state}")),
            cookies.clone(),
        ),
    ];
    for (case, cb, headers) in cases {
        let request = RequestInfo::without_ip(&headers);
        let err = t
            .auth
            .oauth_callback(Provider::GitHub, &cb, &request)
            .await
            .unwrap_err();
        assert!(
            matches!(err, AuthError::InvalidOAuthState),
            "{case}: {err:?}"
        );
        assert_eq!(err.status().as_u16(), 400);
    }
    // A GitHub state presented to the Google callback.
    let (query, cookies) = start(&t, Provider::GitHub, None).await;
    let request = RequestInfo::without_ip(&cookies);
    let err = t
        .auth
        .oauth_callback(
            Provider::Google,
            &callback("c", param(&query, "state")),
            &request,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::InvalidOAuthState));
    // Expired (10 minutes).
    let (query, cookies) = start(&t, Provider::GitHub, None).await;
    t.clock.advance(TimeDelta::minutes(11));
    let request = RequestInfo::without_ip(&cookies);
    let err = t
        .auth
        .oauth_callback(
            Provider::GitHub,
            &callback("c", param(&query, "state")),
            &request,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::InvalidOAuthState));
    // The user declined at the provider: the state is spent, nothing exchanged.
    let (query, cookies) = start(&t, Provider::GitHub, None).await;
    let declined = OAuthCallback::from_query(&format!(
        "error=access_denied&state={}",
        param(&query, "state")
    ));
    let err = t
        .auth
        .oauth_callback(
            Provider::GitHub,
            &declined,
            &RequestInfo::without_ip(&cookies),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::OAuthDenied));

    let token_requests = providers
        .github
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/token")
        .count();
    assert_eq!(token_requests, 0, "no code was ever exchanged");
    assert_eq!(users(&t).await, 0);
    // And open redirects are refused up front.
    assert!(matches!(
        t.auth
            .oauth_authorize(Provider::GitHub, Some("//evil.example/"))
            .await,
        Err(AuthError::InvalidInput {
            field: "return_to",
            ..
        })
    ));
}

async fn linking_rules(db: TestDb) {
    let (t, providers) = setup(db).await;
    github_stubs(&providers.github, verified_primary("ada@example.com")).await;

    // Verified local account + verified provider e-mail: linked automatically.
    let ada = t.user("ada@example.com").await;
    let (query, cookies) = start(&t, Provider::GitHub, None).await;
    let done = t
        .auth
        .oauth_callback(
            Provider::GitHub,
            &callback("c", param(&query, "state")),
            &RequestInfo::without_ip(&cookies),
        )
        .await
        .unwrap();
    let OAuthResult::SignedIn {
        outcome: SignInOutcome::SignedIn(signed_in),
        new_user: false,
    } = done.result
    else {
        panic!()
    };
    assert_eq!(signed_in.session.user.id, ada.id);
    assert_eq!(t.db.list_accounts(ada.id).await.unwrap().len(), 2);

    // Takeover attempt: Mallory registered the victim's address (unverified) first. The
    // victim's Google sign-in must NOT be linked to Mallory's account.
    let squatted =
        t.db.create_user(NewUser::new("victim@example.com"))
            .await
            .unwrap();
    t.db.create_account(NewAccount::credential(squatted.id, password_hash()))
        .await
        .unwrap();
    let (query, cookies) = start(&t, Provider::Google, None).await;
    google_token(
        &providers.google,
        &id_token(param(&query, "nonce"), GOOGLE_KEY, "test-key-1", |c| {
            c["sub"] = json!("victim-sub");
            c["email"] = json!("victim@example.com");
        }),
    )
    .await;
    let err = t
        .auth
        .oauth_callback(
            Provider::Google,
            &callback("g", param(&query, "state")),
            &RequestInfo::without_ip(&cookies),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, AuthError::AccountLinkRequired { .. }),
        "{err:?}"
    );
    assert_eq!(err.status().as_u16(), 409);
    assert!(
        t.db.find_account("google", "victim-sub")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(t.db.list_accounts(squatted.id).await.unwrap().len(), 1);

    // A signed-in user links Google from settings; the same identity cannot join a second user.
    t.user("bob@example.com").await;
    let (bob_session, bob_cookie) = t.sign_in("bob@example.com").await;
    let done = link_google(
        &t,
        &providers,
        (&bob_session, &bob_cookie),
        ("bob-sub", "bob.personal@example.com"),
        Some("/settings"),
    )
    .await
    .unwrap();
    assert!(matches!(done.result, OAuthResult::Linked));
    assert_eq!(done.return_to, "/settings");
    assert!(
        t.db.find_account("google", "bob-sub")
            .await
            .unwrap()
            .is_some()
    );
    // What Bob's settings page lists: his password, then Google with its address.
    let methods: Vec<(String, Option<String>)> = t
        .auth
        .sign_in_methods(&bob_session)
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.provider, m.email))
        .collect();
    assert_eq!(
        methods,
        [
            ("credential".to_owned(), None),
            (
                "google".to_owned(),
                Some("bob.personal@example.com".to_owned())
            )
        ]
    );

    let (ada_session, ada_cookie) = t.sign_in("ada@example.com").await;
    let err = link_google(
        &t,
        &providers,
        (&ada_session, &ada_cookie),
        ("bob-sub", "ada@example.com"),
        None,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, AuthError::AccountAlreadyLinked { .. }),
        "{err:?}"
    );

    // Unlinking: fine while another method remains, refused for the last one.
    t.auth
        .oauth_unlink(&ada_session, Provider::GitHub, &anon())
        .await
        .unwrap();
    assert_eq!(t.db.list_accounts(ada.id).await.unwrap().len(), 1);
    let left = t.auth.sign_in_methods(&ada_session).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].provider, "credential");
    let gh_only =
        t.db.create_user(NewUser::new("carol@example.com").verified_at(tollbooth_db::now()))
            .await
            .unwrap();
    t.db.create_account(NewAccount::oauth(gh_only.id, "github", "7", None))
        .await
        .unwrap();
    let carol = Session {
        user: gh_only.clone(),
        ..ada_session.clone()
    };
    assert!(matches!(
        t.auth.oauth_unlink(&carol, Provider::GitHub, &anon()).await,
        Err(AuthError::LastSignInMethod)
    ));

    // Each link and unlink left one event in the audit trail; the refusals none.
    let trail = |session: Session| {
        let auth = t.auth.clone();
        async move {
            let events = auth.security_activity(&session, None, 10).await.unwrap();
            events
                .into_iter()
                .filter(|e| e.kind.starts_with("provider_"))
                .map(|e| (e.kind, e.detail.unwrap()["provider"].clone()))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        trail(bob_session.clone()).await,
        [("provider_linked".to_owned(), json!("google"))]
    );
    assert_eq!(
        trail(ada_session.clone()).await,
        [("provider_unlinked".to_owned(), json!("github"))]
    );
    assert!(trail(carol).await.is_empty());
}

async fn oauth_sign_in_stops_at_mfa(db: TestDb) {
    let (t, providers) = setup(db).await;
    github_stubs(&providers.github, verified_primary("ada@example.com")).await;
    let ada = t.user("ada@example.com").await;
    t.db.create_account(NewAccount::oauth(ada.id, "github", "4242", None))
        .await
        .unwrap();
    t.db.begin_two_factor(ada.id, vec![0; 40], "mfa-1")
        .await
        .unwrap();
    t.db.enable_two_factor(ada.id, tollbooth_db::now())
        .await
        .unwrap();
    let (query, cookies) = start(&t, Provider::GitHub, None).await;
    let done = t
        .auth
        .oauth_callback(
            Provider::GitHub,
            &callback("c", param(&query, "state")),
            &RequestInfo::without_ip(&cookies),
        )
        .await
        .unwrap();
    assert!(
        matches!(
            done.result,
            OAuthResult::SignedIn {
                outcome: SignInOutcome::MfaRequired(_),
                ..
            }
        ),
        "{:?}",
        done.result
    );
}

async fn a_stolen_session_cannot_link_a_provider_and_the_owner_undoes_it(db: TestDb) {
    let (t, providers) = setup(db).await;
    let ada = t.user("ada@example.com").await;
    let (stolen, cookie) = t.sign_in("ada@example.com").await;
    t.clock.advance(TimeDelta::minutes(11));
    let err = t
        .auth
        .oauth_link(&stolen, Provider::Google, None)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "reauthentication_required");
    assert!(matches!(
        t.auth
            .oauth_unlink(&stolen, Provider::Google, &anon())
            .await,
        Err(AuthError::ReauthenticationRequired)
    ));

    // Fresh again: the link goes through, and the owner is told.
    t.auth
        .reauthenticate(&stolen, Some(PASSWORD), None)
        .await
        .unwrap();
    let fresh = t.auth.require_auth(&cookie).await.unwrap().session;
    let done = link_google(
        &t,
        &providers,
        (&fresh, &cookie),
        ("attacker-sub", "attacker@example.com"),
        None,
    )
    .await
    .unwrap();
    assert!(matches!(done.result, OAuthResult::Linked));
    t.auth.flush_background_tasks().await;
    let notice = t.outbox.sent_to("ada@example.com").pop().unwrap();
    assert_eq!(
        notice.subject(),
        "Sign-in with Google was added for your Acme account"
    );

    // The owner reports it: the attacker's identity is gone with the recovery reset, and
    // signing in with it makes a new, unrelated account at most.
    let reset = t
        .auth
        .report_unauthorized_change(&token_in(notice.text()), &anon())
        .await
        .unwrap();
    t.auth
        .reset_password(&reset, "a brand new passphrase", &anon())
        .await
        .unwrap();
    assert!(
        t.db.find_account("google", "attacker-sub")
            .await
            .unwrap()
            .is_none()
    );
    let accounts = t.db.list_accounts(ada.id).await.unwrap();
    assert_eq!(
        accounts
            .iter()
            .map(|a| a.provider.as_str())
            .collect::<Vec<_>>(),
        ["credential"]
    );
}

tollbooth_db::engine_tests!(
    github_sign_up_creates_user_account_and_session,
    oauth_sign_in_rotates_the_presented_session,
    provider_redirects_are_not_followed,
    github_without_a_verified_primary_email_creates_nothing,
    google_id_tokens_are_verified_in_full,
    bad_state_is_rejected_before_any_token_request,
    linking_rules,
    oauth_sign_in_stops_at_mfa,
    a_stolen_session_cannot_link_a_provider_and_the_owner_undoes_it,
);
