//! Stripe webhooks in public stages: [`verify_stripe_signature`] (pure but for the clock),
//! [`StripeEvent::parse`] (one typed event), [`Billing::apply_stripe_event`] (exactly once,
//! in order) — and [`Billing::handle_stripe_webhook`], the three in a row.

pub(crate) mod event;
pub(crate) mod signature;

pub use event::StripeEvent;
pub use signature::{SignatureError, verify_stripe_signature};

use chrono::{DateTime, Utc};
use stripe_billing::subscription::RetrieveSubscription;
use stripe_core::payment_intent::RetrievePaymentIntent;
use tollbooth_db::{
    BillingRepo, BookingRepo, Customer, Payment, Subscription, Tx, Upsert, User, UserRepo,
    WebhookSource,
};
use tollbooth_email::{
    Money, PaymentFailedEmail, PaymentFailedProps, SubscriptionConfirmedEmail,
    SubscriptionConfirmedProps,
};
use uuid::Uuid;

use crate::customers;
use crate::error::{BillingError, Result};
use crate::ledger;
use crate::payments::payment_upsert;
use crate::service::{Billing, queue_error};
use crate::stripe::types::{self, Charge, PaymentIntent, timestamp};
use crate::subscriptions::{creation_order, status_of, to_upsert};
use crate::webhook::event::EventObject;

/// What happened to a delivered event.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WebhookOutcome {
    /// Its effect is now in the database.
    Applied,
    /// Already processed (a redelivery, or a concurrent duplicate): nothing changed.
    Duplicate,
    /// Recorded, with no local effect (an event type Tollbooth does not use, or about a
    /// customer it does not know).
    Ignored {
        /// Why.
        reason: &'static str,
    },
    /// Recorded; the subscription already reflects a newer event, so this older one was
    /// not applied.
    Stale,
}

/// The result of [`Billing::handle_stripe_webhook`]; answer Stripe with 200 for every
/// receipt.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StripeReceipt {
    /// `evt_…`.
    pub event_id: String,
    /// `customer.subscription.updated`, …
    pub event_type: String,
    /// What happened.
    pub outcome: WebhookOutcome,
}

/// How far applying an event got.
enum Step {
    /// Applied (or found stale, or ignored) inside the transaction; `after` runs once it
    /// has committed.
    Done {
        outcome: WebhookOutcome,
        after: Vec<AfterCommit>,
        /// The subscription row written, for the application's hooks once committed.
        changed: Option<Box<Subscription>>,
    },
    /// The event alone does not decide the object's state — a tie with the row, a refund of
    /// a payment not recorded yet: read the object from Stripe (outside any transaction),
    /// then apply again with it.
    Fetch(Fetch),
}

enum Fetch {
    Subscription(String),
    PaymentIntent(String),
}

/// An object as Stripe holds it now.
enum Fetched {
    Subscription(types::Subscription),
    PaymentIntent(PaymentIntent),
}

/// Work that calls Stripe, done after the event's transaction committed and off the
/// response path.
enum AfterCommit {
    /// Cancel (and refund) the customer's flagged duplicate subscriptions.
    CancelDuplicates { customer: Customer },
    /// Make (and store) the Cal.com booking link of a paid session.
    BookingLink { payment_intent: String },
    /// Bill an organization's per-seat subscription for its seats (a new subscription
    /// starts at the quantity Checkout sold).
    SyncSeats { organization_id: Uuid },
}

impl Step {
    fn done(outcome: WebhookOutcome) -> Self {
        Self::Done {
            outcome,
            after: Vec::new(),
            changed: None,
        }
    }

    fn ignored(reason: &'static str) -> Self {
        Self::done(WebhookOutcome::Ignored { reason })
    }
}

fn outcome_of<T>(written: &Upsert<T>) -> WebhookOutcome {
    match written {
        Upsert::Applied(_) => WebhookOutcome::Applied,
        _ => WebhookOutcome::Stale,
    }
}

impl Billing {
    /// Verifies and applies a Stripe webhook delivery: [`verify_stripe_webhook`](Self::verify_stripe_webhook),
    /// then [`apply_stripe_event`](Self::apply_stripe_event). A database failure is an
    /// error (the adapter answers 5xx, Stripe retries) and leaves the event unrecorded.
    pub async fn handle_stripe_webhook(
        &self,
        payload: &[u8],
        signature_header: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<StripeReceipt> {
        let event = self.verify_stripe_webhook(payload, signature_header, now)?;
        self.apply_stripe_event(&event, now).await
    }

    /// The first two stages: the signature is checked over the raw bytes (every configured
    /// secret, every `v1`, constant time, `now` within the tolerance) — any failure is
    /// [`BillingError::InvalidSignature`] (the reason is logged) — then the body is parsed
    /// ([`StripeEvent::parse`]). Nothing is written.
    pub fn verify_stripe_webhook(
        &self,
        payload: &[u8],
        signature_header: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<StripeEvent> {
        let config = &self.inner.config;
        verify_stripe_signature(
            payload,
            signature_header,
            &config.webhook_secrets,
            now,
            config.webhook_tolerance,
        )
        .map_err(|why| {
            tracing::warn!(%why, "Stripe webhook signature refused");
            BillingError::InvalidSignature
        })?;
        StripeEvent::parse(payload)
    }

    /// Applies a verified event exactly once, received at `now`.
    ///
    /// 1. In **one** transaction, the event id is recorded (unique per source), its effect
    ///    applied and its e-mails written to the outbox. A duplicate delivery — sequential
    ///    or concurrent, on any instance — hits the unique index and is a
    ///    [`WebhookOutcome::Duplicate`] no-op.
    /// 2. Subscriptions and payments remember the `created` time of the newest event
    ///    applied; an older event is [`WebhookOutcome::Stale`]. An event of the same second
    ///    that would change the row never decides alone: the object is read from Stripe
    ///    and that state is written (if Stripe cannot be reached, the error is 5xx and
    ///    Stripe retries). A final status (`canceled`, a succeeded payment) is never undone
    ///    by an event that is not newer.
    /// 3. Work that calls another service runs after the commit and off the response path:
    ///    cancelling a flagged duplicate subscription, making a paid session's booking link
    ///    ([`booking_link_for_payment`](Self::booking_link_for_payment) returns it).
    #[tracing::instrument(
        name = "tollbooth.stripe.apply",
        skip_all,
        fields(event_id = event.id(), event_type = event.event_type())
    )]
    pub async fn apply_stripe_event(
        &self,
        event: &StripeEvent,
        now: DateTime<Utc>,
    ) -> Result<StripeReceipt> {
        let receipt = |outcome| StripeReceipt {
            event_id: event.id().to_owned(),
            event_type: event.event_type().to_owned(),
            outcome,
        };
        let mut fetched = None;
        let (outcome, after) = loop {
            let Some(tx) = ledger::begin_once(
                &self.inner.db,
                WebhookSource::Stripe,
                event.id(),
                event.event_type(),
                now,
            )
            .await?
            else {
                return Ok(receipt(WebhookOutcome::Duplicate));
            };
            match self.apply(&tx, event, fetched.as_ref()).await? {
                Step::Done {
                    outcome,
                    after,
                    changed,
                } => {
                    tx.commit().await?;
                    if let Some(row) = &changed {
                        self.tell_changed(row).await;
                    }
                    break (outcome, after);
                }
                Step::Fetch(what) => {
                    // Rolls the transaction back: no Stripe call while it holds locks.
                    drop(tx);
                    if fetched.is_some() {
                        return Err(BillingError::internal(
                            "a Stripe event stayed undecided after reading its object from Stripe",
                        ));
                    }
                    fetched = Some(self.fetch(what).await?);
                }
            }
        };
        self.inner.outbox.notify();
        for work in after {
            self.after_commit(work);
        }
        tracing::info!(event_id = %event.id(), event_type = %event.event_type(), ?outcome, "Stripe webhook");
        Ok(receipt(outcome))
    }

    async fn fetch(&self, what: Fetch) -> Result<Fetched> {
        let stripe = &self.inner.stripe;
        Ok(match what {
            Fetch::Subscription(id) => {
                tracing::info!(subscription = %id, "Stripe event tied with the stored state; reading the subscription");
                Fetched::Subscription(
                    stripe
                        .send(&RetrieveSubscription::new(id.as_str()), None)
                        .await?,
                )
            }
            Fetch::PaymentIntent(id) => {
                tracing::info!(payment_intent = %id, "reading the payment from Stripe");
                Fetched::PaymentIntent(
                    stripe
                        .send(&RetrievePaymentIntent::new(id.as_str()), None)
                        .await?,
                )
            }
        })
    }

    fn after_commit(&self, work: AfterCommit) {
        let billing = self.clone();
        self.inner.background.spawn(async move {
            match work {
                AfterCommit::CancelDuplicates { customer } => {
                    if let Err(error) = billing.cancel_flagged_duplicates(customer).await {
                        tracing::error!(%customer, %error,
                            "duplicate subscription not cancelled yet; `reconcile` retries it");
                    }
                }
                AfterCommit::SyncSeats { organization_id } => {
                    if let Err(error) = billing.sync_seats(organization_id).await {
                        tracing::warn!(%organization_id, %error,
                            "seats not synced yet; the next change or `reconcile` syncs them");
                    }
                }
                AfterCommit::BookingLink { payment_intent } => {
                    if let Err(error) = billing.booking_link_for_payment(&payment_intent).await {
                        tracing::warn!(%payment_intent, %error,
                            "booking link not made yet; `booking_link_for_payment` makes it on demand");
                    }
                }
            }
        });
    }

    /// Applies `event` inside `tx` (with `fetched`, Stripe's current state of its object,
    /// when a first pass asked for it).
    async fn apply(&self, tx: &Tx, event: &StripeEvent, fetched: Option<&Fetched>) -> Result<Step> {
        let event_at = event.created();
        match &event.object {
            EventObject::CheckoutCompleted(session) => {
                tx.close_checkout_session(&session.id, event_at).await?;
                // `client_reference_id` first: Tollbooth sets it (to the user) on a user's
                // sessions only, while a one-off payment's metadata is partly the
                // application's and may name anything (`organization_id` included).
                let named = session
                    .client_reference_id
                    .as_deref()
                    .and_then(|id| Uuid::parse_str(id).ok())
                    .map(Customer::User)
                    .or_else(|| customers::named_in(&session.metadata));
                let account = match named {
                    Some(customer) => customers::account(tx, customer).await?,
                    None => None,
                };
                let Some(account) = account else {
                    return Ok(Step::ignored("checkout session of an unknown customer"));
                };
                if let Some(customer) = &session.customer
                    && !customers::link(tx, &account, customer.id()).await?
                {
                    return Ok(Step::ignored(customers::CUSTOMER_OF_ANOTHER));
                }
                if session.mode.as_deref() != Some("subscription") {
                    return Ok(Step::done(WebhookOutcome::Applied));
                }
                let plan = session
                    .metadata
                    .get("plan")
                    .and_then(|id| self.inner.config.plan(id))
                    .map_or("paid", |plan| plan.name());
                for (n, contact) in customers::contacts(tx, account.customer)
                    .await?
                    .into_iter()
                    .enumerate()
                {
                    let props = SubscriptionConfirmedProps {
                        name: contact.name,
                        plan: plan.to_owned(),
                        price: None,
                        trial_end: None,
                        renews_at: None,
                        manage_url: self.billing_page(account.customer),
                    };
                    self.inner
                        .outbox
                        .queue::<SubscriptionConfirmedEmail>(
                            tx,
                            contact.email,
                            &props,
                            format!("stripe/{}/confirmed/{n}", event.id()),
                        )
                        .await
                        .map_err(queue_error)?;
                }
                Ok(Step::done(WebhookOutcome::Applied))
            }
            EventObject::CheckoutExpired(session) => {
                Ok(if tx.close_checkout_session(&session.id, event_at).await? {
                    Step::done(WebhookOutcome::Applied)
                } else {
                    Step::ignored("a checkout session Tollbooth did not open")
                })
            }
            EventObject::Subscription(subscription) => {
                let subscription = match fetched {
                    Some(Fetched::Subscription(current)) => current,
                    _ => subscription,
                };
                self.apply_subscription(tx, subscription, event_at, fetched.is_some())
                    .await
            }
            EventObject::InvoicePaymentFailed(invoice) => {
                let Some(customer) = &invoice.customer else {
                    return Ok(Step::ignored("invoice without a customer"));
                };
                let Some(owner) = customers::owner_of(tx, customer.id()).await? else {
                    return Ok(Step::ignored("invoice of an unknown customer"));
                };
                tracing::info!(customer = %owner, subscription = ?invoice.subscription_id(), "invoice payment failed");
                for (n, contact) in customers::contacts(tx, owner)
                    .await?
                    .into_iter()
                    .enumerate()
                {
                    let props = PaymentFailedProps {
                        name: contact.name,
                        amount_due: Money::new(invoice.amount_due, &invoice.currency),
                        next_attempt_at: invoice.next_payment_attempt.and_then(timestamp),
                        update_payment_url: self.billing_page(owner),
                    };
                    self.inner
                        .outbox
                        .queue::<PaymentFailedEmail>(
                            tx,
                            contact.email,
                            &props,
                            format!("stripe/{}/payment-failed/{n}", event.id()),
                        )
                        .await
                        .map_err(queue_error)?;
                }
                Ok(Step::done(WebhookOutcome::Applied))
            }
            EventObject::PaymentIntent(intent) => {
                let intent = match fetched {
                    Some(Fetched::PaymentIntent(current)) => current,
                    _ => intent,
                };
                let written = record_intent(tx, intent, event_at, fetched.is_some()).await?;
                let paid_session = event.event_type() == "payment_intent.succeeded"
                    && intent
                        .metadata
                        .contains_key(crate::calcom::EVENT_TYPE_METADATA_KEY);
                Ok(match written {
                    Upsert::Tied(_) => Step::Fetch(Fetch::PaymentIntent(intent.id.clone())),
                    Upsert::Applied(_) if paid_session && self.inner.calcom.is_some() => {
                        Step::Done {
                            outcome: WebhookOutcome::Applied,
                            after: vec![AfterCommit::BookingLink {
                                payment_intent: intent.id.clone(),
                            }],
                            changed: None,
                        }
                    }
                    written => Step::done(outcome_of(&written)),
                })
            }
            EventObject::ChargeRefunded(charge) => {
                let Some(intent_id) = charge.payment_intent.as_ref().map(|p| p.id().to_owned())
                else {
                    return Ok(Step::ignored("a refunded charge without a PaymentIntent"));
                };
                if let Some(Fetched::PaymentIntent(intent)) = fetched {
                    record_intent(tx, intent, tollbooth_db::now(), true).await?;
                }
                let Some(payment) = tx
                    .record_payment_refund(&intent_id, charge.amount_refunded)
                    .await?
                else {
                    // Refunded before its payment was recorded here: record it first.
                    return Ok(Step::Fetch(Fetch::PaymentIntent(intent_id)));
                };
                refunded(tx, &payment, charge, event_at).await?;
                Ok(Step::done(WebhookOutcome::Applied))
            }
            EventObject::Unknown => Ok(Step::ignored("event type not used by Tollbooth")),
        }
    }

    async fn apply_subscription(
        &self,
        tx: &Tx,
        subscription: &types::Subscription,
        event_at: DateTime<Utc>,
        fetched: bool,
    ) -> Result<Step> {
        // The Stripe customer decides whose it is; the metadata Checkout set only until the
        // customer is linked (its checkout event may not have arrived yet).
        let customer = match customers::owner_of(tx, subscription.customer.id()).await? {
            Some(owner) => Some(owner),
            None => customers::named_in(&subscription.metadata),
        };
        // Every subscription event of one customer, on any instance, decides in turn: which
        // of two live subscriptions is the duplicate depends on both being seen.
        let account = match customer {
            Some(customer) => customers::lock(tx, customer).await?,
            None => None,
        };
        let Some(account) = account else {
            return Ok(Step::ignored("subscription of an unknown customer"));
        };
        if !customers::link(tx, &account, subscription.customer.id()).await? {
            return Ok(Step::ignored(customers::CUSTOMER_OF_ANOTHER));
        }
        let customer = account.customer;
        let mut upsert = to_upsert(&self.inner.config, customer, subscription, event_at);
        upsert.fetched = fetched;
        let row = match tx.upsert_subscription(upsert).await? {
            Upsert::Tied(_) => {
                return Ok(Step::Fetch(Fetch::Subscription(subscription.id.clone())));
            }
            Upsert::Stale(_) => return Ok(Step::done(WebhookOutcome::Stale)),
            Upsert::Applied(row) => row,
        };
        if let Customer::Organization(organization_id) = customer {
            // In the event's transaction, under the organization's lock: the next
            // invitation sees the limit of the plan the organization is now on.
            crate::seats::write_seat_limit(self, tx, organization_id).await?;
        }
        let mut after = Vec::new();
        if self.flag_duplicates(tx, customer, &row).await?
            && self.inner.config.cancel_duplicate_subscriptions
        {
            after.push(AfterCommit::CancelDuplicates { customer });
        }
        let per_seat = self
            .inner
            .config
            .plan(&row.plan)
            .is_some_and(|plan| plan.is_per_seat());
        if let Customer::Organization(organization_id) = customer
            && per_seat
            && status_of(&row).blocks_checkout()
        {
            after.push(AfterCommit::SyncSeats { organization_id });
        }
        Ok(Step::Done {
            outcome: WebhookOutcome::Applied,
            after,
            changed: Some(Box::new(row)),
        })
    }

    /// When `changed` is live and the customer has another live subscription, keeps one — the
    /// one granting access, else the first created — and flags the others as its
    /// duplicates (logged as errors: the customer may be paying twice). Returns whether any
    /// was flagged.
    async fn flag_duplicates(
        &self,
        tx: &Tx,
        customer: Customer,
        changed: &Subscription,
    ) -> Result<bool> {
        if !status_of(changed).blocks_checkout() {
            return Ok(false);
        }
        let live: Vec<Subscription> = tx
            .list_subscriptions(customer)
            .await?
            .into_iter()
            .filter(|s| status_of(s).blocks_checkout() && s.duplicate_of.is_none())
            .collect();
        if live.len() < 2 {
            return Ok(false);
        }
        let now = tollbooth_db::now();
        let grace = self.inner.config.past_due_grace;
        let keep = live
            .iter()
            .min_by_key(|s| {
                let grants = status_of(s).grants_access(s.status_changed_at, now, grace);
                (!grants, creation_order(s))
            })
            .map(|s| s.stripe_subscription_id.clone())
            .unwrap_or_default();
        for duplicate in live.iter().filter(|s| s.stripe_subscription_id != keep) {
            tx.flag_duplicate_subscription(&duplicate.stripe_subscription_id, &keep)
                .await?;
            tracing::error!(%customer, subscription = %duplicate.stripe_subscription_id, duplicate_of = %keep,
                status = %duplicate.status, "a second live subscription for one customer");
        }
        Ok(true)
    }
}

/// Mirrors a PaymentIntent (from an event at `event_at`, or `fetched` from Stripe), with the
/// user named by its metadata or customer, if they exist.
async fn record_intent(
    tx: &Tx,
    intent: &PaymentIntent,
    event_at: DateTime<Utc>,
    fetched: bool,
) -> Result<Upsert<Payment>> {
    let mut upsert = payment_upsert(intent, event_at);
    upsert.fetched = fetched;
    upsert.user_id = match (upsert.user_id, &intent.customer) {
        // Metadata may name a user that does not exist (any more).
        (Some(id), _) => find_user(tx, Some(id)).await?.map(|u| u.id),
        (None, Some(customer)) => tx
            .find_user_by_stripe_customer(customer.id())
            .await?
            .map(|u| u.id),
        (None, None) => None,
    };
    Ok(tx.upsert_payment(upsert).await?)
}

/// After a refund was recorded: a payment refunded in full pays for nothing any more, so
/// bookings made with it are flagged (and its link is no longer issued).
async fn refunded(
    tx: &Tx,
    payment: &Payment,
    charge: &Charge,
    event_at: DateTime<Utc>,
) -> Result<()> {
    let intent = &payment.stripe_payment_intent_id;
    if payment.amount_refunded < payment.amount {
        tracing::info!(payment_intent = %intent, charge = %charge.id, refunded = payment.amount_refunded,
            amount = payment.amount, "payment partly refunded");
        return Ok(());
    }
    let flagged = tx.flag_refunded_bookings(intent, event_at).await?;
    tracing::warn!(payment_intent = %intent, charge = %charge.id, bookings = ?flagged.iter().map(|b| &b.calcom_uid).collect::<Vec<_>>(),
        "payment refunded in full; its bookings are flagged");
    Ok(())
}

async fn find_user(tx: &Tx, user_id: Option<Uuid>) -> Result<Option<User>> {
    match user_id {
        Some(id) => Ok(tx.find_user(id).await?),
        None => Ok(None),
    }
}
