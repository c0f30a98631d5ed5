//! A throwaway PostgreSQL cluster per test process.

use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, Database};
use tokio::sync::{Mutex, OnceCell};

/// An admin URL (`…/postgres`) of the server all of the process's test databases live on.
static SERVER: OnceCell<Result<Server, String>> = OnceCell::const_new();
/// `CREATE DATABASE … TEMPLATE` refuses to run while the template is being copied elsewhere.
static CREATE_LOCK: Mutex<()> = Mutex::const_new(());

const TEMPLATE: &str = "tollbooth_template";

#[derive(Debug)]
struct Server {
    /// `postgres://user@host:port` (no database).
    base_url: String,
    /// Kept open for the life of the process: when the process exits the pipe closes and the
    /// cluster's watchdog shell stops the server and deletes its directory.
    _lifeline: Option<std::sync::Mutex<ChildStdin>>,
}

/// Creates a new database (a copy of the migrated template) and returns its URL.
pub(super) async fn fresh_database() -> Result<String, String> {
    let server = SERVER
        .get_or_init(|| async { start_server().await })
        .await
        .as_ref()
        .map_err(Clone::clone)?;
    let name = format!("test_{}", uuid::Uuid::now_v7().simple());
    let _guard = CREATE_LOCK.lock().await;
    let admin = Database::connect(format!("{}/postgres", server.base_url))
        .await
        .map_err(|e| format!("connect to the test server: {e}"))?;
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name} TEMPLATE {TEMPLATE}"))
        .await
        .map_err(|e| format!("create database {name}: {e}"))?;
    admin.close().await.ok();
    Ok(format!("{}/{name}", server.base_url))
}

pub(super) fn warn_skipped(reason: &str) {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        eprintln!(
            "WARNING: PostgreSQL tests are SKIPPED: {reason}\n\
             Install PostgreSQL (Debian: `apt-get install postgresql`) or set \
             TOLLBOOTH_TEST_POSTGRES_URL. With CI=true this is a failure."
        );
    });
}

async fn start_server() -> Result<Server, String> {
    let server = match std::env::var("TOLLBOOTH_TEST_POSTGRES_URL") {
        Ok(url) => Server {
            base_url: url
                .trim_end_matches('/')
                .rsplit_once('/')
                .map_or(url.clone(), |(base, _db)| base.to_owned()),
            _lifeline: None,
        },
        Err(_) => tokio::task::spawn_blocking(start_cluster)
            .await
            .map_err(|e| e.to_string())??,
    };
    wait_until_ready(&server.base_url).await?;
    create_template(&server.base_url).await?;
    Ok(server)
}

/// initdb + postgres in a temp dir, supervised by a shell that tears everything down when
/// this process's end of its stdin pipe closes (i.e. when the test process exits).
fn start_cluster() -> Result<Server, String> {
    let bin = find_bin_dir()?;
    let dir = tempfile::Builder::new()
        .prefix("tollbooth-pg-")
        .tempdir()
        .map_err(|e| format!("temp dir: {e}"))?
        .keep();
    let run_as = unprivileged_user(&dir)?;
    let data = dir.join("data");
    let status = as_user(&run_as, bin.join("initdb"))
        .args([
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
            "-D",
        ])
        .arg(&data)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("run initdb: {e}"))?;
    if !status.status.success() {
        return Err(format!(
            "initdb failed: {}",
            String::from_utf8_lossy(&status.stderr).trim()
        ));
    }
    let port = free_port()?;
    let script = format!(
        "'{postgres}' -D '{data}' -p {port} -k '{dir}' -c listen_addresses=127.0.0.1 \
         -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 \
         </dev/null >'{dir}/postgres.log' 2>&1 & pg=$!; \
         cat >/dev/null; kill -INT $pg; wait $pg; rm -rf '{dir}'",
        postgres = bin.join("postgres").display(),
        data = data.display(),
        dir = dir.display(),
    );
    let mut child = as_user(&run_as, "sh")
        .args(["-c", &script])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("start postgres: {e}"))?;
    let stdin = child
        .stdin
        .take()
        .ok_or("no stdin pipe to the postgres supervisor")?;
    // The supervisor is reaped by init when we exit; nothing to wait for here.
    drop(child);
    Ok(Server {
        base_url: format!("postgres://postgres@127.0.0.1:{port}"),
        _lifeline: Some(std::sync::Mutex::new(stdin)),
    })
}

/// `TOLLBOOTH_PG_BIN`, else `pg_config --bindir`, else the newest `/usr/lib/postgresql/*/bin`.
fn find_bin_dir() -> Result<PathBuf, String> {
    if let Ok(dir) = std::env::var("TOLLBOOTH_PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let has_server = |dir: &Path| dir.join("postgres").is_file() && dir.join("initdb").is_file();
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if has_server(&dir) {
            return Ok(dir);
        }
    }
    let mut candidates: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|_| "no PostgreSQL server found (no /usr/lib/postgresql)".to_owned())?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, dir)| has_server(dir))
        .collect();
    candidates.sort();
    candidates
        .pop()
        .map(|(_, dir)| dir)
        .ok_or_else(|| "no PostgreSQL server binaries under /usr/lib/postgresql".to_owned())
}

/// PostgreSQL refuses to run as root. As root, hand `dir` to the `postgres` (or `nobody`)
/// user and run the server as them; otherwise run as ourselves.
fn unprivileged_user(dir: &Path) -> Result<Option<String>, String> {
    let me = std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(u32::MAX);
    if me != 0 {
        return Ok(None);
    }
    for user in ["postgres", "nobody"] {
        let Ok(out) = Command::new("id").args(["-u", user]).output() else {
            continue;
        };
        let Ok(uid) = String::from_utf8_lossy(&out.stdout).trim().parse::<u32>() else {
            continue;
        };
        let gid = Command::new("id")
            .args(["-g", user])
            .output()
            .ok()
            .and_then(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .trim()
                    .parse::<u32>()
                    .ok()
            });
        std::os::unix::fs::chown(dir, Some(uid), gid)
            .map_err(|e| format!("chown {} to {user}: {e}", dir.display()))?;
        return Ok(Some(user.to_owned()));
    }
    Err("running as root and no unprivileged user (postgres, nobody) to run PostgreSQL".into())
}

fn as_user(user: &Option<String>, program: impl AsRef<std::ffi::OsStr>) -> Command {
    match user {
        Some(user) => {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", user, "--"]).arg(program);
            cmd
        }
        None => Command::new(program),
    }
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("find a free port: {e}"))
}

async fn wait_until_ready(base_url: &str) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match Database::connect(format!("{base_url}/postgres")).await {
            Ok(conn) => {
                conn.close().await.ok();
                return Ok(());
            }
            Err(e) if Instant::now() > deadline => {
                return Err(format!(
                    "PostgreSQL did not accept connections in 30 s: {e}"
                ));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Migrates a template database once; each test database is a cheap copy of it.
async fn create_template(base_url: &str) -> Result<(), String> {
    let admin = Database::connect(format!("{base_url}/postgres"))
        .await
        .map_err(|e| e.to_string())?;
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {TEMPLATE}"))
        .await
        .map_err(|e| format!("drop template: {e}"))?;
    admin
        .execute_unprepared(&format!("CREATE DATABASE {TEMPLATE}"))
        .await
        .map_err(|e| format!("create template: {e}"))?;
    admin.close().await.ok();
    let template = crate::connect(format!("{base_url}/{TEMPLATE}"))
        .await
        .map_err(|e| format!("connect to template: {e}"))?;
    template
        .migrate()
        .await
        .map_err(|e| format!("migrate template: {e:?}"))?;
    template.close().await.map_err(|e| e.to_string())
}
