//! The server itself: health and the API document.

use serde_json::Value;

use super::Answer;
use crate::App;
use crate::error::ApiError;
use crate::reply::Reply;
use crate::wire::*;

/// `GET /health`: 200 while the database answers.
#[utoipa::path(
    get,
    path = "/health",
    tag = "meta",
    responses((status = 200, description = "the database answers", body = StatusReply))
)]
pub async fn health(app: &App) -> Answer<StatusReply> {
    app.auth
        .db()
        .ping()
        .await
        .map_err(|e| ApiError::Auth(e.into()))?;
    Ok(Reply::ok(StatusReply { status: "ok" }))
}

/// `GET /openapi.json`: this contract as an OpenAPI 3.1 document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "meta",
    responses((status = 200, description = "this document", body = Object))
)]
pub fn openapi_json() -> Reply<&'static Value> {
    Reply::ok(crate::openapi::document())
}
