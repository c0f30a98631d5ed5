//! [`Billing`]: the service every operation hangs off.

use std::sync::Arc;

use tokio_util::task::TaskTracker;
use tollbooth_db::Db;
use tollbooth_email::{EmailTemplate, Link, Mailer, SendOptions};

use crate::calcom::CalcomApi;
use crate::config::BillingConfig;
use crate::error::Result;
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
    pub(crate) background: TaskTracker,
}

impl Billing {
    /// The service over a migrated database and a mailer.
    pub fn new(db: Db, mailer: Mailer, config: BillingConfig) -> Result<Self> {
        let stripe = StripeApi::new(&config)?;
        let calcom = config.calcom.clone().map(CalcomApi::new).transpose()?;
        Ok(Self {
            inner: Arc::new(Inner {
                db,
                mailer,
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

    /// Waits until every e-mail queued so far has been handed to the transport.
    pub async fn flush_background_tasks(&self) {
        let tracker = &self.inner.background;
        tracker.close();
        tracker.wait().await;
        tracker.reopen();
    }

    /// The application's billing page (links in billing e-mails: portal sessions expire in
    /// minutes, so e-mails link to a page that opens one on demand).
    pub(crate) fn billing_page(&self) -> Link {
        let config = &self.inner.config;
        config.public_base_url.link(&config.billing_path, &[])
    }

    /// Sends an e-mail after the caller's transaction committed, without holding up the
    /// webhook response; the idempotency key makes a redelivered event harmless.
    pub(crate) fn send_in_background<T>(&self, to: String, props: T::Props, key: String)
    where
        T: EmailTemplate + 'static,
        T::Props: 'static,
    {
        let mailer = self.inner.mailer.clone();
        self.inner.background.spawn(async move {
            if let Err(error) = mailer
                .send::<T>(to, props, SendOptions::idempotency_key(key))
                .await
            {
                tracing::error!(template = T::NAME, %error, "billing e-mail not sent");
            }
        });
    }
}

impl std::fmt::Debug for Billing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Billing")
            .field("stripe", &self.inner.stripe)
            .finish_non_exhaustive()
    }
}
