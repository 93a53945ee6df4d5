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
    modifiers(&BearerAuth, &FeedSecretAuth)
)]
pub struct ApiDoc;

/// The `feed_secret` security scheme of `GET /sessions/ended`: `SESSIONS_FEED_SECRET` as a
/// bearer token.
struct FeedSecretAuth;

impl utoipa::Modify for FeedSecretAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "feed_secret",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "SESSIONS_FEED_SECRET, the secret auth shares with the resource servers",
                    ))
                    .build(),
            ),
        );
    }
}
