//! A tiny SaaS backend on Tollbooth, written only against the crates' public API: sign up,
//! verify, sign in, read the session, start a Stripe checkout, and take Stripe's webhooks.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router, middleware};
use serde::Deserialize;
use tollbooth_auth::axum::{RequireAuth, csrf, session};
use tollbooth_auth::{Auth, AuthError, RequestInfo, SignInOutcome};
use tollbooth_billing::{Billing, BillingError};

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// Authentication.
    pub auth: Auth,
    /// Stripe billing.
    pub billing: Billing,
}

/// The service's routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/sign-up", post(sign_up))
        .route("/verify-email", get(verify_email))
        .route("/sign-in", post(sign_in))
        .route("/me", get(me))
        .route("/checkout", post(checkout))
        .route("/webhooks/stripe", post(stripe_webhook))
        .layer(middleware::from_fn_with_state(state.auth.clone(), csrf))
        .layer(middleware::from_fn_with_state(state.auth.clone(), session))
        .with_state(state)
}

#[derive(Deserialize)]
struct Credentials {
    email: String,
    password: String,
}

async fn sign_up(
    State(app): State<AppState>,
    headers: HeaderMap,
    Json(body): Json<Credentials>,
) -> Result<impl IntoResponse, AuthError> {
    let request = RequestInfo::without_ip(&headers);
    let user = app
        .auth
        .sign_up(&body.email, &body.password, None, &request)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "id": user.id })),
    ))
}

#[derive(Deserialize)]
struct TokenQuery {
    token: String,
}

async fn verify_email(
    State(app): State<AppState>,
    Query(query): Query<TokenQuery>,
) -> Result<StatusCode, AuthError> {
    app.auth.verify_email(&query.token).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn sign_in(
    State(app): State<AppState>,
    headers: HeaderMap,
    Json(body): Json<Credentials>,
) -> Result<Response, AuthError> {
    let request = RequestInfo::without_ip(&headers);
    match app
        .auth
        .sign_in(&body.email, &body.password, &request)
        .await?
    {
        SignInOutcome::SignedIn(signed_in) => Ok((
            [(header::SET_COOKIE, signed_in.cookie.as_str().to_owned())],
            StatusCode::NO_CONTENT,
        )
            .into_response()),
        SignInOutcome::MfaRequired(_) => Ok(StatusCode::ACCEPTED.into_response()),
    }
}

async fn me(
    State(app): State<AppState>,
    RequireAuth(session): RequireAuth,
) -> Result<Json<serde_json::Value>, BillingError> {
    let plan = app.billing.current_plan(session.user.id).await?;
    Ok(Json(
        serde_json::json!({ "email": session.user.email, "plan": plan.name() }),
    ))
}

async fn checkout(
    State(app): State<AppState>,
    RequireAuth(session): RequireAuth,
) -> Result<Json<serde_json::Value>, BillingError> {
    let url = app
        .billing
        .create_checkout_session(
            session.user.id,
            "pro",
            "https://app.example.com/billing/success",
            "https://app.example.com/pricing",
            None,
        )
        .await?;
    Ok(Json(serde_json::json!({ "url": url.as_str() })))
}

async fn stripe_webhook(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, BillingError> {
    let signature = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    app.billing
        .handle_stripe_webhook(&body, signature, tollbooth_auth::tollbooth_db::now())
        .await?;
    Ok(StatusCode::OK)
}
