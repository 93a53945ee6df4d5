//! SIGTERM at a random moment of a request storm, many times: the check both services'
//! `exit_stress` tests run (and `bench/shutdown_stress.py` runs for hundreds of cycles).
//!
//! A crash at exit shows as a status other than 0 (a signal, a panic) or no exit at all; each
//! such cycle is reported with the tail of that run's log.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::future::{join, join_all};
use reqwest::RequestBuilder;

use crate::process::ServiceProcess;
use crate::ApiClient;

/// How a service is started, loaded and judged.
pub struct SigtermUnderLoad<Request> {
    pub cycles: u32,
    /// Concurrent clients sending `request` in a loop (more than the database pool holds, so
    /// the pool is still opening connections when the signal comes).
    pub clients: usize,
    /// The service binary, started afresh each cycle in `dir` with only `BIND_ADDR` (a free
    /// port), `DATABASE_URL`, a pool of 32, no shutdown grace (requests still running when
    /// the workers stop are abandoned, as after a grace period that ran out), and `env`.
    pub binary: PathBuf,
    pub dir: PathBuf,
    pub database_url: String,
    pub env: Vec<(&'static str, OsString)>,
    /// Client `n`'s `i`-th request of the storm.
    pub request: Request,
}

impl<Request> SigtermUnderLoad<Request>
where
    Request: Fn(&ApiClient, usize) -> RequestBuilder,
{
    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.binary);
        cmd.env_clear()
            .current_dir(&self.dir)
            .env("BIND_ADDR", "127.0.0.1:0")
            .env("DATABASE_URL", &self.database_url)
            .env("DATABASE_POOL_SIZE", "32")
            .env("SHUTDOWN_GRACE_SECONDS", "0")
            .env("RUST_LOG", "warn,service_kit::service::command=info")
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    /// Runs the cycles: `prepare` once against the first run (sign users up, create posts),
    /// `under_load` once while the first storm runs (to check the connections, say), then in
    /// each cycle SIGTERM 50 to 450 ms into the storm. Panics listing every cycle whose exit
    /// was not 0 within 30 s.
    pub async fn run(&self, prepare: impl AsyncFnOnce(&ApiClient), under_load: impl FnOnce()) {
        let mut prepare = Some(prepare);
        let mut under_load = Some(under_load);
        // A different moment of the storm each cycle.
        let mut jitter = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let mut failures = Vec::new();
        for cycle in 1..=self.cycles {
            let mut service = ServiceProcess::start(self.command());
            let api = service.api();
            if let Some(prepare) = prepare.take() {
                prepare(&api).await;
            }
            jitter = jitter.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let delay = Duration::from_millis(50 + u64::from(jitter >> 8) % 400);
            let stop = AtomicBool::new(false);
            let storm = join_all((0..self.clients).map(|n| self.client_loop(&api, n, &stop)));
            let signal = async {
                tokio::time::sleep(delay).await;
                if let Some(check) = under_load.take() {
                    check();
                }
                service.terminate();
                let status = service.wait_exit(Duration::from_secs(30)).await;
                stop.store(true, Ordering::Relaxed);
                status
            };
            let (_, status) = join(storm, signal).await;
            if status.and_then(|s| s.code()) != Some(0) {
                let status =
                    status.map_or("no exit within 30 s (killed)".into(), |s| s.to_string());
                failures.push(format!("cycle {cycle}: {status}\n{}", service.log_tail(5)));
            }
        }
        assert!(
            failures.is_empty(),
            "{} of {} exits after SIGTERM were not 0:\n{}",
            failures.len(),
            self.cycles,
            failures.join("\n")
        );
    }

    /// Sends client `n`'s requests until `stop` is set.
    async fn client_loop(&self, api: &ApiClient, n: usize, stop: &AtomicBool) {
        let mut i = n;
        while !stop.load(Ordering::Relaxed) {
            i += 1;
            if (self.request)(api, i).send().await.is_err() {
                // Refused once the service stops listening: do not spin.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}
