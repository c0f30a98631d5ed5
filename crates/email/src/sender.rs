//! The seam other crates depend on ([`EmailSender`]) and the typed entry point
//! ([`send_email`]).

use std::sync::Arc;

use async_trait::async_trait;

use crate::address::{Mailbox, Recipients};
use crate::error::Result;
use crate::message::{Email, EmailParts, MessageId, SendOptions};
use crate::outbox::OutboxConfig;
use crate::templates::{Brand, EmailTemplate, Rendered};

/// Delivers a rendered, validated [`Email`]. Transports: [`ResendSender`](crate::ResendSender),
/// [`ConsoleSender`](crate::ConsoleSender), [`OutboxSender`](crate::OutboxSender).
///
/// `#[async_trait]` (not native `async fn`) because callers hold it as
/// `Arc<dyn EmailSender>` and mockall generates `MockEmailSender` from it (feature `mock`).
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait EmailSender: Send + Sync {
    /// Sends one message and returns the provider's id for it.
    async fn send(&self, email: &Email) -> Result<MessageId>;
}

/// Who the e-mails are from and which product they speak for.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MailerConfig {
    /// `From`, e.g. `Acme <noreply@acme.example>`.
    pub from: Mailbox,
    /// `Reply-To`, e.g. a support inbox.
    pub reply_to: Option<Mailbox>,
    /// Product name and support address for the templates.
    pub brand: Brand,
    /// How the durable outbox auth and billing write their e-mails to is delivered.
    pub outbox: OutboxConfig,
}

impl MailerConfig {
    /// Parses the `from` mailbox; the product name goes into every template.
    pub fn new(from: &str, product_name: impl Into<String>) -> Result<Self> {
        Ok(Self {
            from: Mailbox::parse(from, "from")?,
            reply_to: None,
            brand: Brand::new(product_name),
            outbox: OutboxConfig::default(),
        })
    }

    /// Sets `Reply-To`.
    pub fn reply_to(mut self, reply_to: &str) -> Result<Self> {
        self.reply_to = Some(Mailbox::parse(reply_to, "reply_to")?);
        Ok(self)
    }
}

/// A transport plus the sender identity: what auth and billing hold to send e-mail.
/// Cheap to clone.
#[derive(Clone)]
pub struct Mailer {
    sender: Arc<dyn EmailSender>,
    config: Arc<MailerConfig>,
}

impl Mailer {
    /// A mailer over `sender`.
    pub fn new(sender: impl EmailSender + 'static, config: MailerConfig) -> Self {
        Self::from_arc(Arc::new(sender), config)
    }

    /// A mailer over a shared transport.
    pub fn from_arc(sender: Arc<dyn EmailSender>, config: MailerConfig) -> Self {
        Self {
            sender,
            config: Arc::new(config),
        }
    }

    /// Renders template `T` without sending (previews, tests).
    pub fn render<T: EmailTemplate>(&self, props: &T::Props) -> Result<Rendered> {
        T::render(props, &self.config.brand)
    }

    /// Renders template `T` with `props`, validates the message, and sends it to `to`.
    /// Every send carries an idempotency key: `options`' domain key, or a fresh random one.
    pub async fn send<T: EmailTemplate>(
        &self,
        to: impl Into<Recipients>,
        props: T::Props,
        options: SendOptions,
    ) -> Result<MessageId> {
        let key = options
            .idempotency_key
            .unwrap_or_else(|| format!("{}/{}", T::NAME, uuid::Uuid::new_v4()));
        let email = self.prepare::<T>(to, &props, key)?;
        let id = self.deliver(&email).await?;
        tracing::debug!(template = T::NAME, message_id = %id, "e-mail sent");
        Ok(id)
    }

    /// Renders template `T` into a validated message from this mailer's sender identity,
    /// without sending it.
    pub fn prepare<T: EmailTemplate>(
        &self,
        to: impl Into<Recipients>,
        props: &T::Props,
        idempotency_key: String,
    ) -> Result<Email> {
        let rendered = self.render::<T>(props)?;
        Email::new(EmailParts {
            from: Some(self.config.from.clone()),
            to: to.into(),
            reply_to: self.config.reply_to.clone(),
            subject: rendered.subject,
            html: rendered.html,
            text: rendered.text,
            idempotency_key,
        })
    }

    /// Hands a prepared message to the transport.
    pub async fn deliver(&self, email: &Email) -> Result<MessageId> {
        self.sender.send(email).await
    }

    /// The sender identity.
    pub fn config(&self) -> &MailerConfig {
        &self.config
    }
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Sends template `T` to `to`. The template fixes the props type:
///
/// ```compile_fail,E0308
/// # async fn demo(mailer: &tollbooth_email::Mailer, props: tollbooth_email::PasswordResetProps) {
/// use tollbooth_email::{send_email, WelcomeEmail};
/// // error: expected `WelcomeProps`, found `PasswordResetProps`
/// send_email::<WelcomeEmail>(mailer, "ada@example.com", props).await;
/// # }
/// ```
pub async fn send_email<T: EmailTemplate>(
    mailer: &Mailer,
    to: impl Into<Recipients>,
    props: T::Props,
) -> Result<MessageId> {
    mailer.send::<T>(to, props, SendOptions::default()).await
}
