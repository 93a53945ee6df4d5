//! Real service processes for the deployment tests: the workspace's binaries, started with an
//! explicit environment (`test_support::ServiceProcess`: killed when dropped).

use std::path::PathBuf;
use std::process::{Command, Stdio};

pub use test_support::ServiceProcess;

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

/// Starts `binary` on a free loopback port with only the given environment (which may set
/// another `BIND_ADDR`), and waits for it to log the port it listens on. Stopped (killed)
/// when dropped.
pub fn start_service(binary: &str, env: &[(&str, String)]) -> ServiceProcess {
    let mut cmd = Command::new(workspace_binary(binary));
    cmd.env_clear()
        .env("BIND_ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "info,access=off")
        .current_dir(std::env::temp_dir())
        .stdout(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    ServiceProcess::start(cmd)
}
