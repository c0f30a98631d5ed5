//! The scenarios: `/me` with a session, `/me` during a sign-in storm, and Stripe webhook
//! ingestion. Each runs its own server process on its own freshly seeded database.

use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http::header::SET_COOKIE;
use http::{Request, StatusCode};
use serde_json::json;
use tollbooth_billing::{WebhookSecret, sign_stripe_webhook};
use tollbooth_db::sea_orm::{EntityTrait, PaginatorTrait};
use tollbooth_db::testing::TestDb;

use crate::load::{self, Body, LoadConfig, LoadResult, Workload};
use crate::memory::{Memory, RssSampler};
use crate::seed;
use crate::servers::{Flavor, Server};

/// Connections of the sign-in storm, each from its own source address 127.0.1.N.
pub(crate) const STORM_CONNECTIONS: u8 = 16;
/// Sign-in connections of the flood: more than the server's bcrypt queue holds (one hashing
/// per core plus 64 waiting), so the excess must be refused rather than pile up.
pub(crate) const FLOOD_CONNECTIONS: u8 = 128;
/// Accounts the storm cycles through.
pub(crate) const STORM_ACCOUNTS: usize = 200;
/// Connections delivering webhooks.
pub(crate) const WEBHOOK_CONNECTIONS: usize = 16;
/// Seeded Stripe customers the webhook events are about.
pub(crate) const WEBHOOK_CUSTOMERS: usize = 200;

/// Stripe settings of the webhook scenario's server.
const STRIPE_SECRET_KEY: &str = "sk_test_bench";
const STRIPE_WEBHOOK_SECRET: &str = "whsec_bench";
const STRIPE_PRICE_PRO: &str = "price_pro";
/// Never called: subscription events are applied from their payload alone.
const STRIPE_API_BASE: &str = "http://127.0.0.1:9";

/// What every scenario shares.
#[derive(Debug)]
pub(crate) struct Settings {
    /// Where the release builds of the servers are.
    pub(crate) bin_dir: PathBuf,
    /// Unmeasured time before each measurement.
    pub(crate) warmup: Duration,
    /// Measured time of each scenario.
    pub(crate) duration: Duration,
    /// Connections of the `/me` loads.
    pub(crate) connections: usize,
    /// The seeded users' bcrypt hash.
    pub(crate) password_hash: String,
}

/// Which database engine a run used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Database {
    /// A SQLite file in a temporary directory.
    Sqlite,
    /// A database on a throwaway local PostgreSQL cluster.
    Postgres,
}

impl Database {
    /// The name shown in the report.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Sqlite => "SQLite",
            Self::Postgres => "PostgreSQL",
        }
    }
}

/// `/me` with one session cookie, on one server and engine.
#[derive(Debug)]
pub(crate) struct MeRun {
    /// The server.
    pub(crate) flavor: Flavor,
    /// The engine.
    pub(crate) database: Database,
    /// The load's figures.
    pub(crate) load: LoadResult,
    /// The server's memory.
    pub(crate) memory: Memory,
}

/// `/me` while sign-ins hammer bcrypt (axum, SQLite).
#[derive(Debug)]
pub(crate) struct StormRun {
    /// Sign-in connections.
    pub(crate) connections: u8,
    /// The `/me` load.
    pub(crate) me: LoadResult,
    /// The sign-in load.
    pub(crate) sign_in: LoadResult,
    /// Sign-ins sent, warm-up included (what the rate limits count).
    pub(crate) attempts: u64,
    /// The server's memory.
    pub(crate) memory: Memory,
}

/// Stripe webhook deliveries (axum, SQLite).
#[derive(Debug)]
pub(crate) struct WebhookRun {
    /// The delivery load.
    pub(crate) load: LoadResult,
    /// Measured 2xx answers by outcome.
    pub(crate) outcomes: Outcomes,
    /// Distinct event ids sent, warm-up included.
    pub(crate) distinct_sent: usize,
    /// Distinct event ids answered 2xx at least once, warm-up included.
    pub(crate) distinct_acknowledged: usize,
    /// Rows of the webhook events table after the run.
    pub(crate) recorded: u64,
    /// The server's memory.
    pub(crate) memory: Memory,
}

/// Webhook answers by the `outcome` the server reported.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Outcomes {
    /// `applied`.
    pub(crate) applied: u64,
    /// `duplicate`: a redelivery acknowledged without effect.
    pub(crate) duplicate: u64,
    /// `stale`: recorded, older than what the subscription already reflects.
    pub(crate) stale: u64,
    /// `ignored`.
    pub(crate) ignored: u64,
    /// Anything else.
    pub(crate) other: u64,
}

impl Settings {
    fn load_config(&self, server: SocketAddr, connections: usize) -> LoadConfig {
        LoadConfig {
            server,
            connections,
            warmup: self.warmup,
            duration: self.duration,
            source_ips: vec![Ipv4Addr::LOCALHOST],
        }
    }
}

/// Scenario 1: `/me` at `settings.connections` connections, all with one session.
pub(crate) async fn me(
    settings: &Settings,
    flavor: Flavor,
    db: &TestDb,
    database: Database,
) -> MeRun {
    seed::users(db, 1, &settings.password_hash, false).await;
    let log_name = format!("me-{}-{}", flavor.label(), database.label());
    let server = Server::start(&settings.bin_dir, flavor, db.url(), &[], &log_name).await;
    let cookie = session_cookie(&server, &seed::email(0)).await;
    let sampler = RssSampler::start(server.pid());
    let workload = Arc::new(Me {
        server: server.addr,
        cookie,
    });
    let load = load::run(
        &settings.load_config(server.addr, settings.connections),
        workload,
    )
    .await;
    let memory = sampler.finish();
    MeRun {
        flavor,
        database,
        load,
        memory,
    }
}

/// Scenario 2: `/me` as in scenario 1 while `connections` connections (each from its own
/// address) sign in with correct passwords, round-robin over `STORM_ACCOUNTS` accounts.
pub(crate) async fn storm(settings: &Settings, connections: u8) -> StormRun {
    let db = TestDb::sqlite().await;
    // The storm's accounts plus one more whose session `/me` uses.
    seed::users(&db, STORM_ACCOUNTS + 1, &settings.password_hash, false).await;
    let server = Server::start(
        &settings.bin_dir,
        Flavor::Axum,
        db.url(),
        &[],
        &format!("storm-{connections}-axum-SQLite"),
    )
    .await;
    let cookie = session_cookie(&server, &seed::email(STORM_ACCOUNTS)).await;
    let sampler = RssSampler::start(server.pid());
    let me_config = settings.load_config(server.addr, settings.connections);
    let storm_config = LoadConfig {
        connections: usize::from(connections),
        source_ips: (1..=connections)
            .map(|n| Ipv4Addr::new(127, 0, 1, n))
            .collect(),
        ..me_config.clone()
    };
    let me_workload = Arc::new(Me {
        server: server.addr,
        cookie,
    });
    let sign_ins = Arc::new(SignIn {
        server: server.addr,
        origin: server.base.clone(),
        bodies: (0..STORM_ACCOUNTS)
            .map(|i| sign_in_body(&seed::email(i)))
            .collect(),
        next: AtomicUsize::new(0),
    });
    let (me, sign_in) = tokio::join!(
        load::run(&me_config, me_workload),
        load::run(&storm_config, Arc::clone(&sign_ins)),
    );
    let memory = sampler.finish();
    StormRun {
        connections,
        me,
        sign_in,
        attempts: sign_ins.next.load(Ordering::Relaxed) as u64,
        memory,
    }
}

/// Scenario 3: signed `customer.subscription.updated` events over `WEBHOOK_CONNECTIONS`
/// connections, every fifth delivery a redelivery of an earlier event id.
pub(crate) async fn webhooks(settings: &Settings) -> WebhookRun {
    let db = TestDb::sqlite().await;
    seed::users(&db, WEBHOOK_CUSTOMERS, &settings.password_hash, true).await;
    let env = [
        ("STRIPE_SECRET_KEY", STRIPE_SECRET_KEY),
        ("STRIPE_WEBHOOK_SECRET", STRIPE_WEBHOOK_SECRET),
        ("STRIPE_PRICE_PRO", STRIPE_PRICE_PRO),
        ("STRIPE_API_BASE", STRIPE_API_BASE),
    ];
    let server = Server::start(
        &settings.bin_dir,
        Flavor::Axum,
        db.url(),
        &env,
        "webhooks-axum-SQLite",
    )
    .await;
    let now = tollbooth_db::now().timestamp();
    let workload = Arc::new(Webhooks {
        server: server.addr,
        secret: WebhookSecret::new(STRIPE_WEBHOOK_SECRET),
        next: AtomicUsize::new(0),
        // Events from the last hour, in order; subscriptions renew in 30 days.
        first_created: now - 3600,
        period_end: now + 30 * 86_400,
        sent: Mutex::new(HashSet::new()),
        acknowledged: Mutex::new(HashSet::new()),
        outcomes: OutcomeCounters::default(),
    });
    let sampler = RssSampler::start(server.pid());
    let config = settings.load_config(server.addr, WEBHOOK_CONNECTIONS);
    let load = load::run(&config, Arc::clone(&workload)).await;
    let memory = sampler.finish();
    // Every acknowledged delivery has committed: count what the server recorded.
    let recorded = tollbooth_db::entities::webhook_event::Entity::find()
        .count(db.connection())
        .await
        .expect("count the recorded webhook events");
    let distinct_sent = locked(&workload.sent).len();
    let distinct_acknowledged = locked(&workload.acknowledged).len();
    if recorded != distinct_acknowledged as u64 {
        eprintln!(
            "webhooks: {recorded} events recorded for {distinct_acknowledged} acknowledged; \
             server log:\n{}",
            server.logs()
        );
    }
    WebhookRun {
        load,
        outcomes: workload.outcomes.snapshot(),
        distinct_sent,
        distinct_acknowledged,
        recorded,
        memory,
    }
}

/// Signs in `email` (seeded password) and returns `name=value` of the session cookie, after
/// checking that `/me` accepts it.
async fn session_cookie(server: &Server, email: &str) -> String {
    let request = load::post_json(
        server.addr,
        "/auth/sign-in",
        &[("origin", server.base.as_str())],
        sign_in_body(email),
    );
    let response = load::send_once(server.addr, request)
        .await
        .unwrap_or_else(|e| panic!("sign-in of {email}: {e}"));
    assert_eq!(
        response.status,
        StatusCode::OK,
        "sign-in of {email}: {}\n{}",
        String::from_utf8_lossy(&response.body),
        server.logs()
    );
    let cookies: Vec<&str> = response
        .headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .collect();
    let cookie = cookies
        .iter()
        .filter_map(|value| value.split(';').next())
        .map(str::trim)
        .find(|pair| {
            pair.split_once('=')
                .is_some_and(|(name, value)| name.contains("session") && !value.is_empty())
        })
        .unwrap_or_else(|| panic!("no session cookie in the sign-in answer: {cookies:?}"))
        .to_owned();
    let check = load::get(server.addr, "/me", &[("cookie", cookie.as_str())]);
    let me = load::send_once(server.addr, check)
        .await
        .unwrap_or_else(|e| panic!("/me with the session: {e}"));
    assert_eq!(
        me.status,
        StatusCode::OK,
        "/me refused the session: {}",
        String::from_utf8_lossy(&me.body)
    );
    cookie
}

fn sign_in_body(email: &str) -> Bytes {
    let body = json!({ "email": email, "password": seed::PASSWORD });
    Bytes::from(serde_json::to_vec(&body).expect("serialize a sign-in body"))
}

fn locked<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `GET /me` with a session cookie.
struct Me {
    server: SocketAddr,
    cookie: String,
}

impl Workload for Me {
    fn next(&self, _connection: usize) -> Option<(Request<Body>, u64)> {
        Some((
            load::get(self.server, "/me", &[("cookie", self.cookie.as_str())]),
            0,
        ))
    }
}

/// `POST /auth/sign-in` with correct credentials, accounts in turn across all connections.
struct SignIn {
    server: SocketAddr,
    origin: String,
    bodies: Vec<Bytes>,
    next: AtomicUsize,
}

impl Workload for SignIn {
    fn next(&self, _connection: usize) -> Option<(Request<Body>, u64)> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let body = self.bodies[n % self.bodies.len()].clone();
        let request = load::post_json(
            self.server,
            "/auth/sign-in",
            &[("origin", self.origin.as_str())],
            body,
        );
        Some((request, n as u64))
    }
}

/// Signed Stripe deliveries, made as they are sent (signed with the current time, as Stripe
/// does for each delivery attempt).
struct Webhooks {
    server: SocketAddr,
    secret: WebhookSecret,
    next: AtomicUsize,
    first_created: i64,
    period_end: i64,
    sent: Mutex<HashSet<u64>>,
    acknowledged: Mutex<HashSet<u64>>,
    outcomes: OutcomeCounters,
}

impl Webhooks {
    /// The event delivered by delivery `k`. In each run of five deliveries the first four
    /// are new events and the fifth repeats an earlier one: the one just sent (probably
    /// still in flight on another connection) or up to 196 events back (long applied).
    fn event_of_delivery(k: u64) -> u64 {
        let (block, slot) = (k / 5, k % 5);
        if slot < 4 {
            4 * block + slot
        } else {
            (4 * block + 3).saturating_sub((block % 50) * 4)
        }
    }

    /// The JSON of event `n` (API version 2024-04-10 shape): subscription `sub_bench_<c>` of
    /// customer `cus_bench_<c>` updated, `created` one second after event `n - 1`.
    fn payload(&self, n: u64) -> Bytes {
        let c = (n % WEBHOOK_CUSTOMERS as u64) as usize;
        let created = self.first_created + n as i64;
        let period_end = self.period_end;
        let subscription = json!({
            "id": format!("sub_bench_{c}"),
            "object": "subscription",
            "customer": seed::customer(c),
            "status": "active",
            "cancel_at_period_end": false,
            "canceled_at": null,
            "ended_at": null,
            "trial_end": null,
            "current_period_start": period_end - 2_592_000,
            "current_period_end": period_end,
            "collection_method": "charge_automatically",
            "currency": "usd",
            "items": {
                "object": "list",
                "data": [{
                    "id": format!("si_bench_{c}"),
                    "object": "subscription_item",
                    "price": { "id": STRIPE_PRICE_PRO, "object": "price", "unit_amount": 1900,
                               "currency": "usd",
                               "recurring": { "interval": "month", "interval_count": 1 } },
                    "quantity": 1
                }],
                "has_more": false
            },
            "metadata": {},
            "livemode": false
        });
        let event = json!({
            "id": format!("evt_bench_{n}"),
            "object": "event",
            "api_version": "2024-04-10",
            "created": created,
            "livemode": false,
            "pending_webhooks": 1,
            "request": { "id": null, "idempotency_key": null },
            "type": "customer.subscription.updated",
            "data": { "object": subscription }
        });
        Bytes::from(serde_json::to_vec(&event).expect("serialize a Stripe event"))
    }
}

impl Workload for Webhooks {
    fn next(&self, _connection: usize) -> Option<(Request<Body>, u64)> {
        let k = self.next.fetch_add(1, Ordering::Relaxed) as u64;
        let n = Self::event_of_delivery(k);
        let payload = self.payload(n);
        let signature =
            sign_stripe_webhook(&payload, &self.secret, tollbooth_db::now().timestamp());
        locked(&self.sent).insert(n);
        let request = load::post_json(
            self.server,
            "/webhooks/stripe",
            &[("stripe-signature", signature.as_str())],
            payload,
        );
        Some((request, n))
    }

    fn observe(&self, tag: u64, status: StatusCode, body: &[u8], measured: bool) {
        if !status.is_success() {
            return;
        }
        locked(&self.acknowledged).insert(tag);
        if measured {
            self.outcomes.count(body);
        }
    }
}

/// `Outcomes`, counted concurrently.
#[derive(Debug, Default)]
struct OutcomeCounters {
    applied: AtomicU64,
    duplicate: AtomicU64,
    stale: AtomicU64,
    ignored: AtomicU64,
    other: AtomicU64,
}

impl OutcomeCounters {
    /// Counts the `outcome` of a webhook answer (`{"event_id":…,"outcome":"applied",…}`).
    fn count(&self, body: &[u8]) {
        let outcome = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v.get("outcome").and_then(|o| o.as_str()).map(str::to_owned));
        let counter = match outcome.as_deref() {
            Some("applied") => &self.applied,
            Some("duplicate") => &self.duplicate,
            Some("stale") => &self.stale,
            Some("ignored") => &self.ignored,
            _ => &self.other,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn snapshot(&self) -> Outcomes {
        Outcomes {
            applied: self.applied.load(Ordering::Relaxed),
            duplicate: self.duplicate.load(Ordering::Relaxed),
            stale: self.stale.load(Ordering::Relaxed),
            ignored: self.ignored.load(Ordering::Relaxed),
            other: self.other.load(Ordering::Relaxed),
        }
    }
}
