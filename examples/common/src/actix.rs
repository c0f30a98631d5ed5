//! actix-web: the contract's extractors ([`Json`], [`OptionalJson`], [`Form`], [`Query`],
//! [`Path`], [`RawBody`]), each refusing with an [`ApiError`] in the one error shape, and a
//! [`Reply`] or a [`Page`] as a response ([`ApiError`] is an actix `ResponseError`).

use std::future::{Future, Ready, ready};
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::{self, HeaderMap};
use actix_web::http::{ConnectionType, StatusCode};
use actix_web::{FromRequest, HttpRequest, HttpResponse, Responder, ResponseError, web};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tollbooth_auth::WireError;
use tollbooth_auth::actix::error_response;

use crate::error::ApiError;
use crate::extract;
use crate::reply::Reply;
use crate::ui::{self, Page, PageBody};

type Extracting<T> = Pin<Box<dyn Future<Output = Result<T, ApiError>>>>;

fn content_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_TYPE)?;
    value.to_str().ok().map(str::to_owned)
}

/// Reads the body; actix checks `Content-Length` against `web::PayloadConfig` first.
fn read_body(request: &HttpRequest, payload: &mut Payload) -> Extracting<web::Bytes> {
    let body = web::Bytes::from_request(request, payload);
    Box::pin(async move {
        body.await.map_err(|error| {
            let status = error.as_response_error().status_code().as_u16();
            ApiError::unreadable_body(status, error)
        })
    })
}

/// Reads the body, then `parse`s it with its declared `Content-Type`.
fn parse_body<T: 'static>(
    request: &HttpRequest,
    payload: &mut Payload,
    parse: fn(Option<&str>, &[u8]) -> Result<T, ApiError>,
) -> Extracting<T> {
    let content_type = content_type(request.headers());
    let body = read_body(request, payload);
    Box::pin(async move { parse(content_type.as_deref(), &body.await?) })
}

/// The raw body (a webhook's, whose signature covers the exact bytes).
#[derive(Debug)]
pub struct RawBody(pub web::Bytes);

impl FromRequest for RawBody {
    type Error = ApiError;
    type Future = Extracting<Self>;
    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = read_body(request, payload);
        Box::pin(async move { body.await.map(Self) })
    }
}

/// A JSON object body, by [`extract::json`].
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = Extracting<Self>;
    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        parse_body(request, payload, |ct, body| {
            extract::json(ct, body).map(Self)
        })
    }
}

/// A JSON object body or none, by [`extract::optional_json`].
#[derive(Debug)]
pub struct OptionalJson<T>(pub Option<T>);

impl<T: DeserializeOwned + 'static> FromRequest for OptionalJson<T> {
    type Error = ApiError;
    type Future = Extracting<Self>;
    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        parse_body(request, payload, |ct, body| {
            extract::optional_json(ct, body).map(Self)
        })
    }
}

/// An HTML form's body, by [`extract::form`].
#[derive(Debug)]
pub struct Form<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for Form<T> {
    type Error = ApiError;
    type Future = Extracting<Self>;
    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        parse_body(request, payload, |ct, body| {
            extract::form(ct, body).map(Self)
        })
    }
}

/// The query string, by [`extract::query`].
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned> FromRequest for Query<T> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;
    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(extract::query(request.query_string()).map(Self))
    }
}

/// A route's path parameters (percent-decoded).
#[derive(Debug)]
pub struct Path<T>(pub T);

impl<T: DeserializeOwned> FromRequest for Path<T> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;
    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        // A segment that does not decode names nothing this server has.
        ready(
            request
                .match_info()
                .load()
                .map(Self)
                .map_err(|_| ApiError::NotFound("route")),
        )
    }
}

impl<T: Serialize> Responder for Reply<T> {
    type Body = actix_web::body::BoxBody;

    fn respond_to(self, _: &HttpRequest) -> HttpResponse {
        let status =
            StatusCode::from_u16(self.status.as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = HttpResponse::build(status);
        for cookie in &self.cookies {
            response.append_header(cookie);
        }
        if let Some(location) = &self.location {
            response.insert_header((header::LOCATION, location.as_str()));
        }
        match self.body {
            Some(body) => response.json(body),
            None => response.finish(),
        }
    }
}

impl Responder for Page {
    type Body = actix_web::body::BoxBody;

    fn respond_to(self, _: &HttpRequest) -> HttpResponse {
        let status =
            StatusCode::from_u16(self.status.as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = HttpResponse::build(status);
        for cookie in &self.cookies {
            response.append_header(cookie);
        }
        match self.body {
            PageBody::Html(html) => response
                .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .insert_header((header::CONTENT_SECURITY_POLICY, ui::CONTENT_SECURITY_POLICY))
                .body(html),
            PageBody::Redirect(location) => response
                .insert_header((header::LOCATION, location))
                .finish(),
            PageBody::Download { filename, json } => response
                .insert_header((header::CONTENT_TYPE, "application/json"))
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .insert_header((
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{filename}\""),
                ))
                .body(json),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status().as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = error_response(self);
        if self.closes_connection() {
            response
                .head_mut()
                .set_connection_type(ConnectionType::Close);
        }
        response
    }
}
