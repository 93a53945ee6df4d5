#[actix_web::main]
async fn main() -> std::process::ExitCode {
    service_kit::service::main::<posts_service::PostsService>().await
}
