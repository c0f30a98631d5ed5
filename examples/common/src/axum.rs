//! axum: the contract's extractors ([`Json`], [`OptionalJson`], [`Form`], [`Query`],
//! [`Path`], [`RawBody`]), each refusing with an [`ApiError`] in the one error shape, and a
//! [`Reply`], a [`Page`] or an [`ApiError`] as a response.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tollbooth_auth::axum::error_response;

use crate::error::ApiError;
use crate::extract;
use crate::reply::Reply;
use crate::ui::{self, Page, PageBody};

fn content_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_TYPE)?;
    value.to_str().ok().map(str::to_owned)
}

/// Reads the body, then `parse`s it with its declared `Content-Type`.
async fn parse_body<S: Send + Sync, T>(
    request: Request,
    state: &S,
    parse: fn(Option<&str>, &[u8]) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let content_type = content_type(request.headers());
    let RawBody(body) = RawBody::from_request(request, state).await?;
    parse(content_type.as_deref(), &body)
}

/// The raw body (a webhook's, whose signature covers the exact bytes).
#[derive(Debug)]
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;
    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        Bytes::from_request(request, state)
            .await
            .map(Self)
            .map_err(|rejection| {
                ApiError::unreadable_body(rejection.status().as_u16(), rejection.body_text())
            })
    }
}

/// A JSON object body, by [`extract::json`].
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;
    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        parse_body(request, state, |ct, body| extract::json(ct, body).map(Self)).await
    }
}

/// A JSON object body or none, by [`extract::optional_json`].
#[derive(Debug)]
pub struct OptionalJson<T>(pub Option<T>);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;
    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        parse_body(request, state, |ct, body| {
            extract::optional_json(ct, body).map(Self)
        })
        .await
    }
}

/// An HTML form's body, by [`extract::form`].
#[derive(Debug)]
pub struct Form<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Form<T> {
    type Rejection = ApiError;
    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        parse_body(request, state, |ct, body| extract::form(ct, body).map(Self)).await
    }
}

/// The query string, by [`extract::query`].
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        extract::query(parts.uri.query().unwrap_or_default()).map(Self)
    }
}

/// A route's path parameters (percent-decoded).
#[derive(Debug)]
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        // A segment that does not decode (not UTF-8) names nothing this server has.
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Self(value))
            .map_err(|_| ApiError::NotFound("route"))
    }
}

impl<T: Serialize> IntoResponse for Reply<T> {
    fn into_response(self) -> Response {
        let mut response = match self.body {
            Some(body) => (self.status, axum::Json(body)).into_response(),
            None => self.status.into_response(),
        };
        // A `SetCookie` is axum response parts.
        for cookie in self.cookies {
            response = (cookie, response).into_response();
        }
        if let Some(location) = self.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
            response.headers_mut().insert(header::LOCATION, location);
        }
        response
    }
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        let mut response = match self.body {
            PageBody::Html(html) => (
                self.status,
                [
                    (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                    (header::CACHE_CONTROL, "no-store"),
                    (header::CONTENT_SECURITY_POLICY, ui::CONTENT_SECURITY_POLICY),
                ],
                html,
            )
                .into_response(),
            PageBody::Redirect(location) => {
                let mut response = self.status.into_response();
                if let Ok(location) = HeaderValue::from_str(&location) {
                    response.headers_mut().insert(header::LOCATION, location);
                }
                response
            }
            PageBody::Download { filename, json } => (
                self.status,
                [
                    (header::CONTENT_TYPE, "application/json".to_owned()),
                    (header::CACHE_CONTROL, "no-store".to_owned()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"{filename}\""),
                    ),
                ],
                json,
            )
                .into_response(),
        };
        for cookie in self.cookies {
            response = (cookie, response).into_response();
        }
        response
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = error_response(&self);
        if self.closes_connection() {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}
