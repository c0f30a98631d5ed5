//! `accounts`: a user's sign-in methods. The `credential` account carries the bcrypt hash;
//! OAuth accounts carry the provider's stable account id (never keyed on email).

use sea_orm::entity::prelude::*;

/// An account row.
#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "accounts")]
pub struct Model {
    /// UUID v7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owner.
    pub user_id: Uuid,
    /// `credential`, `github`, `google`, …
    pub provider: String,
    /// The provider's stable id for the identity (the user id for `credential`).
    pub provider_account_id: String,
    /// The e-mail the provider reported when the account was linked.
    pub provider_email: Option<String>,
    /// bcrypt hash; present exactly when `provider == "credential"`.
    pub password_hash: Option<String>,
    /// Row creation time (UTC).
    pub created_at: DateTimeUtc,
    /// Last modification time (UTC).
    pub updated_at: DateTimeUtc,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("provider", &self.provider)
            .field("provider_account_id", &self.provider_account_id)
            .field("provider_email", &self.provider_email)
            .field(
                "password_hash",
                &self.password_hash.as_ref().map(|_| "[redacted]"),
            )
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

/// No relations are navigated through sea-orm; repositories query by key.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
