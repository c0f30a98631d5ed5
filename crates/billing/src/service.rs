//! [`Billing`]: the service every operation hangs off.

use std::sync::Arc;

use tokio_util::task::TaskTracker;
use tollbooth_core::ConfigError;
use tollbooth_db::{Customer, Db};
use tollbooth_email::{EmailError, Link, Mailer, Outbox};

use crate::calcom::CalcomApi;
use crate::config::BillingConfig;
use crate::error::{BillingError, Result};
use crate::stripe::StripeApi;

/// The billing service. Cheap to clone; build one at start-up and share it (it holds the
/// Stripe HTTP client — the spec's `new Stripe(key, { apiVersion })` singleton).
#[derive(Clone)]
pub struct Billing {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) db: Db,
    pub(crate) mailer: Mailer,
    pub(crate) config: BillingConfig,
    pub(crate) stripe: StripeApi,
    pub(crate) calcom: Option<CalcomApi>,
    /// Billing e-mails, written with the webhook's effect and delivered from there.
    pub(crate) outbox: Outbox,
    /// Stripe calls made after a webhook committed (cancelling a duplicate subscription).
    pub(crate) background: TaskTracker,
}

impl Billing {
    /// The service over a migrated database and a mailer.
    pub fn new(db: Db, mailer: Mailer, config: BillingConfig) -> Result<Self, ConfigError> {
        let stripe = StripeApi::new(&config)?;
        let calcom = config.calcom.clone().map(CalcomApi::new).transpose()?;
        let outbox = Outbox::new(db.clone(), mailer.clone());
        Ok(Self {
            inner: Arc::new(Inner {
                db,
                mailer,
                outbox,
                config,
                stripe,
                calcom,
                background: TaskTracker::new(),
            }),
        })
    }

    /// The mailer billing e-mails go through.
    pub fn mailer(&self) -> &Mailer {
        &self.inner.mailer
    }

    /// The configuration.
    pub fn config(&self) -> &BillingConfig {
        &self.inner.config
    }

    /// Waits until the work a webhook left for after its commit is done and every e-mail
    /// due has been handed to the transport (graceful shutdown, tests). E-mails still
    /// undelivered stay in the outbox for the next start.
    pub async fn flush_background_tasks(&self) {
        let tracker = &self.inner.background;
        tracker.close();
        tracker.wait().await;
        tracker.reopen();
        if let Err(error) = self.inner.outbox.flush().await {
            tracing::warn!(%error, "billing e-mails not flushed");
        }
    }

    /// The application's billing page for `customer` (links in billing e-mails: portal
    /// sessions expire in minutes, so e-mails link to a page that opens one on demand): the
    /// user's billing page, or the organization's page
    /// ([`BillingConfigBuilder::organization_billing_path`](crate::BillingConfigBuilder::organization_billing_path),
    /// `{id}` replaced by its id).
    pub(crate) fn billing_page(&self, customer: Customer) -> Link {
        let config = &self.inner.config;
        match customer {
            Customer::User(_) => config.public_base_url.link(&config.billing_path, &[]),
            Customer::Organization(id) => config.public_base_url.link(
                &config
                    .organization_billing_path
                    .replace("{id}", &id.to_string()),
                &[],
            ),
        }
    }
}

/// An e-mail that could not be queued: the database (typed, so an outage stays a 503), or a
/// template bug.
pub(crate) fn queue_error(error: EmailError) -> BillingError {
    match error {
        EmailError::Storage { source } => source.into(),
        other => BillingError::internal(other),
    }
}

impl std::fmt::Debug for Billing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Billing")
            .field("stripe", &self.inner.stripe)
            .finish_non_exhaustive()
    }
}
