//! The OpenAPI document served at `/openapi.json` and shown by Swagger UI at `/docs`.

use service_kit::input::{Detail, ValidationErrors};
use service_kit::openapi::BearerAuth;
use utoipa::OpenApi;

use crate::domain::{LoginForm, LogoutScope, PasswordChange, RefreshForm, SignUp};
use crate::routes::{jwks, login, sessions, users};
use crate::sessions::{CourseTokensRefused, EndedSession, EndedSessions, Token};

#[derive(OpenApi)]
#[openapi(
    info(title = "auth-service", description = "Users, passwords, login, sessions and token keys."),
    paths(users::create_user, users::get_user, users::me, users::change_password, login::login,
        sessions::refresh, sessions::logout, sessions::ended_sessions, jwks::jwks),
    components(schemas(users::UserOut, SignUp, PasswordChange, Token, LoginForm,
        RefreshForm, LogoutScope, EndedSessions, EndedSession, CourseTokensRefused, Detail,
        ValidationErrors)),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;
