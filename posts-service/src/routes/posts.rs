//! `/posts/`: list, create, read, replace and delete posts. Every handler authenticates
//! first, then validates its input, so a request without a token gets 401 before any 422.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::NaiveDateTime;
use serde::Serialize;
use service_kit::input::{path_id, Body, Query, RawBody};
use service_kit::ApiError;
use shared_claims::AuthUser;
use utoipa::ToSchema;

use crate::routes::author_of;
use crate::store::{self, Author, Change, PostInput};
use crate::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource(["/posts", "/posts/"])
            .route(web::get().to(list_posts))
            .route(web::post().to(create_post)),
    )
    .service(
        web::resource(["/posts/{id}", "/posts/{id}/"])
            .route(web::get().to(get_post))
            .route(web::put().to(update_post))
            .route(web::delete().to(delete_post)),
    );
}

/// Longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 300;
/// Longest content, in characters.
pub const MAX_CONTENT_CHARS: usize = 100_000;
/// Most posts in one page.
pub const MAX_LIMIT: i64 = 100;
/// Largest `skip` accepted (far beyond any table; keeps `OFFSET` arithmetic safe).
pub const MAX_SKIP: i64 = i64::MAX / 2;

/// A post's owner.
#[derive(Debug, Serialize, ToSchema)]
pub struct Owner {
    pub id: i64,
    pub email: String,
    /// When the owner's account was created; `null` when no token of theirs said.
    #[serde(serialize_with = "serialize_optional_time")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub created_at: Option<NaiveDateTime>,
}

/// A post as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Post)]
pub struct PostJson {
    pub title: String,
    pub content: String,
    pub published: bool,
    pub id: i64,
    #[serde(serialize_with = "service_kit::time::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: NaiveDateTime,
    pub owner_id: i64,
    pub owner: Owner,
}

/// A post with its number of votes (note the capital-P `Post` key, as in the course).
#[derive(Debug, Serialize, ToSchema)]
pub struct PostOut {
    #[serde(rename = "Post")]
    pub post: PostJson,
    pub votes: i64,
}

/// Body of create and replace.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PostCreate {
    /// 1 to 300 characters.
    title: String,
    /// At most 100 000 characters.
    content: String,
    /// Default `true` (also when omitted on replace).
    published: Option<bool>,
}

fn serialize_optional_time<S: serde::Serializer>(
    ts: &Option<NaiveDateTime>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match ts {
        Some(ts) => service_kit::time::serialize(ts, s),
        None => s.serialize_none(),
    }
}

impl PostJson {
    fn new(post: store::Post, owner: Author) -> PostJson {
        PostJson {
            title: post.title,
            content: post.content,
            published: post.published,
            id: post.id,
            created_at: post.created_at,
            owner_id: post.owner_id,
            owner: Owner {
                id: owner.id,
                email: owner.email,
                created_at: owner.created_at,
            },
        }
    }
}

impl PostOut {
    fn new((post, owner, votes): (store::Post, Author, i64)) -> PostOut {
        PostOut {
            post: PostJson::new(post, owner),
            votes,
        }
    }
}

/// Validates a create/replace body, reporting every failing field at once.
fn post_input(body: &RawBody) -> Result<PostInput, ApiError> {
    let mut fields = body.json_object()?;
    let title = fields.string("title");
    if let Some(title) = &title {
        fields.check_length("title", title, 1, MAX_TITLE_CHARS);
    }
    let content = fields.string("content");
    if let Some(content) = &content {
        fields.check_length("content", content, 0, MAX_CONTENT_CHARS);
    }
    let published = fields.boolean_or("published", true);
    fields.finish()?;
    match (title, content, published) {
        (Some(title), Some(content), Some(published)) => Ok(PostInput {
            title,
            content,
            published,
        }),
        _ => Err(ApiError::Internal("validated fields missing".into())),
    }
}

fn id_of(req: &HttpRequest) -> Result<i64, ApiError> {
    path_id(req.match_info().get("id").unwrap_or_default(), "id")
}

fn not_found(id: i64) -> ApiError {
    ApiError::NotFound(format!("post with id: {id} does not exist"))
}

fn forbidden() -> ApiError {
    ApiError::Forbidden("Not authorized to perform requested action".into())
}

/// Lists the posts the caller may see (published ones and their own drafts), newest first.
#[utoipa::path(get, path = "/posts/", tag = "Posts",
    params(
        ("limit" = Option<i64>, Query, description = "Posts per page, 0..=100 (default 10)"),
        ("skip" = Option<i64>, Query, description = "Posts to skip, ≥ 0 (default 0)"),
        ("search" = Option<String>, Query,
            description = "Case-insensitive substring of the title, matched literally"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "One page of posts", body = [PostOut]),
        (status = 401, description = "Missing or invalid token"),
        (status = 422, description = "Invalid limit or skip"),
    ))]
pub async fn list_posts(
    user: AuthUser,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut query = Query::parse(req.query_string());
    let limit = query.integer("limit", 10, 0, MAX_LIMIT);
    let skip = query.integer("skip", 0, 0, MAX_SKIP);
    let search = query.string("search");
    query.finish()?;
    if limit == 0 {
        return Ok(HttpResponse::Ok().json(Vec::<PostOut>::new()));
    }
    let caller = user.id;
    let rows = state
        .db
        .run(move |conn| {
            store::page_of_posts_with_votes(conn, caller, limit, skip, &search)
                .map_err(ApiError::from)
        })
        .await?;
    let page: Vec<PostOut> = rows.into_iter().map(PostOut::new).collect();
    Ok(HttpResponse::Ok().json(page))
}

/// Creates a post owned by the caller.
#[utoipa::path(post, path = "/posts/", tag = "Posts", request_body = PostCreate,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created", body = PostJson),
        (status = 401, description = "Missing or invalid token"),
        (status = 413, description = "Body over 1 MiB"),
        (status = 422, description = "Invalid body"),
    ))]
pub async fn create_post(
    user: AuthUser,
    state: web::Data<AppState>,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    let input = post_input(&body.read().await?)?;
    let author = author_of(&user);
    let (post, owner) = state
        .db
        .run(move |conn| {
            store::insert_post(conn, &author, &input, service_kit::time::now_utc())
                .map_err(ApiError::from)
        })
        .await?;
    log::info!("user {} created post {}", owner.id, post.id);
    Ok(HttpResponse::Created().json(PostJson::new(post, owner)))
}

/// Reads one post with its vote count; someone else's draft reads as absent.
#[utoipa::path(get, path = "/posts/{id}", tag = "Posts",
    params(("id" = i64, Path, description = "Post id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The post", body = PostOut),
        (status = 401, description = "Missing or invalid token"),
        (status = 404, description = "post with id: {id} was not found"),
        (status = 422, description = "Id is not an integer"),
    ))]
pub async fn get_post(
    user: AuthUser,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = id_of(&req)?;
    let caller = user.id;
    let row = state
        .db
        .run(move |conn| store::post_with_votes(conn, id, caller).map_err(ApiError::from))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("post with id: {id} was not found")))?;
    Ok(HttpResponse::Ok().json(PostOut::new(row)))
}

/// Replaces one of the caller's posts (an omitted `published` resets to `true`).
#[utoipa::path(put, path = "/posts/{id}", tag = "Posts", request_body = PostCreate,
    params(("id" = i64, Path, description = "Post id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The updated post", body = PostJson),
        (status = 401, description = "Missing or invalid token"),
        (status = 403, description = "Not authorized to perform requested action"),
        (status = 404, description = "post with id: {id} does not exist"),
        (status = 413, description = "Body over 1 MiB"),
        (status = 422, description = "Invalid id or body"),
    ))]
pub async fn update_post(
    user: AuthUser,
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    let id = id_of(&req)?;
    let input = post_input(&body.read().await?)?;
    let author = author_of(&user);
    let change = state
        .db
        .run(move |conn| store::update_post(conn, id, &author, &input).map_err(ApiError::from))
        .await?;
    match change {
        Change::Done((post, owner)) => Ok(HttpResponse::Ok().json(PostJson::new(post, owner))),
        Change::NotFound => Err(not_found(id)),
        Change::Forbidden => Err(forbidden()),
    }
}

/// Deletes one of the caller's posts, and its votes.
#[utoipa::path(delete, path = "/posts/{id}", tag = "Posts",
    params(("id" = i64, Path, description = "Post id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Missing or invalid token"),
        (status = 403, description = "Not authorized to perform requested action"),
        (status = 404, description = "post with id: {id} does not exist"),
        (status = 422, description = "Id is not an integer"),
    ))]
pub async fn delete_post(
    user: AuthUser,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = id_of(&req)?;
    let caller = user.id;
    let change = state
        .db
        .run(move |conn| store::delete_post(conn, id, caller).map_err(ApiError::from))
        .await?;
    match change {
        Change::Done(()) => {
            log::info!("user {caller} deleted post {id}");
            Ok(HttpResponse::NoContent().finish())
        }
        Change::NotFound => Err(not_found(id)),
        Change::Forbidden => Err(forbidden()),
    }
}
