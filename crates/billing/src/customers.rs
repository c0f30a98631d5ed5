//! Whose billing it is: a [`Customer`] — a user or an organization — and its Stripe customer,
//! found, created, linked and locked the same way for both.

use std::collections::HashMap;

use stripe_core::customer::CreateCustomer;
use tollbooth_db::{Customer, DbError, Organization, OrganizationRepo, Tx, User, UserRepo};
use uuid::Uuid;

use crate::error::{BillingError, Result};
use crate::service::Billing;
use crate::stripe::types;

/// A customer's row, as billing reads it.
pub(crate) struct Account {
    pub(crate) customer: Customer,
    /// `cus_…`, once created.
    pub(crate) stripe_customer_id: Option<String>,
    /// The user's name, or the organization's.
    pub(crate) name: Option<String>,
    /// A user's address; an organization's Stripe customer has none of its own (Checkout
    /// asks whoever pays).
    pub(crate) email: Option<String>,
}

/// Someone billing e-mails reach: the user, or an organization's owners.
pub(crate) struct Contact {
    pub(crate) email: String,
    pub(crate) name: Option<String>,
}

impl Billing {
    /// The customer's row; a user or organization that does not exist is
    /// [`BillingError::NotFound`].
    pub(crate) async fn account(&self, customer: Customer) -> Result<Account> {
        account(&self.inner.db, customer)
            .await?
            .ok_or(BillingError::NotFound {
                what: match customer {
                    Customer::User(_) => "user",
                    Customer::Organization(_) => "organization",
                },
            })
    }

    /// The account's Stripe customer id, creating the customer on first use. The key
    /// `customer/{user_id}` (`customer/organization/{id}`) makes concurrent first uses
    /// create one customer, and the unique `stripe_customer_id` columns keep it one-to-one.
    pub(crate) async fn ensure_customer(&self, account: &Account) -> Result<String> {
        if let Some(customer) = &account.stripe_customer_id {
            return Ok(customer.clone());
        }
        let (metadata_key, idempotency_key) = match account.customer {
            Customer::User(id) => ("user_id", format!("customer/{id}")),
            Customer::Organization(id) => {
                ("organization_id", format!("customer/organization/{id}"))
            }
        };
        let mut request = CreateCustomer::new().metadata(HashMap::from([(
            metadata_key.to_owned(),
            account.customer.id().to_string(),
        )]));
        if let Some(email) = &account.email {
            request = request.email(email.as_str());
        }
        if let Some(name) = &account.name {
            request = request.name(name.as_str());
        }
        let created: types::Customer = self
            .inner
            .stripe
            .send(&request, Some(idempotency_key))
            .await?;
        let db = &self.inner.db;
        let stored = match account.customer {
            Customer::User(id) => db.set_stripe_customer_id(id, &created.id).await.map(drop),
            Customer::Organization(id) => db
                .set_organization_stripe_customer_id(id, &created.id)
                .await
                .map(drop),
        };
        match stored {
            Ok(()) => Ok(created.id),
            // Raced with another request that stored the same (idempotent) customer.
            Err(DbError::Conflict { .. }) => Ok(self
                .account(account.customer)
                .await?
                .stripe_customer_id
                .unwrap_or(created.id)),
            Err(e) => Err(e.into()),
        }
    }
}

/// The customer's row, if it exists.
pub(crate) async fn account<R>(db: &R, customer: Customer) -> Result<Option<Account>>
where
    R: UserRepo + OrganizationRepo,
{
    Ok(match customer {
        Customer::User(id) => db.find_user(id).await?.map(Account::of_user),
        Customer::Organization(id) => db
            .find_organization(id)
            .await?
            .map(Account::of_organization),
    })
}

impl Account {
    fn of_user(user: User) -> Self {
        Self {
            customer: Customer::User(user.id),
            stripe_customer_id: user.stripe_customer_id,
            name: user.name,
            email: Some(user.email),
        }
    }

    fn of_organization(org: Organization) -> Self {
        Self {
            customer: Customer::Organization(org.id),
            stripe_customer_id: org.stripe_customer_id,
            name: Some(org.name),
            email: None,
        }
    }
}

/// Whose Stripe customer `stripe_customer_id` is.
pub(crate) async fn owner_of(tx: &Tx, stripe_customer_id: &str) -> Result<Option<Customer>> {
    if let Some(org) = tx
        .find_organization_by_stripe_customer(stripe_customer_id)
        .await?
    {
        return Ok(Some(Customer::Organization(org.id)));
    }
    Ok(tx
        .find_user_by_stripe_customer(stripe_customer_id)
        .await?
        .map(|user| Customer::User(user.id)))
}

/// The customer a Stripe object's metadata names (`organization_id`, else `user_id`).
pub(crate) fn named_in(metadata: &HashMap<String, String>) -> Option<Customer> {
    let id = |key: &str| metadata.get(key).and_then(|id| Uuid::parse_str(id).ok());
    id("organization_id")
        .map(Customer::Organization)
        .or_else(|| id("user_id").map(Customer::User))
}

/// Locks the customer's row until `tx` ends, so every subscription event of one customer,
/// on any instance, decides in turn; `None` if it no longer exists.
pub(crate) async fn lock(tx: &Tx, customer: Customer) -> Result<Option<Account>> {
    Ok(match customer {
        Customer::User(id) => tx.lock_user(id).await?.map(Account::of_user),
        Customer::Organization(id) => tx
            .lock_organization(id)
            .await?
            .map(Account::of_organization),
    })
}

/// Who billing e-mails about `customer` go to: the user, or the organization's owners.
pub(crate) async fn contacts(tx: &Tx, customer: Customer) -> Result<Vec<Contact>> {
    Ok(match customer {
        Customer::User(id) => tx.find_user(id).await?.into_iter().collect(),
        Customer::Organization(id) => tx.list_owners(id).await?,
    }
    .into_iter()
    .map(|user| Contact {
        email: user.email,
        name: user.name,
    })
    .collect())
}

/// Why an event is ignored when it would give one customer another's Stripe customer.
pub(crate) const CUSTOMER_OF_ANOTHER: &str =
    "the Stripe customer belongs to another user or organization";

/// Stores `stripe_customer_id` on the account if it has none yet; `false` (and a log line)
/// when the Stripe customer is already someone else's — a user's and an organization's
/// alike: the unique columns would refuse it, and an event that can never apply must not be
/// retried by Stripe for days.
pub(crate) async fn link(tx: &Tx, account: &Account, stripe_customer_id: &str) -> Result<bool> {
    if let Some(owner) = owner_of(tx, stripe_customer_id).await? {
        if owner == account.customer {
            return Ok(true);
        }
        tracing::error!(customer = %account.customer, owner = %owner, stripe_customer = stripe_customer_id,
            "a Stripe event names one customer with another's Stripe customer; ignored");
        return Ok(false);
    }
    if account.stripe_customer_id.is_none() {
        match account.customer {
            Customer::User(id) => drop(tx.set_stripe_customer_id(id, stripe_customer_id).await?),
            Customer::Organization(id) => drop(
                tx.set_organization_stripe_customer_id(id, stripe_customer_id)
                    .await?,
            ),
        }
    }
    Ok(true)
}
