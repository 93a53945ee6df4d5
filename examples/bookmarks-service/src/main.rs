#[actix_web::main]
async fn main() -> std::process::ExitCode {
    service_kit::service::main::<bookmarks_service::BookmarksService>().await
}
