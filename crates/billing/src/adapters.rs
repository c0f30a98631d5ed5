//! Web-framework adapters (features `axum`, `actix`): errors as
//! `{"error": code, "message": …}` with [`BillingError::status`]; 5xx bodies carry no detail.

use crate::error::BillingError;

/// `{"error": code, "message": …}` for an error.
pub fn error_body(error: &BillingError) -> serde_json::Value {
    serde_json::json!({ "error": error.code(), "message": error.public_message() })
}

#[cfg(feature = "axum")]
impl axum::response::IntoResponse for BillingError {
    fn into_response(self) -> axum::response::Response {
        if self.status() >= 500 {
            tracing::error!(error = ?self, "billing request failed");
        }
        let status = axum::http::StatusCode::from_u16(self.status())
            .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
        (status, axum::Json(error_body(&self))).into_response()
    }
}

#[cfg(feature = "actix")]
impl actix_web::ResponseError for BillingError {
    fn status_code(&self) -> actix_web::http::StatusCode {
        actix_web::http::StatusCode::from_u16(self.status())
            .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> actix_web::HttpResponse {
        if self.status() >= 500 {
            tracing::error!(error = ?self, "billing request failed");
        }
        actix_web::HttpResponse::build(self.status_code()).json(error_body(self))
    }
}
