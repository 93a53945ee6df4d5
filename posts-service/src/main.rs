use std::process::ExitCode;

use clap::Parser;
use posts_service::config::{Cli, Command};
use posts_service::{migrate, Application};

#[actix_web::main]
async fn main() -> ExitCode {
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    service_kit::logging::init();
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => match Application::build(cli.config).await {
            Ok(app) => {
                actix_web::rt::spawn(service_kit::http::stop_on_signal(vec![app.handle()]));
                log::info!("posts-service listening on port {}", app.port());
                app.run_until_stopped().await.map_err(|e| e.to_string())
            }
            Err(e) => Err(e.to_string()),
        },
        Command::Migrate => {
            let db = service_kit::Db::new(&cli.config.db_options());
            migrate(&db)
                .await
                .map(|applied| log::info!("{} migration(s) applied", applied.len()))
                .map_err(|e| e.to_string())
        }
        Command::Healthcheck => service_kit::http::healthcheck(cli.config.bind_addr, "/readyz")
            .map_err(|e| format!("not healthy: {e}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("posts-service: {e}");
            ExitCode::FAILURE
        }
    }
}
