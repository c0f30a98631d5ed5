//! Tollbooth on axum. `cargo run -p tollbooth-example-axum` serves the whole contract of
//! `docs/http-api.md` on `BIND` (default `127.0.0.1:3000`), configured from the environment
//! (`.env.example`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, on};
use axum::{Json, Router};
use tollbooth_auth::axum::{ClientIp, CurrentSession, error_response, session};
use tollbooth_example_common::{
    ApiError, App, Ctx, ENDPOINTS, Endpoint, MAX_BODY_BYTES, Reply, config, shutdown_signal,
    telemetry,
};

#[tokio::main]
async fn main() -> ExitCode {
    telemetry::init();
    let server = match config::from_env().await {
        Ok(server) => server,
        Err(error) => {
            tracing::error!(%error, "cannot start");
            return ExitCode::FAILURE;
        }
    };
    let listener = match tokio::net::TcpListener::bind(server.bind).await {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(%error, bind = %server.bind, "cannot listen");
            return ExitCode::FAILURE;
        }
    };
    let address = listener.local_addr().map_or(server.bind, |a| a);
    tracing::info!("listening on http://{address}");
    let app = server.app.clone();
    let service = router(app.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let served = axum::serve(listener, service)
        .with_graceful_shutdown(shutdown_signal())
        .await;
    app.shutdown().await;
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "server error");
            ExitCode::FAILURE
        }
    }
}

/// Every endpoint of the contract, each mounted on the shared handler.
fn router(app: App) -> Router {
    let mut paths: BTreeMap<&str, MethodRouter<App>> = BTreeMap::new();
    for endpoint in ENDPOINTS {
        let endpoint = *endpoint;
        let filter = match endpoint.method {
            "GET" => MethodFilter::GET,
            "DELETE" => MethodFilter::DELETE,
            _ => MethodFilter::POST,
        };
        let route = paths.remove(endpoint.path).unwrap_or_default();
        let handler = move |state: State<App>,
                            client: ClientIp,
                            current: CurrentSession,
                            path: Option<Path<String>>,
                            query: RawQuery,
                            method: Method,
                            headers: HeaderMap,
                            body: Result<Bytes, BytesRejection>| {
            handle(
                endpoint, state, client, current, path, query, method, headers, body,
            )
        };
        paths.insert(endpoint.path, route.merge(on(filter, handler)));
    }
    paths
        .into_iter()
        .fold(Router::new(), |router, (path, route)| {
            router.route(path, route)
        })
        .fallback(|| async { Http(Err(ApiError::NotFound("route"))) })
        .method_not_allowed_fallback(|| async { Http(Err(ApiError::MethodNotAllowed)) })
        .layer(middleware::from_fn_with_state(app.auth.clone(), session))
        .layer(middleware::from_fn(refuse_oversized))
        .layer(middleware::from_fn(request_id))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(app)
}

#[allow(clippy::too_many_arguments)] // one extractor per request part
async fn handle(
    endpoint: Endpoint,
    State(app): State<App>,
    ClientIp(client): ClientIp,
    CurrentSession(session): CurrentSession,
    path: Option<Path<String>>,
    RawQuery(query): RawQuery,
    method: Method,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Http {
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            let error =
                ApiError::unreadable_body(rejection.status().as_u16(), rejection.body_text());
            return Http(Err(error));
        }
    };
    let ctx = Ctx {
        headers: &headers,
        ip: Some(client),
        session,
        query: query.as_deref().unwrap_or_default(),
        param: path.as_ref().map(|Path(p)| p.as_str()),
        body: &body,
    };
    Http(
        app.dispatch(endpoint.route, endpoint.access, method.as_str(), ctx)
            .await,
    )
}

/// A handler's result as an axum response.
struct Http(Result<Reply, ApiError>);

impl IntoResponse for Http {
    fn into_response(self) -> Response {
        match self.0 {
            Ok(reply) => {
                let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
                let mut response = match reply.body {
                    Some(body) => (status, Json(body)).into_response(),
                    None => (status, Body::empty()).into_response(),
                };
                // A `SetCookie` is axum response parts.
                for cookie in reply.cookies {
                    response = (cookie, response).into_response();
                }
                if let Some(location) = reply.location.and_then(|l| HeaderValue::from_str(&l).ok())
                {
                    response.headers_mut().insert(header::LOCATION, location);
                }
                response
            }
            Err(error) => {
                let mut response = error_response(&error);
                if error.closes_connection() {
                    response
                        .headers_mut()
                        .insert(header::CONNECTION, HeaderValue::from_static("close"));
                }
                response
            }
        }
    }
}

/// Answers 413 to a declared over-limit body before reading any of it (a body without
/// `Content-Length` is cut off by `DefaultBodyLimit` while it is read).
async fn refuse_oversized(request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_BODY_BYTES as u64) {
        return Http(Err(ApiError::PayloadTooLarge)).into_response();
    }
    next.run(request).await
}

/// Gives every request an id (`X-Request-Id`, echoed back) and a span, and logs its outcome.
async fn request_id(request: Request, next: Next) -> Response {
    let id = telemetry::request_id(
        request
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok()),
    );
    let span = tracing::info_span!("request", id = %id, method = %request.method(), path = %request.uri().path());
    let started = Instant::now();
    let mut response = tracing::Instrument::instrument(next.run(request), span.clone()).await;
    span.in_scope(|| {
        tracing::info!(
            status = response.status().as_u16(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "done"
        );
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}
