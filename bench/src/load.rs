//! The load generator: N keep-alive HTTP/1.1 connections, each a task sending requests
//! back-to-back, every latency recorded in an HDR histogram.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http::header::HOST;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpSocket;
use tokio::task::JoinSet;

/// The request body type of every request the benchmark sends.
pub(crate) type Body = Full<Bytes>;

/// Longest one request may take before its connection is dropped and it counts as an error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Highest latency the histograms track, in microseconds; slower ones are recorded as this.
const MAX_LATENCY_US: u64 = 60_000_000;
/// Pause before reconnecting after a failed connection attempt.
const RECONNECT_PAUSE: Duration = Duration::from_millis(50);

/// What a load sends: the next request of a connection, and what to do with each response.
pub(crate) trait Workload: Send + Sync + 'static {
    /// The next request for `connection` and a tag handed back to `observe`, or `None` when
    /// the workload is exhausted (that connection then stops).
    fn next(&self, connection: usize) -> Option<(Request<Body>, u64)>;

    /// Sees each response (`measured`: sent after the warm-up).
    fn observe(&self, _tag: u64, _status: StatusCode, _body: &[u8], _measured: bool) {}
}

/// How to run a load.
#[derive(Clone, Debug)]
pub(crate) struct LoadConfig {
    /// The server's address.
    pub(crate) server: SocketAddr,
    /// Concurrent connections, one task each.
    pub(crate) connections: usize,
    /// Time spent sending before latencies are recorded.
    pub(crate) warmup: Duration,
    /// Measured time after the warm-up.
    pub(crate) duration: Duration,
    /// Local source addresses; connection `i` binds `source_ips[i % len]` (any address of
    /// 127.0.0.0/8 works on Linux). Empty means 127.0.0.1.
    pub(crate) source_ips: Vec<Ipv4Addr>,
}

/// What a load measured: responses of requests sent after the warm-up.
#[derive(Debug)]
pub(crate) struct LoadResult {
    /// Latencies in microseconds.
    pub(crate) latencies: Histogram<u64>,
    /// Responses by status code.
    pub(crate) statuses: BTreeMap<u16, u64>,
    /// Requests that got no response (connection refused or lost, timeout).
    pub(crate) transport_errors: u64,
    /// The first transport error, for the report.
    pub(crate) first_error: Option<String>,
    /// From the end of the warm-up to the last measured response.
    pub(crate) elapsed: Duration,
    /// Connections used.
    pub(crate) connections: usize,
}

impl LoadResult {
    fn empty(connections: usize) -> Self {
        Self {
            latencies: new_histogram(),
            statuses: BTreeMap::new(),
            transport_errors: 0,
            first_error: None,
            elapsed: Duration::ZERO,
            connections,
        }
    }

    /// Every measured response.
    pub(crate) fn responses(&self) -> u64 {
        self.statuses.values().sum()
    }

    /// Responses with status `status`.
    pub(crate) fn count(&self, status: u16) -> u64 {
        self.statuses.get(&status).copied().unwrap_or(0)
    }

    /// 2xx responses.
    pub(crate) fn successes(&self) -> u64 {
        self.statuses
            .iter()
            .filter(|(status, _)| (200..300).contains(*status))
            .map(|(_, n)| n)
            .sum()
    }

    /// Non-2xx responses plus transport errors.
    pub(crate) fn errors(&self) -> u64 {
        self.responses() - self.successes() + self.transport_errors
    }

    /// Responses per second.
    pub(crate) fn per_second(&self) -> f64 {
        rate(self.responses(), self.elapsed)
    }

    /// 2xx responses per second.
    pub(crate) fn successes_per_second(&self) -> f64 {
        rate(self.successes(), self.elapsed)
    }

    /// The latency at quantile `q` (0.5 = median), in milliseconds.
    pub(crate) fn quantile_ms(&self, q: f64) -> f64 {
        self.latencies.value_at_quantile(q) as f64 / 1000.0
    }

    /// The slowest latency, in milliseconds.
    pub(crate) fn max_ms(&self) -> f64 {
        self.latencies.max() as f64 / 1000.0
    }

    /// `200 × 123, 429 × 4` (and transport errors, if any).
    pub(crate) fn status_summary(&self) -> String {
        let mut parts: Vec<String> = self
            .statuses
            .iter()
            .map(|(status, n)| format!("{status} × {n}"))
            .collect();
        if self.transport_errors > 0 {
            parts.push(format!("no response × {}", self.transport_errors));
        }
        if parts.is_empty() {
            "none".to_owned()
        } else {
            parts.join(", ")
        }
    }

    fn merge(&mut self, task: TaskResult) {
        self.latencies
            .add(&task.latencies)
            .expect("histograms with the same bounds add up");
        for (status, n) in task.statuses {
            *self.statuses.entry(status).or_default() += n;
        }
        self.transport_errors += task.transport_errors;
        if self.first_error.is_none() {
            self.first_error = task.first_error;
        }
    }
}

/// `count` events over `elapsed`, per second.
pub(crate) fn rate(count: u64, elapsed: Duration) -> f64 {
    let seconds = elapsed.as_secs_f64();
    if seconds > 0.0 {
        count as f64 / seconds
    } else {
        0.0
    }
}

fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("valid histogram bounds")
}

/// One connection's tally.
struct TaskResult {
    latencies: Histogram<u64>,
    statuses: BTreeMap<u16, u64>,
    transport_errors: u64,
    first_error: Option<String>,
    last_measured: Option<Instant>,
}

impl TaskResult {
    fn new() -> Self {
        Self {
            latencies: new_histogram(),
            statuses: BTreeMap::new(),
            transport_errors: 0,
            first_error: None,
            last_measured: None,
        }
    }

    fn response(&mut self, status: StatusCode, latency: Duration, done: Instant) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.latencies.saturating_record(micros.max(1));
        *self.statuses.entry(status.as_u16()).or_default() += 1;
        self.last_measured = Some(done);
    }

    fn transport_error(&mut self, error: String) {
        self.transport_errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(error);
        }
    }
}

/// Runs `workload` as configured and returns what was measured after the warm-up.
pub(crate) async fn run<W: Workload>(config: &LoadConfig, workload: Arc<W>) -> LoadResult {
    let started = Instant::now();
    let measure_from = started + config.warmup;
    let stop_at = measure_from + config.duration;
    let sources = if config.source_ips.is_empty() {
        vec![Ipv4Addr::LOCALHOST]
    } else {
        config.source_ips.clone()
    };
    let mut tasks = JoinSet::new();
    for connection in 0..config.connections {
        let source = sources[connection % sources.len()];
        tasks.spawn(drive(
            connection,
            source,
            config.server,
            Arc::clone(&workload),
            measure_from,
            stop_at,
        ));
    }
    let mut result = LoadResult::empty(config.connections);
    let mut last_measured: Option<Instant> = None;
    while let Some(joined) = tasks.join_next().await {
        let task = joined.expect("a load connection task panicked");
        last_measured = match (last_measured, task.last_measured) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        result.merge(task);
    }
    result.elapsed = last_measured.map_or(config.duration, |last| {
        last.saturating_duration_since(measure_from)
    });
    result
}

/// One connection: sends until `stop_at` (or the workload runs out), reconnecting when the
/// server closes the connection.
async fn drive<W: Workload>(
    connection: usize,
    source: Ipv4Addr,
    server: SocketAddr,
    workload: Arc<W>,
    measure_from: Instant,
    stop_at: Instant,
) -> TaskResult {
    let mut result = TaskResult::new();
    let mut sender: Option<SendRequest<Body>> = None;
    while Instant::now() < stop_at {
        let usable = match sender.as_mut() {
            Some(current) => current.ready().await.is_ok(),
            None => false,
        };
        if !usable {
            sender = None;
            match connect(source, server).await {
                Ok(fresh) => sender = Some(fresh),
                Err(error) => {
                    if Instant::now() >= measure_from {
                        result.transport_error(error);
                    }
                    tokio::time::sleep(RECONNECT_PAUSE).await;
                    continue;
                }
            }
        }
        let Some(current) = sender.as_mut() else {
            continue;
        };
        let Some((request, tag)) = workload.next(connection) else {
            break;
        };
        let sent = Instant::now();
        let measured = sent >= measure_from;
        let outcome = tokio::time::timeout(REQUEST_TIMEOUT, exchange(current, request)).await;
        match outcome {
            Ok(Ok((status, body))) => {
                let done = Instant::now();
                if measured {
                    result.response(status, done.duration_since(sent), done);
                }
                workload.observe(tag, status, &body, measured);
            }
            Ok(Err(error)) => {
                sender = None;
                if measured {
                    result.transport_error(format!("request: {error}"));
                }
            }
            Err(_) => {
                sender = None;
                if measured {
                    result.transport_error(format!(
                        "no response within {} s",
                        REQUEST_TIMEOUT.as_secs()
                    ));
                }
            }
        }
    }
    result
}

/// Opens one HTTP/1.1 connection from `source` to `server`.
async fn connect(source: Ipv4Addr, server: SocketAddr) -> Result<SendRequest<Body>, String> {
    let socket = TcpSocket::new_v4().map_err(|e| format!("socket: {e}"))?;
    socket
        .bind(SocketAddr::new(IpAddr::V4(source), 0))
        .map_err(|e| format!("bind {source}: {e}"))?;
    let stream = socket
        .connect(server)
        .await
        .map_err(|e| format!("connect {server} from {source}: {e}"))?;
    stream
        .set_nodelay(true)
        .map_err(|e| format!("TCP_NODELAY: {e}"))?;
    let (sender, connection) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP/1.1 handshake: {e}"))?;
    tokio::spawn(async move {
        // Ends when the connection closes; errors surface on the sender.
        let _ = connection.await;
    });
    Ok(sender)
}

/// Sends `request` and reads the whole response.
async fn exchange(
    sender: &mut SendRequest<Body>,
    request: Request<Body>,
) -> Result<(StatusCode, Bytes), hyper::Error> {
    let response = sender.send_request(request).await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, body))
}

/// A response read by `send_once`.
#[derive(Debug)]
pub(crate) struct Response {
    /// Status.
    pub(crate) status: StatusCode,
    /// Headers.
    pub(crate) headers: HeaderMap,
    /// Body.
    pub(crate) body: Bytes,
}

/// Sends one request on a new connection from 127.0.0.1 (set-up calls: health, sign-in).
pub(crate) async fn send_once(
    server: SocketAddr,
    request: Request<Body>,
) -> Result<Response, String> {
    let mut sender = connect(Ipv4Addr::LOCALHOST, server).await?;
    let exchanged = async {
        sender.ready().await?;
        let response = sender.send_request(request).await?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await?.to_bytes();
        Ok::<_, hyper::Error>(Response {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    };
    match tokio::time::timeout(REQUEST_TIMEOUT, exchanged).await {
        Ok(Ok(response)) => Ok(response),
        Ok(Err(error)) => Err(format!("request: {error}")),
        Err(_) => Err(format!(
            "no response within {} s",
            REQUEST_TIMEOUT.as_secs()
        )),
    }
}

/// A GET of `path` with `headers`.
pub(crate) fn get(server: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Request<Body> {
    build(server, Method::GET, path, headers, Bytes::new())
}

/// A POST of the JSON `body` to `path` with `headers`.
pub(crate) fn post_json(
    server: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> Request<Body> {
    let mut all = Vec::with_capacity(headers.len() + 1);
    all.push(("content-type", "application/json"));
    all.extend_from_slice(headers);
    build(server, Method::POST, path, &all, body)
}

fn build(
    server: SocketAddr,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> Request<Body> {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header(HOST, server.to_string());
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder
        .body(Full::new(body))
        .expect("a well-formed request")
}
