use std::process::ExitCode;

use clap::Parser;
use posts_service::config::Cli;
use posts_service::{migrate, Application};

#[actix_web::main]
async fn main() -> ExitCode {
    let _ = dotenvy::dotenv();
    let Cli { command, config } = Cli::parse();
    service_kit::logging::init();
    let (bind_addr, db) = (config.bind_addr, config.db_options());
    service_kit::config::run_command(
        "posts-service",
        command,
        bind_addr,
        || Application::build(config),
        || async move { migrate(&service_kit::Db::new(&db)).await },
    )
    .await
}
