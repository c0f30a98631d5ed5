//! The report: `docs/benchmarks.md`, with the run's context, a table per scenario and the
//! aims each figure is held against (met or missed, computed, never written by hand).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::load::{self, LoadResult};
use crate::memory::Memory;
use crate::scenarios::{
    Database, MeRun, STORM_ACCOUNTS, Settings, StormRun, WEBHOOK_CONNECTIONS, WEBHOOK_CUSTOMERS,
    WebhookRun,
};

/// `/me` on SQLite: at least this many 2xx responses per second…
const AIM_ME_PER_SECOND: f64 = 20_000.0;
/// …with a p99 of at most this many milliseconds.
const AIM_ME_P99_MS: f64 = 5.0;
/// `/me` p99 during the sign-in storm, in milliseconds.
const AIM_STORM_P99_MS: f64 = 20.0;
/// Webhook deliveries acknowledged per second.
const AIM_WEBHOOKS_PER_SECOND: f64 = 1_000.0;
/// Server peak resident set size, in MiB.
const AIM_RSS_MIB: f64 = 64.0;

/// Sign-in rate limits of the servers (tollbooth-auth's defaults).
const SIGN_IN_PER_IP: u64 = 30;
const SIGN_IN_PER_IP_WINDOW_MIN: u64 = 5;
const SIGN_IN_PER_ACCOUNT: u64 = 10;
const SIGN_IN_PER_ACCOUNT_WINDOW_MIN: u64 = 15;
/// Sign-ins the server's bcrypt queue holds beyond one running per core.
const HASHING_QUEUE: u64 = 64;

/// Where and when the run happened.
#[derive(Debug)]
pub(crate) struct Context {
    date: String,
    commit: String,
    cpu: String,
    cores: usize,
    memory_gib: f64,
}

impl Context {
    /// Reads the date, the commit of the work tree at `root` and the machine. Call it before
    /// the report is written, so that the report itself does not make the tree dirty.
    pub(crate) fn capture(root: &Path) -> Self {
        let commit =
            git(root, &["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "unknown".to_owned());
        let dirty = git(root, &["status", "--porcelain"]).is_some_and(|status| !status.is_empty());
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find(|line| line.starts_with("model name"))
            .and_then(|line| line.split_once(':'))
            .map_or_else(
                || "unknown CPU".to_owned(),
                |(_, name)| name.trim().to_owned(),
            );
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory_kib: u64 = meminfo
            .lines()
            .find_map(|line| line.strip_prefix("MemTotal:"))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kib| kib.parse().ok())
            .unwrap_or(0);
        Self {
            date: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
            commit: if dirty {
                format!("{commit}-dirty")
            } else {
                commit
            },
            cpu,
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            memory_gib: memory_kib as f64 / (1024.0 * 1024.0),
        }
    }
}

fn git(root: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .args(args)
        .current_dir(root)
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// Every scenario's figures.
#[derive(Debug)]
pub(crate) struct Results {
    /// Scenario 1, one entry per server and engine measured.
    pub(crate) me: Vec<MeRun>,
    /// Scenario 1 on PostgreSQL was skipped: no server could be started.
    pub(crate) postgres_skipped: bool,
    /// Scenario 2.
    pub(crate) storm: StormRun,
    /// Scenario 2, past the bcrypt queue.
    pub(crate) flood: StormRun,
    /// Scenario 3.
    pub(crate) webhooks: WebhookRun,
}

/// A markdown document under construction.
struct Doc(String);

impl Doc {
    fn line(&mut self, text: impl AsRef<str>) {
        self.0.push_str(text.as_ref());
        self.0.push('\n');
    }

    fn blank(&mut self) {
        self.0.push('\n');
    }
}

/// One row of the aims table.
struct Aim {
    what: String,
    target: String,
    measured: String,
    met: bool,
}

const LOAD_HEADER: &str =
    "connections | req/s | p50 ms | p99 ms | p99.9 ms | max ms | errors | peak RSS MiB |";
const LOAD_RULE: &str = "---:|---:|---:|---:|---:|---:|---:|---:|";

/// The cells of a load's figures, matching `LOAD_HEADER`.
fn load_cells(load: &LoadResult, memory: Memory) -> String {
    format!(
        "{} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {} | {:.1} |",
        load.connections,
        thousands(load.per_second()),
        load.quantile_ms(0.5),
        load.quantile_ms(0.99),
        load.quantile_ms(0.999),
        load.max_ms(),
        thousands(load.errors() as f64),
        memory.peak_mib,
    )
}

/// A note on a load's non-2xx answers and transport errors, if it had any.
fn error_note(doc: &mut Doc, what: &str, load: &LoadResult) {
    if load.errors() == 0 {
        return;
    }
    let mut note = format!("- {what}: answers {}", load.status_summary());
    if let Some(error) = &load.first_error {
        note.push_str(&format!("; first transport error: `{error}`"));
    }
    doc.line(note);
}

/// `12345.6` → `12,346`.
fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

fn seconds(duration: Duration) -> String {
    format!("{:.1} s", duration.as_secs_f64())
}

/// The whole report.
pub(crate) fn render(context: &Context, settings: &Settings, results: &Results) -> String {
    let mut doc = Doc(String::new());
    header(&mut doc, context, settings);
    me_section(&mut doc, settings, results);
    storm_section(
        &mut doc,
        "## 2. `/me` during a sign-in storm (axum, SQLite)",
        &results.storm,
    );
    storm_section(
        &mut doc,
        "## 2b. `/me` during a sign-in flood past the bcrypt queue (axum, SQLite)",
        &results.flood,
    );
    webhook_section(&mut doc, &results.webhooks);
    aims_section(&mut doc, results);
    doc.line("## Reproduce");
    doc.blank();
    doc.line("```text");
    doc.line("cargo run --release -p tollbooth-bench");
    doc.line("```");
    doc.blank();
    doc.line(
        "It builds both servers (release), runs every scenario and rewrites this file. \
         `BENCH_SECONDS` sets the measured time per scenario (default 10), `BENCH_CONNECTIONS` \
         the `/me` connections (default 64). The PostgreSQL rows need PostgreSQL's server \
         binaries (`initdb`, `postgres`) installed, or `TOLLBOOTH_TEST_POSTGRES_URL` pointing at \
         a server. Server logs go to `target/release/bench-logs/`.",
    );
    doc.0
}

fn header(doc: &mut Doc, context: &Context, settings: &Settings) {
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    doc.line("# Benchmarks");
    doc.blank();
    doc.line(
        "Written by `tollbooth-bench` (`bench/`); do not edit by hand. The example servers run \
         as real processes (release builds, `RUST_LOG=warn`), each scenario on a fresh server \
         and a freshly seeded database, driven over loopback by keep-alive HTTP/1.1 \
         connections sending requests back-to-back; every latency goes into an HDR histogram.",
    );
    doc.blank();
    doc.line("| | |");
    doc.line("|---|---|");
    doc.line(format!("| date | {} |", context.date));
    doc.line(format!("| commit | `{}` |", context.commit));
    doc.line(format!(
        "| machine | {}, {} cores, {:.1} GiB |",
        context.cpu, context.cores, context.memory_gib
    ));
    doc.line(format!(
        "| build profile | servers `release`, load generator `{profile}` |"
    ));
    doc.line(format!(
        "| each scenario | {} warm-up (not measured), then {} measured |",
        seconds(settings.warmup),
        seconds(settings.duration)
    ));
    doc.blank();
    doc.line(format!(
        "The load generator runs on the same machine and shares its {} cores with the server \
         (and with PostgreSQL, where used): the figures are what the whole box does, a floor \
         for a server with cores of its own. Peak RSS is the server process's (`VmHWM` from \
         `/proc/<pid>/status`, and `VmRSS` sampled every 100 ms), not the database's.",
        context.cores
    ));
    doc.blank();
}

fn me_section(doc: &mut Doc, settings: &Settings, results: &Results) {
    doc.line("## 1. `GET /me` with a session");
    doc.blank();
    doc.line(format!(
        "{} connections, all presenting the session cookie of one real sign-in.",
        settings.connections
    ));
    doc.blank();
    doc.line(format!("| server | database | {LOAD_HEADER}"));
    doc.line(format!("|---|---|{LOAD_RULE}"));
    for run in &results.me {
        doc.line(format!(
            "| {} | {} | {}",
            run.flavor.label(),
            run.database.label(),
            load_cells(&run.load, run.memory)
        ));
    }
    doc.blank();
    if results.postgres_skipped {
        doc.line(
            "PostgreSQL: **skipped** — no PostgreSQL server could be started (install \
             PostgreSQL's server binaries or set `TOLLBOOTH_TEST_POSTGRES_URL`).",
        );
        doc.blank();
    }
    for run in &results.me {
        let what = format!("{} on {}", run.flavor.label(), run.database.label());
        error_note(doc, &what, &run.load);
    }
    doc.blank();
}

/// Sign-in answers that are neither a session (200) nor a refusal (429, 503).
fn other_sign_in_answers(sign_in: &LoadResult) -> u64 {
    sign_in.responses() - sign_in.count(200) - sign_in.count(429) - sign_in.count(503)
}

fn storm_section(doc: &mut Doc, heading: &str, storm: &StormRun) {
    let sign_in = &storm.sign_in;
    let connections = storm.connections;
    doc.line(heading);
    doc.blank();
    doc.line(format!(
        "While `/me` runs as above, {connections} more connections post correct \
         sign-ins (bcrypt cost 12) for {STORM_ACCOUNTS} verified accounts in turn, each \
         connection from its own source address (127.0.1.1–127.0.1.{connections})."
    ));
    doc.blank();
    doc.line(format!("| load | {LOAD_HEADER}"));
    doc.line(format!("|---|{LOAD_RULE}"));
    doc.line(format!(
        "| `GET /me` | {}",
        load_cells(&storm.me, storm.memory)
    ));
    doc.line(format!(
        "| `POST /auth/sign-in` | {}",
        load_cells(sign_in, storm.memory)
    ));
    doc.blank();
    let other = other_sign_in_answers(sign_in);
    doc.line(format!(
        "- Sign-ins completed: **{}/s** (200 × {}). Refused: 429 (rate limit) × {}, 503 \
         (bcrypt queue full) × {}; other answers × {other}, no answer × {}.",
        thousands(load::rate(sign_in.count(200), sign_in.elapsed)),
        sign_in.count(200),
        sign_in.count(429),
        sign_in.count(503),
        sign_in.transport_errors,
    ));
    let ips = u64::from(connections);
    let per_ip_allowance = ips * SIGN_IN_PER_IP;
    let per_account_allowance = STORM_ACCOUNTS as u64 * SIGN_IN_PER_ACCOUNT;
    let limits_bind = storm.attempts > per_ip_allowance || storm.attempts > per_account_allowance;
    doc.line(format!(
        "- Rate limits: {ips} addresses × {SIGN_IN_PER_IP} per {SIGN_IN_PER_IP_WINDOW_MIN} min \
         allow {per_ip_allowance} sign-ins, and {STORM_ACCOUNTS} accounts × \
         {SIGN_IN_PER_ACCOUNT} per {SIGN_IN_PER_ACCOUNT_WINDOW_MIN} min allow \
         {per_account_allowance}, before any 429. This run sent {} sign-ins (warm-up \
         included), {}.",
        storm.attempts,
        if limits_bind {
            "more than that, so 429s are expected and part of what is measured"
        } else {
            "fewer, so the limits are not what answers: bcrypt's cost is"
        }
    ));
    if u64::from(connections) <= HASHING_QUEUE {
        doc.line(format!(
            "- Overload: at most {connections} sign-ins are in flight at once, fewer than the \
             {HASHING_QUEUE} jobs the server's bcrypt queue holds beyond one running per \
             core; a 503 here would mean the queue refused work it should have held."
        ));
    } else {
        doc.line(format!(
            "- Overload: {connections} sign-ins in flight at once are more than the server \
             holds (one hashing per core plus {HASHING_QUEUE} waiting): the excess is \
             answered 503 at once (× {}) — or 429 once an address has used its allowance — \
             instead of queueing without bound; peak RSS {:.1} MiB.",
            sign_in.count(503),
            storm.memory.peak_mib,
        ));
    }
    error_note(doc, "`/me` during the storm", &storm.me);
    doc.blank();
}

fn webhook_section(doc: &mut Doc, run: &WebhookRun) {
    let load = &run.load;
    let outcomes = run.outcomes;
    doc.line("## 3. Stripe webhook ingestion (axum, SQLite)");
    doc.blank();
    doc.line(format!(
        "Signed `customer.subscription.updated` events (API version 2024-04-10 shape) for \
         {WEBHOOK_CUSTOMERS} seeded Stripe customers over {WEBHOOK_CONNECTIONS} connections; \
         every fifth delivery repeats an earlier event id (the one just sent, or one up to \
         196 events back). Each answer is `200` once the event is verified and recorded in \
         the same transaction as its effect."
    ));
    doc.blank();
    doc.line(format!("| {LOAD_HEADER}"));
    doc.line(format!("|{LOAD_RULE}"));
    doc.line(format!("| {}", load_cells(load, run.memory)));
    doc.blank();
    doc.line(format!(
        "- Deliveries acknowledged (2xx): **{}/s**, of which duplicates acknowledged without \
         effect: {} ({}/s of new events).",
        thousands(load.successes_per_second()),
        outcomes.duplicate,
        thousands(load::rate(
            load.successes().saturating_sub(outcomes.duplicate),
            load.elapsed
        )),
    ));
    doc.line(format!(
        "- Outcomes of measured deliveries: applied × {}, duplicate × {}, stale × {}, \
         ignored × {}, other × {}.",
        outcomes.applied, outcomes.duplicate, outcomes.stale, outcomes.ignored, outcomes.other
    ));
    let exactly_once = run.recorded == run.distinct_acknowledged as u64;
    doc.line(format!(
        "- Exactly once: {} distinct event ids sent (warm-up included), {} acknowledged, {} \
         recorded in the webhook events table — {}.",
        run.distinct_sent,
        run.distinct_acknowledged,
        run.recorded,
        if exactly_once {
            "every acknowledged event recorded once"
        } else {
            "**MISMATCH**: recorded rows differ from acknowledged events"
        }
    ));
    error_note(doc, "webhook deliveries", load);
    doc.blank();
}

fn aims(results: &Results) -> Vec<Aim> {
    let mut aims = Vec::new();
    for run in results
        .me
        .iter()
        .filter(|run| run.database == Database::Sqlite)
    {
        let per_second = run.load.successes_per_second();
        aims.push(Aim {
            what: format!("`/me` throughput, {}, SQLite", run.flavor.label()),
            target: format!("≥ {} req/s", thousands(AIM_ME_PER_SECOND)),
            measured: format!("{} req/s (2xx)", thousands(per_second)),
            met: per_second >= AIM_ME_PER_SECOND,
        });
        let p99 = run.load.quantile_ms(0.99);
        aims.push(Aim {
            what: format!("`/me` p99, {}, SQLite", run.flavor.label()),
            target: format!("≤ {AIM_ME_P99_MS} ms"),
            measured: format!("{p99:.2} ms"),
            // The histogram holds every answer: only an error-free run's p99 is a 2xx p99.
            met: run.load.successes() > 0 && run.load.errors() == 0 && p99 <= AIM_ME_P99_MS,
        });
    }
    let storm_p99 = results.storm.me.quantile_ms(0.99);
    aims.push(Aim {
        what: "`/me` p99 during the sign-in storm".to_owned(),
        target: format!("≤ {AIM_STORM_P99_MS} ms"),
        measured: format!("{storm_p99:.2} ms"),
        met: results.storm.me.successes() > 0
            && results.storm.me.errors() == 0
            && storm_p99 <= AIM_STORM_P99_MS,
    });
    let flood = &results.flood.sign_in;
    let refused = flood.count(503) + flood.count(429);
    let unexplained = other_sign_in_answers(flood);
    aims.push(Aim {
        what: "sign-ins past the bcrypt queue refused, not queued".to_owned(),
        target: "429/503 answers, no other failure".to_owned(),
        measured: format!(
            "{} × 503, {} × 429, {unexplained} other, {} unanswered",
            flood.count(503),
            flood.count(429),
            flood.transport_errors
        ),
        met: refused > 0 && unexplained == 0 && flood.transport_errors == 0,
    });
    let webhooks = results.webhooks.load.successes_per_second();
    aims.push(Aim {
        what: "Stripe webhook events acknowledged".to_owned(),
        target: format!("≥ {} events/s", thousands(AIM_WEBHOOKS_PER_SECOND)),
        measured: format!("{} events/s", thousands(webhooks)),
        met: webhooks >= AIM_WEBHOOKS_PER_SECOND,
    });
    let run = &results.webhooks;
    aims.push(Aim {
        what: "Stripe webhook events recorded exactly once".to_owned(),
        target: "recorded = acknowledged distinct ids".to_owned(),
        measured: format!(
            "{} recorded, {} acknowledged, {} sent",
            run.recorded, run.distinct_acknowledged, run.distinct_sent
        ),
        met: run.distinct_acknowledged > 0 && run.recorded == run.distinct_acknowledged as u64,
    });
    let mut peaks: Vec<(String, f64)> = results
        .me
        .iter()
        .map(|run| {
            (
                format!("`/me`, {}, {}", run.flavor.label(), run.database.label()),
                run.memory.peak_mib,
            )
        })
        .collect();
    peaks.push(("sign-in storm".to_owned(), results.storm.memory.peak_mib));
    peaks.push(("sign-in flood".to_owned(), results.flood.memory.peak_mib));
    peaks.push(("webhooks".to_owned(), results.webhooks.memory.peak_mib));
    if let Some((scenario, peak)) = peaks.into_iter().max_by(|a, b| a.1.total_cmp(&b.1)) {
        aims.push(Aim {
            what: "server peak RSS, worst scenario".to_owned(),
            target: format!("≤ {AIM_RSS_MIB} MiB"),
            measured: format!("{peak:.1} MiB ({scenario})"),
            // No sample (unreadable /proc) is not a pass.
            met: peak > 0.0 && peak <= AIM_RSS_MIB,
        });
    }
    aims
}

fn aims_section(doc: &mut Doc, results: &Results) {
    doc.line("## Aims");
    doc.blank();
    doc.line("| aim | target | measured | |");
    doc.line("|---|---|---|---|");
    for aim in aims(results) {
        doc.line(format!(
            "| {} | {} | {} | {} |",
            aim.what,
            aim.target,
            aim.measured,
            if aim.met { "met" } else { "**missed**" }
        ));
    }
    doc.blank();
}
