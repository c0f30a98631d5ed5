//! Web-framework adapters (features `axum`, `actix`): a [`BillingError`] answers through
//! `tollbooth_core`'s one error contract — `{"error": code, "message": …}`, no detail in a 5xx.

#[cfg(any(feature = "axum", feature = "actix"))]
use crate::error::BillingError;

#[cfg(feature = "axum")]
impl axum::response::IntoResponse for BillingError {
    fn into_response(self) -> axum::response::Response {
        tollbooth_core::axum::error_response(&self)
    }
}

#[cfg(feature = "actix")]
impl actix_web::ResponseError for BillingError {
    fn status_code(&self) -> actix_web::http::StatusCode {
        tollbooth_core::actix::status_code(self)
    }

    fn error_response(&self) -> actix_web::HttpResponse {
        tollbooth_core::actix::error_response(self)
    }
}
