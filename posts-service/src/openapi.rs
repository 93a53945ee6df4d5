//! The OpenAPI document served at `/openapi.json` and shown by Swagger UI at `/docs`.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::{posts, votes};

#[derive(OpenApi)]
#[openapi(
    info(title = "posts-service", description = "Posts and votes, for bearers of the auth service's tokens."),
    paths(
        posts::list_posts,
        posts::create_post,
        posts::get_post,
        posts::update_post,
        posts::delete_post,
        votes::vote
    ),
    components(schemas(
        posts::PostJson,
        posts::PostOut,
        posts::Owner,
        posts::PostCreate,
        votes::Vote,
        votes::Message
    )),
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
