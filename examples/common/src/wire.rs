//! The JSON bodies of the HTTP contract (`docs/http-api.md`), as types: what a handler
//! answers is one of these, so the contract is written once, in Rust, and the OpenAPI
//! document is generated from the same types.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tollbooth_auth::{
    InvitationPreview, Member, MfaEnrollment, MfaStatus, OrgInvitation, OrgMember, Session,
    SessionInfo,
};
use tollbooth_billing::{EVENT_TYPE_METADATA_KEY, Interval, Plan, WebhookOutcome};
use tollbooth_db::{Payment, SecurityEvent, Subscription, User};
use utoipa::ToSchema;
use uuid::Uuid;

/// A user, as every answer that names one shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserBody {
    /// User id.
    pub id: Uuid,
    /// E-mail address (normalized).
    pub email: String,
    /// Display name.
    #[schema(required = true)]
    pub name: Option<String>,
    /// Avatar URL.
    #[schema(required = true)]
    pub image: Option<String>,
    /// `user`, `admin`, or an application role.
    pub role: String,
    /// Whether the address is verified.
    pub email_verified: bool,
    /// On a session an administrator opened to act as the user: the administrator's id.
    /// Absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub impersonated_by: Option<Uuid>,
}

impl From<&User> for UserBody {
    fn from(user: &User) -> Self {
        Self {
            id: user.id,
            email: user.email.clone(),
            name: user.name.clone(),
            image: user.image.clone(),
            role: user.role.clone(),
            email_verified: user.email_verified_at.is_some(),
            impersonated_by: None,
        }
    }
}

impl UserBody {
    /// The user of `session`, marked when an administrator is acting as them.
    pub fn of_session(session: &Session) -> Self {
        Self {
            impersonated_by: session.impersonated_by,
            ..Self::from(&session.user)
        }
    }
}

/// The session a request presents.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionBody {
    /// Session id.
    pub id: Uuid,
    /// Sign-in time.
    pub created_at: DateTime<Utc>,
    /// Hard end of the session.
    pub expires_at: DateTime<Utc>,
    /// The organization the session acts in (`POST /auth/active-organization`), or null.
    #[schema(required = true)]
    pub active_organization_id: Option<Uuid>,
}

impl From<&Session> for SessionBody {
    fn from(session: &Session) -> Self {
        Self {
            id: session.id,
            created_at: session.created_at,
            expires_at: session.expires_at,
            active_organization_id: session.active_organization,
        }
    }
}

/// `{ user }`.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserReply {
    /// The user.
    pub user: UserBody,
}

/// A signed-in session and its user (sign-in, `GET /auth/session`).
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionReply {
    /// The user.
    pub user: UserBody,
    /// The session.
    pub session: SessionBody,
}

impl From<&Session> for SessionReply {
    fn from(session: &Session) -> Self {
        Self {
            user: UserBody::of_session(session),
            session: SessionBody::from(session),
        }
    }
}

/// A sign-in stopped at the second factor.
#[derive(Debug, Serialize, ToSchema)]
pub struct MfaRequiredReply {
    /// Always `true`.
    pub mfa_required: bool,
    /// The challenge token to post to `/auth/mfa/verify` with a code.
    pub challenge: String,
    /// When the challenge expires.
    pub expires_at: DateTime<Utc>,
}

/// One of the user's sessions.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionInfoBody {
    /// Session id.
    pub id: Uuid,
    /// Sign-in time.
    pub created_at: DateTime<Utc>,
    /// Last refresh.
    pub last_seen_at: DateTime<Utc>,
    /// IP at sign-in.
    #[schema(required = true)]
    pub ip: Option<String>,
    /// User agent at sign-in.
    #[schema(required = true)]
    pub user_agent: Option<String>,
    /// Whether it is the session making the request.
    pub current: bool,
}

impl From<SessionInfo> for SessionInfoBody {
    fn from(s: SessionInfo) -> Self {
        Self {
            id: s.id,
            created_at: s.created_at,
            last_seen_at: s.last_seen_at,
            ip: s.ip,
            user_agent: s.user_agent,
            current: s.current,
        }
    }
}

/// `GET /auth/sessions`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionsReply {
    /// Live sessions, newest first.
    pub sessions: Vec<SessionInfoBody>,
}

/// A verified address.
#[derive(Debug, Serialize, ToSchema)]
pub struct VerifiedReply {
    /// Always `true`.
    pub verified: bool,
    /// The user.
    pub user: UserBody,
}

/// `{ status }`: `ok` (health) or `accepted` (an e-mail will be sent if the address has an
/// account).
#[derive(Debug, Serialize, ToSchema)]
pub struct StatusReply {
    /// `ok` or `accepted`.
    #[schema(value_type = String)]
    pub status: &'static str,
}

/// `GET /auth/security-report`: what to do with the link.
#[derive(Debug, Serialize, ToSchema)]
pub struct SecurityReportLinkReply {
    /// A human-readable instruction.
    #[schema(value_type = String)]
    pub confirm: &'static str,
}

/// `POST /auth/security-report`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SecurityReportReply {
    /// Always `true`: every session of the account ended.
    pub signed_out_everywhere: bool,
    /// A recovery reset token for `/auth/reset-password`.
    pub reset_token: String,
}

/// `GET /auth/mfa`.
#[derive(Debug, Serialize, ToSchema)]
pub struct MfaStatusReply {
    /// MFA gates sign-in.
    pub enabled: bool,
    /// Unused backup codes.
    pub backup_codes_left: u64,
}

impl From<MfaStatus> for MfaStatusReply {
    fn from(status: MfaStatus) -> Self {
        Self {
            enabled: status.enabled,
            backup_codes_left: status.backup_codes_left,
        }
    }
}

/// `POST /auth/mfa/enroll`.
#[derive(Debug, Serialize, ToSchema)]
pub struct MfaEnrollReply {
    /// Base32 secret, for manual entry.
    pub secret: String,
    /// `otpauth://` URI.
    pub otpauth_uri: String,
    /// The URI as a QR code, PNG, base64.
    pub qr_png_base64: String,
}

impl From<MfaEnrollment> for MfaEnrollReply {
    fn from(e: MfaEnrollment) -> Self {
        Self {
            secret: e.secret,
            otpauth_uri: e.otpauth_uri,
            qr_png_base64: e.qr_png_base64,
        }
    }
}

/// New backup codes, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct BackupCodesReply {
    /// The codes.
    pub backup_codes: Vec<String>,
}

/// `GET /admin/stats`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminStatsReply {
    /// The admin's address.
    pub admin: String,
    /// `ok`.
    #[schema(value_type = String)]
    pub status: &'static str,
}

/// A user as an administrator sees them.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminUserBody {
    /// The user.
    pub user: UserBody,
    /// When the account was created.
    pub created_at: DateTime<Utc>,
    /// The ban, while one is in force.
    #[schema(required = true)]
    pub ban: Option<BanBody>,
}

impl AdminUserBody {
    /// The user as of `now` (a lapsed ban is no ban).
    pub fn new(user: &User, now: DateTime<Utc>) -> Self {
        Self {
            user: UserBody::from(user),
            created_at: user.created_at,
            ban: user
                .banned_at
                .filter(|_| user.is_banned(now))
                .map(|banned_at| BanBody {
                    banned_at,
                    reason: user.ban_reason.clone(),
                    expires_at: user.ban_expires_at,
                }),
        }
    }
}

/// A ban in force.
#[derive(Debug, Serialize, ToSchema)]
pub struct BanBody {
    /// Since when.
    pub banned_at: DateTime<Utc>,
    /// The administrator's reason.
    #[schema(required = true)]
    pub reason: Option<String>,
    /// When it lapses; `null` until lifted.
    #[schema(required = true)]
    pub expires_at: Option<DateTime<Utc>>,
}

/// `GET /admin/users`: a page of users.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminUsersReply {
    /// The users, in creation order.
    pub users: Vec<AdminUserBody>,
    /// The `after` of the next page; `null` on the last.
    #[schema(required = true)]
    pub next: Option<Uuid>,
}

/// `GET /admin/users?…`: every parameter optional.
#[derive(Debug, Default, Deserialize)]
pub struct AdminUsersQuery {
    /// Addresses starting with this.
    pub email: Option<String>,
    /// Only this role.
    pub role: Option<String>,
    /// Only banned (`true`) or not banned (`false`) users.
    pub banned: Option<bool>,
    /// Created at or after this time (RFC 3339).
    pub created_after: Option<DateTime<Utc>>,
    /// Created before this time (RFC 3339).
    pub created_before: Option<DateTime<Utc>>,
    /// The previous page's `next`.
    pub after: Option<Uuid>,
    /// Page size, 1 to 100 (default 50).
    pub limit: Option<u64>,
}

/// `GET /admin/users/{id}`: one user in full.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminUserReply {
    /// The user.
    pub user: AdminUserBody,
    /// Sign-in methods: `credential`, `github`, …
    pub sign_in_methods: Vec<String>,
    /// Live sessions, newest first.
    pub sessions: Vec<SessionInfoBody>,
    /// Whether two-factor authentication is on.
    pub mfa_enabled: bool,
    /// The plan id, when billing is configured.
    #[schema(required = true)]
    pub plan: Option<String>,
}

/// `POST /admin/users/{id}/ban`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BanRequest {
    /// Why (for administrators; never shown to the user), at most 500 characters.
    pub reason: Option<String>,
    /// When the ban lapses (RFC 3339, in the future); absent: until lifted.
    pub expires_at: Option<DateTime<Utc>>,
}

/// `POST /admin/users/{id}/role`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleRequest {
    /// `user`, `admin`, or an application role (a-z, 0-9, `_`, `-`).
    pub role: String,
}

/// `{ user }` after an administrator's change.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminUserChangedReply {
    /// The user after the change.
    pub user: AdminUserBody,
}

/// `POST /admin/users/{id}/revoke-sessions`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RevokedReply {
    /// How many sessions were live and are now ended.
    pub revoked: u64,
}

/// One event of the security audit trail.
#[derive(Debug, Serialize, ToSchema)]
pub struct SecurityEventBody {
    /// Event id (time-ordered; the `before` of the next page).
    pub id: Uuid,
    /// When.
    pub at: DateTime<Utc>,
    /// What: `signed_in`, `sign_in_failed`, `password_changed`, `password_reset`,
    /// `password_set`, `email_change_requested`, `email_changed`, `data_exported`,
    /// `session_revoked`, `signed_out_everywhere`, `account_deleted`, `impersonation_started`, `impersonation_stopped`, `mfa_enabled`, `mfa_disabled`, `backup_codes_regenerated`, `provider_linked`,
    /// `provider_unlinked`, `banned`, `unbanned`, `role_changed`, `sessions_revoked_by_admin`.
    pub kind: String,
    /// Who did it.
    #[schema(required = true)]
    pub actor_user_id: Option<Uuid>,
    /// Whose account.
    #[schema(required = true)]
    pub subject_user_id: Option<Uuid>,
    /// Client IP.
    #[schema(required = true)]
    pub ip: Option<String>,
    /// Client user agent.
    #[schema(required = true)]
    pub user_agent: Option<String>,
    /// A small detail (a ban's reason and expiry, a role's old and new name).
    #[schema(required = true, value_type = Option<Object>)]
    pub detail: Option<Value>,
}

impl From<SecurityEvent> for SecurityEventBody {
    fn from(event: SecurityEvent) -> Self {
        Self {
            id: event.id,
            at: event.at,
            kind: event.kind,
            actor_user_id: event.actor_user_id,
            subject_user_id: event.subject_user_id,
            ip: event.ip,
            user_agent: event.user_agent,
            detail: event.detail,
        }
    }
}

/// A page of the audit trail, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct SecurityEventsReply {
    /// The events.
    pub events: Vec<SecurityEventBody>,
}

/// `?before=…&limit=…` over the user's own security activity.
#[derive(Debug, Default, Deserialize)]
pub struct ActivityQuery {
    /// The last event id of the previous page.
    pub before: Option<Uuid>,
    /// Page size, 1 to 100 (default 50).
    pub limit: Option<u64>,
}

/// `?user=…&kind=…&before=…&limit=…` over the audit trail; every parameter optional.
#[derive(Debug, Default, Deserialize)]
pub struct SecurityEventsQuery {
    /// Only events about this user's account (administrators only).
    pub user: Option<Uuid>,
    /// Only this kind.
    pub kind: Option<String>,
    /// The last event id of the previous page.
    pub before: Option<Uuid>,
    /// Page size, 1 to 100 (default 50).
    pub limit: Option<u64>,
}

/// A Stripe delivery's outcome.
#[derive(Debug, Serialize, ToSchema)]
pub struct StripeWebhookReply {
    /// Stripe's event id.
    pub event_id: String,
    /// `applied`, `duplicate`, `stale` or `ignored`.
    #[schema(value_type = String)]
    pub outcome: &'static str,
}

/// A Cal.com delivery's outcome.
#[derive(Debug, Serialize, ToSchema)]
pub struct CalcomWebhookReply {
    /// The event id Tollbooth derived for the delivery.
    pub event_id: String,
    /// `applied`, `duplicate`, `stale` or `ignored`.
    #[schema(value_type = String)]
    pub outcome: &'static str,
    /// A paid-session link used a second time: the PaymentIntent id.
    #[schema(required = true)]
    pub reused_payment: Option<String>,
}

/// The wire name of a webhook outcome.
pub fn outcome_name(outcome: &WebhookOutcome) -> &'static str {
    match outcome {
        WebhookOutcome::Applied => "applied",
        WebhookOutcome::Duplicate => "duplicate",
        WebhookOutcome::Stale => "stale",
        _ => "ignored",
    }
}

/// A plan's prices (Stripe price ids).
#[derive(Debug, Serialize, ToSchema)]
pub struct PricesBody {
    /// Monthly price.
    #[schema(required = true)]
    pub monthly: Option<String>,
    /// Yearly price.
    #[schema(required = true)]
    pub yearly: Option<String>,
}

/// A plan of the catalog.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanBody {
    /// Plan id (`free`, `pro`, …).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Its prices.
    pub prices: PricesBody,
    /// Feature flags it grants.
    pub features: Vec<String>,
    /// Numeric limits it grants.
    pub limits: BTreeMap<String, u64>,
}

impl From<&Plan> for PlanBody {
    fn from(plan: &Plan) -> Self {
        Self {
            id: plan.id().to_owned(),
            name: plan.name().to_owned(),
            prices: PricesBody {
                monthly: plan.price(Interval::Monthly).map(str::to_owned),
                yearly: plan.price(Interval::Yearly).map(str::to_owned),
            },
            features: plan.features().map(str::to_owned).collect(),
            limits: plan.limits().map(|(k, v)| (k.to_owned(), v)).collect(),
        }
    }
}

/// `GET /billing/plans`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlansReply {
    /// The free plan first, then the catalog.
    pub plans: Vec<PlanBody>,
}

/// `{ url }`: where to send the browser (Checkout, the portal, a booking page).
#[derive(Debug, Serialize, ToSchema)]
pub struct UrlReply {
    /// The URL.
    pub url: String,
}

/// A subscription, as the mirror holds it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionBody {
    /// Stripe subscription id.
    pub id: String,
    /// Plan id.
    pub plan: String,
    /// Stripe status.
    pub status: String,
    /// Seats.
    pub quantity: i32,
    /// End of the trial.
    #[schema(required = true)]
    pub trial_end: Option<DateTime<Utc>>,
    /// End of the current period.
    #[schema(required = true)]
    pub current_period_end: Option<DateTime<Utc>>,
    /// Ends at the period's end.
    pub cancel_at_period_end: bool,
    /// When a duplicate: the subscription it duplicates.
    #[schema(required = true)]
    pub duplicate_of: Option<String>,
}

impl From<&Subscription> for SubscriptionBody {
    fn from(s: &Subscription) -> Self {
        Self {
            id: s.stripe_subscription_id.clone(),
            plan: s.plan.clone(),
            status: s.status.clone(),
            quantity: s.quantity,
            trial_end: s.trial_end,
            current_period_end: s.current_period_end,
            cancel_at_period_end: s.cancel_at_period_end,
            duplicate_of: s.duplicate_of.clone(),
        }
    }
}

/// The user's plan and subscriptions.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionReply {
    /// The plan access follows (`free` without a subscription that grants one).
    pub plan: String,
    /// The subscription in question (the newest live one), if any.
    #[schema(required = true)]
    pub subscription: Option<SubscriptionBody>,
    /// Every live subscription: a duplicate is never hidden.
    pub subscriptions: Vec<SubscriptionBody>,
}

/// `POST /billing/payments`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedPaymentReply {
    /// PaymentIntent id.
    pub id: String,
    /// For Stripe.js to confirm the payment in the browser.
    pub client_secret: String,
}

/// One way the user signs in.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignInMethodBody {
    /// `credential` (e-mail and password), `github` or `google`.
    pub provider: String,
    /// The address the provider gave for the identity.
    #[schema(required = true)]
    pub email: Option<String>,
    /// When it was added.
    pub linked_at: DateTime<Utc>,
}

impl From<tollbooth_auth::SignInMethod> for SignInMethodBody {
    fn from(method: tollbooth_auth::SignInMethod) -> Self {
        Self {
            provider: method.provider,
            email: method.email,
            linked_at: method.linked_at,
        }
    }
}

/// `GET /auth/sign-in-methods`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignInMethodsReply {
    /// Oldest first.
    pub methods: Vec<SignInMethodBody>,
}

/// A payment, as the mirror holds it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentReply {
    /// PaymentIntent id.
    pub id: String,
    /// Stripe status (`succeeded`, `processing`, `requires_payment_method`, …).
    pub status: String,
    /// Amount in the currency's smallest unit.
    pub amount: i64,
    /// ISO 4217, lower case.
    pub currency: String,
    /// Refunded so far, in the currency's smallest unit.
    pub amount_refunded: i64,
    /// The Cal.com event type it pays for (a paid session), if any.
    #[schema(required = true)]
    pub calcom_event_type_id: Option<i64>,
    /// When it was first recorded.
    pub created_at: DateTime<Utc>,
}

impl From<&Payment> for PaymentReply {
    fn from(p: &Payment) -> Self {
        let calcom_event_type_id = p
            .metadata
            .as_ref()
            .and_then(|m| m.get(EVENT_TYPE_METADATA_KEY)?.as_str()?.parse().ok());
        Self {
            id: p.stripe_payment_intent_id.clone(),
            status: p.status.clone(),
            amount: p.amount,
            currency: p.currency.clone(),
            amount_refunded: p.amount_refunded,
            calcom_event_type_id,
            created_at: p.created_at,
        }
    }
}

/// `GET /billing/payments`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentsReply {
    /// Newest first.
    pub payments: Vec<PaymentReply>,
}

/// A sign-in's answer: signed in, or a second factor is due.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum SignInReply {
    /// Signed in: the session cookie is set.
    SignedIn(SessionReply),
    /// Post the challenge to `/auth/mfa/verify` with a code.
    MfaRequired(MfaRequiredReply),
}

/// Every error: a stable code and a message safe to show (generic for every 5xx).
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable, machine-readable code (`invalid_credentials`, `rate_limited`, …).
    pub error: String,
    /// Human-readable message.
    pub message: String,
}

// Request bodies: what a handler reads (`serde(default)` marks an optional field).

/// `POST /auth/sign-up`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SignUpBody {
    /// E-mail address.
    pub email: String,
    /// Password.
    pub password: String,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
}

/// `POST /auth/sign-in`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CredentialsBody {
    /// E-mail address.
    pub email: String,
    /// Password.
    pub password: String,
}

/// An address to send a link to (verification, reset).
#[derive(Debug, Deserialize, ToSchema)]
pub struct EmailBody {
    /// E-mail address.
    pub email: String,
}

/// A token from an e-mailed link.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TokenBody {
    /// The token.
    pub token: String,
}

/// `POST /auth/reset-password`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ResetBody {
    /// The token.
    pub token: String,
    /// Password.
    pub password: String,
}

/// `POST /auth/delete-account`.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct DeleteAccountBody {
    /// A second-factor code: required when two-factor authentication is on.
    #[serde(default)]
    pub code: Option<String>,
}

/// `POST /auth/change-password`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ChangePasswordBody {
    /// The current password.
    pub current_password: String,
    /// The new password.
    pub new_password: String,
}

/// `POST /auth/profile`: an absent field keeps its value, an empty one clears it.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ProfileBody {
    /// Display name, at most 100 characters.
    pub name: Option<String>,
    /// Avatar: an `https` URL.
    pub image: Option<String>,
}

/// `POST /auth/reauthenticate`: the password, and a code when MFA is on.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ReauthenticateBody {
    /// Password.
    #[serde(default)]
    pub password: Option<String>,
    /// A second-factor code.
    #[serde(default)]
    pub code: Option<String>,
}

/// A TOTP (or, where accepted, backup) code.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CodeBody {
    /// A second-factor code.
    pub code: String,
}

/// `POST /auth/mfa/verify`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct MfaVerifyBody {
    /// The challenge from the sign-in.
    pub challenge: String,
    /// A second-factor code.
    pub code: String,
}

/// `POST /billing/checkout`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CheckoutBody {
    /// Plan id from `GET /billing/plans`.
    pub plan: String,
    /// Where Checkout returns after paying (a path or URL on this site).
    #[serde(default)]
    pub success_url: Option<String>,
    /// Where Checkout returns when abandoned (a path or URL on this site).
    #[serde(default)]
    pub cancel_url: Option<String>,
}

/// `POST /billing/subscription/cancel` (the body is optional).
#[derive(Debug, Deserialize, ToSchema)]
pub struct CancelBody {
    /// Cancel at the end of the period (default) rather than now.
    #[serde(default = "yes")]
    #[schema(default = true)]
    pub at_period_end: bool,
}

fn yes() -> bool {
    true
}

/// `POST /billing/payments`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PaymentBody {
    /// Amount in the currency's smallest unit.
    pub amount: i64,
    /// ISO currency code, lower case.
    pub currency: String,
    /// The Cal.com event type the payment books.
    #[serde(default)]
    pub calcom_event_type_id: Option<i64>,
}

/// `POST /billing/payments/checkout`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PaymentCheckoutBody {
    /// What the Checkout page calls the purchase (1 to 250 characters).
    pub name: String,
    /// Amount in the currency's smallest unit.
    pub amount: i64,
    /// ISO currency code.
    pub currency: String,
    /// The Cal.com event type the payment books.
    #[serde(default)]
    pub calcom_event_type_id: Option<i64>,
    /// Where Checkout returns after paying (a path or URL on this site; put
    /// `{CHECKOUT_SESSION_ID}` in it to sync the payment there).
    #[serde(default)]
    pub success_url: Option<String>,
    /// Where Checkout returns when abandoned (a path or URL on this site).
    #[serde(default)]
    pub cancel_url: Option<String>,
    /// The same key opens the same Checkout session (a retried request, a double click);
    /// without one, a key is derived from the request and the hour.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

// Query strings: what a handler reads from `?…` (every parameter optional).

/// `?session_id=cs_…`: the Checkout session Stripe returned from.
#[derive(Debug, Default, Deserialize)]
pub struct CheckoutSessionQuery {
    /// The Checkout session id.
    pub session_id: Option<String>,
}

/// `?token=…` (the e-mailed verification link).
#[derive(Debug, Default, Deserialize)]
pub struct TokenQuery {
    /// The token.
    pub token: Option<String>,
}

/// `?return_to=/path`: where a finished OAuth flow lands (a path on this site).
#[derive(Debug, Default, Deserialize)]
pub struct ReturnToQuery {
    /// The path.
    pub return_to: Option<String>,
}

/// An organization as one of its members sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationBody {
    /// Organization id.
    pub id: Uuid,
    /// Display name.
    pub name: String,
    /// URL name (unique; lower-case letters, digits, inner hyphens).
    pub slug: String,
    /// The member's role: `owner`, `admin`, `member` or an application role.
    pub role: String,
    /// What the member may do (`organization:update`, `members:manage`, …).
    pub permissions: Vec<String>,
    /// When the member joined.
    pub joined_at: DateTime<Utc>,
}

impl From<&OrgMember> for OrganizationBody {
    fn from(member: &OrgMember) -> Self {
        Self {
            id: member.organization.id,
            name: member.organization.name.clone(),
            slug: member.organization.slug.clone(),
            role: member.role.to_string(),
            permissions: member
                .permissions
                .iter()
                .map(|p| p.as_str().to_owned())
                .collect(),
            joined_at: member.joined_at,
        }
    }
}

/// `{ organization }`.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationReply {
    /// The organization, with the caller's role in it.
    pub organization: OrganizationBody,
}

/// `GET /orgs`.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationsReply {
    /// Every organization the user belongs to, oldest membership first.
    pub organizations: Vec<OrganizationBody>,
}

/// `POST /orgs`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrganizationRequest {
    /// Display name, 1 to 100 characters.
    pub name: String,
    /// URL name (2 to 48 lower-case letters, digits, inner hyphens); absent: made from the
    /// name.
    pub slug: Option<String>,
}

/// `PATCH /orgs/{org_id}`: absent fields stay.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrganizationRequest {
    /// New display name.
    pub name: Option<String>,
    /// New slug.
    pub slug: Option<String>,
}

/// One member of an organization.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberBody {
    /// User id.
    pub user_id: Uuid,
    /// Their address.
    pub email: String,
    /// Display name.
    #[schema(required = true)]
    pub name: Option<String>,
    /// Their role.
    pub role: String,
    /// When they joined.
    pub joined_at: DateTime<Utc>,
}

impl From<Member> for MemberBody {
    fn from(member: Member) -> Self {
        Self {
            user_id: member.user_id,
            email: member.email,
            name: member.name,
            role: member.role.to_string(),
            joined_at: member.joined_at,
        }
    }
}

/// `{ member }` after a role change.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberReply {
    /// The member after the change.
    pub member: MemberBody,
}

/// `GET /orgs/{org_id}/members`.
#[derive(Debug, Serialize, ToSchema)]
pub struct MembersReply {
    /// Members in joining order.
    pub members: Vec<MemberBody>,
    /// Pass as `after` for the next page; null on the last.
    #[schema(required = true)]
    pub next: Option<Uuid>,
}

/// `GET /orgs/{org_id}/members?…`.
#[derive(Debug, Default, Deserialize)]
pub struct MembersQuery {
    /// The previous page's `next`.
    pub after: Option<Uuid>,
    /// Page size, 1 to 100 (default 50).
    pub limit: Option<u64>,
}

/// `POST /orgs/{org_id}/members/{user_id}/role`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberRoleRequest {
    /// `owner`, `admin`, `member` or an application role.
    pub role: String,
}

/// `POST /orgs/{org_id}/transfer-ownership`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferOwnershipRequest {
    /// The member who becomes an owner (the caller becomes an admin).
    pub user_id: Uuid,
}

/// `POST /orgs/{org_id}/invitations`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteRequest {
    /// The address to invite.
    pub email: String,
    /// The role on accepting (default `member`).
    pub role: Option<String>,
}

/// A pending invitation (never its token).
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationBody {
    /// Invitation id.
    pub id: Uuid,
    /// The invited address.
    pub email: String,
    /// The role on accepting.
    pub role: String,
    /// Who invited (null once their account is gone).
    #[schema(required = true)]
    pub inviter_user_id: Option<Uuid>,
    /// When its link stops working.
    pub expires_at: DateTime<Utc>,
    /// When it was first sent.
    pub created_at: DateTime<Utc>,
}

impl From<OrgInvitation> for InvitationBody {
    fn from(invitation: OrgInvitation) -> Self {
        Self {
            id: invitation.id,
            email: invitation.email,
            role: invitation.role.to_string(),
            inviter_user_id: invitation.inviter_user_id,
            expires_at: invitation.expires_at,
            created_at: invitation.created_at,
        }
    }
}

/// `{ invitation }`.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationReply {
    /// The invitation.
    pub invitation: InvitationBody,
}

/// `GET /orgs/{org_id}/invitations`.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationsReply {
    /// Pending invitations, oldest first.
    pub invitations: Vec<InvitationBody>,
}

/// `GET /invitations/preview?token=…`: what the link is about.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationPreviewReply {
    /// The organization's name.
    pub organization_name: String,
    /// The inviter's name or address (null once their account is gone).
    #[schema(required = true)]
    pub inviter_name: Option<String>,
    /// The invited address: only an account with it can accept.
    pub email: String,
    /// The role on accepting.
    pub role: String,
    /// Whether an account with the address exists (sign in) or not (sign up first).
    pub account_exists: bool,
    /// When the link stops working.
    pub expires_at: DateTime<Utc>,
}

impl From<InvitationPreview> for InvitationPreviewReply {
    fn from(preview: InvitationPreview) -> Self {
        Self {
            organization_name: preview.organization_name,
            inviter_name: preview.inviter_name,
            email: preview.email,
            role: preview.role.to_string(),
            account_exists: preview.account_exists,
            expires_at: preview.expires_at,
        }
    }
}

/// `POST /invitations/accept`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitationRequest {
    /// The token from the invitation e-mail's link.
    pub token: String,
}

/// `POST /auth/active-organization`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActiveOrganizationRequest {
    /// The organization to act in; null to act in none.
    pub organization_id: Option<Uuid>,
}
