//! The OpenAPI 3.1 document of the contract, served at `GET /openapi.json`.
//!
//! One annotated function per row of [`ENDPOINTS`](crate::ENDPOINTS) (the functions only
//! carry the attribute: `utoipa` documents a path by a function), the bodies from
//! [`wire`](crate::wire), and every operation's 4XX/5XX answered by [`ErrorBody`]. A unit
//! test holds the document and the route table to the same (method, path) pairs, and the
//! black-box suite validates every answer it receives against the document.
#![allow(dead_code)] // the functions exist for their attributes

use std::sync::OnceLock;

use serde_json::Value;
use utoipa::OpenApi;
use utoipa::openapi::RefOr;

#[allow(unused_imports)] // named in the attributes
use crate::wire::*;

#[utoipa::path(
    get,
    path = "/health",
    tag = "meta",
    responses((status = 200, description = "the database answers", body = StatusReply))
)]
fn health() {}

#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "meta",
    responses((status = 200, description = "this document", body = Object))
)]
fn openapi_json() {}

#[utoipa::path(
    post,
    path = "/auth/sign-up",
    tag = "auth",
    request_body = SignUpBody,
    responses((status = 201, description = "signed up; the welcome e-mail is on its way", body = UserReply))
)]
fn sign_up() {}

#[utoipa::path(
    post,
    path = "/auth/sign-in",
    tag = "auth",
    request_body = CredentialsBody,
    responses((status = 200, description = "signed in (the session cookie is set), or a second factor is due", body = SignInReply))
)]
fn sign_in() {}

#[utoipa::path(
    post,
    path = "/auth/mfa/verify",
    tag = "auth",
    request_body = MfaVerifyBody,
    responses((status = 200, description = "signed in", body = SessionReply))
)]
fn mfa_verify() {}

#[utoipa::path(
    post,
    path = "/auth/reauthenticate",
    tag = "auth",
    request_body = ReauthenticateBody,
    responses((status = 204, description = "the session is fresh"))
)]
fn reauthenticate() {}

#[utoipa::path(
    get,
    path = "/auth/security-report",
    tag = "auth",
    params(("token" = Option<String>, Query)),
    responses((status = 200, description = "what to post", body = SecurityReportLinkReply))
)]
fn security_report_link() {}

#[utoipa::path(
    post,
    path = "/auth/security-report",
    tag = "auth",
    request_body = TokenBody,
    responses((status = 200, description = "every session ended; a recovery reset token", body = SecurityReportReply))
)]
fn security_report() {}

#[utoipa::path(
    post,
    path = "/auth/sign-out",
    tag = "auth",
    responses((status = 204, description = "signed out; the cookie is cleared"))
)]
fn sign_out() {}

#[utoipa::path(
    post,
    path = "/auth/sign-out-everywhere",
    tag = "auth",
    responses((status = 204, description = "every session ended"))
)]
fn sign_out_everywhere() {}

#[utoipa::path(
    get,
    path = "/auth/session",
    tag = "auth",
    responses((status = 200, description = "the session", body = SessionReply))
)]
fn current_session() {}

#[utoipa::path(
    get,
    path = "/auth/sessions",
    tag = "auth",
    responses((status = 200, description = "live sessions", body = SessionsReply))
)]
fn list_sessions() {}

#[utoipa::path(
    delete,
    path = "/auth/sessions/{id}",
    tag = "auth",
    params(("id" = String, Path)),
    responses((status = 204, description = "revoked"))
)]
fn revoke_session() {}

#[utoipa::path(
    get,
    path = "/auth/verify-email",
    tag = "auth",
    params(("token" = Option<String>, Query)),
    responses((status = 200, description = "verified", body = VerifiedReply))
)]
fn verify_email_link() {}

#[utoipa::path(
    post,
    path = "/auth/verify-email",
    tag = "auth",
    request_body = TokenBody,
    responses((status = 200, description = "verified", body = VerifiedReply))
)]
fn verify_email() {}

#[utoipa::path(
    post,
    path = "/auth/resend-verification",
    tag = "auth",
    request_body = EmailBody,
    responses((status = 202, description = "sent if the address has an unverified account", body = StatusReply))
)]
fn resend_verification() {}

#[utoipa::path(
    post,
    path = "/auth/forgot-password",
    tag = "auth",
    request_body = EmailBody,
    responses((status = 202, description = "sent if the address has an account", body = StatusReply))
)]
fn forgot_password() {}

#[utoipa::path(
    post,
    path = "/auth/reset-password",
    tag = "auth",
    request_body = ResetBody,
    responses((status = 204, description = "password set; every session ended"))
)]
fn reset_password() {}

#[utoipa::path(
    post,
    path = "/auth/change-password",
    tag = "auth",
    request_body = ChangePasswordBody,
    responses((status = 204, description = "changed; other sessions ended"))
)]
fn change_password() {}

#[utoipa::path(
    get,
    path = "/auth/oauth/{provider}",
    tag = "oauth",
    params(("provider" = String, Path), ("return_to" = Option<String>, Query)),
    responses((status = 302, description = "to the provider"))
)]
fn oauth_start() {}

#[utoipa::path(
    get,
    path = "/auth/oauth/{provider}/callback",
    tag = "oauth",
    params(("provider" = String, Path), ("code" = Option<String>, Query), ("state" = Option<String>, Query), ("error" = Option<String>, Query)),
    responses((status = 303, description = "signed in or linked: back to `return_to`"), (status = 200, description = "a second factor is due", body = MfaRequiredReply))
)]
fn oauth_callback() {}

#[utoipa::path(
    get,
    path = "/auth/oauth/{provider}/link",
    tag = "oauth",
    params(("provider" = String, Path), ("return_to" = Option<String>, Query)),
    responses((status = 302, description = "to the provider"))
)]
fn oauth_link() {}

#[utoipa::path(
    delete,
    path = "/auth/oauth/{provider}",
    tag = "oauth",
    params(("provider" = String, Path)),
    responses((status = 204, description = "unlinked"))
)]
fn oauth_unlink() {}

#[utoipa::path(
    get,
    path = "/auth/mfa",
    tag = "mfa",
    responses((status = 200, description = "status", body = MfaStatusReply))
)]
fn mfa_status() {}

#[utoipa::path(
    post,
    path = "/auth/mfa/enroll",
    tag = "mfa",
    responses((status = 200, description = "a pending enrollment", body = MfaEnrollReply))
)]
fn mfa_enroll() {}

#[utoipa::path(
    post,
    path = "/auth/mfa/confirm",
    tag = "mfa",
    request_body = CodeBody,
    responses((status = 200, description = "MFA on; backup codes shown once", body = BackupCodesReply))
)]
fn mfa_confirm() {}

#[utoipa::path(
    post,
    path = "/auth/mfa/disable",
    tag = "mfa",
    request_body = CodeBody,
    responses((status = 204, description = "MFA off"))
)]
fn mfa_disable() {}

#[utoipa::path(
    post,
    path = "/auth/mfa/backup-codes",
    tag = "mfa",
    request_body = CodeBody,
    responses((status = 200, description = "new backup codes", body = BackupCodesReply))
)]
fn mfa_backup_codes() {}

#[utoipa::path(
    get,
    path = "/me",
    tag = "auth",
    responses((status = 200, description = "the signed-in user", body = UserReply))
)]
fn me() {}

#[utoipa::path(
    get,
    path = "/admin/stats",
    tag = "admin",
    responses((status = 200, description = "admins only", body = AdminStatsReply))
)]
fn admin_stats() {}

#[utoipa::path(
    get,
    path = "/billing/plans",
    tag = "billing",
    responses((status = 200, description = "the catalog", body = PlansReply))
)]
fn plans() {}

#[utoipa::path(
    post,
    path = "/billing/checkout",
    tag = "billing",
    request_body = CheckoutBody,
    responses((status = 200, description = "the Checkout page", body = UrlReply))
)]
fn checkout() {}

#[utoipa::path(
    get,
    path = "/billing/checkout/success",
    tag = "billing",
    params(("session_id" = Option<String>, Query)),
    responses((status = 200, description = "synced from Stripe", body = SubscriptionReply))
)]
fn checkout_success() {}

#[utoipa::path(
    post,
    path = "/billing/portal",
    tag = "billing",
    responses((status = 200, description = "the billing portal", body = UrlReply))
)]
fn portal() {}

#[utoipa::path(
    get,
    path = "/billing/subscription",
    tag = "billing",
    responses((status = 200, description = "plan and subscriptions", body = SubscriptionReply))
)]
fn subscription() {}

#[utoipa::path(
    post,
    path = "/billing/subscription/cancel",
    tag = "billing",
    request_body(content = Option<CancelBody>, description = "optional: cancels at the period end without one"),
    responses((status = 200, description = "cancelled (at the period end by default)", body = SubscriptionReply))
)]
fn cancel_subscription() {}

#[utoipa::path(
    post,
    path = "/billing/subscription/resume",
    tag = "billing",
    responses((status = 200, description = "resumed", body = SubscriptionReply))
)]
fn resume_subscription() {}

#[utoipa::path(
    post,
    path = "/billing/payments",
    tag = "billing",
    request_body = PaymentBody,
    responses((status = 201, description = "a PaymentIntent", body = CreatedPaymentReply))
)]
fn create_payment() {}

#[utoipa::path(
    post,
    path = "/billing/payments/{id}/confirm",
    tag = "billing",
    params(("id" = String, Path)),
    responses((status = 200, description = "its state", body = PaymentReply))
)]
fn confirm_payment() {}

#[utoipa::path(
    get,
    path = "/billing/payments/{id}/booking-link",
    tag = "billing",
    params(("id" = String, Path)),
    responses((status = 200, description = "the paid booking page", body = UrlReply))
)]
fn payment_booking_link() {}

#[utoipa::path(
    post,
    path = "/webhooks/stripe",
    tag = "webhooks",
    responses((status = 200, description = "recorded", body = StripeWebhookReply))
)]
fn stripe_webhook() {}

#[utoipa::path(
    post,
    path = "/webhooks/calcom",
    tag = "webhooks",
    responses((status = 200, description = "recorded", body = CalcomWebhookReply))
)]
fn calcom_webhook() {}

/// The document's source.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tollbooth example server",
        description = "The HTTP contract of the Tollbooth example servers; docs/http-api.md is the guide."
    ),
    paths(health, openapi_json, sign_up, sign_in, mfa_verify, reauthenticate, security_report_link, security_report, sign_out, sign_out_everywhere, current_session, list_sessions, revoke_session, verify_email_link, verify_email, resend_verification, forgot_password, reset_password, change_password, oauth_start, oauth_callback, oauth_link, oauth_unlink, mfa_status, mfa_enroll, mfa_confirm, mfa_disable, mfa_backup_codes, me, admin_stats, plans, checkout, checkout_success, portal, subscription, cancel_subscription, resume_subscription, create_payment, confirm_payment, payment_booking_link, stripe_webhook, calcom_webhook),
    components(schemas(ErrorBody)),
    modifiers(&ErrorResponses)
)]
struct ApiDoc;

/// Every operation may answer 4XX and 5XX, always with the one error body.
struct ErrorResponses;

impl utoipa::Modify for ErrorResponses {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let error = |description: &str| {
            RefOr::T(
                utoipa::openapi::ResponseBuilder::new()
                    .description(description)
                    .content(
                        "application/json",
                        utoipa::openapi::ContentBuilder::new()
                            .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                                "ErrorBody",
                            ))))
                            .build(),
                    )
                    .build(),
            )
        };
        for item in doc.paths.paths.values_mut() {
            for operation in [&mut item.get, &mut item.post, &mut item.delete]
                .into_iter()
                .flatten()
            {
                let responses = &mut operation.responses.responses;
                responses.insert("4XX".to_owned(), error("a client error"));
                responses.insert("5XX".to_owned(), error("a server error, without its cause"));
            }
        }
    }
}

/// The document, built once.
pub fn document() -> &'static Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        serde_json::to_value(ApiDoc::openapi()).expect("the OpenAPI document serializes")
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::ENDPOINTS;

    /// The document and the route table describe the same operations.
    #[test]
    fn the_document_describes_every_route_and_no_other() {
        let doc = document();
        assert_eq!(doc["openapi"], "3.1.0");
        let documented: BTreeSet<(String, String)> = doc["paths"]
            .as_object()
            .unwrap()
            .iter()
            .flat_map(|(path, item)| {
                item.as_object()
                    .unwrap()
                    .keys()
                    .map(move |method| (method.to_uppercase(), path.clone()))
            })
            .collect();
        let routed: BTreeSet<(String, String)> = ENDPOINTS
            .iter()
            .map(|e| (e.method.to_owned(), e.path.to_owned()))
            .collect();
        assert_eq!(documented, routed);
    }

    /// Every operation documents its errors with the one error body.
    #[test]
    fn every_operation_answers_errors_with_the_error_body() {
        for (path, item) in document()["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                for class in ["4XX", "5XX"] {
                    let schema =
                        &operation["responses"][class]["content"]["application/json"]["schema"];
                    assert_eq!(
                        schema["$ref"], "#/components/schemas/ErrorBody",
                        "{method} {path} {class}"
                    );
                }
            }
        }
    }
}
