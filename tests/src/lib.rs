//! The black-box harness: builds the two example servers, spawns them as real processes on
//! free ports against a throwaway database, and drives them over HTTP like a browser.
//!
//! The suite itself is `tests/contract.rs`; `contract_tests!` runs each test against the
//! axum server and the actix server on SQLite, and against the axum server on PostgreSQL.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
pub use tollbooth_db::testing::TestDb;

mod openapi;
pub use openapi::Contract;

/// Generates a test per scenario and server/engine pair: each `async fn(Flavor, TestDb)`
/// runs on axum+SQLite, actix+SQLite and axum+PostgreSQL.
#[macro_export]
macro_rules! contract_tests {
    ($($name:ident),+ $(,)?) => {
        mod axum_sqlite {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name($crate::Flavor::Axum, $crate::TestDb::sqlite().await).await } )+
        }
        mod actix_sqlite {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name($crate::Flavor::Actix, $crate::TestDb::sqlite().await).await } )+
        }
        mod axum_postgres {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() {
                   if let Some(db) = $crate::TestDb::postgres().await { super::$name($crate::Flavor::Axum, db).await }
               } )+
        }
    };
}

/// Which server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// `examples/axum`.
    Axum,
    /// `examples/actix`.
    Actix,
}

impl Flavor {
    /// The server binary's file name.
    pub fn binary(self) -> &'static str {
        match self {
            Self::Axum => "tollbooth-axum",
            Self::Actix => "tollbooth-actix",
        }
    }

    /// The framework's name, for reports.
    pub fn label(self) -> &'static str {
        match self {
            Self::Axum => "axum",
            Self::Actix => "actix-web",
        }
    }
}

/// Session signing key shared by every server of a test, so that two instances accept each
/// other's sessions (base64 of 48 bytes).
pub const SIGNING_KEY: &str =
    "dG9sbGJvb3RoLXRlc3Qtc2lnbmluZy1rZXktMDEyMzQ1Njc4OWFiY2RlZmdoaWprbG0=";
/// MFA sealing key shared likewise (base64 of 32 bytes).
pub const MFA_KEY: &str = "dG9sbGJvb3RoLXRlc3QtbWZhLWtleS0wMTIzNDU2Nzg=";
/// Stripe webhook secret of the test servers.
pub const STRIPE_WEBHOOK_SECRET: &str = "whsec_blackbox";
/// Cal.com webhook secret of the test servers.
pub const CALCOM_WEBHOOK_SECRET: &str = "cal_blackbox";

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// Builds both servers once per test process (incremental: fast when up to date) and
/// returns the directory holding the binaries.
fn binaries() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let status = Command::new(env!("CARGO"))
            .args([
                "build",
                "--quiet",
                "-p",
                "tollbooth-example-axum",
                "-p",
                "tollbooth-example-actix",
            ])
            .current_dir(workspace_root())
            .status()
            .expect("run cargo build");
        assert!(status.success(), "building the example servers failed");
        // …/target/debug/deps/contract-xxxx → …/target/debug
        let exe = std::env::current_exe().expect("test executable path");
        exe.parent()
            .and_then(Path::parent)
            .expect("target dir")
            .to_path_buf()
    })
}

/// A free loopback port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A running example server. Killed when dropped.
#[derive(Debug)]
pub struct Server {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// Its `PUBLIC_URL` (the base, unless the test set one: replicas share one).
    pub public_url: String,
    /// Which server.
    pub flavor: Flavor,
    child: Child,
    logs: Arc<Mutex<String>>,
}

impl Server {
    /// Starts `flavor` on `database_url` with the harness's keys plus `env`, and waits until
    /// `/health` answers.
    pub async fn start(flavor: Flavor, database_url: &str, env: &[(&str, String)]) -> Self {
        let mut server = Self::spawn(flavor, database_url, env);
        server.wait_healthy().await;
        server
    }

    /// Starts `flavor` like [`start`](Self::start) with a configuration it must refuse:
    /// waits (up to 60 s) for the process to exit without ever answering `/health`, and
    /// returns its exit code and everything it logged.
    pub async fn start_refused(
        flavor: Flavor,
        database_url: &str,
        env: &[(&str, String)],
    ) -> (Option<i32>, String) {
        let mut server = Self::spawn(flavor, database_url, env);
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if server
                .child
                .try_wait()
                .expect("poll the server process")
                .is_some()
            {
                return server.exited().await;
            }
            let healthy = client
                .get(format!("{}/health", server.base))
                .send()
                .await
                .is_ok_and(|response| response.status().is_success());
            assert!(
                !healthy,
                "{flavor:?} started with a configuration it should refuse:\n{}",
                server.logs()
            );
            assert!(
                Instant::now() < deadline,
                "{flavor:?} neither started nor exited:\n{}",
                server.logs()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Runs `flavor`'s binary with `args` (e.g. `purge`) to its end, in the environment a
    /// server started with `env` would have.
    pub fn run_command(
        flavor: Flavor,
        database_url: &str,
        env: &[(&str, String)],
        args: &[&str],
    ) -> std::process::Output {
        Self::command(flavor, database_url, free_port(), env)
            .args(args)
            .output()
            .expect("run the server binary")
    }

    /// The server binary's command line: a clean environment with the test keys, `env` on top.
    fn command(flavor: Flavor, database_url: &str, port: u16, env: &[(&str, String)]) -> Command {
        let mut command = Command::new(binaries().join(flavor.binary()));
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("BIND", format!("127.0.0.1:{port}"))
            .env("PUBLIC_URL", format!("http://127.0.0.1:{port}"))
            .env("DATABASE_URL", database_url)
            .env("SESSION_SIGNING_KEY", SIGNING_KEY)
            .env("MFA_ENCRYPTION_KEY", MFA_KEY)
            .env("RUST_LOG", "info")
            .current_dir(std::env::temp_dir())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        command
    }

    fn spawn(flavor: Flavor, database_url: &str, env: &[(&str, String)]) -> Self {
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let mut child = Self::command(flavor, database_url, port, env)
            .spawn()
            .expect("spawn the server");
        let logs = Arc::new(Mutex::new(String::new()));
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child.stderr.take().map(|s| Box::new(s) as _),
        ]
        .into_iter()
        .flatten()
        {
            let logs = logs.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let mut logs = logs
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    logs.push_str(&line);
                    logs.push('\n');
                }
            });
        }
        let public_url = env
            .iter()
            .find(|(key, _)| *key == "PUBLIC_URL")
            .map_or_else(|| base.clone(), |(_, url)| url.clone());
        Self {
            base,
            public_url,
            flavor,
            child,
            logs,
        }
    }

    async fn wait_healthy(&mut self) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(response) = client.get(format!("{}/health", self.base)).send().await
                && response.status().is_success()
            {
                let document = client
                    .get(format!("{}/openapi.json", self.base))
                    .send()
                    .await
                    .expect("GET /openapi.json");
                assert_eq!(document.status().as_u16(), 200, "GET /openapi.json");
                Contract::install(document.json().await.expect("the document is JSON"));
                return;
            }
            let exited = self.child.try_wait().expect("poll the server process");
            assert!(
                exited.is_none(),
                "{:?} exited ({}) at start-up:\n{}",
                self.flavor,
                exited.unwrap(),
                self.logs()
            );
            assert!(
                Instant::now() < deadline,
                "{:?} did not become healthy:\n{}",
                self.flavor,
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends `signal` (`INT`, `TERM`, …) to the server process.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Waits (up to 30 s) for the process to exit; its exit code and everything it logged.
    pub async fn exited(&mut self) -> (Option<i32>, String) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("poll the server process") {
                // The reader threads may still hold the last lines.
                tokio::time::sleep(Duration::from_millis(200)).await;
                return (status.code(), self.logs());
            }
            assert!(
                Instant::now() < deadline,
                "{:?} did not exit:\n{}",
                self.flavor,
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Everything the server logged so far.
    pub fn logs(&self) -> String {
        self.logs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Whether the server logs `needle` within 10 s: a line printed with a response can
    /// reach the log reader after the response reaches the test.
    pub async fn logged(&self, needle: &str) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.logs().contains(needle) {
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        true
    }

    /// The token of the newest link to `path` (e.g. `/auth/verify-email`) in an e-mail the
    /// console transport printed for `to`. Waits up to 10 s (e-mails go out in the background).
    pub async fn emailed_token(&self, to: &str, path: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let logs = self.logs();
            let token = logs
                .split("e-mail (console transport, not sent)")
                .skip(1)
                .filter(|mail| mail.contains(&format!("to={to}")))
                .filter_map(|mail| mail.split(&format!("{path}?token=")).nth(1))
                .filter_map(|rest| rest.split(|c: char| c.is_whitespace() || c == '&').next())
                .last()
                .map(str::to_owned);
            if let Some(token) = token {
                return token;
            }
            assert!(
                Instant::now() < deadline,
                "no e-mail to {to} with a {path} link:\n{logs}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP response, its JSON body parsed (`Value::Null` when empty or not JSON).
#[derive(Debug)]
pub struct Resp {
    /// Status.
    pub status: u16,
    /// Headers.
    pub headers: reqwest::header::HeaderMap,
    /// Body as JSON.
    pub json: Value,
}

impl Resp {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Every `Set-Cookie`.
    pub fn set_cookies(&self) -> Vec<&str> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect()
    }
}

/// A browser: sends `Origin` on unsafe requests like a real one, keeps a cookie jar
/// (`Secure` cookies included: the test servers run on loopback http), follows no redirects.
#[derive(Debug)]
pub struct Browser {
    http: reqwest::Client,
    base: String,
    origin: String,
    jar: Mutex<BTreeMap<String, String>>,
}

impl Browser {
    /// A browser with an empty jar, pointed at `server`, on the page of its public URL.
    pub fn new(server: &Server) -> Self {
        let mut browser = Self::at(&server.base);
        browser.origin = server.public_url.trim_end_matches('/').to_owned();
        browser
    }

    /// A browser pointed at `base`.
    pub fn at(base: &str) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("HTTP client");
        Self {
            http,
            base: base.to_owned(),
            origin: base.to_owned(),
            jar: Mutex::new(BTreeMap::new()),
        }
    }

    /// The same jar, now pointed at another server (two instances behind a load balancer).
    pub fn moved_to(&self, server: &Server) -> Self {
        let moved = Self::new(server);
        *moved.jar.lock().expect("jar") = self.jar.lock().expect("jar").clone();
        moved
    }

    /// A cookie's value.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.jar.lock().expect("jar").get(name).cloned()
    }

    /// Plants a cookie (e.g. one an attacker fixed).
    pub fn set_cookie(&self, name: &str, value: &str) {
        self.jar
            .lock()
            .expect("jar")
            .insert(name.to_owned(), value.to_owned());
    }

    /// GET.
    pub async fn get(&self, path: &str) -> Resp {
        self.send(reqwest::Method::GET, path, None, &[]).await
    }

    /// POST a JSON body.
    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.send(reqwest::Method::POST, path, Some(body), &[])
            .await
    }

    /// DELETE.
    pub async fn delete(&self, path: &str) -> Resp {
        self.send(reqwest::Method::DELETE, path, None, &[]).await
    }

    /// Any request, with extra headers.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        };
        let mut request = self.http.request(method.clone(), url);
        if method != reqwest::Method::GET {
            request = request.header("origin", &self.origin);
        }
        let cookies: Vec<String> = self
            .jar
            .lock()
            .expect("jar")
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if !cookies.is_empty() {
            request = request.header("cookie", cookies.join("; "));
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        self.remember(response.headers());
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let url_path = response.url().path().to_owned();
        let bytes = response.bytes().await.expect("body");
        // Answers of the server under test only (a test may also visit a stand-in).
        let from_server = !path.starts_with("http") || path.starts_with(&self.base);
        if let Some(contract) = Contract::get().filter(|_| from_server) {
            contract.check(method.as_str(), &url_path, status, &bytes);
        }
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            json,
        }
    }

    fn remember(&self, headers: &reqwest::header::HeaderMap) {
        let mut jar = self.jar.lock().expect("jar");
        for value in headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
        {
            let Some((name, rest)) = value.split_once('=') else {
                continue;
            };
            let cookie_value = rest.split(';').next().unwrap_or_default();
            if value.contains("Max-Age=0") || cookie_value.is_empty() {
                jar.remove(name);
            } else {
                jar.insert(name.to_owned(), cookie_value.to_owned());
            }
        }
    }
}

/// A TOTP code for a base32 secret, now.
pub fn totp_now(secret: &str, offset_secs: i64) -> String {
    let totp = totp_rs::Builder::new()
        .with_secret(totp_rs::Secret::try_from_base32(secret).expect("base32 secret"))
        .build()
        .expect("TOTP");
    let now = tollbooth_db::now().timestamp() + offset_secs;
    totp.generate(u64::try_from(now).expect("time")).to_string()
}

/// The password every scenario's users have.
pub const PASSWORD: &str = "correct horse battery staple";

/// Signs up with [`PASSWORD`] (201, or the test fails).
pub async fn sign_up(browser: &Browser, email: &str) {
    let signed_up = browser
        .post(
            "/auth/sign-up",
            json!({ "email": email, "password": PASSWORD, "name": "Ada" }),
        )
        .await;
    assert_eq!(signed_up.status, 201, "{signed_up:?}");
}

/// Signs up, verifies through the e-mailed link, and signs in.
pub async fn verified_user(server: &Server, browser: &Browser, email: &str) -> Value {
    sign_up(browser, email).await;
    let token = server.emailed_token(email, "/verify-email").await;
    let verified = browser
        .get(&format!("/auth/verify-email?token={token}"))
        .await;
    assert_eq!(
        (verified.status, &verified.json["verified"]),
        (200, &json!(true)),
        "{verified:?}"
    );
    let signed_in = browser
        .post(
            "/auth/sign-in",
            json!({ "email": email, "password": PASSWORD }),
        )
        .await;
    assert_eq!(signed_in.status, 200, "{signed_in:?}");
    signed_in.json["user"].clone()
}

/// The environment that switches Stripe on, pointed at `stripe`, plus `extra`.
pub fn stripe_env(
    stripe: &wiremock::MockServer,
    extra: &[(&'static str, String)],
) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("STRIPE_SECRET_KEY", "sk_test_blackbox".to_owned()),
        ("STRIPE_WEBHOOK_SECRET", STRIPE_WEBHOOK_SECRET.to_owned()),
        ("STRIPE_PRICE_PRO", "price_pro".to_owned()),
        ("STRIPE_TRIAL_DAYS", "14".to_owned()),
        ("STRIPE_API_BASE", stripe.uri()),
    ];
    env.extend_from_slice(extra);
    env
}

impl Server {
    /// How many e-mails the console transport printed under `idempotency_key`.
    pub fn emails_with_key(&self, idempotency_key: &str) -> usize {
        self.logs()
            .matches(&format!("idempotency_key={idempotency_key}"))
            .count()
    }
}

/// POSTs a Stripe event to `server`'s webhook, signed with the test secret now.
pub async fn deliver_stripe(server: &Server, event: &Value) -> Resp {
    let body = serde_json::to_vec(event).expect("event JSON");
    let now = tollbooth_db::now().timestamp();
    let signature = tollbooth_billing::sign_stripe_webhook(
        &body,
        &tollbooth_billing::WebhookSecret::new(STRIPE_WEBHOOK_SECRET),
        now,
    );
    let headers = [
        ("stripe-signature", signature.as_str()),
        ("content-type", "application/json"),
    ];
    post_raw(server, "/webhooks/stripe", &headers, body).await
}

/// POSTs a Cal.com webhook to `server`, signed with the test secret.
pub async fn deliver_calcom(server: &Server, event: &Value) -> Resp {
    let body = serde_json::to_vec(event).expect("event JSON");
    let signature = tollbooth_billing::sign_calcom_webhook(
        &body,
        &tollbooth_billing::WebhookSecret::new(CALCOM_WEBHOOK_SECRET),
    );
    let headers = [
        ("x-cal-signature-256", signature.as_str()),
        ("content-type", "application/json"),
    ];
    post_raw(server, "/webhooks/calcom", &headers, body).await
}

/// POSTs `body` as it is, with only `headers` (no cookie, no `Origin`): a webhook, or a
/// hostile request. The answer is checked against the OpenAPI document like any other.
pub async fn post_raw(
    server: &Server,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Resp {
    let mut request = reqwest::Client::new()
        .post(format!("{}{path}", server.base))
        .body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("raw request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.expect("body");
    if let Some(contract) = Contract::get() {
        contract.check("POST", path, status, &bytes);
    }
    Resp {
        status,
        headers,
        json: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

/// GitHub's stand-in (`GITHUB_OAUTH_BASE`): the consent page answers at once (back to the
/// callback with a code and the state), the token, Grace Hopper and her verified address.
pub async fn github_stand_in() -> wiremock::MockServer {
    let github = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("GET"))
        .and(wiremock::matchers::path("/authorize"))
        .respond_with(|request: &wiremock::Request| {
            let query: std::collections::HashMap<String, String> =
                request.url.query_pairs().into_owned().collect();
            let mut back = url::Url::parse(&query["redirect_uri"]).unwrap();
            back.query_pairs_mut()
                .append_pair("code", "c")
                .append_pair("state", &query["state"]);
            wiremock::ResponseTemplate::new(302).insert_header("location", back.as_str())
        })
        .mount(&github)
        .await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path("/token"))
        .respond_with(
            wiremock::ResponseTemplate::new(200)
                .set_body_json(json!({ "access_token": "gho_x", "token_type": "bearer" })),
        )
        .mount(&github)
        .await;
    wiremock::Mock::given(wiremock::matchers::method("GET"))
        .and(wiremock::matchers::path("/user"))
        .respond_with(
            wiremock::ResponseTemplate::new(200)
                .set_body_json(json!({ "id": 99, "login": "grace", "name": "Grace Hopper" })),
        )
        .mount(&github)
        .await;
    wiremock::Mock::given(wiremock::matchers::method("GET"))
        .and(wiremock::matchers::path("/user/emails"))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(
            json!([{ "email": "grace@example.com", "primary": true, "verified": true }]),
        ))
        .mount(&github)
        .await;
    github
}

/// A Stripe event envelope, created now.
pub fn stripe_event(id: &str, kind: &str, object: Value) -> Value {
    json!({
        "id": id, "object": "event", "type": kind, "created": tollbooth_db::now().timestamp(),
        "data": { "object": object }
    })
}

/// Stands in for Stripe's `POST /v1/checkout/sessions` as Stripe behaves: a new session
/// per idempotency key, the same answer again for a key seen before.
#[derive(Debug, Default)]
pub struct IdempotentCheckout {
    sessions: Mutex<BTreeMap<String, String>>,
}

impl wiremock::Respond for IdempotentCheckout {
    fn respond(&self, request: &wiremock::Request) -> wiremock::ResponseTemplate {
        let key = request
            .headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let mut sessions = self
            .sessions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let next = sessions.len() + 1;
        let id = sessions
            .entry(key)
            .or_insert_with(|| format!("cs_bb_{next}"))
            .clone();
        wiremock::ResponseTemplate::new(200).set_body_json(json!({
            "id": id, "object": "checkout.session", "mode": "subscription", "status": "open",
            "url": format!("https://checkout.stripe.com/c/pay/{id}"),
            "expires_at": tollbooth_db::now().timestamp() + 86_400
        }))
    }
}
