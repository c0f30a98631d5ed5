//! `two_factors`: a user's TOTP enrollment, with replay and brute-force state.

use sea_orm::entity::prelude::*;

/// A two-factor row (at most one per user).
#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "two_factors")]
pub struct Model {
    /// UUID v7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owner (unique).
    #[sea_orm(unique)]
    pub user_id: Uuid,
    /// nonce || ciphertext of the TOTP secret.
    pub secret_ciphertext: Vec<u8>,
    /// Which encryption key sealed the secret (for key rotation).
    pub key_id: String,
    /// Set once the enrollment is confirmed by a valid code; `None` while pending.
    pub enabled_at: Option<DateTimeUtc>,
    /// The last accepted TOTP time step; codes for it or earlier are refused (RFC 6238 §5.2).
    pub last_used_step: Option<i64>,
    /// Consecutive failed codes.
    pub failed_attempts: i32,
    /// Codes are refused until then.
    pub locked_until: Option<DateTimeUtc>,
    /// Row creation time (UTC).
    pub created_at: DateTimeUtc,
    /// Last modification time (UTC).
    pub updated_at: DateTimeUtc,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwoFactor")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("secret_ciphertext", &"[redacted]")
            .field("key_id", &self.key_id)
            .field("enabled_at", &self.enabled_at)
            .field("last_used_step", &self.last_used_step)
            .field("failed_attempts", &self.failed_attempts)
            .field("locked_until", &self.locked_until)
            .finish_non_exhaustive()
    }
}

/// No relations are navigated through sea-orm; repositories query by key.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
