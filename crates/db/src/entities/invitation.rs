//! `invitations`: a place in an organization offered to an e-mail address. The token
//! itself is only in the e-mail; the row keeps its sha-256.

use sea_orm::entity::prelude::*;

/// An invitation row. At most one `pending` per (organization, e-mail).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "invitations")]
pub struct Model {
    /// UUID v7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The organization.
    pub organization_id: Uuid,
    /// The invited address, normalized.
    pub email: String,
    /// The role the invitee gets on accepting.
    pub role: String,
    /// Who invited (`None` once their account is deleted).
    pub inviter_user_id: Option<Uuid>,
    /// sha-256 of the token; unique. Replaced when the invitation is sent again.
    #[sea_orm(unique)]
    pub token_hash: Vec<u8>,
    /// `pending`, `accepted`, `revoked` or `expired` ([`InvitationStatus`]).
    pub status: String,
    /// The token is refused after this.
    pub expires_at: DateTimeUtc,
    /// Row creation time (UTC).
    pub created_at: DateTimeUtc,
    /// Last status change (UTC).
    pub updated_at: DateTimeUtc,
}

/// No relations are navigated through sea-orm; repositories query by key.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Where an invitation stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InvitationStatus {
    /// Sent, not answered: its token works until `expires_at`.
    Pending,
    /// Accepted: the invitee is a member.
    Accepted,
    /// Revoked by a member of the organization.
    Revoked,
    /// Not accepted in time.
    Expired,
}

impl InvitationStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Accepted => "accepted",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
        }
    }
}
