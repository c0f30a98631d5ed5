//! Transports.

mod console;
mod outbox;
mod pace;
mod resend;

pub use console::ConsoleSender;
pub use outbox::OutboxSender;
pub use resend::{ApiKey, ResendConfig, ResendSender};
