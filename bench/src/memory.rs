//! Server memory: resident set size sampled from `/proc/<pid>/status`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// How often the sampler reads `VmRSS`.
const SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// Samples a process's `VmRSS` on a thread of its own until `finish`.
#[derive(Debug)]
pub(crate) struct RssSampler {
    pid: u32,
    stop: Arc<AtomicBool>,
    peak_kib: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

/// What the sampler saw.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Memory {
    /// Highest resident set size: the kernel's high-water mark (`VmHWM`, since the process
    /// started) or the highest sample, whichever is larger.
    pub(crate) peak_mib: f64,
}

impl RssSampler {
    /// Starts sampling process `pid`.
    pub(crate) fn start(pid: u32) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let peak_kib = Arc::new(AtomicU64::new(0));
        let thread = {
            let (stop, peak_kib) = (Arc::clone(&stop), Arc::clone(&peak_kib));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Some(rss) = status_kib(pid, "VmRSS:") {
                        peak_kib.fetch_max(rss, Ordering::Relaxed);
                    }
                    std::thread::sleep(SAMPLE_EVERY);
                }
            })
        };
        Self {
            pid,
            stop,
            peak_kib,
            thread: Some(thread),
        }
    }

    /// Stops sampling, takes a last sample (the process must still be running) and reports
    /// the peak.
    pub(crate) fn finish(mut self) -> Memory {
        self.stop_thread();
        let final_kib = status_kib(self.pid, "VmRSS:").unwrap_or(0);
        let hwm_kib = status_kib(self.pid, "VmHWM:").unwrap_or(0);
        let peak_kib = self
            .peak_kib
            .load(Ordering::Relaxed)
            .max(hwm_kib)
            .max(final_kib);
        Memory {
            peak_mib: mib(peak_kib),
        }
    }

    fn stop_thread(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for RssSampler {
    fn drop(&mut self) {
        self.stop_thread();
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// A `kB` field of `/proc/<pid>/status` (e.g. `VmRSS:`), in KiB.
fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
}
