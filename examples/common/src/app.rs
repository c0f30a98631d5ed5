//! The application state both servers hold: auth, optional billing, and the addresses made
//! admins once verified.

use tollbooth_auth::Auth;
use tollbooth_billing::{Billing, PaymentCheckout};
use tollbooth_db::{DbError, PurgeReport, Retention, User, UserRepo};

use crate::error::ApiError;

/// The application.
#[derive(Clone, Debug)]
pub struct App {
    /// Authentication.
    pub auth: Auth,
    /// Billing (`None` without `STRIPE_SECRET_KEY`).
    pub billing: Option<Billing>,
    admins: Vec<String>,
    product: String,
    offer: Option<PaymentCheckout>,
}

impl App {
    /// The application; `product` names it on its pages.
    pub fn new(
        auth: Auth,
        billing: Option<Billing>,
        admins: Vec<String>,
        product: impl Into<String>,
    ) -> Self {
        Self {
            auth,
            billing,
            admins,
            product: product.into(),
            offer: None,
        }
    }

    /// Sells `offer` once per click on the pricing page (Stripe Checkout in payment mode).
    #[must_use]
    pub fn offer(mut self, offer: PaymentCheckout) -> Self {
        self.offer = Some(offer);
        self
    }

    /// The one-off purchase on sale, if any (`OFFER_AMOUNT`).
    pub(crate) fn one_off(&self) -> Option<&PaymentCheckout> {
        self.offer.as_ref()
    }

    /// The product's name (`PRODUCT_NAME`).
    pub fn product(&self) -> &str {
        &self.product
    }

    /// Waits for e-mails still being sent (graceful shutdown).
    pub async fn shutdown(&self) {
        self.auth.flush_background_tasks().await;
        if let Some(billing) = &self.billing {
            billing.flush_background_tasks().await;
        }
    }

    /// Deletes what is past its retention (ended sessions, expired tokens, idle rate limits,
    /// old webhook-ledger rows, delivered e-mails): `tollbooth-axum purge` runs it once.
    pub async fn purge(&self) -> Result<PurgeReport, DbError> {
        self.auth
            .db()
            .purge(&Retention::default(), tollbooth_db::now())
            .await
    }

    /// Runs [`purge`](Self::purge) every `every` (`PURGE_INTERVAL_SECONDS`), first once
    /// `every` has passed after start; a failure is logged and the next tick tries again.
    /// Any number of instances may run it: each purge is idempotent.
    pub async fn purge_periodically(self, every: std::time::Duration) {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if let Err(error) = self.purge().await {
                tracing::warn!(%error, "purge failed; the next one retries");
            }
        }
    }

    /// Billing, or 404 `not_configured` on a server started without it.
    pub(crate) fn billing(&self) -> Result<&Billing, ApiError> {
        self.billing
            .as_ref()
            .ok_or(ApiError::NotConfigured("billing"))
    }

    /// `ADMIN_EMAILS` names addresses, and an address is only someone's once they proved it:
    /// the role is granted at verification (or the first verified sign-in), never at sign-up,
    /// or whoever registered an admin's address first would be admin.
    pub(crate) async fn grant_listed_admin(&self, user: User) -> Result<User, ApiError> {
        if user.email_verified_at.is_none()
            || user.role == "admin"
            || !self.admins.contains(&user.email)
        {
            return Ok(user);
        }
        let promoted = self
            .auth
            .db()
            .set_user_role(user.id, "admin")
            .await
            .map_err(|e| ApiError::Auth(e.into()))?;
        tracing::info!(user_id = %user.id, "ADMIN_EMAILS: verified address made admin");
        Ok(promoted.unwrap_or(user))
    }
}
