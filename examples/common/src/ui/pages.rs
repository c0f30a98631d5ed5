//! One function per page or form, framework-neutral, each calling the operation the JSON
//! API calls for the same flow.

use askama::Template;
use serde::Deserialize;
use tollbooth_auth::http::StatusCode;
use tollbooth_auth::{HeaderView, RequestInfo, Session, WireError};
use tollbooth_billing::{Customer, EVENT_TYPE_METADATA_KEY};

use super::{Alert, Nav, Page, failure};
use crate::App;
use crate::error::ApiError;
use crate::ops;
use crate::reply::Reply;
use crate::wire::*;

// Form bodies the pages post (the JSON bodies where they fit).

/// `POST /sign-up`.
#[derive(Debug, Deserialize)]
pub struct SignUpForm {
    /// E-mail address.
    pub email: String,
    /// Password.
    pub password: String,
    /// Display name (empty for none).
    #[serde(default)]
    pub name: String,
}

/// A form naming one session.
#[derive(Debug, Deserialize)]
pub struct SessionForm {
    /// Session id.
    pub id: String,
}

/// `POST /account/reauthenticate`: the fields left empty are not sent.
#[derive(Debug, Deserialize)]
pub struct ReauthenticateForm {
    /// Password.
    #[serde(default)]
    pub password: String,
    /// A second-factor code.
    #[serde(default)]
    pub code: String,
}

/// `POST /account/delete`.
#[derive(Debug, Deserialize)]
pub struct DeleteAccountForm {
    /// The "I understand" checkbox: present only when ticked.
    #[serde(default)]
    pub confirm: Option<String>,
    /// A second-factor code (when MFA is on).
    #[serde(default)]
    pub code: String,
}

/// `POST /pricing/checkout`.
#[derive(Debug, Deserialize)]
pub struct PlanForm {
    /// Plan id.
    pub plan: String,
}

/// `POST /pricing/pay`: the purchase form's token, so a double click opens one Checkout.
#[derive(Debug, Deserialize)]
pub struct PayForm {
    /// Rendered into the form once per page view.
    pub attempt: String,
}

/// `?notice=…` after a redirect: a fixed code, never text from the URL.
#[derive(Debug, Default, Deserialize)]
pub struct NoticeQuery {
    /// The code.
    pub notice: Option<String>,
}

impl NoticeQuery {
    pub(crate) fn message(&self) -> Option<&'static str> {
        Some(match self.notice.as_deref()? {
            "password-changed" => "Password changed. Your other sessions were signed out.",
            "profile-saved" => "Your profile is saved.",
            "email-link-sent" => {
                "We sent a link to the new address: your address changes when you open it."
            }
            "password-link-sent" => "We sent you a link to choose a password: check your e-mail.",
            "session-revoked" => "That session is signed out.",
            "mfa-off" => "Two-factor authentication is off.",
            "unlinked" => "That provider is unlinked.",
            "confirmed" => "Thanks — you can make sensitive changes for the next few minutes.",
            "subscribed" => "Thanks! Your subscription is active.",
            "cancelled" => "Your subscription will end at the close of the period.",
            "resumed" => "Your subscription continues.",
            "banned" => "The user is banned and signed out everywhere.",
            "unbanned" => "The ban is lifted.",
            "role-set" => "The role is set.",
            "sessions-revoked" => "The user is signed out everywhere.",
            _ => return None,
        })
    }
}

/// What Stripe Checkout sends the browser back with: `?checkout=done` after subscribing,
/// `?payment=cs_…` after a one-off payment.
#[derive(Debug, Default, Deserialize)]
pub struct CheckoutQuery {
    /// `done` after subscribing.
    pub checkout: Option<String>,
    /// The payment's Checkout session.
    pub payment: Option<String>,
}

fn non_empty(value: String) -> Option<String> {
    let value = value.trim().to_owned();
    (!value.is_empty()).then_some(value)
}

/// The page the session-only pages send a signed-out browser to.
pub(crate) fn sign_in_first() -> Page {
    Page::see_other("/sign-in")
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    title: &'static str,
    nav: Nav,
    alert: Alert,
    plan: Option<String>,
}

/// `GET /`: the landing page, or the signed-in dashboard.
pub async fn home(app: &App, session: Option<&Session>) -> Page {
    let plan = match (session, &app.billing) {
        (Some(session), Some(billing)) => billing
            .current_plan(session.user.id)
            .await
            .ok()
            .map(|plan| plan.name().to_owned()),
        _ => None,
    };
    Page::html(
        StatusCode::OK,
        &HomePage {
            title: "Home",
            nav: Nav::new(app, session),
            alert: Alert::default(),
            plan,
        },
    )
}

#[derive(Template)]
#[template(path = "sign_up.html")]
struct SignUpPage {
    title: &'static str,
    nav: Nav,
    alert: Alert,
    email: String,
    name: String,
}

/// `GET /sign-up`.
pub fn sign_up_form(app: &App, session: Option<&Session>) -> Page {
    Page::html(
        StatusCode::OK,
        &SignUpPage {
            title: "Sign up",
            nav: Nav::new(app, session),
            alert: Alert::default(),
            email: String::new(),
            name: String::new(),
        },
    )
}

/// `POST /sign-up`: to "check your e-mail", or the form again with what went wrong.
pub async fn sign_up(app: &App, request: &RequestInfo<'_>, form: SignUpForm) -> Page {
    let body = SignUpBody {
        email: form.email.clone(),
        password: form.password,
        name: non_empty(form.name.clone()),
    };
    match ops::auth::sign_up(app, request, body).await {
        Ok(_) => Page::see_other("/check-email"),
        Err(error) => {
            let (status, alert) = failure(&error);
            Page::html(
                status,
                &SignUpPage {
                    title: "Sign up",
                    nav: Nav::new(app, None),
                    alert,
                    email: form.email,
                    name: form.name,
                },
            )
        }
    }
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    title: &'static str,
    nav: Nav,
    alert: Alert,
    heading: &'static str,
    message: String,
    link: Option<(&'static str, &'static str)>,
}

fn message(
    app: &App,
    session: Option<&Session>,
    status: StatusCode,
    heading: &'static str,
    message: impl Into<String>,
    link: Option<(&'static str, &'static str)>,
) -> Page {
    Page::html(
        status,
        &MessagePage {
            title: heading,
            nav: Nav::new(app, session),
            alert: Alert::default(),
            heading,
            message: message.into(),
            link,
        },
    )
}

/// `GET /check-email`.
pub fn check_email(app: &App) -> Page {
    message(
        app,
        None,
        StatusCode::OK,
        "Check your e-mail",
        "We sent you a link to verify your address. Open it to finish signing up.",
        Some(("/sign-in", "Sign in")),
    )
}

/// `GET /verify-email?token=…`: the e-mailed link.
pub async fn verify_email(app: &App, session: Option<&Session>, query: TokenQuery) -> Page {
    match ops::auth::verify_email_link(app, query).await {
        Ok(_) => message(
            app,
            session,
            StatusCode::OK,
            "Your e-mail is verified",
            "Thanks. You can sign in now.",
            Some(("/sign-in", "Sign in")),
        ),
        Err(error) => {
            let (status, _) = failure(&error);
            message(
                app,
                session,
                status,
                "This link does not work",
                "It may have been used already or expired. Sign in to get a new one.",
                Some(("/sign-in", "Sign in")),
            )
        }
    }
}

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    title: &'static str,
    nav: Nav,
    alert: Alert,
    email: String,
    providers: Vec<(&'static str, &'static str)>,
}

fn sign_in_page(app: &App, status: StatusCode, alert: Alert, email: String) -> Page {
    let providers = app
        .auth
        .config()
        .oauth_providers()
        .map(|provider| (provider.as_str(), provider.display_name()))
        .collect();
    Page::html(
        status,
        &SignInPage {
            title: "Sign in",
            nav: Nav::new(app, None),
            alert,
            email,
            providers,
        },
    )
}

/// `GET /sign-in`.
pub fn sign_in_form(app: &App, session: Option<&Session>) -> Page {
    if session.is_some() {
        return Page::see_other("/");
    }
    sign_in_page(app, StatusCode::OK, Alert::default(), String::new())
}

#[derive(Template)]
#[template(path = "mfa_challenge.html")]
struct MfaChallengePage {
    title: &'static str,
    nav: Nav,
    alert: Alert,
    challenge: String,
}

fn mfa_challenge(app: &App, status: StatusCode, alert: Alert, challenge: String) -> Page {
    Page::html(
        status,
        &MfaChallengePage {
            title: "Two-factor authentication",
            nav: Nav::new(app, None),
            alert,
            challenge,
        },
    )
}

/// `POST /sign-in`: home with the session cookie, the second-factor form, or the form
/// again with what went wrong.
pub async fn sign_in(app: &App, request: &RequestInfo<'_>, form: CredentialsBody) -> Page {
    let email = form.email.clone();
    match ops::auth::sign_in(app, request, form).await {
        Ok(mut reply) => match reply.body.take() {
            Some(SignInReply::MfaRequired(required)) => {
                mfa_challenge(app, StatusCode::OK, Alert::default(), required.challenge)
            }
            _ => Page::see_other("/").with_cookies_of(reply),
        },
        Err(error) => {
            let (status, alert) = failure(&error);
            sign_in_page(app, status, alert, email)
        }
    }
}

/// `POST /sign-in/mfa`: the second factor that completes the sign-in.
pub async fn mfa_verify(app: &App, request: &RequestInfo<'_>, form: MfaVerifyBody) -> Page {
    let challenge = form.challenge.clone();
    match ops::auth::mfa_verify(app, request, form).await {
        Ok(reply) => Page::see_other("/").with_cookies_of(reply),
        Err(error) => {
            let (status, alert) = failure(&error);
            mfa_challenge(app, status, alert, challenge)
        }
    }
}

/// `POST /sign-out`.
pub async fn sign_out(app: &App, headers: &dyn HeaderView) -> Page {
    match ops::auth::sign_out(app, headers).await {
        Ok(reply) => Page::see_other("/").with_cookies_of(reply),
        Err(error) => error_page(app, None, &error),
    }
}

#[derive(Template)]
#[template(path = "forgot_password.html")]
struct ForgotPasswordPage {
    title: &'static str,
    nav: Nav,
    alert: Alert,
}

/// `GET /forgot-password`.
pub fn forgot_password_form(app: &App) -> Page {
    Page::html(
        StatusCode::OK,
        &ForgotPasswordPage {
            title: "Reset your password",
            nav: Nav::new(app, None),
            alert: Alert::default(),
        },
    )
}

/// `POST /forgot-password`: the same answer whether or not the address has an account.
pub async fn forgot_password(app: &App, request: &RequestInfo<'_>, form: EmailBody) -> Page {
    match ops::auth::forgot_password(app, request, form).await {
        Ok(_) => message(
            app,
            None,
            StatusCode::OK,
            "Check your e-mail",
            "If an account uses that address, we sent it a link to choose a new password.",
            None,
        ),
        Err(error) => {
            let (status, alert) = failure(&error);
            Page::html(
                status,
                &ForgotPasswordPage {
                    title: "Reset your password",
                    nav: Nav::new(app, None),
                    alert,
                },
            )
        }
    }
}

#[derive(Template)]
#[template(path = "reset_password.html")]
struct ResetPasswordPage {
    title: &'static str,
    nav: Nav,
    alert: Alert,
    token: String,
}

/// `GET /reset-password?token=…`: the e-mailed link.
pub fn reset_password_form(app: &App, query: TokenQuery) -> Page {
    Page::html(
        StatusCode::OK,
        &ResetPasswordPage {
            title: "Choose a new password",
            nav: Nav::new(app, None),
            alert: Alert::default(),
            token: query.token.unwrap_or_default(),
        },
    )
}

/// `POST /reset-password`.
pub async fn reset_password(app: &App, request: &RequestInfo<'_>, form: ResetBody) -> Page {
    let token = form.token.clone();
    match ops::auth::reset_password(app, request, form).await {
        Ok(_) => message(
            app,
            None,
            StatusCode::OK,
            "Your password is set",
            "Every session of your account was signed out. Sign in with the new password.",
            Some(("/sign-in", "Sign in")),
        ),
        Err(error) => {
            let (status, alert) = failure(&error);
            Page::html(
                status,
                &ResetPasswordPage {
                    title: "Choose a new password",
                    nav: Nav::new(app, None),
                    alert,
                    token,
                },
            )
        }
    }
}

#[derive(Template)]
#[template(path = "security_report.html")]
struct SecurityReportPage {
    title: &'static str,
    nav: Nav,
    alert: Alert,
    token: String,
    reset_token: Option<String>,
}

/// `GET /security-report?token=…`: the "this wasn't me" link asks before it acts (mail
/// scanners open links).
pub fn security_report_form(app: &App, query: TokenQuery) -> Page {
    Page::html(
        StatusCode::OK,
        &SecurityReportPage {
            title: "This wasn't me",
            nav: Nav::new(app, None),
            alert: Alert::default(),
            token: query.token.unwrap_or_default(),
            reset_token: None,
        },
    )
}

/// `POST /security-report`.
pub async fn security_report(app: &App, request: &RequestInfo<'_>, form: TokenBody) -> Page {
    let token = form.token.clone();
    let (status, alert, reset_token) = match ops::auth::security_report(app, request, form).await {
        Ok(mut reply) => (
            StatusCode::OK,
            Alert::default(),
            reply.body.take().map(|body| body.reset_token),
        ),
        Err(error) => {
            let (status, alert) = failure(&error);
            (status, alert, None)
        }
    };
    Page::html(
        status,
        &SecurityReportPage {
            title: "This wasn't me",
            nav: Nav::new(app, None),
            alert,
            token,
            reset_token,
        },
    )
}

#[derive(Template)]
#[template(path = "confirm_email_change.html")]
struct ConfirmEmailChangePage {
    title: &'static str,
    nav: Nav,
    alert: Alert,
    token: String,
}

/// `GET /confirm-email-change?token=…`: the link sent to the new address asks before it
/// acts (mail scanners open links).
pub fn confirm_email_change_form(app: &App, query: TokenQuery) -> Page {
    Page::html(
        StatusCode::OK,
        &ConfirmEmailChangePage {
            title: "Confirm your new address",
            nav: Nav::new(app, None),
            alert: Alert::default(),
            token: query.token.unwrap_or_default(),
        },
    )
}

/// `POST /confirm-email-change`.
pub async fn confirm_email_change(app: &App, request: &RequestInfo<'_>, form: TokenBody) -> Page {
    let token = form.token.clone();
    match ops::auth::confirm_email_change(app, request, form).await {
        Ok(Reply {
            body: Some(changed),
            ..
        }) => message(
            app,
            None,
            StatusCode::OK,
            "Your address is changed",
            format!(
                "Your account's address is now {}. Your other sessions were signed out.",
                changed.user.email
            ),
            Some(("/account", "Your account")),
        ),
        Ok(_) => Page::internal_error(),
        Err(error) => {
            let (status, alert) = failure(&error);
            Page::html(
                status,
                &ConfirmEmailChangePage {
                    title: "Confirm your new address",
                    nav: Nav::new(app, None),
                    alert,
                    token,
                },
            )
        }
    }
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    title: &'static str,
    nav: Nav,
    alert: Alert,
    user: UserBody,
    sessions: Vec<SessionInfoBody>,
    mfa: MfaStatusReply,
    methods: Vec<SignInMethodBody>,
    /// Whether one of the methods is a password.
    has_password: bool,
    /// Each configured provider: (id, name, linked).
    providers: Vec<(&'static str, &'static str, bool)>,
    activity: Vec<Activity>,
}

/// One line of a security activity list.
pub(crate) struct Activity {
    pub what: &'static str,
    pub at: String,
    pub ip: Option<String>,
    pub detail: Option<String>,
}

impl From<&SecurityEventBody> for Activity {
    fn from(event: &SecurityEventBody) -> Self {
        let what = match event.kind.as_str() {
            "signed_in" => "Signed in",
            "sign_in_failed" => "Wrong password",
            "password_changed" => "Password changed",
            "password_reset" => "Password reset by e-mail link",
            "password_set" => "Password added",
            "email_change_requested" => "Address change asked for",
            "email_changed" => "Address changed",
            "data_exported" => "Your data downloaded",
            "session_revoked" => "A session signed out",
            "signed_out_everywhere" => "Signed out everywhere",
            "account_deleted" => "Account deleted",
            "mfa_enabled" => "Two-factor authentication turned on",
            "mfa_disabled" => "Two-factor authentication turned off",
            "backup_codes_regenerated" => "New backup codes",
            "provider_linked" => "Sign-in provider linked",
            "provider_unlinked" => "Sign-in provider unlinked",
            "banned" => "Banned by an administrator",
            "unbanned" => "Ban lifted by an administrator",
            "role_changed" => "Role changed by an administrator",
            "sessions_revoked_by_admin" => "Signed out everywhere by an administrator",
            "impersonation_started" => "An administrator started acting as the user",
            "impersonation_stopped" => "The administrator stopped acting as the user",
            _ => "Security change",
        };
        let text = |key: &str| event.detail.as_ref()?.get(key)?.as_str().map(str::to_owned);
        let detail = match event.kind.as_str() {
            "banned" => text("reason"),
            "provider_linked" | "provider_unlinked" => text("provider"),
            "signed_in" => text("method"),
            "email_change_requested" => text("to"),
            "email_changed" => Some(format!(
                "{} → {}",
                text("from").unwrap_or_default(),
                text("to").unwrap_or_default()
            )),
            "role_changed" => Some(format!(
                "{} → {}",
                text("from").unwrap_or_default(),
                text("to").unwrap_or_default()
            )),
            _ => None,
        };
        Self {
            what,
            at: event.at.format("%Y-%m-%d %H:%M UTC").to_string(),
            ip: event.ip.clone(),
            detail,
        }
    }
}

/// `GET /account`.
pub async fn account(app: &App, session: Option<&Session>, query: NoticeQuery) -> Page {
    account_page(app, session, StatusCode::OK, Alert::notice(query.message())).await
}

async fn account_page(
    app: &App,
    session: Option<&Session>,
    status: StatusCode,
    alert: Alert,
) -> Page {
    let Some(session) = session else {
        return sign_in_first();
    };
    let loaded = async {
        let sessions = ops::auth::list_sessions(app, session).await?.body;
        let mfa = ops::mfa::mfa_status(app, session).await?.body;
        let methods = ops::oauth::sign_in_methods(app, session).await?.body;
        let recent = ActivityQuery {
            before: None,
            limit: Some(10),
        };
        let activity = ops::auth::security_activity(app, session, recent)
            .await?
            .body;
        Ok::<_, ApiError>((sessions, mfa, methods, activity))
    };
    match loaded.await {
        Ok((Some(sessions), Some(mfa), Some(methods), Some(activity))) => {
            let providers = app
                .auth
                .config()
                .oauth_providers()
                .map(|provider| {
                    let linked = methods
                        .methods
                        .iter()
                        .any(|m| m.provider == provider.as_str());
                    (provider.as_str(), provider.display_name(), linked)
                })
                .collect();
            let has_password = methods.methods.iter().any(|m| m.provider == "credential");
            Page::html(
                status,
                &AccountPage {
                    title: "Your account",
                    nav: Nav::new(app, Some(session)),
                    alert,
                    user: UserBody::from(&session.user),
                    sessions: sessions.sessions,
                    mfa,
                    methods: methods.methods,
                    has_password,
                    providers,
                    activity: activity.events.iter().map(Activity::from).collect(),
                },
            )
        }
        Ok(_) => Page::internal_error(),
        Err(error) => error_page(app, Some(session), &error),
    }
}

/// An account action's answer: back to the account page with `notice`, or the page again
/// with what went wrong.
async fn after_account_action<T>(
    app: &App,
    session: &Session,
    done: Result<T, ApiError>,
    notice: &str,
) -> Page {
    match done {
        Ok(_) => Page::see_other(format!("/account?notice={notice}")),
        Err(error) => {
            let (status, alert) = failure(&error);
            account_page(app, Some(session), status, alert).await
        }
    }
}

/// `POST /account/sessions/revoke`.
pub async fn revoke_session(
    app: &App,
    session: Option<&Session>,
    request: &RequestInfo<'_>,
    form: SessionForm,
) -> Page {
    let Some(session) = session else {
        return sign_in_first();
    };
    let done = ops::auth::revoke_session(app, session, request, &form.id).await;
    after_account_action(app, session, done, "session-revoked").await
}

/// `POST /account/sign-out-everywhere`.
pub async fn sign_out_everywhere(
    app: &App,
    session: Option<&Session>,
    request: &RequestInfo<'_>,
) -> Page {
    let Some(session) = session else {
        return sign_in_first();
    };
    match ops::auth::sign_out_everywhere(app, session, request).await {
        Ok(reply) => Page::see_other("/sign-in").with_cookies_of(reply),
        Err(error) => error_page(app, Some(session), &error),
    }
}

/// `POST /account/profile`.
pub async fn update_profile(app: &App, session: Option<&Session>, form: ProfileBody) -> Page {
    let Some(session) = session else {
        return sign_in_first();
    };
    let done = ops::auth::update_profile(app, session, form).await;
    after_account_action(app, session, done, "profile-saved").await
}

/// `POST /account/email`.
pub async fn change_email(
    app: &App,
    session: Option<&Session>,
    request: &RequestInfo<'_>,
    form: EmailBody,
) -> Page {
    let Some(session) = session else {
        return sign_in_first();
    };
    let done = ops::auth::change_email(app, session, request, form).await;
    after_account_action(app, session, done, "email-link-sent").await
}

/// `POST /account/export`: the account's data as a JSON file, or the account page with why
/// not (a stale session).
pub async fn export_account(
    app: &App,
    session: Option<&Session>,
    request: &RequestInfo<'_>,
) -> Page {
    let Some(session) = session else {
        return sign_in_first();
    };
    match ops::auth::export_account(app, session, request).await {
        Ok(Reply {
            body: Some(export), ..
        }) => Page::download("account-data.json", &export),
        Ok(_) => Page::internal_error(),
        Err(error) => {
            let (status, alert) = failure(&error);
            account_page(app, Some(session), status, alert).await
        }
    }
}

/// `POST /account/delete`: the account deleted (a goodbye page, the cookie cleared), or the
/// account page with why not (a stale session, a wrong code, Stripe unreachable).
pub async fn delete_account(
    app: &App,
    session: Option<&Session>,
    request: &RequestInfo<'_>,
    form: DeleteAccountForm,
) -> Page {
    let Some(session) = session else {
        return sign_in_first();
    };
    if form.confirm.is_none() {
        let alert = Alert::error("Tick the box to confirm that you want your account deleted.");
        return account_page(app, Some(session), StatusCode::UNPROCESSABLE_ENTITY, alert).await;
    }
    let body = DeleteAccountBody {
        code: non_empty(form.code),
    };
    match ops::auth::delete_account(app, session, request, body).await {
        Ok(reply) => message(
            app,
            None,
            StatusCode::OK,
            "Your account is deleted",
            "Your account, its sign-in methods and sessions are gone, and a subscription, if \
             you had one, will not renew. We sent a confirmation to your address.",
            Some(("/", "Home")),
        )
        .with_cookies_of(reply),
        Err(error) => {
            let (status, alert) = failure(&error);
            account_page(app, Some(session), status, alert).await
        }
    }
}

/// `POST /account/password/setup`.
pub async fn set_password_link(
    app: &App,
    session: Option<&Session>,
    request: &RequestInfo<'_>,
) -> Page {
    let Some(session) = session else {
        return sign_in_first();
    };
    let done = ops::auth::set_password_link(app, session, request).await;
    after_account_action(app, session, done, "password-link-sent").await
}

/// `POST /account/password`.
pub async fn change_password(
    app: &App,
    session: Option<&Session>,
    request: &RequestInfo<'_>,
    form: ChangePasswordBody,
) -> Page {
    let Some(session) = session else {
        return sign_in_first();
    };
    let done = ops::auth::change_password(app, session, request, form).await;
    after_account_action(app, session, done, "password-changed").await
}

/// `POST /account/reauthenticate`.
pub async fn reauthenticate(
    app: &App,
    session: Option<&Session>,
    form: ReauthenticateForm,
) -> Page {
    let Some(session) = session else {
        return sign_in_first();
    };
    let body = ReauthenticateBody {
        password: non_empty(form.password),
        code: non_empty(form.code),
    };
    let done = ops::auth::reauthenticate(app, session, body).await;
    after_account_action(app, session, done, "confirmed").await
}

/// `POST /account/oauth/{provider}/link`: to the provider (a fresh session only), back to
/// the account page.
pub async fn oauth_link(app: &App, session: Option<&Session>, provider: &str) -> Page {
    let Some(session) = session else {
        return sign_in_first();
    };
    let query = ReturnToQuery {
        return_to: Some("/account".to_owned()),
    };
    match ops::oauth::oauth_link(app, session, provider, query).await {
        Ok(reply) => match reply.location.clone() {
            Some(location) => Page::see_other(location).with_cookies_of(reply),
            None => Page::internal_error(),
        },
        Err(error) => {
            let (status, alert) = failure(&error);
            account_page(app, Some(session), status, alert).await
        }
    }
}

/// `POST /account/oauth/{provider}/unlink` (a fresh session only; never the last method).
pub async fn oauth_unlink(
    app: &App,
    session: Option<&Session>,
    provider: &str,
    request: &RequestInfo<'_>,
) -> Page {
    let Some(session) = session else {
        return sign_in_first();
    };
    let done = ops::oauth::oauth_unlink(app, session, provider, request).await;
    after_account_action(app, session, done, "unlinked").await
}

/// `GET /auth/oauth/{provider}/callback` for a browser: where the provider sends it back.
/// Signed in or linked, on to `return_to` (with the session cookie); a second factor due,
/// its form (the JSON answer would be a dead end in a browser); a failure, a page saying
/// what went wrong.
pub async fn oauth_callback(
    app: &App,
    provider: &str,
    callback: &tollbooth_auth::OAuthCallback,
    request: &RequestInfo<'_>,
) -> Page {
    match ops::oauth::oauth_callback(app, provider, callback, request).await {
        Ok(mut reply) => {
            let page = match (reply.body.take(), reply.location.clone()) {
                (Some(required), _) => {
                    mfa_challenge(app, StatusCode::OK, Alert::default(), required.challenge)
                }
                (None, Some(location)) => Page::see_other(location),
                (None, None) => Page::internal_error(),
            };
            page.with_cookies_of(reply)
        }
        Err(error) => {
            let (status, alert) = failure(&error);
            message(
                app,
                None,
                status,
                "That sign-in did not work",
                alert.error.unwrap_or_default(),
                Some(("/sign-in", "Back to sign-in")),
            )
        }
    }
}

#[derive(Template)]
#[template(path = "mfa_enroll.html")]
struct MfaEnrollPage {
    title: &'static str,
    nav: Nav,
    alert: Alert,
    enrollment: MfaEnrollReply,
}

/// `POST /account/mfa/enroll`: the QR code and the secret, and the form for a first code.
pub async fn mfa_enroll(app: &App, session: Option<&Session>) -> Page {
    let Some(session) = session else {
        return sign_in_first();
    };
    match ops::mfa::mfa_enroll(app, session).await {
        Ok(Reply {
            body: Some(enrollment),
            ..
        }) => Page::html(
            StatusCode::OK,
            &MfaEnrollPage {
                title: "Set up two-factor authentication",
                nav: Nav::new(app, Some(session)),
                alert: Alert::default(),
                enrollment,
            },
        ),
        Ok(_) => Page::internal_error(),
        Err(error) => {
            let (status, alert) = failure(&error);
            account_page(app, Some(session), status, alert).await
        }
    }
}

#[derive(Template)]
#[template(path = "backup_codes.html")]
struct BackupCodesPage {
    title: &'static str,
    nav: Nav,
    alert: Alert,
    codes: Vec<String>,
}

/// The backup codes an operation answered, shown once; its failure, the account page again.
async fn backup_codes(
    app: &App,
    session: &Session,
    notice: &'static str,
    answer: ops::Answer<BackupCodesReply>,
) -> Page {
    match answer {
        Ok(Reply {
            body: Some(codes), ..
        }) => Page::html(
            StatusCode::OK,
            &BackupCodesPage {
                title: "Your backup codes",
                nav: Nav::new(app, Some(session)),
                alert: Alert::notice(Some(notice)),
                codes: codes.backup_codes,
            },
        ),
        Ok(_) => Page::internal_error(),
        Err(error) => {
            let (status, alert) = failure(&error);
            account_page(app, Some(session), status, alert).await
        }
    }
}

/// `POST /account/mfa/confirm`: two-factor authentication on; the backup codes, once.
pub async fn mfa_confirm(
    app: &App,
    session: Option<&Session>,
    request: &RequestInfo<'_>,
    form: CodeBody,
) -> Page {
    let Some(session) = session else {
        return sign_in_first();
    };
    let answer = ops::mfa::mfa_confirm(app, session, request, form).await;
    let notice = "Two-factor authentication is on. Your other sessions were signed out.";
    backup_codes(app, session, notice, answer).await
}

/// `POST /account/mfa/backup-codes`.
pub async fn mfa_backup_codes(
    app: &App,
    session: Option<&Session>,
    request: &RequestInfo<'_>,
    form: CodeBody,
) -> Page {
    let Some(session) = session else {
        return sign_in_first();
    };
    let answer = ops::mfa::mfa_backup_codes(app, session, request, form).await;
    backup_codes(
        app,
        session,
        "New backup codes; the old ones no longer work.",
        answer,
    )
    .await
}

/// `POST /account/mfa/disable`.
pub async fn mfa_disable(
    app: &App,
    session: Option<&Session>,
    request: &RequestInfo<'_>,
    form: CodeBody,
) -> Page {
    let Some(session) = session else {
        return sign_in_first();
    };
    let done = ops::mfa::mfa_disable(app, session, request, form).await;
    after_account_action(app, session, done, "mfa-off").await
}

#[derive(Template)]
#[template(path = "pricing.html")]
struct PricingPage {
    title: &'static str,
    nav: Nav,
    alert: Alert,
    plans: Vec<PlanBody>,
    current: Option<String>,
    signed_in: bool,
    offer: Option<Offer>,
}

/// The one-off purchase as the pricing page shows it.
struct Offer {
    name: String,
    price: String,
    /// A fresh token per page view: the form's idempotency key.
    attempt: String,
}

/// `GET /pricing`.
pub async fn pricing(app: &App, session: Option<&Session>) -> Page {
    pricing_page(app, session, StatusCode::OK, Alert::default()).await
}

async fn pricing_page(
    app: &App,
    session: Option<&Session>,
    status: StatusCode,
    alert: Alert,
) -> Page {
    let plans = match ops::billing::plans(app) {
        Ok(Reply {
            body: Some(plans), ..
        }) => plans.plans,
        Ok(_) => return Page::internal_error(),
        Err(error) => return error_page(app, session, &error),
    };
    let current = match (session, &app.billing) {
        (Some(session), Some(billing)) => billing
            .current_plan(session.user.id)
            .await
            .ok()
            .map(|plan| plan.id().to_owned()),
        _ => None,
    };
    Page::html(
        status,
        &PricingPage {
            title: "Pricing",
            nav: Nav::new(app, session),
            alert,
            plans,
            current,
            signed_in: session.is_some(),
            offer: app.one_off().map(|offer| Offer {
                name: offer.name().to_owned(),
                price: super::price(offer.amount(), offer.currency()),
                attempt: uuid::Uuid::now_v7().simple().to_string(),
            }),
        },
    )
}

/// `POST /pricing/checkout`: to Stripe Checkout, which comes back to the billing page.
pub async fn checkout(app: &App, session: Option<&Session>, form: PlanForm) -> Page {
    let Some(session) = session else {
        return sign_in_first();
    };
    let body = CheckoutBody {
        plan: form.plan,
        success_url: Some("/account/billing?checkout=done".to_owned()),
        cancel_url: Some("/pricing".to_owned()),
    };
    match ops::billing::checkout(app, Customer::User(session.user.id), body).await {
        Ok(Reply {
            body: Some(checkout),
            ..
        }) => Page::see_other(checkout.url),
        Ok(_) => Page::internal_error(),
        Err(error) => {
            let (status, alert) = failure(&error);
            pricing_page(app, Some(session), status, alert).await
        }
    }
}

/// `POST /pricing/pay`: to Stripe Checkout for the one-off purchase, which comes back to
/// the billing page with the payment.
pub async fn pay(app: &App, session: Option<&Session>, form: PayForm) -> Page {
    let Some(session) = session else {
        return sign_in_first();
    };
    let Some(offer) = app.one_off() else {
        return not_found(app, Some(session));
    };
    let body = PaymentCheckoutBody {
        name: offer.name().to_owned(),
        amount: offer.amount(),
        currency: offer.currency().to_owned(),
        calcom_event_type_id: offer
            .metadata()
            .get(EVENT_TYPE_METADATA_KEY)
            .and_then(|id| id.parse().ok()),
        success_url: Some("/account/billing?payment={CHECKOUT_SESSION_ID}".to_owned()),
        cancel_url: Some("/pricing".to_owned()),
        idempotency_key: Some(form.attempt),
    };
    match ops::billing::payment_checkout(app, session, body).await {
        Ok(Reply {
            body: Some(checkout),
            ..
        }) => Page::see_other(checkout.url),
        Ok(_) => Page::internal_error(),
        Err(error) => {
            let (status, alert) = failure(&error);
            pricing_page(app, Some(session), status, alert).await
        }
    }
}

#[derive(Template)]
#[template(path = "billing.html")]
struct BillingPage {
    title: &'static str,
    nav: Nav,
    alert: Alert,
    subscription: SubscriptionReply,
    payments: Vec<PaymentRow>,
}

/// A payment as the billing page lists it.
struct PaymentRow {
    id: String,
    date: String,
    price: String,
    status: String,
    /// A paid Cal.com session not refunded: it can be booked.
    bookable: bool,
}

impl From<PaymentReply> for PaymentRow {
    fn from(p: PaymentReply) -> Self {
        Self {
            bookable: p.calcom_event_type_id.is_some()
                && p.status == "succeeded"
                && p.amount_refunded < p.amount,
            date: p.created_at.format("%Y-%m-%d").to_string(),
            price: super::price(p.amount, &p.currency),
            status: p.status,
            id: p.id,
        }
    }
}

/// `GET /account/billing`: the plan and subscription; after Checkout, synced from Stripe
/// first (the webhook may not have arrived yet).
pub async fn billing(
    app: &App,
    session: Option<&Session>,
    checkout: CheckoutQuery,
    notice: NoticeQuery,
) -> Page {
    let Some(session) = session else {
        return sign_in_first();
    };
    if let Some(payment) = checkout.payment {
        let query = CheckoutSessionQuery {
            session_id: Some(payment),
        };
        let alert = match ops::billing::payment_checkout_success(app, session, query).await {
            Ok(Reply {
                body: Some(payment),
                ..
            }) if payment.status == "succeeded" => Alert::notice(Some("Thanks! Payment received.")),
            Ok(_) => Alert::notice(Some(
                "Thanks! Your payment is processing; it shows here once it clears.",
            )),
            Err(error) => failure(&error).1,
        };
        let answer = ops::billing::subscription(app, Customer::User(session.user.id)).await;
        return billing_page(app, session, answer, alert).await;
    }
    let (answer, notice) = if checkout.checkout.as_deref() == Some("done") {
        (
            ops::billing::checkout_success(app, Customer::User(session.user.id)).await,
            Some("Thanks! Your subscription is active."),
        )
    } else {
        (
            ops::billing::subscription(app, Customer::User(session.user.id)).await,
            notice.message(),
        )
    };
    billing_page(app, session, answer, Alert::notice(notice)).await
}

async fn billing_page(
    app: &App,
    session: &Session,
    answer: ops::Answer<SubscriptionReply>,
    alert: Alert,
) -> Page {
    let payments = ops::billing::list_payments(app, session).await;
    match (answer, payments) {
        (
            Ok(Reply {
                body: Some(subscription),
                ..
            }),
            Ok(Reply {
                body: Some(payments),
                ..
            }),
        ) => Page::html(
            StatusCode::OK,
            &BillingPage {
                title: "Billing",
                nav: Nav::new(app, Some(session)),
                alert,
                subscription,
                payments: payments
                    .payments
                    .into_iter()
                    .map(PaymentRow::from)
                    .collect(),
            },
        ),
        (Err(error), _) | (_, Err(error)) => error_page(app, Some(session), &error),
        _ => Page::internal_error(),
    }
}

/// A billing action's failure: the billing page again, saying what went wrong.
async fn billing_failure(app: &App, session: &Session, error: &ApiError) -> Page {
    let (_, alert) = failure(error);
    let answer = ops::billing::subscription(app, Customer::User(session.user.id)).await;
    billing_page(app, session, answer, alert).await
}

/// `POST /account/billing/cancel`: at the period end.
pub async fn cancel_subscription(app: &App, session: Option<&Session>) -> Page {
    let Some(session) = session else {
        return sign_in_first();
    };
    match ops::billing::cancel_subscription(app, Customer::User(session.user.id), None).await {
        Ok(_) => Page::see_other("/account/billing?notice=cancelled"),
        Err(error) => billing_failure(app, session, &error).await,
    }
}

/// `POST /account/billing/resume`.
pub async fn resume_subscription(app: &App, session: Option<&Session>) -> Page {
    let Some(session) = session else {
        return sign_in_first();
    };
    match ops::billing::resume_subscription(app, Customer::User(session.user.id)).await {
        Ok(_) => Page::see_other("/account/billing?notice=resumed"),
        Err(error) => billing_failure(app, session, &error).await,
    }
}

/// `POST /account/billing/portal`: to Stripe's billing portal.
pub async fn portal(app: &App, session: Option<&Session>) -> Page {
    let Some(session) = session else {
        return sign_in_first();
    };
    match ops::billing::portal(app, Customer::User(session.user.id)).await {
        Ok(Reply {
            body: Some(portal), ..
        }) => Page::see_other(portal.url),
        Ok(_) => Page::internal_error(),
        Err(error) => billing_failure(app, session, &error).await,
    }
}

/// `POST /account/payments/{id}/book`: to the Cal.com page the paid session books on.
pub async fn book_payment(app: &App, session: Option<&Session>, id: &str) -> Page {
    let Some(session) = session else {
        return sign_in_first();
    };
    match ops::billing::payment_booking_link(app, session, id).await {
        Ok(Reply {
            body: Some(link), ..
        }) => Page::see_other(link.url),
        Ok(_) => Page::internal_error(),
        Err(error) => billing_failure(app, session, &error).await,
    }
}

/// A friendly page for an error: its status, and what to do next.
pub fn error_page(app: &App, session: Option<&Session>, error: &ApiError) -> Page {
    let status = error.status();
    let (heading, link) = match status.as_u16() {
        401 => ("Please sign in", Some(("/sign-in", "Sign in"))),
        403 => ("You can't do that", Some(("/", "Home"))),
        404 => ("Not found", Some(("/", "Home"))),
        429 => ("Too many attempts", Some(("/", "Home"))),
        _ => ("Something went wrong", Some(("/", "Home"))),
    };
    let (_, alert) = failure(error);
    message(
        app,
        session,
        status,
        heading,
        alert.error.unwrap_or_default(),
        link,
    )
}

/// The router's 404 for a browser.
pub fn not_found(app: &App, session: Option<&Session>) -> Page {
    error_page(app, session, &ApiError::NotFound("page"))
}
