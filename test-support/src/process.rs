//! Real service processes for the tests that need the binary itself (a signal, an exit
//! status, a log line): started from a [`Command`] the test prepares, found by the
//! `listening on port N` line they log, and killed when dropped if still running.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::ApiClient;

/// A running service binary.
pub struct ServiceProcess {
    child: Child,
    /// Known once it has logged it (see [`ServiceProcess::start`]).
    port: Option<u16>,
    /// Every line it has written to stderr so far (its log), kept by a reader thread.
    log: Arc<Mutex<Vec<String>>>,
    log_reader: Option<std::thread::JoinHandle<()>>,
}

impl ServiceProcess {
    /// Spawns `command` with its stderr piped, and waits for it to log the port it listens
    /// on. Panics with its log when it exits first.
    pub fn start(command: Command) -> ServiceProcess {
        const MARKER: &str = "listening on port ";
        let mut process = ServiceProcess::start_until(command, MARKER);
        let port = process
            .log
            .lock()
            .unwrap()
            .iter()
            .find_map(|line| line.split(MARKER).nth(1).map(|p| p.trim().parse()))
            .expect("the line waited for")
            .expect("a port number");
        process.port = Some(port);
        process
    }

    /// Spawns `command` with its stderr piped, and waits for a log line containing `marker`.
    /// Panics with its log when it exits first.
    pub fn start_until(command: Command, marker: &str) -> ServiceProcess {
        let mut process = ServiceProcess::spawn(command);
        loop {
            if process
                .log
                .lock()
                .unwrap()
                .iter()
                .any(|l| l.contains(marker))
            {
                return process;
            }
            if let Some(status) = process.child.try_wait().expect("the child's status") {
                panic!(
                    "exited before logging {marker:?} ({status}):\n{}",
                    process.final_log()
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Spawns `command` with its stderr piped and returns at once; its log is collected as
    /// it comes.
    pub fn spawn(mut command: Command) -> ServiceProcess {
        let mut child = command
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {:?}: {e}", command.get_program()));
        let lines = BufReader::new(child.stderr.take().expect("piped stderr")).lines();
        let log = Arc::new(Mutex::new(Vec::new()));
        // Drained as it comes, so the child never blocks on a full pipe.
        let sink = Arc::clone(&log);
        let log_reader = std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        ServiceProcess {
            child,
            port: None,
            log,
            log_reader: Some(log_reader),
        }
    }

    /// The port it listens on (started with [`ServiceProcess::start`]).
    pub fn port(&self) -> u16 {
        self.port
            .expect("started with ServiceProcess::start: listening")
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `http://127.0.0.1:<port>` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port())
    }

    /// A client of this process.
    pub fn api(&self) -> ApiClient {
        ApiClient::new(self.url(""))
    }

    /// Sends `signal` (`TERM`, `INT`, `KILL`, …) with `kill(1)`.
    pub fn signal(&self, signal: &str) {
        let sent = Command::new("kill")
            .args([format!("-{signal}"), self.pid().to_string()])
            .status()
            .expect("kill(1) runs");
        assert!(sent.success(), "kill -{signal} {}", self.pid());
    }

    /// Sends SIGTERM (graceful shutdown).
    pub fn terminate(&self) {
        self.signal("TERM");
    }

    /// Waits (blocking) for it to exit, and returns its status.
    pub fn wait(&mut self) -> ExitStatus {
        self.child.wait().expect("the child's status")
    }

    /// The exit status once it has exited, waiting at most `within` (`None` when it had not
    /// exited by then: it is killed). Polls without blocking the async runtime's thread.
    pub async fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("the child's status") {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        None
    }

    /// Its whole log once it has exited (the reader thread has reached the end of the pipe).
    pub fn final_log(&mut self) -> String {
        if let Some(reader) = self.log_reader.take() {
            let _ = reader.join();
        }
        self.log()
    }

    /// Its log so far, one line each.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// Its last `n` log lines.
    pub fn log_tail(&self, n: usize) -> String {
        let log = self.log.lock().unwrap();
        log[log.len().saturating_sub(n)..].join("\n")
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
