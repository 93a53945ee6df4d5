use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use stack::seed::Fixture;
use stack::{base_url, EphemeralStack, Stack, StackConfig};

#[actix_web::main]
async fn main() -> ExitCode {
    let _ = dotenvy::dotenv();
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == "import-course")
    {
        return import_course().await;
    }
    let config = match StackConfig::parse().with_service_environment() {
        Ok(config) => config,
        Err(e) => e.exit(),
    };
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

/// `stack import-course --from postgres://…`: the course app's database into both services'
/// databases (see `stack::import`). Exit status: 0 done, 1 failed, 2 rows refused under
/// `--on-invalid stop` (nothing written), 3 stopped by the test hook.
async fn import_course() -> ExitCode {
    use stack::import::{self, ImportArgs, ImportError};
    let args = ImportArgs::parse_from(std::env::args_os().skip(1));
    service_kit::logging::init();
    if let Err(e) = args.check_source() {
        eprintln!("stack import-course: {e}");
        return ExitCode::FAILURE;
    }
    let (auth, posts) = args.targets();
    if !args.dry_run {
        if let Err(e) = import::migrate(&auth, &posts).await {
            eprintln!("stack import-course: {e}");
            return ExitCode::FAILURE;
        }
    }
    match import::run(&args) {
        Ok(report) => {
            print!("{}", report.summary());
            if report.wrote_nothing && !args.dry_run {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e @ ImportError::Stopped(_)) => {
            eprintln!("stack import-course: {e}");
            ExitCode::from(3)
        }
        Err(e) => {
            eprintln!("stack import-course: {e}");
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
    actix_web::rt::spawn(service_kit::shutdown::stop_on_signal(stack.handles()));
    stack.run_until_stopped().await.map_err(|e| e.to_string())
}

/// `stack --ephemeral`: a throwaway stack for a test suite. Its only output on stdout is one
/// JSON line with the URLs, printed once both services answer (and the fixture is loaded).
/// A stop request (SIGTERM, SIGINT, the end of stdin) is honoured from the first moment,
/// during start-up too, and the folder is removed on every way out.
async fn run_ephemeral(config: &StackConfig) -> Result<(), String> {
    let fixture = match &config.seed {
        Some(path) => Some(Fixture::load(path).map_err(|e| format!("seed: {e}"))?),
        None => None,
    };
    let mut stop = std::pin::pin!(stop_requested());
    let mut starting = std::pin::pin!(EphemeralStack::start(config));
    let stack = tokio::select! {
        started = &mut starting => started.map_err(|e| e.to_string())?,
        reason = &mut stop => {
            // Not dropped half-way: migrations could still be writing into the folder as
            // it is removed. Let the start finish, then stop and remove it.
            log::info!("{reason} while starting: stopping once started");
            if let Ok(stack) = starting.await {
                stack.stop().await.map_err(|e| e.to_string())?;
            }
            return Ok(());
        }
    };
    if let Some(fixture) = fixture {
        let client = reqwest::Client::new();
        let outcome = tokio::select! {
            seeded = fixture.apply(&client, &stack.urls) => Some(seeded),
            reason = &mut stop => {
                log::info!("{reason} while loading the fixture: stopped");
                None
            }
        };
        if !matches!(outcome, Some(Ok(_))) {
            // Stop first, so the folder is gone when the parent sees the outcome.
            let _ = stack.stop().await;
            return match outcome {
                Some(Err(e)) => Err(format!("seed: {e}")),
                _ => Ok(()),
            };
        }
    }

    let mut stdout = std::io::stdout().lock();
    if let Err(e) = writeln!(stdout, "{}", stack.urls.to_json_line()).and_then(|()| stdout.flush())
    {
        let _ = stack.stop().await;
        return Err(format!("stdout: {e}"));
    }
    drop(stdout);

    let handle = stack.handle();
    let mut running = std::pin::pin!(stack.run_until_stopped());
    tokio::select! {
        served = &mut running => return served.map_err(|e| e.to_string()),
        reason = &mut stop => log::info!("{reason}: graceful shutdown, finishing in-flight requests"),
    }
    handle.stop().await;
    running.await.map_err(|e| e.to_string())
}

/// Resolves with the reason once the stack is asked to stop: SIGTERM, SIGINT (Ctrl-C), or
/// the end of standard input (the parent closed it, or died), so a test runner that goes
/// away does not leave the stack running. Anything read from stdin is ignored.
async fn stop_requested() -> &'static str {
    let (closed, stdin_closed) = tokio::sync::oneshot::channel::<()>();
    // A plain thread: a blocked read must not keep the runtime from shutting down.
    let watching = std::thread::Builder::new()
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
    let stdin_closed = async move {
        match watching {
            Ok(_) => {
                let _ = stdin_closed.await;
            }
            Err(e) => {
                log::warn!("cannot watch stdin ({e}); stop the stack with SIGTERM or Ctrl-C");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            return tokio::select! {
                _ = tokio::signal::ctrl_c() => "SIGINT",
                _ = term.recv() => "SIGTERM",
                () = stdin_closed => "end of stdin",
            };
        }
    }
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "SIGINT",
        () = stdin_closed => "end of stdin",
    }
}
