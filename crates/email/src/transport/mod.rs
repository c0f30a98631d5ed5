//! Transports.

mod console;
mod outbox;
mod resend;
mod retry;

pub use console::ConsoleSender;
pub use outbox::OutboxSender;
pub use resend::{ApiKey, ResendConfig, ResendSender};
pub use retry::RetryPolicy;
