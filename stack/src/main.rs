use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use stack::seed::Fixture;
use stack::{base_url, EphemeralStack, Stack, StackConfig, StackHandle};

#[actix_web::main]
async fn main() -> ExitCode {
    let _ = dotenvy::dotenv();
    let config = StackConfig::parse();
    service_kit::logging::init();
    let result = if config.ephemeral {
        run_ephemeral(&config).await
    } else {
        run(&config).await
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("stack: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `cargo run -p stack`: both services on their configured addresses, data in the data folder.
async fn run(config: &StackConfig) -> Result<(), String> {
    let stack = Stack::start(config).await.map_err(|e| e.to_string())?;
    let auth = base_url(config.auth_bind_addr, stack.auth_port);
    let posts = base_url(config.posts_bind_addr, stack.posts_port);
    println!();
    println!("  auth service   {auth}   (docs: {auth}/docs/)");
    println!("  posts service  {posts}   (docs: {posts}/docs/)");
    println!(
        "  data in {}/ ; Ctrl-C stops both",
        config.data_dir.display()
    );
    println!();
    actix_web::rt::spawn(service_kit::http::stop_on_signal(stack.handles()));
    stack.run_until_stopped().await.map_err(|e| e.to_string())
}

/// `stack --ephemeral`: a throwaway stack for a test suite. Its only output on stdout is one
/// JSON line with the URLs, printed once both services answer (and the fixture is loaded).
async fn run_ephemeral(config: &StackConfig) -> Result<(), String> {
    let fixture = match &config.seed {
        Some(path) => Some(Fixture::load(path).map_err(|e| format!("seed: {e}"))?),
        None => None,
    };
    let stack = EphemeralStack::start(config)
        .await
        .map_err(|e| e.to_string())?;
    if let Some(fixture) = fixture {
        let client = reqwest::Client::new();
        if let Err(e) = fixture.apply(&client, &stack.urls).await {
            // Stop first, so the folder is gone when the parent sees the failure.
            let _ = stack.stop().await;
            return Err(format!("seed: {e}"));
        }
    }
    let handle = stack.handle();
    actix_web::rt::spawn(service_kit::http::stop_on_signal(handle.handles()));
    actix_web::rt::spawn(stop_when_stdin_closes(handle));

    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", stack.urls.to_json_line())
        .and_then(|()| stdout.flush())
        .map_err(|e| format!("stdout: {e}"))?;
    drop(stdout);
    stack.run_until_stopped().await.map_err(|e| e.to_string())
}

/// Stops the stack once standard input reaches its end (the parent closed it, or died), so
/// a test runner that goes away does not leave the stack running. Anything read is ignored.
async fn stop_when_stdin_closes(handle: StackHandle) {
    let (closed, on_close) = tokio::sync::oneshot::channel::<()>();
    // A plain thread: a blocked read must not keep the runtime from shutting down.
    let spawned = std::thread::Builder::new()
        .name("stdin-watch".into())
        .spawn(move || {
            let mut stdin = std::io::stdin().lock();
            let mut buf = [0u8; 1024];
            loop {
                match std::io::Read::read(&mut stdin, &mut buf) {
                    Ok(0) => break,
                    Ok(_) => continue,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => break,
                }
            }
            let _ = closed.send(());
        });
    if spawned.is_err() {
        log::warn!("cannot watch stdin; stop the stack with SIGTERM or Ctrl-C");
        return;
    }
    if on_close.await.is_ok() {
        log::info!("stdin closed: graceful shutdown");
        handle.stop().await;
    }
}
