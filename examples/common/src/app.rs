//! The handlers behind [`ENDPOINTS`](crate::ENDPOINTS), written once for both servers.

use std::collections::HashMap;
use std::net::IpAddr;
use std::str::FromStr;

use serde::de::DeserializeOwned;
use serde_json::Value;
use tollbooth_auth::{
    Auth, AuthError, HeaderView, MfaChallenge, OAuthCallback, OAuthResult, Provider, RequestInfo,
    Role, Session, SignInOutcome, SignedIn,
};
use tollbooth_billing::{Billing, BillingError, EVENT_TYPE_METADATA_KEY, SubscriptionStatus};
use tollbooth_db::{User, UserRepo};
use tollbooth_email::PublicBaseUrl;
use uuid::Uuid;

use crate::api::{ApiError, Reply};
use crate::routes::{Access, Route};
use crate::wire::*;

type Result<T = Reply> = std::result::Result<T, ApiError>;

/// Everything a handler may read from the request.
pub struct Ctx<'a> {
    /// Headers.
    pub headers: &'a dyn HeaderView,
    /// Client IP (the socket peer).
    pub ip: Option<IpAddr>,
    /// The session the auth middleware found.
    pub session: Option<Session>,
    /// Raw query string, without `?`.
    pub query: &'a str,
    /// The path parameter (`{id}`, `{provider}`), if the route has one.
    pub param: Option<&'a str>,
    /// Raw body.
    pub body: &'a [u8],
}

impl std::fmt::Debug for Ctx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("ip", &self.ip)
            .field("param", &self.param)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

impl Ctx<'_> {
    fn request(&self) -> RequestInfo<'_> {
        match self.ip {
            Some(ip) => RequestInfo::new(self.headers, ip),
            None => RequestInfo::without_ip(self.headers),
        }
    }

    fn query_value(&self, name: &str) -> Option<String> {
        url_decode_pairs(self.query).remove(name)
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.header_values(name).first().copied()
    }

    /// The JSON body as `T`: `415` unless `application/json`, `400` if malformed.
    fn json<T: DeserializeOwned>(&self) -> Result<T> {
        let content_type = self.header("content-type").unwrap_or_default();
        if !content_type
            .trim_start()
            .to_ascii_lowercase()
            .starts_with("application/json")
        {
            return Err(ApiError::UnsupportedMediaType);
        }
        // Through a `Value`: serde reads a struct from a JSON array too (by position), and a
        // body must be an object.
        let value: Value =
            serde_json::from_slice(self.body).map_err(|e| ApiError::InvalidBody(e.to_string()))?;
        if !value.is_object() {
            return Err(ApiError::InvalidBody("expected a JSON object".to_owned()));
        }
        serde_json::from_value(value).map_err(|e| ApiError::InvalidBody(e.to_string()))
    }

    fn session(&self) -> Result<&Session> {
        self.session
            .as_ref()
            .ok_or(ApiError::Auth(AuthError::Unauthorized))
    }

    fn param(&self) -> Result<&str> {
        self.param.ok_or(ApiError::NotFound("route parameter"))
    }
}

/// A query string's parameters (`+` and percent-escapes decoded); the first of a repeated
/// name wins.
fn url_decode_pairs(query: &str) -> HashMap<String, String> {
    let mut map = HashMap::new();
    for (key, value) in tollbooth_auth::url::form_urlencoded::parse(query.as_bytes()) {
        map.entry(key.into_owned())
            .or_insert_with(|| value.into_owned());
    }
    map
}

/// Where Stripe sends the browser back: a client-chosen path (`/welcome`) or absolute URL
/// on the public origin, else `default` under the public base URL. Another origin is
/// refused (422), or the server would be an open redirect by way of Stripe.
fn on_site(
    public: &PublicBaseUrl,
    field: &'static str,
    chosen: Option<&str>,
    default: &str,
) -> Result<String> {
    let base = public.as_url();
    match base.join(chosen.unwrap_or(default)) {
        Ok(url) if url.origin() == base.origin() => Ok(url.into()),
        _ => Err(ApiError::Billing(BillingError::InvalidInput {
            field,
            reason: format!("must be a path or URL on {}", public.origin()),
        })),
    }
}

/// The application: auth, optional billing, and the addresses made admins once verified.
#[derive(Clone, Debug)]
pub struct App {
    /// Authentication.
    pub auth: Auth,
    /// Billing (`None` without `STRIPE_SECRET_KEY`).
    pub billing: Option<Billing>,
    admins: Vec<String>,
}

impl App {
    /// The application.
    pub fn new(auth: Auth, billing: Option<Billing>, admins: Vec<String>) -> Self {
        Self {
            auth,
            billing,
            admins,
        }
    }

    /// Waits for e-mails still being sent (graceful shutdown).
    pub async fn shutdown(&self) {
        self.auth.flush_background_tasks().await;
        if let Some(billing) = &self.billing {
            billing.flush_background_tasks().await;
        }
    }

    /// Runs `route` for the request described by `ctx`, after its access checks (CSRF for
    /// non-webhook routes, then session and role).
    pub async fn dispatch(
        &self,
        route: Route,
        access: Access,
        method: &str,
        ctx: Ctx<'_>,
    ) -> Result {
        if access != Access::Webhook {
            self.auth.check_origin(method, ctx.headers)?;
        }
        match (access, &ctx.session) {
            (Access::User | Access::Admin, None) => return Err(AuthError::Unauthorized.into()),
            (Access::Admin, Some(s)) => s.require_role(&Role::ADMIN)?,
            _ => {}
        }
        match route {
            Route::Health => self.health().await,
            Route::OpenApi => Ok(Reply::ok(crate::openapi::document())),
            Route::SignUp => self.sign_up(&ctx).await,
            Route::SignIn => self.sign_in(&ctx).await,
            Route::MfaVerify => {
                let body: MfaVerifyBody = ctx.json()?;
                let signed_in = self
                    .auth
                    .mfa_verify(&body.challenge, &body.code, &ctx.request())
                    .await?;
                self.signed_in(signed_in).await
            }
            Route::Reauthenticate => {
                let body: ReauthenticateBody = ctx.json()?;
                self.auth
                    .reauthenticate(
                        ctx.session()?,
                        body.password.as_deref(),
                        body.code.as_deref(),
                    )
                    .await?;
                Ok(Reply::no_content())
            }
            Route::SecurityReportLink => Ok(Reply::ok(SecurityReportLinkReply {
                confirm: "POST {\"token\"} to this path to sign out everywhere and recover the account",
            })),
            Route::SecurityReport => {
                let body: TokenBody = ctx.json()?;
                let reset_token = self.auth.report_unauthorized_change(&body.token).await?;
                Ok(Reply::ok(SecurityReportReply {
                    signed_out_everywhere: true,
                    reset_token,
                }))
            }
            Route::SignOut => {
                Ok(Reply::no_content().cookie(self.auth.sign_out(ctx.headers).await?))
            }
            Route::SignOutEverywhere => Ok(
                Reply::no_content().cookie(self.auth.sign_out_everywhere(ctx.session()?).await?)
            ),
            Route::CurrentSession => Ok(Reply::ok(SessionReply::from(ctx.session()?))),
            Route::ListSessions => {
                let sessions = self.auth.list_sessions(ctx.session()?).await?;
                Ok(Reply::ok(SessionsReply {
                    sessions: sessions.into_iter().map(SessionInfoBody::from).collect(),
                }))
            }
            Route::RevokeSession => {
                let id =
                    Uuid::parse_str(ctx.param()?).map_err(|_| ApiError::NotFound("session"))?;
                match self.auth.revoke_session(ctx.session()?, id).await? {
                    true => Ok(Reply::no_content()),
                    false => Err(ApiError::NotFound("session")),
                }
            }
            Route::VerifyEmailLink => {
                let token = ctx.query_value("token").unwrap_or_default();
                self.verify_email(&token).await
            }
            Route::VerifyEmail => {
                let body: TokenBody = ctx.json()?;
                self.verify_email(&body.token).await
            }
            Route::ResendVerification => {
                let body: EmailBody = ctx.json()?;
                self.auth
                    .resend_verification(&body.email, &ctx.request())
                    .await?;
                Ok(accepted())
            }
            Route::ForgotPassword => {
                let body: EmailBody = ctx.json()?;
                self.auth
                    .request_password_reset(&body.email, &ctx.request())
                    .await?;
                Ok(accepted())
            }
            Route::ResetPassword => {
                let body: ResetBody = ctx.json()?;
                self.auth
                    .reset_password(&body.token, &body.password)
                    .await?;
                Ok(Reply::no_content())
            }
            Route::ChangePassword => {
                let body: ChangePasswordBody = ctx.json()?;
                self.auth
                    .change_password(
                        ctx.session()?,
                        &body.current_password,
                        &body.new_password,
                        &ctx.request(),
                    )
                    .await?;
                Ok(Reply::no_content())
            }
            Route::OAuthStart => {
                let provider = Provider::from_str(ctx.param()?)?;
                let return_to = ctx.query_value("return_to");
                let start = self
                    .auth
                    .oauth_authorize(provider, return_to.as_deref())
                    .await?;
                Ok(Reply::redirect(302, start.redirect_url.as_str()).cookie(start.state_cookie))
            }
            Route::OAuthCallback => self.oauth_callback(&ctx).await,
            Route::OAuthLink => {
                let provider = Provider::from_str(ctx.param()?)?;
                let return_to = ctx.query_value("return_to");
                let start = self
                    .auth
                    .oauth_link(ctx.session()?, provider, return_to.as_deref())
                    .await?;
                Ok(Reply::redirect(302, start.redirect_url.as_str()).cookie(start.state_cookie))
            }
            Route::OAuthUnlink => {
                let provider = Provider::from_str(ctx.param()?)?;
                self.auth
                    .oauth_unlink(ctx.session()?, provider, &ctx.request())
                    .await?;
                Ok(Reply::no_content())
            }
            Route::MfaStatus => {
                let status = self.auth.mfa_status(ctx.session()?).await?;
                Ok(Reply::ok(MfaStatusReply::from(status)))
            }
            Route::MfaEnroll => {
                let enrollment = self.auth.mfa_enroll(ctx.session()?).await?;
                Ok(Reply::ok(MfaEnrollReply::from(enrollment)))
            }
            Route::MfaConfirm => {
                let body: CodeBody = ctx.json()?;
                let codes = self
                    .auth
                    .mfa_confirm(ctx.session()?, &body.code, &ctx.request())
                    .await?;
                Ok(Reply::ok(BackupCodesReply {
                    backup_codes: codes.0,
                }))
            }
            Route::MfaDisable => {
                let body: CodeBody = ctx.json()?;
                self.auth
                    .mfa_disable(ctx.session()?, &body.code, &ctx.request())
                    .await?;
                Ok(Reply::no_content())
            }
            Route::MfaBackupCodes => {
                let body: CodeBody = ctx.json()?;
                let codes = self
                    .auth
                    .mfa_regenerate_backup_codes(ctx.session()?, &body.code, &ctx.request())
                    .await?;
                Ok(Reply::ok(BackupCodesReply {
                    backup_codes: codes.0,
                }))
            }
            Route::Me => Ok(Reply::ok(UserReply {
                user: UserBody::from(&ctx.session()?.user),
            })),
            Route::AdminStats => Ok(Reply::ok(AdminStatsReply {
                admin: ctx.session()?.user.email.clone(),
                status: "ok",
            })),
            Route::StripeWebhook => {
                let receipt = self
                    .billing()?
                    .handle_stripe_webhook(
                        ctx.body,
                        ctx.header("stripe-signature"),
                        tollbooth_db::now(),
                    )
                    .await?;
                Ok(Reply::ok(StripeWebhookReply {
                    outcome: outcome_name(&receipt.outcome),
                    event_id: receipt.event_id,
                }))
            }
            Route::CalcomWebhook => {
                let receipt = self
                    .billing()?
                    .handle_calcom_webhook(ctx.body, ctx.header("x-cal-signature-256"))
                    .await?;
                if let Some(intent) = &receipt.reused_payment {
                    // A real app would cancel the booking in Cal.com or ask for payment.
                    tracing::warn!(payment_intent = %intent, "booking made with an already used paid-session link");
                }
                Ok(Reply::ok(CalcomWebhookReply {
                    outcome: outcome_name(&receipt.outcome),
                    event_id: receipt.event_id,
                    reused_payment: receipt.reused_payment,
                }))
            }
            Route::Plans => {
                let config = self.billing()?.config();
                let plans = std::iter::once(config.free_plan())
                    .chain(config.plans())
                    .map(PlanBody::from)
                    .collect();
                Ok(Reply::ok(PlansReply { plans }))
            }
            billing_route => self.billing_route(billing_route, &ctx).await,
        }
    }

    fn billing(&self) -> Result<&Billing> {
        self.billing
            .as_ref()
            .ok_or(ApiError::NotConfigured("billing"))
    }

    async fn health(&self) -> Result {
        self.auth
            .db()
            .ping()
            .await
            .map_err(|e| ApiError::Auth(e.into()))?;
        Ok(Reply::ok(StatusReply { status: "ok" }))
    }

    async fn sign_up(&self, ctx: &Ctx<'_>) -> Result {
        let body: SignUpBody = ctx.json()?;
        let user = self
            .auth
            .sign_up(
                &body.email,
                &body.password,
                body.name.as_deref(),
                &ctx.request(),
            )
            .await?;
        Ok(Reply::json(
            201,
            UserReply {
                user: UserBody::from(&user),
            },
        ))
    }

    /// `ADMIN_EMAILS` names addresses, and an address is only someone's once they proved it:
    /// the role is granted at verification (or the first verified sign-in), never at sign-up,
    /// or whoever registered an admin's address first would be admin.
    async fn grant_listed_admin(&self, user: User) -> Result<User> {
        if user.email_verified_at.is_none()
            || user.role == "admin"
            || !self.admins.contains(&user.email)
        {
            return Ok(user);
        }
        let promoted = self
            .auth
            .db()
            .set_user_role(user.id, "admin")
            .await
            .map_err(|e| ApiError::Auth(e.into()))?;
        tracing::info!(user_id = %user.id, "ADMIN_EMAILS: verified address made admin");
        Ok(promoted.unwrap_or(user))
    }

    async fn verify_email(&self, token: &str) -> Result {
        let user = self.auth.verify_email(token).await?;
        let user = self.grant_listed_admin(user).await?;
        Ok(Reply::ok(VerifiedReply {
            verified: true,
            user: UserBody::from(&user),
        }))
    }

    /// A sign-in's reply, the user promoted first if `ADMIN_EMAILS` lists them.
    async fn signed_in(&self, mut signed_in: SignedIn) -> Result {
        signed_in.session.user = self.grant_listed_admin(signed_in.session.user).await?;
        Ok(signed_in_reply(signed_in))
    }

    async fn sign_in(&self, ctx: &Ctx<'_>) -> Result {
        let body: CredentialsBody = ctx.json()?;
        match self
            .auth
            .sign_in(&body.email, &body.password, &ctx.request())
            .await?
        {
            SignInOutcome::SignedIn(signed_in) => self.signed_in(*signed_in).await,
            SignInOutcome::MfaRequired(challenge) => Ok(mfa_required(challenge)),
        }
    }

    async fn oauth_callback(&self, ctx: &Ctx<'_>) -> Result {
        let provider = Provider::from_str(ctx.param()?)?;
        let done = self
            .auth
            .oauth_callback(
                provider,
                &OAuthCallback::from_query(ctx.query),
                &ctx.request(),
            )
            .await?;
        let reply = match done.result {
            OAuthResult::SignedIn {
                outcome: SignInOutcome::SignedIn(signed_in),
                ..
            } => {
                self.grant_listed_admin(signed_in.session.user.clone())
                    .await?;
                Reply::redirect(303, &done.return_to).cookie(signed_in.cookie)
            }
            OAuthResult::SignedIn {
                outcome: SignInOutcome::MfaRequired(challenge),
                ..
            } => mfa_required(challenge),
            _ => Reply::redirect(303, &done.return_to),
        };
        Ok(reply.cookie(done.clear_state_cookie))
    }

    async fn billing_route(&self, route: Route, ctx: &Ctx<'_>) -> Result {
        let billing = self.billing()?;
        let user = &ctx.session()?.user;
        let public = self.auth.config().public_base_url();
        match route {
            Route::Checkout => {
                let body: CheckoutBody = ctx.json()?;

                let success = on_site(
                    public,
                    "success_url",
                    body.success_url.as_deref(),
                    "billing/checkout/success?session_id={CHECKOUT_SESSION_ID}",
                )?;
                let cancel = on_site(public, "cancel_url", body.cancel_url.as_deref(), "pricing")?;
                let url = billing
                    .create_checkout_session(user.id, &body.plan, &success, &cancel, None)
                    .await?;
                Ok(Reply::ok(UrlReply { url: url.into() }))
            }
            Route::CheckoutSuccess => {
                Ok(
                    subscription_reply(billing, user.id, billing.sync_subscription(user.id).await?)
                        .await?,
                )
            }
            Route::Portal => {
                let url = billing
                    .create_billing_portal_session(user.id, &format!("{}billing", public.as_str()))
                    .await?;
                Ok(Reply::ok(UrlReply { url: url.into() }))
            }
            Route::Subscription => {
                Ok(
                    subscription_reply(billing, user.id, billing.get_subscription(user.id).await?)
                        .await?,
                )
            }
            Route::CancelSubscription => {
                let body: CancelBody = if ctx.body.is_empty() {
                    CancelBody {
                        at_period_end: true,
                    }
                } else {
                    ctx.json()?
                };
                let s = billing
                    .cancel_subscription(user.id, body.at_period_end)
                    .await?;
                Ok(subscription_reply(billing, user.id, Some(s)).await?)
            }
            Route::ResumeSubscription => {
                let s = billing.resume_subscription(user.id).await?;
                Ok(subscription_reply(billing, user.id, Some(s)).await?)
            }
            Route::CreatePayment => {
                let body: PaymentBody = ctx.json()?;
                let mut metadata = HashMap::from([("user_id".to_owned(), user.id.to_string())]);
                if let Some(event_type) = body.calcom_event_type_id {
                    metadata.insert(EVENT_TYPE_METADATA_KEY.to_owned(), event_type.to_string());
                }
                let created = billing
                    .create_payment_intent(body.amount, &body.currency, metadata)
                    .await?;
                Ok(Reply::json(
                    201,
                    CreatedPaymentReply {
                        id: created.id,
                        client_secret: created.client_secret,
                    },
                ))
            }
            Route::ConfirmPayment => {
                let id = ctx.param()?;
                self.own_payment(billing, user, id).await?;
                let payment = billing.confirm_payment(id).await?;
                Ok(Reply::ok(PaymentReply {
                    id: payment.stripe_payment_intent_id,
                    status: payment.status,
                }))
            }
            Route::PaymentBookingLink => {
                let id = ctx.param()?;
                self.own_payment(billing, user, id).await?;
                let url = billing.booking_link_for_payment(id).await?;
                Ok(Reply::ok(UrlReply { url: url.into() }))
            }
            _ => Err(ApiError::NotFound("route")),
        }
    }

    /// A user may act only on their own payments (404, not 403: no existence oracle).
    async fn own_payment(&self, billing: &Billing, user: &User, id: &str) -> Result<()> {
        match billing.get_payment(id).await? {
            Some(p) if p.user_id == Some(user.id) => Ok(()),
            _ => Err(BillingError::NotFound { what: "payment" }.into()),
        }
    }
}

fn accepted() -> Reply {
    Reply::json(202, StatusReply { status: "accepted" })
}

fn signed_in_reply(signed_in: SignedIn) -> Reply {
    Reply::ok(SessionReply::from(&signed_in.session)).cookie(signed_in.cookie)
}

fn mfa_required(challenge: MfaChallenge) -> Reply {
    Reply::ok(MfaRequiredReply {
        mfa_required: true,
        challenge: challenge.token,
        expires_at: challenge.expires_at,
    })
}

async fn subscription_reply(
    billing: &Billing,
    user_id: Uuid,
    subscription: Option<tollbooth_db::Subscription>,
) -> Result {
    let plan = billing.current_plan(user_id).await?;
    // Every subscription not ended, so a second live one (a duplicate) is never hidden.
    let live = billing
        .list_subscriptions(user_id)
        .await?
        .iter()
        .filter(|s| SubscriptionStatus::parse(&s.status).blocks_checkout())
        .map(SubscriptionBody::from)
        .collect();
    Ok(Reply::ok(SubscriptionReply {
        plan: plan.id().to_owned(),
        subscription: subscription.as_ref().map(SubscriptionBody::from),
        subscriptions: live,
    }))
}
