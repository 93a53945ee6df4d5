//! The OpenAPI document served at `/openapi.json` and shown by Swagger UI at `/docs`.

use service_kit::http::BearerAuth;
use utoipa::OpenApi;

use crate::routes::{keys, login, users};

#[derive(OpenApi)]
#[openapi(
    info(title = "auth-service", description = "Users, passwords, login and token keys."),
    paths(users::create_user, users::get_user, login::login, keys::jwks),
    components(schemas(users::UserOut, users::UserCreate, login::Token, login::LoginForm)),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;
