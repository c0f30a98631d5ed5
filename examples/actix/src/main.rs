//! Tollbooth on actix-web. `cargo run -p tollbooth-example-actix` serves the same contract as
//! the axum server (`docs/http-api.md`), configured from the environment (`.env.example`).

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{ConnectionType, Method, StatusCode};
use actix_web::middleware::{Next, from_fn};
use actix_web::{App as ActixApp, HttpRequest, HttpResponse, HttpServer, Responder, web};
use tollbooth_auth::actix::{ClientIp, CurrentSession, error_response, session};
use tollbooth_example_common::{
    ApiError, App, Ctx, ENDPOINTS, Endpoint, MAX_BODY_BYTES, Reply, config, shutdown_signal,
    telemetry,
};

#[actix_web::main]
async fn main() -> ExitCode {
    telemetry::init();
    let server = match config::from_env().await {
        Ok(server) => server,
        Err(error) => {
            tracing::error!(%error, "cannot start");
            return ExitCode::FAILURE;
        }
    };
    let app = server.app.clone();
    let factory_app = app.clone();
    let http = HttpServer::new(move || {
        ActixApp::new()
            .app_data(web::Data::new(factory_app.clone()))
            .app_data(web::Data::new(factory_app.auth.clone()))
            .app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
            .wrap(from_fn(session))
            .wrap(from_fn(request_id))
            .configure(routes)
    })
    .bind(server.bind);
    let http = match http {
        Ok(http) => http,
        Err(error) => {
            tracing::error!(%error, bind = %server.bind, "cannot listen");
            return ExitCode::FAILURE;
        }
    };
    for address in http.addrs() {
        tracing::info!("listening on http://{address}");
    }
    // The shared signal handler, not actix's own: actix treats SIGINT as a forced stop,
    // and both servers should drain in-flight requests on SIGINT and SIGTERM alike.
    let http = http.disable_signals().run();
    let handle = http.handle();
    actix_web::rt::spawn(async move {
        shutdown_signal().await;
        handle.stop(true).await;
    });
    let served = http.await;
    tracing::info!("stopped accepting connections; draining");
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
fn routes(config: &mut web::ServiceConfig) {
    let mut paths: BTreeMap<&str, Vec<Endpoint>> = BTreeMap::new();
    for endpoint in ENDPOINTS {
        paths.entry(endpoint.path).or_default().push(*endpoint);
    }
    for (path, endpoints) in paths {
        let mut resource = web::resource(path);
        for endpoint in endpoints {
            let method = Method::from_bytes(endpoint.method.as_bytes()).unwrap_or(Method::POST);
            resource = resource.route(web::method(method).to(
                move |request: HttpRequest,
                      body: Result<web::Bytes, actix_web::Error>,
                      current: CurrentSession,
                      client: ClientIp,
                      app: web::Data<App>| {
                    handle(endpoint, request, body, current, client, app)
                },
            ));
        }
        config.service(
            resource.default_service(web::to(|| async { Http(Err(ApiError::MethodNotAllowed)) })),
        );
    }
    config.default_service(web::to(|| async { Http(Err(ApiError::NotFound("route"))) }));
}

async fn handle(
    endpoint: Endpoint,
    request: HttpRequest,
    body: Result<web::Bytes, actix_web::Error>,
    CurrentSession(session): CurrentSession,
    ClientIp(client): ClientIp,
    app: web::Data<App>,
) -> Http {
    // Actix checks `Content-Length` against `PayloadConfig` before reading the body.
    let body = match body {
        Ok(body) => body,
        Err(error) => {
            let status = error.as_response_error().status_code().as_u16();
            return Http(Err(ApiError::unreadable_body(status, error)));
        }
    };
    let ctx = Ctx {
        headers: request.headers(),
        ip: Some(client),
        session,
        query: request.query_string(),
        param: request.match_info().iter().next().map(|(_, value)| value),
        body: &body,
    };
    Http(
        app.dispatch(
            endpoint.route,
            endpoint.access,
            request.method().as_str(),
            ctx,
        )
        .await,
    )
}

/// A handler's result as an actix response.
struct Http(Result<Reply, ApiError>);

impl Responder for Http {
    type Body = actix_web::body::BoxBody;

    fn respond_to(self, _: &HttpRequest) -> HttpResponse {
        match self.0 {
            Ok(reply) => {
                let mut response = HttpResponse::build(
                    StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK),
                );
                for cookie in &reply.cookies {
                    response.append_header(cookie);
                }
                if let Some(location) = &reply.location {
                    response.insert_header((header::LOCATION, location.as_str()));
                }
                match reply.body {
                    Some(body) => response.json(body),
                    None => response.finish(),
                }
            }
            Err(error) => {
                let mut response = error_response(&error);
                if error.closes_connection() {
                    response
                        .head_mut()
                        .set_connection_type(ConnectionType::Close);
                }
                response
            }
        }
    }
}

/// Gives every request an id (`X-Request-Id`, echoed back) and a span, and logs its outcome.
async fn request_id(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = telemetry::request_id(
        request
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok()),
    );
    let span = tracing::info_span!("request", id = %id, method = %request.method(), path = %request.path());
    let started = Instant::now();
    let mut response = tracing::Instrument::instrument(next.call(request), span.clone()).await?;
    span.in_scope(|| {
        tracing::info!(
            status = response.status().as_u16(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "done"
        );
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        response
            .headers_mut()
            .insert(header::HeaderName::from_static("x-request-id"), value);
    }
    Ok(response)
}
