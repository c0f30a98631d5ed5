//! What the two example servers share: configuration from the environment ([`config`]),
//! the HTTP contract as a route table ([`ENDPOINTS`]), its handlers ([`App::dispatch`]) and
//! its JSON bodies as types ([`wire`]), written once so the axum and actix servers cannot
//! drift apart.

mod api;
mod app;
pub mod config;
pub mod openapi;
mod routes;
pub mod telemetry;
pub mod wire;

pub use api::{ApiError, Reply};
pub use app::{App, Ctx};
pub use routes::{Access, ENDPOINTS, Endpoint, MAX_BODY_BYTES, Route};

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
