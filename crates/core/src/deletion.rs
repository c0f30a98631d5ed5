//! Work that must succeed before an account or an organization is deleted.

use uuid::Uuid;

use crate::WireError;

/// Why a step refused a deletion: any [`WireError`], answered as it is (its
/// status, code and, below 500, message).
pub type DeletionRefused = Box<dyn WireError + Send + Sync>;

/// A step run before an account is deleted, which can refuse the deletion.
///
/// `tollbooth-auth` runs every step it is configured with
/// (`AuthConfigBuilder::before_account_deletion`), in order, after the user proved who they
/// are and before anything is deleted; the first error ends the deletion with nothing of
/// the account deleted, and answers with that error. `tollbooth-billing`'s `Billing` is one:
/// it cancels the user's Stripe subscriptions, so a deleted account is never billed again.
/// An application adds its own (files in object storage, rows of its own tables keyed on the
/// user) the same way.
///
/// A step must be safe to run again: a deletion refused by a later step, or by the
/// database, is retried from the first step.
///
/// ```
/// use tollbooth_core::{BeforeAccountDeletion, DeletionRefused};
/// use uuid::Uuid;
///
/// struct DropUploads;
///
/// #[async_trait::async_trait]
/// impl BeforeAccountDeletion for DropUploads {
///     async fn before_account_deletion(&self, user_id: Uuid) -> Result<(), DeletionRefused> {
///         // delete `uploads/{user_id}/` from object storage; an error refuses the deletion
///         let _ = user_id;
///         Ok(())
///     }
/// }
/// ```
#[async_trait::async_trait]
pub trait BeforeAccountDeletion: Send + Sync {
    /// Prepares `user_id`'s deletion; an error refuses it.
    async fn before_account_deletion(&self, user_id: Uuid) -> Result<(), DeletionRefused>;
}

/// A step run before an organization is deleted, which can refuse the deletion: the
/// organization's [`BeforeAccountDeletion`].
///
/// `tollbooth-auth` runs every step it is configured with
/// (`AuthConfigBuilder::before_organization_deletion`), in order, once the owner proved who
/// they are and before anything is deleted; the first error ends the deletion with nothing
/// of the organization deleted, and answers with that error. Billing cancels the
/// organization's subscription here, so a deleted organization is never billed again. A step
/// must be safe to run again.
#[async_trait::async_trait]
pub trait BeforeOrganizationDeletion: Send + Sync {
    /// Prepares `organization_id`'s deletion; an error refuses it.
    async fn before_organization_deletion(
        &self,
        organization_id: Uuid,
    ) -> Result<(), DeletionRefused>;
}
