//! Application hooks: typed events the application receives after a change committed.

use std::fmt;
use std::sync::Arc;

use uuid::Uuid;

/// Something that happened to an account or its billing, told after it committed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DomainEvent {
    /// An account was created: signed up with a password, or at a provider's first sign-in.
    UserCreated {
        /// The user.
        user_id: Uuid,
        /// Their address.
        email: String,
    },
    /// A session opened (any way in: password, provider, second factor).
    SignedIn {
        /// The user.
        user_id: Uuid,
        /// The new session.
        session_id: Uuid,
    },
    /// The password changed, was reset, or was set for the first time.
    PasswordChanged {
        /// The user.
        user_id: Uuid,
    },
    /// The address changed (its new owner opened the link, or a report gave the old one
    /// back).
    EmailChanged {
        /// The user.
        user_id: Uuid,
        /// The address before.
        from: String,
        /// The address now.
        to: String,
    },
    /// The account was deleted.
    AccountDeleted {
        /// The user, who no longer exists.
        user_id: Uuid,
    },
    /// An administrator banned the user.
    Banned {
        /// The user.
        user_id: Uuid,
        /// The administrator.
        by: Uuid,
    },
    /// An administrator lifted the user's ban.
    Unbanned {
        /// The user.
        user_id: Uuid,
        /// The administrator.
        by: Uuid,
    },
    /// An administrator changed the user's role.
    RoleChanged {
        /// The user.
        user_id: Uuid,
        /// The administrator.
        by: Uuid,
        /// The new role.
        role: String,
    },
    /// What an organization's seats count may have changed: it was created (its owner is
    /// the first seat), a member joined, left or was removed, or an invitation was sent,
    /// revoked or accepted. Billing listens for it to keep a per-seat subscription's
    /// quantity equal to the count.
    SeatsChanged {
        /// The organization.
        organization_id: Uuid,
    },
    /// A subscription's local record changed (a webhook, a sync, a cancellation).
    SubscriptionChanged {
        /// The subscriber: a user or an organization.
        customer: crate::Customer,
        /// Stripe's subscription id.
        subscription: String,
        /// Its status (`active`, `past_due`, `canceled`, …).
        status: String,
        /// Its plan id.
        plan: String,
    },
}

impl DomainEvent {
    /// The event's name, for logs (`user_created`, `signed_in`, …).
    pub fn name(&self) -> &'static str {
        match self {
            Self::UserCreated { .. } => "user_created",
            Self::SignedIn { .. } => "signed_in",
            Self::PasswordChanged { .. } => "password_changed",
            Self::EmailChanged { .. } => "email_changed",
            Self::AccountDeleted { .. } => "account_deleted",
            Self::Banned { .. } => "banned",
            Self::Unbanned { .. } => "unbanned",
            Self::RoleChanged { .. } => "role_changed",
            Self::SeatsChanged { .. } => "seats_changed",
            Self::SubscriptionChanged { .. } => "subscription_changed",
        }
    }
}

/// A hook's failure: logged, never undoing the change it was told about.
pub type HookError = Box<dyn std::error::Error + Send + Sync>;

/// What an application implements to hear of [`DomainEvent`]s, and gives to
/// `AuthConfigBuilder::hooks` and `BillingConfigBuilder::hooks`.
///
/// Called after the change committed, on the request's task, in the order the hooks were
/// added: a slow hook slows that request, so hand long work to a queue of your own. An
/// error is logged (`application hook failed`) and changes nothing: the change stands,
/// and the other hooks are still called. A change whose transaction failed calls no hook.
///
/// ```
/// use tollbooth_core::{DomainEvent, HookError, Hooks};
///
/// struct Analytics;
///
/// #[async_trait::async_trait]
/// impl Hooks for Analytics {
///     async fn on_event(&self, event: &DomainEvent) -> Result<(), HookError> {
///         if let DomainEvent::UserCreated { user_id, .. } = event {
///             println!("welcome, {user_id}");
///         }
///         Ok(())
///     }
/// }
/// ```
#[async_trait::async_trait]
pub trait Hooks: Send + Sync {
    /// Hears of `event`, which has committed.
    async fn on_event(&self, event: &DomainEvent) -> Result<(), HookError>;
}

/// The hooks a service was configured with, called in order.
#[derive(Clone, Default)]
pub struct HookList(Vec<Arc<dyn Hooks>>);

impl HookList {
    /// Adds `hooks` after those already there.
    pub fn push(&mut self, hooks: impl Hooks + 'static) {
        self.0.push(Arc::new(hooks));
    }

    /// Tells every hook of `event`, logging each failure.
    pub async fn notify(&self, event: DomainEvent) {
        for hooks in &self.0 {
            if let Err(error) = hooks.on_event(&event).await {
                tracing::error!(event = event.name(), %error, "application hook failed; the change stands");
            }
        }
    }
}

impl fmt::Debug for HookList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HookList({})", self.0.len())
    }
}
