//! "Download my data" (GDPR art. 15 and 20): one JSON document of everything Tollbooth
//! stores about a user.
//!
//! Every field is copied by name into the export's own types — an allow-list — so a column
//! added later (a hash, a token, a ciphertext) stays out until someone decides it belongs.
//! Password hashes, token hashes, the second factor's secret and backup codes never appear.

use chrono::{DateTime, Utc};
use serde::Serialize;
use tollbooth_db::{
    Account, AccountRepo, BillingRepo, Booking, BookingRepo, CREDENTIAL_PROVIDER, Payment,
    SecurityEvent, SecurityEventKind, SecurityEventQuery, SecurityEventRepo, SessionRepo,
    SessionRow, Subscription, TwoFactorRepo, User, UserRepo,
};
use uuid::Uuid;

use crate::audit::Audit;
use crate::error::Result;
use crate::headers::RequestInfo;
use crate::service::Auth;
use crate::session::Session;

/// Everything stored about one user, as of `exported_at`.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct AccountExport {
    /// When the export was made.
    pub exported_at: DateTime<Utc>,
    /// The user row.
    pub user: ExportedUser,
    /// The password (no hash: only that there is one) and each linked provider.
    pub sign_in_methods: Vec<ExportedSignInMethod>,
    /// Every stored session, live or ended.
    pub sessions: Vec<ExportedSession>,
    /// The second factor's state (never its secret or the backup codes).
    pub two_factor: ExportedTwoFactor,
    /// Stripe subscriptions mirrored locally.
    pub subscriptions: Vec<ExportedSubscription>,
    /// One-off payments.
    pub payments: Vec<ExportedPayment>,
    /// Cal.com bookings.
    pub bookings: Vec<ExportedBooking>,
    /// The security audit trail about the account, newest first.
    pub security_events: Vec<ExportedSecurityEvent>,
}

/// The user row.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct ExportedUser {
    /// User id.
    pub id: Uuid,
    /// E-mail address.
    pub email: String,
    /// When the address was proved.
    pub email_verified_at: Option<DateTime<Utc>>,
    /// Display name.
    pub name: Option<String>,
    /// Avatar URL.
    pub image: Option<String>,
    /// Role.
    pub role: String,
    /// The Stripe customer, when there is one.
    pub stripe_customer_id: Option<String>,
    /// When the ban in place (if any) began.
    pub banned_at: Option<DateTime<Utc>>,
    /// Why (as the security activity shows it).
    pub ban_reason: Option<String>,
    /// When the ban lapses.
    pub ban_expires_at: Option<DateTime<Utc>>,
    /// Sign-up time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// A way to sign in.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct ExportedSignInMethod {
    /// `credential` (the password) or the provider.
    pub provider: String,
    /// The provider's id for the user (absent for the password).
    pub provider_account_id: Option<String>,
    /// The address the provider gave.
    pub provider_email: Option<String>,
    /// When it was added.
    pub created_at: DateTime<Utc>,
}

/// A session's metadata.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct ExportedSession {
    /// Session id.
    pub id: Uuid,
    /// Sign-in time.
    pub created_at: DateTime<Utc>,
    /// Last use.
    pub last_seen_at: DateTime<Utc>,
    /// Last sign-in or re-authentication.
    pub authenticated_at: Option<DateTime<Utc>>,
    /// When it ends unless used.
    pub idle_expires_at: DateTime<Utc>,
    /// When it ends regardless.
    pub absolute_expires_at: DateTime<Utc>,
    /// When it was signed out.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Client IP at sign-in.
    pub ip: Option<String>,
    /// Client user agent at sign-in.
    pub user_agent: Option<String>,
}

/// The second factor's state.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct ExportedTwoFactor {
    /// When it was turned on, if it is on.
    pub enabled_at: Option<DateTime<Utc>>,
    /// Unused backup codes (how many, never which).
    pub backup_codes_left: u64,
}

/// A subscription.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct ExportedSubscription {
    /// Stripe's id.
    pub stripe_subscription_id: String,
    /// Plan.
    pub plan: String,
    /// Stripe status.
    pub status: String,
    /// Seats.
    pub quantity: i32,
    /// Trial end.
    pub trial_end: Option<DateTime<Utc>>,
    /// End of the paid period.
    pub current_period_end: Option<DateTime<Utc>>,
    /// Whether it ends at the period end.
    pub cancel_at_period_end: bool,
    /// When it was cancelled.
    pub canceled_at: Option<DateTime<Utc>>,
    /// When it ended.
    pub ended_at: Option<DateTime<Utc>>,
    /// First seen.
    pub created_at: DateTime<Utc>,
}

/// A one-off payment.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct ExportedPayment {
    /// Stripe's PaymentIntent id.
    pub stripe_payment_intent_id: String,
    /// Amount in the currency's smallest unit.
    pub amount: i64,
    /// ISO currency, lower case.
    pub currency: String,
    /// Stripe status.
    pub status: String,
    /// Refunded so far.
    pub amount_refunded: i64,
    /// The Cal.com booking page it pays for.
    pub booking_url: Option<String>,
    /// First seen.
    pub created_at: DateTime<Utc>,
}

/// A Cal.com booking.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct ExportedBooking {
    /// Cal.com's uid.
    pub calcom_uid: String,
    /// Cal.com event type.
    pub event_type_id: Option<i64>,
    /// `created`, `cancelled` or `rescheduled`.
    pub status: &'static str,
    /// Start.
    pub start_at: Option<DateTime<Utc>>,
    /// End.
    pub end_at: Option<DateTime<Utc>>,
    /// Attendee address.
    pub attendee_email: Option<String>,
    /// Organizer address.
    pub organizer_email: Option<String>,
    /// Why it was cancelled.
    pub cancellation_reason: Option<String>,
    /// The payment for it.
    pub stripe_payment_intent_id: Option<String>,
    /// First seen.
    pub created_at: DateTime<Utc>,
}

/// An audit-trail event.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct ExportedSecurityEvent {
    /// When.
    pub at: DateTime<Utc>,
    /// What ([`SecurityEventKind`] names).
    pub kind: String,
    /// Whether the user did it (`false`: an administrator, or nobody signed in).
    pub by_user: bool,
    /// Client IP.
    pub ip: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
    /// The event's detail.
    pub detail: Option<serde_json::Value>,
}

impl Auth {
    /// Everything stored about the signed-in user ([`AccountExport`]): profile, sign-in
    /// methods (never a hash or token), sessions, the second factor's state (never its
    /// secret), subscriptions, payments, bookings and the audit trail. Needs a fresh session
    /// ([`require_fresh`](Self::require_fresh)): a stolen cookie does not carry the whole
    /// account away. Recorded as `data_exported`.
    pub async fn export_account(
        &self,
        session: &Session,
        request: &RequestInfo<'_>,
    ) -> Result<AccountExport> {
        self.require_fresh(session)?;
        let db = &self.inner.db;
        let id = session.user.id;
        // The row as stored now, not as the session loaded it.
        let user = db
            .find_user(id)
            .await?
            .unwrap_or_else(|| session.user.clone());
        let two_factor = db.find_two_factor(id).await?;
        let enabled_at = two_factor.and_then(|tf| tf.enabled_at);
        let backup_codes_left = if enabled_at.is_some() {
            db.count_backup_codes(id).await?
        } else {
            0
        };
        let mut security_events = Vec::new();
        let mut query = SecurityEventQuery::default();
        query.subject_user_id = Some(id);
        loop {
            let page = db
                .list_security_events(&query, crate::MAX_EVENTS_PER_PAGE)
                .await?;
            let Some(last) = page.last() else { break };
            query.before = Some(last.id);
            security_events.extend(
                page.iter()
                    .map(|event| ExportedSecurityEvent::of(event, id)),
            );
        }
        let export = AccountExport {
            exported_at: self.now(),
            user: ExportedUser::of(&user),
            sign_in_methods: db
                .list_accounts(id)
                .await?
                .iter()
                .map(ExportedSignInMethod::of)
                .collect(),
            sessions: db
                .list_user_sessions(id)
                .await?
                .iter()
                .map(ExportedSession::of)
                .collect(),
            two_factor: ExportedTwoFactor {
                enabled_at,
                backup_codes_left,
            },
            subscriptions: db
                .list_subscriptions(tollbooth_db::Customer::User(id))
                .await?
                .iter()
                .map(ExportedSubscription::of)
                .collect(),
            payments: db
                .list_payments(id)
                .await?
                .iter()
                .map(ExportedPayment::of)
                .collect(),
            bookings: db
                .list_user_bookings(id)
                .await?
                .iter()
                .map(ExportedBooking::of)
                .collect(),
            security_events,
        };
        // A read, not a change: the event is its own write, and the export is answered
        // only once it is recorded.
        self.record(db, Audit::own(SecurityEventKind::DataExported, id, request))
            .await?;
        tracing::info!(user_id = %id, "account data exported");
        Ok(export)
    }
}

impl ExportedUser {
    fn of(user: &User) -> Self {
        Self {
            id: user.id,
            email: user.email.clone(),
            email_verified_at: user.email_verified_at,
            name: user.name.clone(),
            image: user.image.clone(),
            role: user.role.clone(),
            stripe_customer_id: user.stripe_customer_id.clone(),
            banned_at: user.banned_at,
            ban_reason: user.ban_reason.clone(),
            ban_expires_at: user.ban_expires_at,
            created_at: user.created_at,
            updated_at: user.updated_at,
        }
    }
}

impl ExportedSignInMethod {
    fn of(account: &Account) -> Self {
        let password = account.provider == CREDENTIAL_PROVIDER;
        Self {
            provider: account.provider.clone(),
            provider_account_id: (!password).then(|| account.provider_account_id.clone()),
            provider_email: account.provider_email.clone(),
            created_at: account.created_at,
        }
    }
}

impl ExportedSession {
    fn of(session: &SessionRow) -> Self {
        Self {
            id: session.id,
            created_at: session.created_at,
            last_seen_at: session.last_seen_at,
            authenticated_at: session.authenticated_at,
            idle_expires_at: session.idle_expires_at,
            absolute_expires_at: session.absolute_expires_at,
            revoked_at: session.revoked_at,
            ip: session.ip.clone(),
            user_agent: session.user_agent.clone(),
        }
    }
}

impl ExportedSubscription {
    fn of(subscription: &Subscription) -> Self {
        Self {
            stripe_subscription_id: subscription.stripe_subscription_id.clone(),
            plan: subscription.plan.clone(),
            status: subscription.status.clone(),
            quantity: subscription.quantity,
            trial_end: subscription.trial_end,
            current_period_end: subscription.current_period_end,
            cancel_at_period_end: subscription.cancel_at_period_end,
            canceled_at: subscription.canceled_at,
            ended_at: subscription.ended_at,
            created_at: subscription.created_at,
        }
    }
}

impl ExportedPayment {
    fn of(payment: &Payment) -> Self {
        Self {
            stripe_payment_intent_id: payment.stripe_payment_intent_id.clone(),
            amount: payment.amount,
            currency: payment.currency.clone(),
            status: payment.status.clone(),
            amount_refunded: payment.amount_refunded,
            booking_url: payment.booking_url.clone(),
            created_at: payment.created_at,
        }
    }
}

impl ExportedBooking {
    fn of(booking: &Booking) -> Self {
        use tollbooth_db::BookingStatus;
        Self {
            calcom_uid: booking.calcom_uid.clone(),
            event_type_id: booking.event_type_id,
            status: match booking.status {
                BookingStatus::Created => "created",
                BookingStatus::Cancelled => "cancelled",
                BookingStatus::Rescheduled => "rescheduled",
            },
            start_at: booking.start_at,
            end_at: booking.end_at,
            attendee_email: booking.attendee_email.clone(),
            organizer_email: booking.organizer_email.clone(),
            cancellation_reason: booking.cancellation_reason.clone(),
            stripe_payment_intent_id: booking.stripe_payment_intent_id.clone(),
            created_at: booking.created_at,
        }
    }
}

impl ExportedSecurityEvent {
    fn of(event: &SecurityEvent, user: Uuid) -> Self {
        Self {
            at: event.at,
            kind: event.kind.clone(),
            by_user: event.actor_user_id == Some(user),
            ip: event.ip.clone(),
            user_agent: event.user_agent.clone(),
            detail: event.detail.clone(),
        }
    }
}
