//! Building and running the example servers as real processes, like the black-box harness
//! in `tests/src/lib.rs` does.

use std::fs::File;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::load;

/// How long a server may take to answer `/health` after it was spawned.
const START_TIMEOUT: Duration = Duration::from_secs(60);

// The harness's server flavours, keys and workspace root: one definition for the suite and
// the benchmark.
pub(crate) use tollbooth_tests::{Flavor, workspace_root};
use tollbooth_tests::{MFA_KEY, SIGNING_KEY};

/// Builds both servers with the release profile and returns the directory holding them
/// (the directory of this executable: `cargo run --release` puts it in `target/release`).
pub(crate) fn build() -> PathBuf {
    let status = Command::new(env!("CARGO"))
        .args([
            "build",
            "--release",
            "-p",
            "tollbooth-example-axum",
            "-p",
            "tollbooth-example-actix",
        ])
        .current_dir(workspace_root())
        .status()
        .expect("run cargo build for the example servers");
    assert!(status.success(), "building the example servers failed");
    let exe = std::env::current_exe().expect("the benchmark's executable path");
    let mut dir = exe
        .parent()
        .expect("the executable's directory")
        .to_path_buf();
    // Run as a test or example: …/target/release/deps/… → …/target/release.
    if dir
        .file_name()
        .is_some_and(|name| name == "deps" || name == "examples")
    {
        dir.pop();
    }
    // The servers are release builds whatever profile the benchmark itself was built with.
    if dir.file_name().is_some_and(|name| name != "release") {
        dir.pop();
        dir.push("release");
    }
    dir
}

/// A free loopback port.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free loopback port")
}

/// A running example server; killed when dropped.
#[derive(Debug)]
pub(crate) struct Server {
    /// Where it listens.
    pub(crate) addr: SocketAddr,
    /// `http://127.0.0.1:<port>`: its `PUBLIC_URL`, hence the `Origin` browsers send.
    pub(crate) base: String,
    child: Child,
    log: PathBuf,
}

impl Server {
    /// Starts `flavor` from `bin_dir` on `database_url` with the harness's keys plus `env`,
    /// logging to `<bin_dir>/bench-logs/<log_name>.log`, and waits until `/health` answers.
    pub(crate) async fn start(
        bin_dir: &Path,
        flavor: Flavor,
        database_url: &str,
        env: &[(&str, &str)],
        log_name: &str,
    ) -> Self {
        let port = free_port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let base = format!("http://{addr}");
        let log_dir = bin_dir.join("bench-logs");
        std::fs::create_dir_all(&log_dir).expect("create the server log directory");
        let log = log_dir.join(format!("{log_name}.log"));
        let stdout = File::create(&log).expect("create the server log file");
        let stderr = stdout.try_clone().expect("share the server log file");
        let mut command = Command::new(bin_dir.join(flavor.binary()));
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("BIND", addr.to_string())
            .env("PUBLIC_URL", &base)
            .env("DATABASE_URL", database_url)
            .env("SESSION_SIGNING_KEY", SIGNING_KEY)
            .env("MFA_ENCRYPTION_KEY", MFA_KEY)
            // Logging stays off the hot path: warnings and errors only.
            .env("RUST_LOG", "warn")
            .current_dir(std::env::temp_dir())
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr);
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", bin_dir.join(flavor.binary()).display()));
        let mut server = Self {
            addr,
            base,
            child,
            log,
        };
        server.wait_healthy(flavor).await;
        server
    }

    /// The process id, for memory sampling.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the server logged so far.
    pub(crate) fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    async fn wait_healthy(&mut self, flavor: Flavor) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let request = load::get(self.addr, "/health", &[]);
            if let Ok(response) = load::send_once(self.addr, request).await
                && response.status.is_success()
            {
                return;
            }
            let exited = self.child.try_wait().expect("poll the server process");
            if let Some(status) = exited {
                panic!(
                    "{} exited ({status}) at start-up:\n{}",
                    flavor.label(),
                    self.logs()
                );
            }
            assert!(
                Instant::now() < deadline,
                "{} did not become healthy within {} s:\n{}",
                flavor.label(),
                START_TIMEOUT.as_secs(),
                self.logs()
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
