//! The OpenAPI document served at `/openapi.json` and shown by Swagger UI at `/docs`.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::{keys, login, users};

#[derive(OpenApi)]
#[openapi(
    info(title = "auth-service", description = "Users, passwords, login and token keys."),
    paths(users::create_user, users::get_user, login::login, keys::jwks),
    components(schemas(users::UserOut, users::UserCreate, login::Token, login::LoginForm)),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}
