//! `sessions`: the server side of a session cookie. The id is the JWT `sid`; no token is stored.

use sea_orm::entity::prelude::*;

/// A session row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
    /// UUID v7; the JWT `sid` claim.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owner.
    pub user_id: Uuid,
    /// Sign-in time (UTC).
    pub created_at: DateTimeUtc,
    /// Last time the session was used.
    pub last_seen_at: DateTimeUtc,
    /// Expires if unused until then; slides forward on use.
    pub idle_expires_at: DateTimeUtc,
    /// Hard end of the session, whatever the activity.
    pub absolute_expires_at: DateTimeUtc,
    /// Set on sign-out, revocation, password reset.
    pub revoked_at: Option<DateTimeUtc>,
    /// Client IP at sign-in.
    pub ip: Option<String>,
    /// Client user agent at sign-in.
    pub user_agent: Option<String>,
    /// Last re-authentication (password or second factor) in this session; `NULL` means
    /// none since sign-in (`created_at`).
    pub authenticated_at: Option<DateTimeUtc>,
    /// Set when an administrator opened this session to act as the user: the
    /// administrator's own session, which the impersonation cannot outlive.
    pub impersonator_session_id: Option<Uuid>,
    /// The organization the session acts in, switched explicitly; cleared in the same
    /// transaction that removes the user from it or deletes it.
    pub active_organization_id: Option<Uuid>,
}

impl Model {
    /// When the session last proved who it is: its sign-in, or a later re-authentication.
    pub fn authenticated_at(&self) -> DateTimeUtc {
        self.authenticated_at.unwrap_or(self.created_at)
    }
}

impl Model {
    /// Whether the session may be used at `now`: not revoked, neither timeout passed.
    pub fn is_active(&self, now: DateTimeUtc) -> bool {
        self.revoked_at.is_none() && now < self.idle_expires_at && now < self.absolute_expires_at
    }
}

/// A session belongs to a user (joined on every authenticated request).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The owner.
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UserId",
        to = "super::user::Column::Id"
    )]
    User,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
