//! The OpenAPI document served at `/openapi.json` and shown by Swagger UI at `/docs`.

use service_kit::http::BearerAuth;
use utoipa::OpenApi;

use crate::routes::{keys, login, sessions, users};

#[derive(OpenApi)]
#[openapi(
    info(title = "auth-service", description = "Users, passwords, login, sessions and token keys."),
    paths(users::create_user, users::get_user, users::me, users::change_password, login::login,
        sessions::refresh, sessions::logout, sessions::ended_sessions, keys::jwks),
    components(schemas(users::UserOut, users::UserCreate, users::PasswordChange, sessions::Token,
        login::LoginForm, sessions::RefreshForm, sessions::EndedSessions, sessions::EndedSession)),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;
