use std::process::ExitCode;

use clap::Parser;
use stack::{base_url, Stack, StackConfig};

#[actix_web::main]
async fn main() -> ExitCode {
    let _ = dotenvy::dotenv();
    let config = StackConfig::parse();
    service_kit::logging::init();
    let stack = match Stack::start(&config).await {
        Ok(stack) => stack,
        Err(e) => {
            eprintln!("stack: {e}");
            return ExitCode::FAILURE;
        }
    };
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
    match stack.run_until_stopped().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("stack: {e}");
            ExitCode::FAILURE
        }
    }
}
