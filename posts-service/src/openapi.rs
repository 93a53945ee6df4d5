//! The OpenAPI document served at `/openapi.json` and shown by Swagger UI at `/docs`.

use service_kit::http::BearerAuth;
use utoipa::OpenApi;

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
