//! Real service processes for the deployment tests: the workspace's binaries, started with an
//! explicit environment, stopped (SIGTERM, then kill) when dropped.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// A binary of the workspace, built beside this test (`cargo test --workspace` builds them).
pub fn workspace_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap(); // target/<profile>/deps/..
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is not built: run the tests with `cargo test --workspace`",
        path.display()
    );
    path
}

/// Whether a test needing an optional system tool should run: it must in CI.
pub fn tool_available(path: &str, what: &str) -> bool {
    if std::path::Path::new(path).exists() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{what} ({path}) is required in CI; .ci/run installs it"
    );
    eprintln!("skipping: {what} ({path}) is not installed");
    false
}

pub struct ServiceProcess {
    pub child: Child,
    pub port: u16,
}

impl ServiceProcess {
    /// Starts `binary` on a free loopback port with only the given environment, and waits
    /// for it to log the port it listens on.
    pub fn start(binary: &str, env: &[(&str, String)]) -> ServiceProcess {
        let mut cmd = Command::new(workspace_binary(binary));
        cmd.env_clear()
            .env("BIND_ADDR", "127.0.0.1:0")
            .env("RUST_LOG", "info,access=off")
            .current_dir(std::env::temp_dir())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let port = loop {
            let Some(Ok(line)) = lines.next() else {
                let _ = child.kill();
                panic!("{binary} exited before listening");
            };
            if let Some(rest) = line.split("listening on port ").nth(1) {
                break rest.trim().parse().unwrap();
            }
        };
        std::thread::spawn(move || lines.for_each(drop));
        ServiceProcess { child, port }
    }

    /// Sends SIGTERM (graceful shutdown).
    pub fn terminate(&self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
