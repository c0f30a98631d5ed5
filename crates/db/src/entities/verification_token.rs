//! `verification_tokens`: single-use bearer tokens, stored as their sha-256 only.

use sea_orm::entity::prelude::*;

/// What a token may be used for; a token of one purpose never satisfies another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "Text")]
pub enum TokenPurpose {
    /// Proves ownership of an e-mail address.
    #[sea_orm(string_value = "email_verification")]
    EmailVerification,
    /// Allows setting a new password.
    #[sea_orm(string_value = "password_reset")]
    PasswordReset,
    /// OAuth `state`, bound to a browser for one authorization round trip.
    #[sea_orm(string_value = "oauth_state")]
    OAuthState,
    /// Second step of a sign-in that requires MFA.
    #[sea_orm(string_value = "mfa_challenge")]
    MfaChallenge,
    /// The "this wasn't me" link of a security notice: signs out everywhere and starts a
    /// recovery reset.
    #[sea_orm(string_value = "security_report")]
    SecurityReport,
    /// Proves the new address of an e-mail change (sent to that address); applies the change.
    #[sea_orm(string_value = "email_change")]
    EmailChange,
}

/// A token row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "verification_tokens")]
pub struct Model {
    /// UUID v7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// What the token proves.
    pub purpose: TokenPurpose,
    /// What it is about: an e-mail address, a provider name, …
    pub identifier: String,
    /// The user it belongs to, when there is one.
    pub user_id: Option<Uuid>,
    /// sha-256 of the bearer token.
    #[sea_orm(unique)]
    pub token_hash: Vec<u8>,
    /// Purpose-specific data (e.g. PKCE verifier and nonce for OAuth state).
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub payload: Option<Json>,
    /// The token is refused from then on.
    pub expires_at: DateTimeUtc,
    /// Set when the token is used; a consumed token is refused.
    pub consumed_at: Option<DateTimeUtc>,
    /// Issue time (UTC).
    pub created_at: DateTimeUtc,
}

/// No relations are navigated through sea-orm; repositories query by key.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
