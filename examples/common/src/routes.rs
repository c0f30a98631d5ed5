//! The HTTP contract (`docs/http-api.md`), as a table both servers mount.

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone; cross-site state-changing requests are refused (CSRF).
    Public,
    /// A signed-in user (401 otherwise).
    User,
    /// An admin (401 / 403 otherwise).
    Admin,
    /// Anyone, cross-site allowed: authenticated by a signature, raw body kept.
    Webhook,
}

/// Every endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Route {
    Health,
    OpenApi,
    SignUp,
    SignIn,
    MfaVerify,
    Reauthenticate,
    SecurityReportLink,
    SecurityReport,
    SignOut,
    SignOutEverywhere,
    CurrentSession,
    ListSessions,
    RevokeSession,
    VerifyEmailLink,
    VerifyEmail,
    ResendVerification,
    ForgotPassword,
    ResetPassword,
    ChangePassword,
    OAuthStart,
    OAuthCallback,
    OAuthLink,
    OAuthUnlink,
    MfaStatus,
    MfaEnroll,
    MfaConfirm,
    MfaDisable,
    MfaBackupCodes,
    Me,
    AdminStats,
    Plans,
    Checkout,
    CheckoutSuccess,
    Portal,
    Subscription,
    CancelSubscription,
    ResumeSubscription,
    CreatePayment,
    ConfirmPayment,
    PaymentBookingLink,
    StripeWebhook,
    CalcomWebhook,
}

/// One row of the table.
#[derive(Clone, Copy, Debug)]
pub struct Endpoint {
    /// `GET`, `POST`, `DELETE`.
    pub method: &'static str,
    /// Path; `{name}` is a parameter (the same syntax in axum 0.8 and actix-web 4).
    pub path: &'static str,
    /// Which handler.
    pub route: Route,
    /// Who may call it.
    pub access: Access,
}

const fn e(method: &'static str, path: &'static str, route: Route, access: Access) -> Endpoint {
    Endpoint {
        method,
        path,
        route,
        access,
    }
}

/// The whole contract.
pub const ENDPOINTS: &[Endpoint] = &[
    e("GET", "/health", Route::Health, Access::Public),
    e("GET", "/openapi.json", Route::OpenApi, Access::Public),
    e("POST", "/auth/sign-up", Route::SignUp, Access::Public),
    e("POST", "/auth/sign-in", Route::SignIn, Access::Public),
    e("POST", "/auth/mfa/verify", Route::MfaVerify, Access::Public),
    e(
        "POST",
        "/auth/reauthenticate",
        Route::Reauthenticate,
        Access::User,
    ),
    e(
        "GET",
        "/auth/security-report",
        Route::SecurityReportLink,
        Access::Public,
    ),
    e(
        "POST",
        "/auth/security-report",
        Route::SecurityReport,
        Access::Public,
    ),
    e("POST", "/auth/sign-out", Route::SignOut, Access::Public),
    e(
        "POST",
        "/auth/sign-out-everywhere",
        Route::SignOutEverywhere,
        Access::User,
    ),
    e("GET", "/auth/session", Route::CurrentSession, Access::User),
    e("GET", "/auth/sessions", Route::ListSessions, Access::User),
    e(
        "DELETE",
        "/auth/sessions/{id}",
        Route::RevokeSession,
        Access::User,
    ),
    e(
        "GET",
        "/auth/verify-email",
        Route::VerifyEmailLink,
        Access::Public,
    ),
    e(
        "POST",
        "/auth/verify-email",
        Route::VerifyEmail,
        Access::Public,
    ),
    e(
        "POST",
        "/auth/resend-verification",
        Route::ResendVerification,
        Access::Public,
    ),
    e(
        "POST",
        "/auth/forgot-password",
        Route::ForgotPassword,
        Access::Public,
    ),
    e(
        "POST",
        "/auth/reset-password",
        Route::ResetPassword,
        Access::Public,
    ),
    e(
        "POST",
        "/auth/change-password",
        Route::ChangePassword,
        Access::User,
    ),
    e(
        "GET",
        "/auth/oauth/{provider}",
        Route::OAuthStart,
        Access::Public,
    ),
    e(
        "GET",
        "/auth/oauth/{provider}/callback",
        Route::OAuthCallback,
        Access::Public,
    ),
    e(
        "GET",
        "/auth/oauth/{provider}/link",
        Route::OAuthLink,
        Access::User,
    ),
    e(
        "DELETE",
        "/auth/oauth/{provider}",
        Route::OAuthUnlink,
        Access::User,
    ),
    e("GET", "/auth/mfa", Route::MfaStatus, Access::User),
    e("POST", "/auth/mfa/enroll", Route::MfaEnroll, Access::User),
    e("POST", "/auth/mfa/confirm", Route::MfaConfirm, Access::User),
    e("POST", "/auth/mfa/disable", Route::MfaDisable, Access::User),
    e(
        "POST",
        "/auth/mfa/backup-codes",
        Route::MfaBackupCodes,
        Access::User,
    ),
    e("GET", "/me", Route::Me, Access::User),
    e("GET", "/admin/stats", Route::AdminStats, Access::Admin),
    e("GET", "/billing/plans", Route::Plans, Access::Public),
    e("POST", "/billing/checkout", Route::Checkout, Access::User),
    e(
        "GET",
        "/billing/checkout/success",
        Route::CheckoutSuccess,
        Access::User,
    ),
    e("POST", "/billing/portal", Route::Portal, Access::User),
    e(
        "GET",
        "/billing/subscription",
        Route::Subscription,
        Access::User,
    ),
    e(
        "POST",
        "/billing/subscription/cancel",
        Route::CancelSubscription,
        Access::User,
    ),
    e(
        "POST",
        "/billing/subscription/resume",
        Route::ResumeSubscription,
        Access::User,
    ),
    e(
        "POST",
        "/billing/payments",
        Route::CreatePayment,
        Access::User,
    ),
    e(
        "POST",
        "/billing/payments/{id}/confirm",
        Route::ConfirmPayment,
        Access::User,
    ),
    e(
        "GET",
        "/billing/payments/{id}/booking-link",
        Route::PaymentBookingLink,
        Access::User,
    ),
    e(
        "POST",
        "/webhooks/stripe",
        Route::StripeWebhook,
        Access::Webhook,
    ),
    e(
        "POST",
        "/webhooks/calcom",
        Route::CalcomWebhook,
        Access::Webhook,
    ),
];

/// Largest request body accepted (webhooks included).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
