//! Repository traits, one per aggregate, each implemented for [`Db`](crate::Db) and
//! [`Tx`](crate::Tx) and mockable (feature `mock`).
//!
//! The traits use `#[async_trait]` rather than native `async fn`: mockall generates mocks for
//! them, and boxed `Send` futures let callers hold them behind generics or `dyn` alike.

mod accounts;
mod billing;
mod bookings;
mod invitations;
mod organizations;
mod outbox;
mod rate_limits;
mod security_events;
mod sessions;
mod tokens;
mod two_factor;
mod users;
mod webhook_events;

pub use accounts::{AccountRepo, CREDENTIAL_PROVIDER, NewAccount, Unlink};
pub use billing::{
    BillingRepo, NewCheckoutSession, PAYMENT_FINAL_STATUSES, PaymentUpsert, PriceUpsert,
    ProductUpsert, SubscriptionUpsert, UNKNOWN_PLAN, Upsert,
};
pub use bookings::{BookingRepo, NewBooking};
pub use invitations::{InvitationRepo, NewInvitation};
pub use organizations::{NewOrganization, OWNER_ROLE, OrganizationRepo};
pub use outbox::{DeliveryFailure, NewOutboxEmail, OutboxRepo};
pub use rate_limits::{RateLimitHit, RateLimitRepo, RateLimitState};
pub use security_events::{
    NewSecurityEvent, SecurityEvent, SecurityEventKind, SecurityEventQuery, SecurityEventRepo,
};
pub use sessions::{NewSession, SessionRepo};
pub use tokens::{NewToken, TokenRepo};
pub use two_factor::TwoFactorRepo;
pub use users::{NewUser, UserQuery, UserRepo};
pub use webhook_events::WebhookEventRepo;

#[cfg(feature = "mock")]
pub use accounts::MockAccountRepo;
#[cfg(feature = "mock")]
pub use billing::MockBillingRepo;
#[cfg(feature = "mock")]
pub use bookings::MockBookingRepo;
#[cfg(feature = "mock")]
pub use invitations::MockInvitationRepo;
#[cfg(feature = "mock")]
pub use organizations::MockOrganizationRepo;
#[cfg(feature = "mock")]
pub use outbox::MockOutboxRepo;
#[cfg(feature = "mock")]
pub use rate_limits::MockRateLimitRepo;
#[cfg(feature = "mock")]
pub use security_events::MockSecurityEventRepo;
#[cfg(feature = "mock")]
pub use sessions::MockSessionRepo;
#[cfg(feature = "mock")]
pub use tokens::MockTokenRepo;
#[cfg(feature = "mock")]
pub use two_factor::MockTwoFactorRepo;
#[cfg(feature = "mock")]
pub use users::MockUserRepo;
#[cfg(feature = "mock")]
pub use webhook_events::MockWebhookEventRepo;
