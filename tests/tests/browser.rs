//! The web UI in a real browser: headless Chromium driven through WebDriver (Debian's
//! `chromium` and `chromium-driver`), against both servers. Every page the journey meets is
//! checked with axe-core (no serious or critical violation) and at 360 px wide (no
//! horizontal scroll), and saved as a screenshot under `target/browser-screenshots/`.
//!
//! Outside CI the suite is skipped with a warning when Chromium, its driver or axe-core is
//! missing; with `CI=true` it must run. `TOLLBOOTH_SCREENSHOTS=docs/screenshots` also writes
//! the README's three screenshots there (from the axum server).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use tollbooth_db::UserRepo;
use tollbooth_tests::*;
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The pages README.md shows.
const README_SCREENSHOTS: [&str; 3] = ["sign-in", "mfa-enrollment", "billing"];

/// Where axe-core's browser build is: `AXE_CORE_JS`, else what `npm install axe-core` put
/// under `tests/node_modules`.
fn axe_core() -> Option<String> {
    let path = std::env::var_os("AXE_CORE_JS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("node_modules/axe-core/axe.min.js")
        });
    std::fs::read_to_string(path).ok()
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// A chromedriver process and a WebDriver session in headless Chromium.
struct Chrome {
    client: Client,
    driver: Child,
    axe: String,
    _profile: tempfile::TempDir,
}

impl Chrome {
    /// `None` (with a warning) outside CI when something the suite needs is not installed.
    async fn start() -> Option<Self> {
        let missing = [CHROMIUM, CHROMEDRIVER]
            .into_iter()
            .filter(|path| !std::path::Path::new(path).exists())
            .collect::<Vec<_>>();
        let axe = axe_core();
        if !missing.is_empty() || axe.is_none() {
            let reason = format!(
                "missing {missing:?}{}",
                if axe.is_none() {
                    " and axe-core (npm install axe-core in tests/)"
                } else {
                    ""
                }
            );
            assert!(
                !in_ci(),
                "CI=true requires the browser suite to run, but: {reason}"
            );
            eprintln!("warning: browser suite skipped: {reason}");
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let profile = tempfile::tempdir().expect("a profile directory");
        let capabilities = json!({
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            }
        });
        let capabilities = match capabilities {
            Value::Object(map) => map,
            _ => unreachable!(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(capabilities.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
            {
                Ok(client) => break client,
                Err(error) => {
                    assert!(Instant::now() < deadline, "no WebDriver session: {error}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        };
        Some(Self {
            client,
            driver,
            axe: axe.expect("checked above"),
            _profile: profile,
        })
    }

    async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("navigate");
    }

    async fn text(&self) -> String {
        let body = self
            .client
            .find(Locator::Css("main"))
            .await
            .expect("a <main>");
        body.text().await.expect("its text")
    }

    /// The text of the element `css` selects.
    async fn text_of(&self, css: &str) -> String {
        let element = self.client.find(Locator::Css(css)).await.expect(css);
        element.text().await.expect("its text")
    }

    async fn fill(&self, css: &str, value: &str) {
        let field = self.client.find(Locator::Css(css)).await.expect(css);
        field.clear().await.expect("clear");
        field.send_keys(value).await.expect("type");
    }

    async fn click(&self, css: &str) {
        let element = self.client.find(Locator::Css(css)).await.expect(css);
        element.click().await.expect("click");
    }

    /// Clicks and waits for the next page to load.
    async fn submit(&self, css: &str) {
        let before = self.client.current_url().await.expect("url");
        let marker = self
            .client
            .execute("window.__stale = true; return true;", vec![])
            .await
            .expect("mark the page");
        assert_eq!(marker, json!(true));
        self.click(css).await;
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let stale = self
                .client
                .execute(
                    "return window.__stale === true && document.readyState === 'complete';",
                    vec![],
                )
                .await
                .unwrap_or(json!(true));
            if stale == json!(false) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no new page after clicking {css} on {before}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits (up to 15 s) until the browser is at `path` on any origin, and loaded.
    async fn wait_for_path(&self, path: &str) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let url = self.client.current_url().await.expect("url");
            let ready = self
                .client
                .execute("return document.readyState === 'complete';", vec![])
                .await
                .unwrap_or(json!(false));
            if url.path() == path && ready == json!(true) {
                return;
            }
            assert!(Instant::now() < deadline, "never reached {path}; at {url}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits (up to 15 s) until the page's `<main>` says `text`.
    async fn wait_for_text(&self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let main = match self.client.find(Locator::Css("main")).await {
                Ok(main) => main.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if main.contains(text) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the page never said {text:?}: {main}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn attr(&self, css: &str, name: &str) -> String {
        let element = self.client.find(Locator::Css(css)).await.expect(css);
        element
            .attr(name)
            .await
            .expect("attribute")
            .unwrap_or_default()
    }

    async fn count(&self, css: &str) -> usize {
        self.client
            .find_all(Locator::Css(css))
            .await
            .expect(css)
            .len()
    }

    /// Checks the page as it is: axe-core finds no serious or critical violation, nothing
    /// scrolls sideways at 360 px, and it is saved as `<name>.png`.
    async fn check_page(&self, flavor: Flavor, name: &str) {
        self.client
            .execute(&self.axe, vec![])
            .await
            .expect("inject axe-core");
        let violations = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, { resultTypes: ['violations'] }).then(r => done(
                   r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
                     .map(v => v.id + ': ' + v.help + ' at ' + v.nodes.map(n => n.target.join(' ')).join(', '))));",
                vec![],
            )
            .await
            .expect("run axe-core");
        assert_eq!(violations, json!([]), "{name}: accessibility violations");

        self.client
            .set_window_size(360, 800)
            .await
            .expect("narrow window");
        let overflow = self
            .client
            .execute(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
                vec![],
            )
            .await
            .expect("measure");
        assert!(
            overflow.as_i64().is_some_and(|px| px <= 0),
            "{name}: scrolls sideways at 360 px by {overflow}"
        );
        self.client
            .set_window_size(1280, 900)
            .await
            .expect("wide window");

        let png = self.client.screenshot().await.expect("screenshot");
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/browser-screenshots");
        std::fs::create_dir_all(&dir).expect("screenshot directory");
        std::fs::write(
            dir.join(format!("{flavor:?}-{name}.png").to_lowercase()),
            &png,
        )
        .expect("save the screenshot");
        if let Some(docs) = std::env::var_os("TOLLBOOTH_SCREENSHOTS")
            && flavor == Flavor::Axum
            && README_SCREENSHOTS.contains(&name)
        {
            let docs = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join(docs);
            std::fs::create_dir_all(&docs).expect("docs screenshot directory");
            std::fs::write(docs.join(format!("{name}.png")), &png).expect("save");
        }
    }

    async fn close(mut self) {
        let _ = self.client.close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// A stand-in's address on another *site* than the server's `127.0.0.1` (another port
/// alone is the same site, to which `SameSite` cookies and `Sec-Fetch-Site` do not react).
fn other_site(stand_in: &MockServer) -> String {
    stand_in.uri().replace("127.0.0.1", "localhost")
}

/// Stripe's stand-ins: a customer; Checkout Sessions whose page is a tiny HTML page here
/// ("Pay" goes back to the session's success URL, `{CHECKOUT_SESSION_ID}` filled in as
/// Stripe does); a paid one-off session and its PaymentIntent (the session id carries the
/// payer); the customer's subscriptions. Cal.com's event type 42 and its booking page.
async fn stripe_stand_in() -> MockServer {
    let stripe = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/customers"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ "id": "cus_ui", "object": "customer" })),
        )
        .mount(&stripe)
        .await;
    let checkout_page = format!("{}/pay", stripe.uri());
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(move |request: &wiremock::Request| {
            let form: std::collections::HashMap<String, String> =
                url::form_urlencoded::parse(&request.body)
                    .into_owned()
                    .collect();
            let id = match form.get("mode").map(String::as_str) {
                Some("payment") => format!("cs_pay_{}", form["client_reference_id"]),
                _ => "cs_ui".to_owned(),
            };
            let success = form["success_url"].replace("{CHECKOUT_SESSION_ID}", &id);
            let page = url::Url::parse_with_params(&checkout_page, [("to", success)]).unwrap();
            ResponseTemplate::new(200).set_body_json(json!({ "id": id, "url": page.as_str() }))
        })
        .mount(&stripe)
        .await;
    Mock::given(method("GET"))
        .and(path_regex("^/v1/checkout/sessions/cs_pay_"))
        .respond_with(|request: &wiremock::Request| {
            let id = request.url.path().rsplit('/').next().unwrap().to_owned();
            let payer = id.trim_start_matches("cs_pay_").to_owned();
            ResponseTemplate::new(200).set_body_json(json!({
                "id": id, "object": "checkout.session", "mode": "payment", "status": "complete",
                "client_reference_id": payer, "payment_intent": format!("pi_pay_{payer}"),
                "metadata": {}
            }))
        })
        .mount(&stripe)
        .await;
    Mock::given(method("GET"))
        .and(path_regex("^/v1/payment_intents/pi_pay_"))
        .respond_with(|request: &wiremock::Request| {
            let id = request.url.path().rsplit('/').next().unwrap().to_owned();
            let payer = id.trim_start_matches("pi_pay_").to_owned();
            ResponseTemplate::new(200).set_body_json(json!({
                "id": id, "object": "payment_intent", "amount": 5000, "currency": "usd",
                "status": "succeeded",
                "metadata": { "user_id": payer, "calcom_event_type_id": "42" }
            }))
        })
        .mount(&stripe)
        .await;
    Mock::given(method("GET"))
        .and(path("/pay"))
        .respond_with(|request: &wiremock::Request| {
            let to = request
                .url
                .query_pairs()
                .find(|(key, _)| key == "to")
                .map(|(_, value)| value.into_owned())
                .unwrap_or_default()
                .replace('"', "&quot;");
            ResponseTemplate::new(200).set_body_raw(
                format!(
                    "<!doctype html><html lang=en><title>Checkout</title><main>\
                     <h1>Stripe Checkout (stand-in)</h1><a id=pay href=\"{to}\">Pay</a></main></html>"
                ),
                "text/html",
            )
        })
        .mount(&stripe)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/event-types/42"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({ "status": "success", "data": {
            "id": 42, "slug": "intro", "users": [{ "username": "ada" }] } })),
        )
        .mount(&stripe)
        .await;
    Mock::given(method("GET"))
        .and(path("/cal/ada/intro"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            "<!doctype html><html lang=en><title>Book</title><main>\
             <h1>Cal.com booking (stand-in)</h1></main></html>",
            "text/html",
        ))
        .mount(&stripe)
        .await;
    let now = tollbooth_db::now().timestamp();
    Mock::given(method("GET"))
        .and(path("/v1/subscriptions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "list", "url": "/v1/subscriptions", "has_more": false,
            "data": [{
                "id": "sub_ui", "object": "subscription", "customer": "cus_ui", "status": "active",
                "cancel_at_period_end": false, "created": now,
                "current_period_start": now, "current_period_end": now + 2_592_000,
                "items": { "object": "list", "data": [
                    { "id": "si_ui", "price": { "id": "price_pro" }, "quantity": 1 }
                ] },
                "metadata": {}
            }]
        })))
        .mount(&stripe)
        .await;
    stripe
}

/// A newcomer's whole journey, by clicking: sign up, the e-mailed link, sign in, link GitHub,
/// turn on two-factor authentication (the secret read off the page), sign out, sign in with
/// a code, subscribe through Checkout, see the plan, sign another session out, and sign in
/// with GitHub (its second factor a backup code).
async fn the_journey_in_a_browser(flavor: Flavor, db: TestDb) {
    let Some(chrome) = Chrome::start().await else {
        return;
    };
    let stripe = stripe_stand_in().await;
    let github = github_stand_in().await;
    let env = stripe_env(
        &stripe,
        &[
            ("GITHUB_CLIENT_ID", "gh-id".to_owned()),
            ("GITHUB_CLIENT_SECRET", "gh-secret".to_owned()),
            ("GITHUB_OAUTH_BASE", other_site(&github)),
            ("OFFER_NAME", "Consultation".to_owned()),
            ("OFFER_AMOUNT", "5000".to_owned()),
            ("OFFER_CALCOM_EVENT_TYPE_ID", "42".to_owned()),
            ("CALCOM_API_KEY", "cal_key".to_owned()),
            ("CALCOM_API_BASE", stripe.uri()),
            (
                "CALCOM_BOOKING_BASE",
                format!("{}/cal", other_site(&stripe)),
            ),
        ],
    );
    let server = Server::start(flavor, db.url(), &env).await;
    let site = server.public_url.trim_end_matches('/').to_owned();
    let email = "grace@example.com";

    chrome.goto(&format!("{site}/")).await;
    chrome.check_page(flavor, "home").await;
    chrome.click("a[href='/sign-up'].button").await;
    chrome.check_page(flavor, "sign-up").await;
    chrome.fill("#name", "Grace").await;
    chrome.fill("#email", email).await;
    chrome.fill("#password", PASSWORD).await;
    chrome.submit("form[action='/sign-up'] button").await;
    assert!(
        chrome.text().await.contains("Check your e-mail"),
        "{}",
        chrome.text().await
    );
    chrome.check_page(flavor, "check-email").await;

    let token = server.emailed_token(email, "/verify-email").await;
    chrome
        .goto(&format!("{site}/verify-email?token={token}"))
        .await;
    assert!(
        chrome.text().await.contains("Your e-mail is verified"),
        "{}",
        chrome.text().await
    );
    chrome.check_page(flavor, "verified").await;

    chrome.goto(&format!("{site}/sign-in")).await;
    chrome.check_page(flavor, "sign-in").await;
    chrome.fill("#email", email).await;
    chrome.fill("#password", PASSWORD).await;
    chrome.submit("form[action='/sign-in'] button").await;
    let home = chrome.text().await;
    assert!(
        home.contains("Welcome, Grace") && home.contains(email),
        "{home}"
    );
    chrome.check_page(flavor, "dashboard").await;

    chrome.goto(&format!("{site}/account")).await;
    chrome.check_page(flavor, "account").await;
    chrome
        .submit("form[action='/account/mfa/enroll'] button")
        .await;
    let secret = chrome.text_of("[data-test=secret]").await;
    assert!(
        chrome
            .attr("img.qr", "src")
            .await
            .starts_with("data:image/png;base64,")
    );
    chrome.check_page(flavor, "mfa-enrollment").await;
    chrome.fill("#code", &totp_now(&secret, 0)).await;
    chrome
        .submit("form[action='/account/mfa/confirm'] button")
        .await;
    let codes = chrome.text_of("[data-test=backup-codes]").await;
    let backup_codes: Vec<&str> = codes.split_whitespace().collect();
    assert!(backup_codes.len() >= 8, "{codes}");
    chrome.check_page(flavor, "backup-codes").await;

    chrome.submit("form[action='/sign-out'] button").await;
    chrome.goto(&format!("{site}/sign-in")).await;
    chrome.fill("#email", email).await;
    chrome.fill("#password", PASSWORD).await;
    chrome.submit("form[action='/sign-in'] button").await;
    assert!(chrome.text().await.contains("Two-factor authentication"));
    chrome.check_page(flavor, "mfa-challenge").await;
    // The next step's code: the confirmation used this one, and a step is accepted once.
    chrome.fill("#code", &totp_now(&secret, 30)).await;
    chrome.submit("form[action='/sign-in/mfa'] button").await;
    assert!(
        chrome.text().await.contains("Welcome, Grace"),
        "{}",
        chrome.text().await
    );

    chrome.goto(&format!("{site}/pricing")).await;
    chrome.check_page(flavor, "pricing").await;
    chrome.submit("[data-test=plan-pro] button").await;
    assert!(chrome.text().await.contains("Stripe Checkout (stand-in)"));
    chrome.submit("#pay").await;
    let plan = chrome.text_of("[data-test=plan]").await;
    assert_eq!(plan, "pro");
    assert!(chrome.text().await.contains("Your subscription is active"));
    chrome.check_page(flavor, "billing").await;

    // A one-off payment (a paid Cal.com session) through Checkout, then its booking page.
    chrome.goto(&format!("{site}/pricing")).await;
    chrome.submit("[data-test=offer] button").await;
    assert!(chrome.text().await.contains("Stripe Checkout (stand-in)"));
    chrome.submit("#pay").await;
    let billing = chrome.text().await;
    assert!(billing.contains("Payment received"), "{billing}");
    assert_eq!(
        chrome.text_of("[data-test=payment-status]").await,
        "succeeded"
    );
    assert!(billing.contains("50.00 USD"), "{billing}");
    chrome.check_page(flavor, "billing-payment").await;
    chrome
        .submit("[data-test=payments] form[action$='/book'] button")
        .await;
    assert!(
        chrome.text().await.contains("Cal.com booking (stand-in)"),
        "{}",
        chrome.text().await
    );

    // Another device signs in (a backup code as its second factor); the account page lists
    // it, and signing it out from there ends it.
    let phone = Browser::new(&server);
    let challenge = phone
        .post(
            "/auth/sign-in",
            json!({ "email": email, "password": PASSWORD }),
        )
        .await;
    let challenge = challenge.json["challenge"]
        .as_str()
        .expect("MFA challenge")
        .to_owned();
    let signed_in = phone
        .post(
            "/auth/mfa/verify",
            json!({ "challenge": challenge, "code": backup_codes[0] }),
        )
        .await;
    assert_eq!(signed_in.status, 200, "{signed_in:?}");
    assert_eq!(phone.get("/me").await.status, 200);
    chrome.goto(&format!("{site}/account")).await;
    assert_eq!(chrome.count("[data-test=session]").await, 2);
    chrome
        .submit("form[action='/account/sessions/revoke'] button")
        .await;
    assert!(chrome.text().await.contains("That session is signed out."));
    assert_eq!(chrome.count("[data-test=session]").await, 1);
    assert_eq!(phone.get("/me").await.status, 401);

    // Signed out, GitHub signs Grace in — after her second factor, here a backup code.
    chrome.submit("form[action='/sign-out'] button").await;
    chrome.goto(&format!("{site}/sign-in")).await;
    chrome.submit("a[href^='/auth/oauth/github']").await;
    chrome.wait_for_text("Two-factor authentication").await;
    chrome.fill("#code", backup_codes[1]).await;
    chrome.submit("form[action='/sign-in/mfa'] button").await;
    assert!(
        chrome.text().await.contains("Welcome, Grace"),
        "{}",
        chrome.text().await
    );

    // A page nobody has is a page, not JSON.
    chrome.goto(&format!("{site}/no/such/page")).await;
    assert!(chrome.text().await.contains("Not found"));
    chrome.check_page(flavor, "not-found").await;
    chrome.close().await;
}

/// A form on another site posting to ours is refused (the library's CSRF check), and
/// changes nothing.
async fn a_cross_site_form_post_is_refused(flavor: Flavor, db: TestDb) {
    let Some(chrome) = Chrome::start().await else {
        return;
    };
    let server = Server::start(flavor, db.url(), &[]).await;
    let site = server.public_url.trim_end_matches('/').to_owned();
    let evil = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            format!(
                "<!doctype html><html lang=en><title>Win a prize</title><main>\
                 <form method=post action=\"{site}/sign-up\">\
                 <input type=hidden name=email value=victim@example.com>\
                 <input type=hidden name=password value=\"correct horse battery staple\">\
                 <button id=go>Claim</button></form></main></html>"
            ),
            "text/html",
        ))
        .mount(&evil)
        .await;
    chrome.goto(&other_site(&evil)).await;
    chrome.click("#go").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let body = loop {
        let url = chrome.client.current_url().await.expect("url");
        if url.as_str().starts_with(&site) {
            let body = chrome
                .client
                .find(Locator::Css("body"))
                .await
                .expect("body");
            break body.text().await.expect("text");
        }
        assert!(Instant::now() < deadline, "the form never posted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(body.contains("forbidden"), "{body}");
    let db = db.connect_again().await;
    assert!(
        db.find_user_by_email("victim@example.com")
            .await
            .unwrap()
            .is_none()
    );
    chrome.close().await;
}

/// The pages off the main journey: admin (and its 403 for others), forgot and reset
/// password from the e-mailed link, a password change from the account page, and the "this
/// wasn't me" page from its notice — each checked like the others.
async fn the_other_pages(flavor: Flavor, db: TestDb) {
    let Some(chrome) = Chrome::start().await else {
        return;
    };
    let github = github_stand_in().await;
    let env = [
        ("ADMIN_EMAILS", "boss@example.com".to_owned()),
        ("GITHUB_CLIENT_ID", "gh-id".to_owned()),
        ("GITHUB_CLIENT_SECRET", "gh-secret".to_owned()),
        ("GITHUB_OAUTH_BASE", other_site(&github)),
    ];
    let server = Server::start(flavor, db.url(), &env).await;
    let site = server.public_url.trim_end_matches('/').to_owned();
    verified_user(&server, &Browser::new(&server), "boss@example.com").await;
    verified_user(&server, &Browser::new(&server), "ada@example.com").await;
    let sign_in = |email: &'static str, password: &'static str| {
        let chrome = &chrome;
        let site = &site;
        async move {
            chrome.goto(&format!("{site}/sign-in")).await;
            chrome.fill("#email", email).await;
            chrome.fill("#password", password).await;
            chrome.submit("form[action='/sign-in'] button").await;
            assert!(
                chrome.text().await.contains(email),
                "{}",
                chrome.text().await
            );
        }
    };

    // Ada is also signed in elsewhere (an API client), which the ban below ends.
    let ada_elsewhere = Browser::new(&server);
    let signed_in = ada_elsewhere
        .post(
            "/auth/sign-in",
            json!({ "email": "ada@example.com", "password": PASSWORD }),
        )
        .await;
    assert_eq!(signed_in.status, 200, "{signed_in:?}");
    sign_in("ada@example.com", PASSWORD).await;
    chrome.goto(&format!("{site}/admin")).await;
    assert!(
        chrome.text().await.contains("You can't do that"),
        "{}",
        chrome.text().await
    );
    chrome.check_page(flavor, "forbidden").await;
    chrome.submit("form[action='/sign-out'] button").await;

    sign_in("boss@example.com", PASSWORD).await;
    chrome.click("a[href='/admin']").await;
    chrome.wait_for_text("Admin").await;
    assert!(chrome.text().await.contains("boss@example.com"));
    chrome.check_page(flavor, "admin").await;

    // Find ada, ban her (every session of hers ends), set a role, lift the ban.
    chrome.fill("#email", "ad").await;
    chrome.submit("form[action='/admin'] button").await;
    chrome.wait_for_text("ada@example.com").await;
    let found = chrome.text_of("[data-test='users']").await;
    assert!(!found.contains("boss@example.com"), "{found}");
    chrome.click("[data-test='user'] a").await;
    chrome.wait_for_text("Signs in with").await;
    chrome.check_page(flavor, "admin-user").await;
    chrome.fill("#reason", "spam from this account").await;
    chrome.submit("form[action$='/ban'] button").await;
    chrome.wait_for_text("The user is banned").await;
    let status = chrome.text_of("[data-test='status']").await;
    assert!(
        status.starts_with("banned since") && status.contains("spam from this account"),
        "{status}"
    );
    assert_eq!(
        ada_elsewhere.get("/me").await.status,
        401,
        "the ban ended her session"
    );
    let refused = ada_elsewhere
        .post(
            "/auth/sign-in",
            json!({ "email": "ada@example.com", "password": PASSWORD }),
        )
        .await;
    assert_eq!(refused.json["error"], "banned", "{refused:?}");
    chrome.fill("#role_name", "editor").await;
    chrome.submit("form[action$='/role'] button").await;
    chrome.wait_for_text("The role is set").await;
    chrome.submit("form[action$='/unban'] button").await;
    chrome.wait_for_text("The ban is lifted").await;
    assert_eq!(chrome.text_of("[data-test='status']").await, "active");
    let activity = chrome.text_of("[data-test='activity']").await;
    for line in [
        "Ban lifted by an administrator",
        "Role changed by an administrator · user → editor",
        "Banned by an administrator · spam from this account",
    ] {
        assert!(activity.contains(line), "{line}: {activity}");
    }
    chrome.check_page(flavor, "admin-user-after").await;

    // Act as ada: every page says so; her password cannot be changed; "Stop" returns to
    // her page in the administrator's own session.
    chrome.submit("form[action$='/impersonate'] button").await;
    let banner = chrome.text_of("[data-test='impersonating']").await;
    assert!(
        banner.contains("You are acting as ada@example.com"),
        "{banner}"
    );
    chrome.goto(&format!("{site}/account")).await;
    chrome.fill("#current_password", PASSWORD).await;
    chrome.fill("#new_password", "chosen by support").await;
    chrome
        .submit("form[action='/account/password'] button")
        .await;
    assert!(
        chrome
            .text()
            .await
            .contains("Not while impersonating a user"),
        "{}",
        chrome.text().await
    );
    chrome.check_page(flavor, "impersonating").await;
    chrome
        .submit("form[action='/stop-impersonating'] button")
        .await;
    chrome.wait_for_text("Signs in with").await;
    assert_eq!(chrome.count("[data-test='impersonating']").await, 0);
    let activity = chrome.text_of("[data-test='activity']").await;
    assert!(
        activity.contains("The administrator stopped acting as the user"),
        "{activity}"
    );

    // The profile form on the account page.
    chrome.goto(&format!("{site}/account")).await;
    chrome.fill("#profile_name", "The Boss").await;
    chrome
        .submit("form[action='/account/profile'] button")
        .await;
    chrome.wait_for_text("Your profile is saved.").await;
    assert!(
        chrome.text().await.contains("The Boss"),
        "{}",
        chrome.text().await
    );

    // A password change from the account page e-mails a notice with a "this wasn't me" link.
    chrome.goto(&format!("{site}/account")).await;
    chrome.fill("#current_password", PASSWORD).await;
    chrome.fill("#new_password", "a brand new passphrase").await;
    chrome
        .submit("form[action='/account/password'] button")
        .await;
    assert!(
        chrome.text().await.contains("Password changed"),
        "{}",
        chrome.text().await
    );
    let report = server
        .emailed_token("boss@example.com", "/security-report")
        .await;
    chrome
        .goto(&format!("{site}/security-report?token={report}"))
        .await;
    chrome.check_page(flavor, "security-report").await;
    chrome
        .submit("form[action='/security-report'] button")
        .await;
    assert!(
        chrome
            .text()
            .await
            .contains("Every session of your account has ended")
    );
    chrome.goto(&format!("{site}/account")).await;
    chrome.wait_for_path("/sign-in").await;

    // Forgot the password: the e-mailed link opens the page that sets a new one.
    chrome.goto(&format!("{site}/forgot-password")).await;
    chrome.check_page(flavor, "forgot-password").await;
    chrome.fill("#email", "ada@example.com").await;
    chrome
        .submit("form[action='/forgot-password'] button")
        .await;
    assert!(chrome.text().await.contains("Check your e-mail"));
    let reset = server
        .emailed_token("ada@example.com", "/reset-password")
        .await;
    chrome
        .goto(&format!("{site}/reset-password?token={reset}"))
        .await;
    chrome.check_page(flavor, "reset-password").await;
    chrome.fill("#password", "another fresh passphrase").await;
    chrome.submit("form[action='/reset-password'] button").await;
    assert!(chrome.text().await.contains("Your password is set"));
    sign_in("ada@example.com", "another fresh passphrase").await;
    // Her account page shows what was done to her account.
    chrome.goto(&format!("{site}/account")).await;
    let activity = chrome.text_of("[data-test='activity']").await;
    assert!(
        activity.contains("Banned by an administrator"),
        "{activity}"
    );

    // She moves her account to a new address: the link sent there applies it.
    chrome.fill("#new_email", "ada@new.example").await;
    chrome.submit("form[action='/account/email'] button").await;
    chrome
        .wait_for_text("We sent a link to the new address")
        .await;
    let change = server
        .emailed_token("ada@new.example", "/confirm-email-change")
        .await;
    chrome
        .goto(&format!("{site}/confirm-email-change?token={change}"))
        .await;
    chrome.check_page(flavor, "confirm-email-change").await;
    chrome
        .submit("form[action='/confirm-email-change'] button")
        .await;
    chrome.wait_for_text("Your address is changed").await;
    assert!(chrome.text().await.contains("ada@new.example"));
    chrome.goto(&format!("{site}/account")).await;
    let activity = chrome.text_of("[data-test='activity']").await;
    assert!(
        activity.contains("Address changed · ada@example.com → ada@new.example"),
        "{activity}"
    );
    // "Download my data" answers the JSON as a file (asked the way the form does, from
    // the page, so the answer can be read instead of saved).
    assert_eq!(
        chrome.count("form[action='/account/export'] button").await,
        1
    );
    let download = chrome
        .client
        .execute(
            "return fetch('/account/export', {method: 'POST'}).then(r => r.text().then(body => \
             [r.status, r.headers.get('content-disposition'), body]))",
            vec![],
        )
        .await
        .expect("the export");
    assert_eq!(download[0], 200, "{download}");
    assert_eq!(download[1], "attachment; filename=\"account-data.json\"");
    let export: Value = serde_json::from_str(download[2].as_str().unwrap()).unwrap();
    assert_eq!(export["user"]["email"], "ada@new.example");

    // Grace signs up through GitHub, then adds a password by the e-mailed link.
    chrome.submit("form[action='/sign-out'] button").await;
    chrome.goto(&format!("{site}/sign-in")).await;
    chrome.submit("a[href^='/auth/oauth/github']").await;
    chrome.wait_for_text("Welcome, Grace").await;
    chrome.goto(&format!("{site}/account")).await;
    chrome.check_page(flavor, "account-without-password").await;
    chrome
        .submit("form[action='/account/password/setup'] button")
        .await;
    chrome
        .wait_for_text("We sent you a link to choose a password")
        .await;
    let set = server
        .emailed_token("grace@example.com", "/reset-password")
        .await;
    chrome
        .goto(&format!("{site}/reset-password?token={set}"))
        .await;
    chrome.fill("#password", "grace's own passphrase").await;
    chrome.submit("form[action='/reset-password'] button").await;
    assert!(chrome.text().await.contains("Your password is set"));
    sign_in("grace@example.com", "grace's own passphrase").await;

    // She deletes her account: confirmed by the checkbox, then gone, cookie and all.
    chrome.goto(&format!("{site}/account")).await;
    chrome
        .click("form[action='/account/delete'] input[name='confirm']")
        .await;
    chrome.submit("form[action='/account/delete'] button").await;
    chrome.wait_for_text("Your account is deleted").await;
    chrome.check_page(flavor, "account-deleted").await;
    chrome.goto(&format!("{site}/account")).await;
    chrome.wait_for_path("/sign-in").await;
    let gone = Browser::new(&server)
        .post(
            "/auth/sign-in",
            json!({ "email": "grace@example.com", "password": "grace's own passphrase" }),
        )
        .await;
    assert_eq!(gone.status, 401, "{gone:?}");
    chrome.close().await;
}

/// Refused for too many attempts, the form says so and when to try again (429).
async fn a_rate_limited_form_says_when_to_try_again(flavor: Flavor, db: TestDb) {
    let Some(chrome) = Chrome::start().await else {
        return;
    };
    let server = Server::start(flavor, db.url(), &[]).await;
    let site = server.public_url.trim_end_matches('/').to_owned();
    verified_user(&server, &Browser::new(&server), "ada@example.com").await;
    let mut said = String::new();
    for _ in 0..12 {
        chrome.goto(&format!("{site}/sign-in")).await;
        chrome.fill("#email", "ada@example.com").await;
        chrome.fill("#password", "not the password").await;
        chrome.submit("form[action='/sign-in'] button").await;
        said = chrome.text().await;
        if said.contains("Try again in") {
            break;
        }
        assert!(said.contains("Sign in"), "{said}");
    }
    assert!(
        said.contains("Too many attempts. Try again in") && said.contains(" second"),
        "{said}"
    );
    chrome.check_page(flavor, "rate-limited").await;
    chrome.close().await;
}

/// Organizations in a browser: one created, a member invited from its page, the
/// invitation e-mail's link opened signed out (it says whom to sign in as) and then
/// accepted by the invitee, who switches their session to it.
async fn organizations_in_a_browser(flavor: Flavor, db: TestDb) {
    let Some(chrome) = Chrome::start().await else {
        return;
    };
    let server = Server::start(flavor, db.url(), &[]).await;
    let site = server.public_url.trim_end_matches('/').to_owned();
    verified_user(&server, &Browser::new(&server), "ada@example.com").await;
    verified_user(&server, &Browser::new(&server), "bob@example.com").await;
    let sign_in = |email: &'static str| {
        let chrome = &chrome;
        let site = &site;
        async move {
            chrome.goto(&format!("{site}/sign-in")).await;
            chrome.fill("#email", email).await;
            chrome.fill("#password", PASSWORD).await;
            chrome.submit("form[action='/sign-in'] button").await;
            assert!(
                chrome.text().await.contains(email),
                "{}",
                chrome.text().await
            );
        }
    };

    sign_in("ada@example.com").await;
    chrome.click("a[href='/organizations']").await;
    chrome
        .wait_for_text("You belong to no organization yet")
        .await;
    chrome.fill("#org_name", "Acme Corp").await;
    chrome.submit("form[action='/organizations'] button").await;
    chrome.wait_for_text("you are its owner").await;
    assert_eq!(
        chrome.text_of("[data-test='organization-name']").await,
        "Acme Corp"
    );
    assert_eq!(chrome.text_of("[data-test='my-role']").await, "owner");

    chrome.fill("#invite_email", "bob@example.com").await;
    chrome.click("#invite_role option[value='admin']").await;
    chrome.submit("form[action$='/invitations'] button").await;
    chrome.wait_for_text("The invitation is on its way").await;
    assert!(
        chrome
            .text_of("[data-test='invitations']")
            .await
            .contains("bob@example.com")
    );
    chrome.check_page(flavor, "organization").await;
    chrome.submit("form[action='/sign-out'] button").await;

    // The e-mailed link, signed out: what it is about, and whom to sign in as.
    let token = server
        .emailed_token("bob@example.com", "/accept-invitation")
        .await;
    chrome
        .goto(&format!("{site}/accept-invitation?token={token}"))
        .await;
    let invitation = chrome.text_of("[data-test='invitation']").await;
    assert!(
        invitation.contains("Ada invited bob@example.com to join Acme Corp as admin"),
        "{invitation}"
    );
    assert!(chrome.text().await.contains("Sign in as bob@example.com"));
    chrome.check_page(flavor, "invitation").await;

    sign_in("bob@example.com").await;
    chrome
        .goto(&format!("{site}/accept-invitation?token={token}"))
        .await;
    chrome
        .submit("form[action='/accept-invitation'] button")
        .await;
    chrome.wait_for_text("you joined the organization").await;
    assert_eq!(chrome.text_of("[data-test='my-role']").await, "admin");
    assert_eq!(chrome.count("[data-test='member']").await, 2);

    // The switcher: his session now acts in Acme.
    chrome.goto(&format!("{site}/organizations")).await;
    assert_eq!(chrome.count("[data-test='active']").await, 0);
    chrome
        .submit("form[action='/organizations/active'] button")
        .await;
    chrome
        .wait_for_text("Your session now acts in that organization")
        .await;
    assert_eq!(chrome.count("[data-test='active']").await, 1);
    chrome.check_page(flavor, "organizations").await;
    chrome.close().await;
}

macro_rules! browser_tests {
    ($($name:ident),+ $(,)?) => {
        mod axum_sqlite {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name(super::Flavor::Axum, super::TestDb::sqlite().await).await } )+
        }
        mod actix_sqlite {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name(super::Flavor::Actix, super::TestDb::sqlite().await).await } )+
        }
    };
}

/// An owner subscribes their organization from its page: the plans to buy, Checkout (the
/// stand-in), back to the organization's page re-synced from Stripe, its plan and status
/// shown, the billing forms an owner may use.
async fn organization_billing_in_a_browser(flavor: Flavor, db: TestDb) {
    let Some(chrome) = Chrome::start().await else {
        return;
    };
    let stripe = stripe_stand_in().await;
    let server = Server::start(flavor, db.url(), &stripe_env(&stripe, &[])).await;
    let site = server.public_url.trim_end_matches('/').to_owned();
    verified_user(&server, &Browser::new(&server), "ada@example.com").await;
    chrome.goto(&format!("{site}/sign-in")).await;
    chrome.fill("#email", "ada@example.com").await;
    chrome.fill("#password", PASSWORD).await;
    chrome.submit("form[action='/sign-in'] button").await;
    chrome.wait_for_text("ada@example.com").await;
    chrome.goto(&format!("{site}/organizations")).await;
    chrome.fill("#org_name", "Acme Corp").await;
    chrome.submit("form[action='/organizations'] button").await;
    chrome.wait_for_text("you are its owner").await;
    assert_eq!(chrome.text_of("[data-test='org-plan']").await, "Free");

    chrome
        .submit("form[action$='/billing/checkout'] button")
        .await;
    chrome.wait_for_text("Stripe Checkout (stand-in)").await;
    chrome.click("#pay").await;
    chrome
        .wait_for_text("the organization's subscription is recorded")
        .await;
    assert_eq!(chrome.text_of("[data-test='org-plan']").await, "Pro");
    assert!(
        chrome
            .text_of("[data-test='org-subscription-status']")
            .await
            .starts_with("active"),
        "{}",
        chrome.text().await
    );
    assert_eq!(chrome.text_of("[data-test='org-seats']").await, "1");
    assert_eq!(
        chrome.count("form[action$='/billing/checkout']").await,
        0,
        "no second subscription offered"
    );
    assert_eq!(chrome.count("form[action$='/billing/portal']").await, 1);
    assert_eq!(chrome.count("form[action$='/billing/cancel']").await, 1);
    chrome.check_page(flavor, "organization-billing").await;
}

browser_tests!(
    the_journey_in_a_browser,
    a_cross_site_form_post_is_refused,
    a_rate_limited_form_says_when_to_try_again,
    the_other_pages,
    organizations_in_a_browser,
    organization_billing_in_a_browser
);
