//! What the two example servers share, so they share logic rather than a dispatcher: the
//! application state ([`App`]), configuration from the environment ([`config`]), one plain
//! async function per route ([`ops`]) over typed bodies ([`wire`]), the request rules
//! ([`extract`]) and, per framework, the extractors and response conversions that apply
//! them ([`axum`], [`actix`]). Routing and access stay in each server, on the library's own
//! middleware and guards.

mod app;
pub mod config;
mod error;
pub mod extract;
pub mod openapi;
pub mod ops;
mod reply;
pub mod telemetry;
pub mod ui;
pub mod wire;

#[cfg(feature = "actix")]
pub mod actix;
#[cfg(feature = "axum")]
pub mod axum;

pub use app::App;
pub use error::ApiError;
pub use reply::Reply;

use std::io::Write as _;

/// `tollbooth-axum purge` (or `tollbooth-actix purge`): one purge with the server's
/// configuration, for a scheduler (cron, a Kubernetes CronJob) instead of or beside
/// `PURGE_INTERVAL_SECONDS`. Prints what it deleted.
pub async fn purge_command(app: &App) -> std::process::ExitCode {
    match app.purge().await {
        Ok(report) => {
            // The report, for the scheduler that ran the command (beside the log).
            let _ = writeln!(
                std::io::stdout(),
                "purged {} rows: {} sessions, {} tokens, {} rate limits, {} webhook events, {} e-mails",
                report.total(),
                report.sessions,
                report.tokens,
                report.rate_limits,
                report.webhook_events,
                report.emails
            );
            std::process::ExitCode::SUCCESS
        }
        Err(error) => {
            tracing::error!(%error, "purge failed");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM: when to stop accepting connections and drain.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received; draining");
}
