//! `security_events`: the append-only audit trail. Each row is written in the transaction
//! of the change it records, so there is no event without its change and no change without
//! its event. User ids are plain columns (no foreign key): the trail outlives the account.

use sea_orm::entity::prelude::*;

/// A security event row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "security_events")]
pub struct Model {
    /// UUID v7 (time-ordered).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// When it happened (UTC).
    pub at: DateTimeUtc,
    /// What happened ([`SecurityEventKind`](crate::SecurityEventKind) as text).
    pub kind: String,
    /// Who did it: the user themselves, an administrator, or nobody known (a failed
    /// sign-in for an unknown address).
    pub actor_user_id: Option<Uuid>,
    /// Whose account it concerns.
    pub subject_user_id: Option<Uuid>,
    /// Client IP, when the request had one.
    pub ip: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
    /// A small typed detail (a ban's reason and expiry, a role change's old and new role);
    /// never a secret.
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub detail: Option<Json>,
}

/// No relations are navigated through sea-orm; repositories query by key.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
