//! The axum and actix-web adapters, driven in-process on a real database: one scenario,
//! run through each framework — guards (401 / 403), the CSRF middleware, error bodies, the
//! refreshed cookie, and a handler's own session cookie (sign-in, sign-out) winning over
//! that refresh.

#![cfg(all(feature = "axum", feature = "actix"))]

use crate::common::*;
use chrono::TimeDelta;
use serde_json::Value;
use tollbooth_auth::{Auth, AuthError, SignInOutcome, SignedIn};
use tollbooth_db::OrganizationRepo;
use tollbooth_db::testing::TestDb;

const COOKIE: &str = "__Host-tollbooth.session";
const SAME_SITE: (&str, &str) = ("origin", "https://app.acme.example");
const CROSS_SITE: (&str, &str) = ("origin", "https://evil.example");

/// What a test reads off a response.
#[derive(Debug)]
struct Reply {
    status: u16,
    /// `Set-Cookie` values for the session cookie, in order.
    session_cookies: Vec<String>,
    body: String,
}

impl Reply {
    fn new(status: u16, set_cookies: Vec<String>, body: Vec<u8>) -> Self {
        let session_cookies = set_cookies
            .into_iter()
            .filter(|c| c.starts_with(&format!("{COOKIE}=")))
            .collect();
        let body = String::from_utf8(body).unwrap();
        Self {
            status,
            session_cookies,
            body,
        }
    }

    fn error_code(&self) -> String {
        let body: Value = serde_json::from_str(&self.body).expect("a JSON error body");
        body["error"].as_str().unwrap().to_owned()
    }

    /// The one session cookie this response sets, as the `Cookie` header a browser sends.
    fn only_session_cookie(&self) -> (String, String) {
        assert_eq!(self.session_cookies.len(), 1, "{self:?}");
        let pair = self.session_cookies[0].split(';').next().unwrap();
        ("cookie".to_owned(), pair.to_owned())
    }
}

fn signed_in(outcome: SignInOutcome) -> SignedIn {
    match outcome {
        SignInOutcome::SignedIn(signed_in) => *signed_in,
        SignInOutcome::MfaRequired(_) => panic!("unexpected MFA"),
    }
}

/// Drives one app through the scenario. `call(method, path, headers)` sends a request to
/// routes `GET /me` (require auth), `GET /admin` (require admin), `GET /orgs/{org_id}`
/// (require membership: the organization's name), `GET /orgs/{org_id}/billing` (require
/// the `billing:manage` permission), `POST /sign-in` (signs Ada in, presenting the
/// request's cookie) and `POST /sign-out`.
async fn scenario(t: &TestAuth, call: impl AsyncFn(&str, &str, Vec<(String, String)>) -> Reply) {
    t.user("ada@example.com").await;
    let h = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };

    // Guards: 401 without a session, 403 with the wrong role, JSON error bodies.
    let none = call("GET", "/me", vec![]).await;
    assert_eq!(
        (none.status, none.error_code()),
        (401, "unauthorized".into())
    );
    let (_, cookie) = t.sign_in("ada@example.com").await;
    let me = call("GET", "/me", cookie.clone()).await;
    assert_eq!((me.status, me.body.as_str()), (200, "ada@example.com"));
    assert!(me.session_cookies.is_empty(), "fresh token: no refresh");
    let admin = call("GET", "/admin", cookie.clone()).await;
    assert_eq!(
        (admin.status, admin.error_code()),
        (403, "forbidden".into())
    );

    // Organization guards: the member passes, with the permission or 403 without it;
    // anyone else gets the 404 of an organization that does not exist.
    let ada = t.sign_in("ada@example.com").await.0;
    let acme = t
        .auth
        .create_organization(&ada, "Acme", None, &anon())
        .await
        .unwrap();
    t.user("carol@example.com").await;
    let carol = t.sign_in("carol@example.com").await.0;
    let beta = t
        .auth
        .create_organization(&carol, "Beta", None, &anon())
        .await
        .unwrap();
    let gamma = t
        .auth
        .create_organization(&carol, "Gamma", None, &anon())
        .await
        .unwrap();
    t.db.add_member(gamma.organization.id, ada.user.id, "member")
        .await
        .unwrap();
    let org = |id: &dyn std::fmt::Display, rest: &str| format!("/orgs/{id}{rest}");
    let own = call("GET", &org(&acme.organization.id, ""), cookie.clone()).await;
    assert_eq!((own.status, own.body.as_str()), (200, "Acme"));
    let billing = call(
        "GET",
        &org(&acme.organization.id, "/billing"),
        cookie.clone(),
    )
    .await;
    assert_eq!(billing.status, 200, "{billing:?}");
    let member = call(
        "GET",
        &org(&gamma.organization.id, "/billing"),
        cookie.clone(),
    )
    .await;
    assert_eq!(
        (member.status, member.error_code()),
        (403, "forbidden".into())
    );
    for id in [
        beta.organization.id.to_string(),
        uuid::Uuid::now_v7().to_string(),
        "not-an-id".to_owned(),
    ] {
        for rest in ["", "/billing"] {
            let hidden = call("GET", &org(&id, rest), cookie.clone()).await;
            assert_eq!(
                (hidden.status, hidden.error_code()),
                (404, "organization_not_found".into()),
                "{id}{rest}"
            );
        }
    }
    let anonymous = call("GET", &org(&acme.organization.id, ""), vec![]).await;
    assert_eq!(anonymous.status, 401);

    // CSRF: a cross-site POST is refused before the handler runs; the session survives.
    let mut cross = cookie.clone();
    cross.extend(h(&[CROSS_SITE]));
    let refused = call("POST", "/sign-out", cross).await;
    assert_eq!(
        (refused.status, refused.error_code()),
        (403, "forbidden".into())
    );
    assert_eq!(call("GET", "/me", cookie.clone()).await.status, 200);

    // Past half the JWT's life, any request renews the cookie.
    t.clock.advance(TimeDelta::minutes(8));
    let renewed = call("GET", "/me", cookie.clone()).await;
    assert_eq!(renewed.status, 200);
    assert_ne!(renewed.only_session_cookie(), cookie[0], "a new token");

    // Signing in while presenting that (renewable) session: the new session's cookie is
    // the only one sent — a refresh of the revoked session must not follow and replace it.
    let mut presenting = cookie.clone();
    presenting.extend(h(&[SAME_SITE]));
    let sign_in = call("POST", "/sign-in", presenting).await;
    assert_eq!(sign_in.status, 200, "{sign_in:?}");
    let new_cookie = vec![sign_in.only_session_cookie()];
    assert_eq!(call("GET", "/me", new_cookie.clone()).await.status, 200);
    assert_eq!(
        call("GET", "/me", cookie).await.status,
        401,
        "old one revoked"
    );

    // Signing out with a renewable session: only the deletion is sent.
    t.clock.advance(TimeDelta::minutes(8));
    let mut presenting = new_cookie.clone();
    presenting.extend(h(&[SAME_SITE]));
    let sign_out = call("POST", "/sign-out", presenting).await;
    assert_eq!(sign_out.status, 200, "{sign_out:?}");
    let (_, deleted) = sign_out.only_session_cookie();
    assert_eq!(deleted, format!("{COOKIE}="));
    assert!(sign_out.session_cookies[0].contains("Max-Age=0"));
    assert_eq!(call("GET", "/me", new_cookie).await.status, 401);
}

/// The permission the `/orgs/{org_id}/billing` route asks for.
struct ManageBilling;

impl tollbooth_auth::OrgPermissionMarker for ManageBilling {
    fn permission() -> tollbooth_auth::OrgPermission {
        tollbooth_auth::OrgPermission::MANAGE_BILLING
    }
}

async fn sign_in(
    auth: &Auth,
    headers: &dyn tollbooth_auth::HeaderView,
) -> Result<String, AuthError> {
    let request = tollbooth_auth::RequestInfo::new(headers, ip());
    let outcome = auth.sign_in("ada@example.com", PASSWORD, &request).await?;
    Ok(signed_in(outcome).cookie.to_string())
}

mod with_axum {
    use axum::body::Body;
    use axum::extract::State;
    use axum::http::{HeaderMap, Request, header};
    use axum::response::{IntoResponse, Response};
    use axum::routing::{get, post};
    use axum::{Router, middleware};
    use tollbooth_auth::axum::{
        RequireAuth, RequireOrgMember, RequireOrgPermission, RequireRole, csrf, session,
    };
    use tollbooth_auth::{Admin, Auth, AuthError};
    use tower::ServiceExt;

    use super::*;

    fn app(auth: Auth) -> Router {
        Router::new()
            .route(
                "/me",
                get(|RequireAuth(s): RequireAuth| async move { s.user.email }),
            )
            .route(
                "/admin",
                get(|RequireRole(s, _): RequireRole<Admin>| async move { s.user.email }),
            )
            .route(
                "/orgs/{org_id}",
                get(|RequireOrgMember(_, m): RequireOrgMember| async move {
                    m.organization.name
                }),
            )
            .route(
                "/orgs/{org_id}/billing",
                get(
                    |RequireOrgPermission(_, m, _): RequireOrgPermission<ManageBilling>| async move {
                        m.organization.name
                    },
                ),
            )
            .route("/sign-in", post(sign_in_handler))
            .route("/sign-out", post(sign_out_handler))
            .layer(middleware::from_fn_with_state(auth.clone(), csrf))
            .layer(middleware::from_fn_with_state(auth.clone(), session))
            .with_state(auth)
    }

    async fn sign_in_handler(
        State(auth): State<Auth>,
        headers: HeaderMap,
    ) -> Result<Response, AuthError> {
        let cookie = super::sign_in(&auth, &headers).await?;
        Ok(([(header::SET_COOKIE, cookie)], "signed in").into_response())
    }

    async fn sign_out_handler(
        State(auth): State<Auth>,
        headers: HeaderMap,
    ) -> Result<Response, AuthError> {
        let cookie = auth.sign_out(&headers).await?;
        Ok(([(header::SET_COOKIE, cookie.to_string())], "signed out").into_response())
    }

    async fn call(app: &Router, method: &str, path: &str, headers: Vec<(String, String)>) -> Reply {
        let mut request = Request::builder().method(method).uri(path);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let response = app
            .clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status().as_u16();
        let set_cookies = response
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        Reply::new(status, set_cookies, body.to_vec())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn axum_adapter() {
        let t = TestAuth::new(TestDb::sqlite().await);
        let app = app(t.auth.clone());
        scenario(&t, async |method, path, headers| {
            call(&app, method, path, headers).await
        })
        .await;
    }
}

mod with_actix {
    use actix_web::http::header;
    use actix_web::middleware::from_fn;
    use actix_web::{App, HttpRequest, HttpResponse, test, web};
    use tollbooth_auth::actix::{
        RequireAuth, RequireOrgMember, RequireOrgPermission, RequireRole, csrf, session,
    };
    use tollbooth_auth::{Admin, Auth, AuthError};

    use super::*;

    async fn sign_in_handler(
        auth: web::Data<Auth>,
        request: HttpRequest,
    ) -> Result<HttpResponse, AuthError> {
        let cookie = super::sign_in(&auth, request.headers()).await?;
        Ok(HttpResponse::Ok()
            .insert_header((header::SET_COOKIE, cookie))
            .body("signed in"))
    }

    async fn sign_out_handler(
        auth: web::Data<Auth>,
        request: HttpRequest,
    ) -> Result<HttpResponse, AuthError> {
        let cookie = auth.sign_out(request.headers()).await?;
        Ok(HttpResponse::Ok()
            .insert_header((header::SET_COOKIE, cookie.to_string()))
            .body("signed out"))
    }

    #[actix_web::test]
    async fn actix_adapter() {
        let t = TestAuth::new(TestDb::sqlite().await);
        let app = test::init_service(
            App::new()
                .app_data(web::Data::new(t.auth.clone()))
                .wrap(from_fn(csrf))
                .wrap(from_fn(session))
                .route(
                    "/me",
                    web::get().to(|RequireAuth(s): RequireAuth| async move { s.user.email }),
                )
                .route(
                    "/admin",
                    web::get()
                        .to(|RequireRole(s, _): RequireRole<Admin>| async move { s.user.email }),
                )
                .route(
                    "/orgs/{org_id}",
                    web::get().to(|RequireOrgMember(_, m): RequireOrgMember| async move {
                        m.organization.name
                    }),
                )
                .route(
                    "/orgs/{org_id}/billing",
                    web::get().to(
                        |RequireOrgPermission(_, m, _): RequireOrgPermission<ManageBilling>| async move {
                            m.organization.name
                        },
                    ),
                )
                .route("/sign-in", web::post().to(sign_in_handler))
                .route("/sign-out", web::post().to(sign_out_handler)),
        )
        .await;
        scenario(&t, async |method, path, headers| {
            let mut request = test::TestRequest::default()
                .method(method.parse().unwrap())
                .uri(path);
            for (name, value) in headers {
                request = request.insert_header((name, value));
            }
            // A middleware's error (CSRF) reaches the server as `Err`; it renders it so.
            let response: HttpResponse =
                match test::try_call_service(&app, request.to_request()).await {
                    Ok(response) => response.into_parts().1,
                    Err(error) => error.error_response(),
                };
            let status = response.status().as_u16();
            let set_cookies = response
                .headers()
                .get_all(header::SET_COOKIE)
                .map(|v| v.to_str().unwrap().to_owned())
                .collect();
            let body = actix_web::body::to_bytes(response.into_body())
                .await
                .unwrap();
            Reply::new(status, set_cookies, body.to_vec())
        })
        .await;
    }
}
