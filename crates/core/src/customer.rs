//! [`Customer`]: who is billed.

use uuid::Uuid;

/// Who a subscription, a Checkout session or a Stripe customer belongs to: one user, or an
/// organization (whose owners and billing administrators manage it). Billing takes one
/// wherever it acts for someone; `tollbooth-auth` hands out the organization's only to a
/// member allowed to manage its billing.
///
/// A bare user id is a user's: `Customer::from(user_id)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Customer {
    /// A user, by id.
    User(Uuid),
    /// An organization, by id.
    Organization(Uuid),
}

impl Customer {
    /// The user's or organization's id.
    pub fn id(&self) -> Uuid {
        match self {
            Self::User(id) | Self::Organization(id) => *id,
        }
    }

    /// The user's id, for a user.
    pub fn user(&self) -> Option<Uuid> {
        match self {
            Self::User(id) => Some(*id),
            Self::Organization(_) => None,
        }
    }

    /// The organization's id, for an organization.
    pub fn organization(&self) -> Option<Uuid> {
        match self {
            Self::Organization(id) => Some(*id),
            Self::User(_) => None,
        }
    }
}

impl From<Uuid> for Customer {
    fn from(user_id: Uuid) -> Self {
        Self::User(user_id)
    }
}

impl std::fmt::Display for Customer {
    /// `user/{id}` or `organization/{id}`: the form used in logs and idempotency keys.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::User(id) => write!(f, "user/{id}"),
            Self::Organization(id) => write!(f, "organization/{id}"),
        }
    }
}
