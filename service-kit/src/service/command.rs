//! The binary's side of the skeleton: its subcommands, and `main`.

use super::Service;

/// What a service binary can be asked to do.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Run the HTTP service (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Exit 0 when the service at BIND_ADDR answers `/readyz` (for container health checks).
    Healthcheck,
}

/// The body of a service's `main`: runs `command` (serving by default) and turns the outcome
/// into an exit status, printing any failure once, on one line prefixed with the service's
/// name. Serving stops gracefully on SIGINT or SIGTERM.
pub async fn run_command<S: Service>(
    command: Option<Command>,
    config: S::Config,
) -> std::process::ExitCode {
    let name = S::NAME;
    let result = match command.unwrap_or(Command::Serve) {
        Command::Serve => {
            // Installed first: a SIGTERM during start-up is not lost (a container's PID 1
            // ignores one it has no handler for). It ends the wait for what the service needs;
            // arriving during migrations, it stops the service once they are done; later, it
            // stops the service gracefully.
            let mut signal = Box::pin(crate::shutdown::termination_signal());
            match super::build_unless::<S>(config, signal.as_mut()).await {
                Ok(bound) => {
                    let handles = vec![bound.server.handle()];
                    actix_web::rt::spawn(crate::shutdown::stop_when(signal, handles));
                    log::info!("{name} listening on port {}", bound.port);
                    bound.server.await.map_err(|e| e.to_string())
                }
                // Asked to stop: a clean exit, as it would be once serving.
                Err(e @ crate::StartError::Stopped(_)) => {
                    log::info!("{e}");
                    Ok(())
                }
                Err(e) => Err(e.to_string()),
            }
        }
        Command::Migrate => match super::database(S::common(&config)) {
            Ok(db) => super::migrate::<S>(&db)
                .await
                .map(|applied| log::info!("{} migration(s) applied", applied.len()))
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        },
        Command::Healthcheck => crate::http::healthcheck(S::common(&config).bind_addr, "/readyz")
            .await
            .map_err(|e| format!("not healthy: {e}")),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{name}: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// A service binary's `main`: reads a `.env` file if there is one, parses the command line,
/// starts logging and runs the subcommand (see [`run_command`]).
pub async fn main<S: Service>() -> std::process::ExitCode {
    let _ = dotenvy::dotenv();
    let (command, config) = S::command_line(<S::Cli as clap::Parser>::parse());
    crate::logging::init();
    run_command::<S>(command, config).await
}
