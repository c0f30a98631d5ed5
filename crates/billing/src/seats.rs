//! Seats. An organization on a per-seat plan ([`Plan::per_seat`](crate::Plan::per_seat)) is
//! billed for as many seats as it has members (and, when configured, pending invitations);
//! a plan's seat limit ([`Plan::seat_limit`](crate::Plan::seat_limit)) is written on the
//! organization, where auth reads it under the organization's lock before an invitation or
//! an acceptance.
//!
//! Setting the quantity calls Stripe, so it never runs under a database lock. Instead one
//! sync per organization runs at a time, under a lease (`organizations.seat_sync_until`,
//! a conditional write); the quantity written is the count read from the database, never
//! an increment, and the holder checks the count again after giving the lease back, so a
//! change committed while it held the lease (whose own sync was turned away) is not lost.
//! Two members joining at once may be billed as one change of two seats.

use std::time::Duration;

use stripe_billing::subscription::RetrieveSubscription;
use stripe_billing::subscription_item::{
    UpdateSubscriptionItem, UpdateSubscriptionItemProrationBehavior,
};
use tollbooth_core::{DomainEvent, HookError, Hooks};
use tollbooth_db::{BillingRepo, Customer, InvitationRepo, OrganizationRepo, Subscription};
use uuid::Uuid;

use crate::error::{BillingError, Result};
use crate::service::Billing;
use crate::stripe::types;
use crate::subscriptions::status_of;

/// How long a seat sync may hold the lease before another instance may take over (a holder
/// that died leaves it to expire).
const LEASE: Duration = Duration::from_secs(60);
/// Rounds before a sync whose count keeps changing gives up (the next change, or
/// [`Billing::reconcile`], syncs again).
const MAX_ROUNDS: usize = 5;

/// What [`Billing::sync_seats`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SeatSync {
    /// The organization has no live subscription to a per-seat plan: nothing is billed per
    /// seat.
    NotPerSeat,
    /// Stripe bills the organization's count of seats (changed now, or already right).
    Synced {
        /// The quantity Stripe holds.
        seats: u64,
    },
    /// Another sync of the organization holds the lease (on this instance or another); it
    /// sees this change when it checks the count again.
    Busy,
}

impl Billing {
    /// Makes the quantity of the organization's per-seat subscription equal to its seats
    /// (members, plus pending invitations with
    /// [`count_pending_invitations_as_seats`](crate::BillingConfigBuilder::count_pending_invitations_as_seats)),
    /// prorated (`create_prorations`), and stores what Stripe then holds. Runs after each
    /// [`DomainEvent::SeatsChanged`] when `Billing` is one of auth's hooks, and from
    /// [`reconcile`](Self::reconcile); safe to call any time. Stripe unreachable is an
    /// error, and nothing local changed.
    pub async fn sync_seats(&self, organization_id: Uuid) -> Result<SeatSync> {
        let customer = Customer::Organization(organization_id);
        let db = &self.inner.db;
        let mut seats = 0;
        for _ in 0..MAX_ROUNDS {
            let Some(subscription) = self.per_seat_subscription(customer).await? else {
                return Ok(SeatSync::NotPerSeat);
            };
            let now = tollbooth_db::now();
            let mut held = lease_end(now)?;
            if !db.claim_seat_sync(organization_id, now, held).await? {
                return Ok(SeatSync::Busy);
            }
            let set = self
                .set_quantity(
                    organization_id,
                    &subscription.stripe_subscription_id,
                    &mut held,
                )
                .await;
            db.release_seat_sync(organization_id, held).await?;
            match set? {
                Some(written) => seats = written,
                // The lease ran out and another instance took over: it counts after us.
                None => return Ok(SeatSync::Busy),
            }
            // A change that committed while the lease was held was turned away as `Busy`:
            // with the lease given back, the count decides whether to go round again.
            if self.seat_count(organization_id).await? == seats {
                return Ok(SeatSync::Synced { seats });
            }
        }
        tracing::warn!(%organization_id, "seats kept changing during the sync; the next change or `reconcile` syncs again");
        Ok(SeatSync::Synced { seats })
    }

    /// Under the lease held until `held` (extended before each write): writes the count
    /// as the quantity until Stripe holds it, and returns it; `None` when the lease was
    /// lost (a call slower than the lease), having written nothing since.
    async fn set_quantity(
        &self,
        organization_id: Uuid,
        subscription_id: &str,
        held: &mut chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<u64>> {
        let customer = Customer::Organization(organization_id);
        let stripe = &self.inner.stripe;
        for _ in 0..MAX_ROUNDS {
            let seats = self.seat_count(organization_id).await?;
            let current: types::Subscription = stripe
                .send(&RetrieveSubscription::new(subscription_id), None)
                .await?;
            let item = current
                .first_item()
                .ok_or_else(|| BillingError::internal("a per-seat subscription without an item"))?;
            if item.quantity.and_then(|q| u64::try_from(q).ok()) == Some(seats) {
                self.store(customer, &current, tollbooth_db::now()).await?;
                return Ok(Some(seats));
            }
            let item_id = item.id.as_deref().ok_or_else(|| {
                BillingError::internal("Stripe returned a subscription item without an id")
            })?;
            let extended = lease_end(tollbooth_db::now())?;
            if !self
                .inner
                .db
                .extend_seat_sync(organization_id, *held, extended)
                .await?
            {
                return Ok(None);
            }
            *held = extended;
            // No idempotency key of our own: the quantity is absolute (writing it twice
            // is harmless), and a key would replay an older count over a newer one.
            let request = UpdateSubscriptionItem::new(item_id)
                .quantity(seats)
                .proration_behavior(UpdateSubscriptionItemProrationBehavior::CreateProrations);
            let _: serde_json::Value = stripe.send(&request, None).await?;
            tracing::info!(%organization_id, subscription = %subscription_id, from = ?item.quantity, to = seats,
                "seats billed");
        }
        Err(BillingError::internal(
            "Stripe's quantity did not follow the seats written",
        ))
    }

    /// The organization's seats as billed: members, plus pending invitations when so
    /// configured; at least one.
    pub(crate) async fn seat_count(&self, organization_id: Uuid) -> Result<u64> {
        let db = &self.inner.db;
        let mut seats = db.count_members(organization_id).await?;
        if self.inner.config.pending_invitations_are_seats {
            seats += db
                .count_pending_invitations(organization_id, tollbooth_db::now())
                .await?;
        }
        Ok(seats.max(1))
    }

    /// The organization's live subscription, if its plan is billed per seat.
    async fn per_seat_subscription(&self, customer: Customer) -> Result<Option<Subscription>> {
        let config = &self.inner.config;
        Ok(self.get_subscription(customer).await?.filter(|s| {
            status_of(s).blocks_checkout() && config.plan(&s.plan).is_some_and(|p| p.is_per_seat())
        }))
    }

    /// After a seats change: the organization's seat limit written again (the free plan's
    /// applies from its creation on), then its seats synced.
    async fn seats_changed(&self, organization_id: Uuid) -> Result<SeatSync> {
        self.write_seat_limit_locked(organization_id).await?;
        self.sync_seats(organization_id).await
    }

    /// [`write_seat_limit`] in a transaction of its own that first locks the organization,
    /// so it orders with the webhooks that change its subscriptions (which write it under
    /// the same lock) and never writes an older plan's limit over a newer one.
    pub(crate) async fn write_seat_limit_locked(&self, organization_id: Uuid) -> Result<()> {
        let tx = self.inner.db.begin().await?;
        if tx.lock_organization(organization_id).await?.is_none() {
            return Ok(());
        }
        write_seat_limit(self, &tx, organization_id).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// When a lease taken (or extended) at `now` ends.
fn lease_end(now: chrono::DateTime<chrono::Utc>) -> Result<chrono::DateTime<chrono::Utc>> {
    Ok(now + chrono::Duration::from_std(LEASE).map_err(BillingError::internal)?)
}

/// Writes the seat limit of the plan the organization is on now (its subscriptions read
/// through `db`, a transaction or the pool) on the organization.
pub(crate) async fn write_seat_limit<R>(
    billing: &Billing,
    db: &R,
    organization_id: Uuid,
) -> Result<()>
where
    R: BillingRepo + OrganizationRepo,
{
    let subscriptions = db
        .list_subscriptions(Customer::Organization(organization_id))
        .await?;
    let plan = billing.plan_in_force(Customer::Organization(organization_id), subscriptions);
    let limit = plan
        .seats_allowed()
        .map(|seats| i32::try_from(seats).unwrap_or(i32::MAX));
    db.set_seat_limit(organization_id, limit).await?;
    Ok(())
}

#[async_trait::async_trait]
impl Hooks for Billing {
    /// On [`DomainEvent::SeatsChanged`], off the caller's path: the organization's seat
    /// limit written again and its seats synced ([`Billing::sync_seats`]); a failure is
    /// logged, and the next change or [`Billing::reconcile`] syncs again. Give `Billing` to
    /// `tollbooth-auth`'s `AuthConfigBuilder::hooks`.
    async fn on_event(&self, event: &DomainEvent) -> Result<(), HookError> {
        if let DomainEvent::SeatsChanged { organization_id } = *event {
            let billing = self.clone();
            self.inner.background.spawn(async move {
                if let Err(error) = billing.seats_changed(organization_id).await {
                    tracing::warn!(%organization_id, %error,
                        "seats not synced yet; the next change or `reconcile` syncs them");
                }
            });
        }
        Ok(())
    }
}
