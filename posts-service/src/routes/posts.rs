//! `/posts/`: list, create, read, replace and delete posts. Every handler authenticates
//! first ([`Caller`]), then validates its input, so a request without a token gets 401
//! before any 422.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use chrono::NaiveDateTime;
use serde::Serialize;
use service_kit::input::Body;
use service_kit::{ApiError, Db};
use shared_claims::AuthUser;
use utoipa::ToSchema;

use crate::domain::{ListQuery, PostId, PostInput};
use crate::routes::author_of;
use crate::store::{self, Author, Change, NewAuthor, PageRequest};
use crate::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        // Posts carry their owner's email: never cached.
        web::resource(["/posts", "/posts/"])
            .wrap(service_kit::http::no_store())
            .route(web::get().to(list_posts))
            .route(web::post().to(create_post)),
    )
    .service(
        web::resource(["/posts/{id}", "/posts/{id}/"])
            .wrap(service_kit::http::no_store())
            .route(web::get().to(get_post))
            .route(web::put().to(update_post))
            .route(web::delete().to(delete_post)),
    );
}

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

/// What every handler of posts and votes starts from: the caller, whose token has passed,
/// and the database. Nothing else of the request is read before the token is checked, so a
/// request without a valid token gets 401 whatever its path, query or body.
pub struct Caller {
    pub user: AuthUser,
    pub db: Db,
}

impl Caller {
    /// The caller as the author of a write.
    pub fn author(&self) -> NewAuthor {
        author_of(&self.user)
    }
}

type Extracted<T> = Pin<Box<dyn Future<Output = Result<T, actix_web::Error>>>>;

impl FromRequest for Caller {
    type Error = actix_web::Error;
    type Future = Extracted<Caller>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let user = AuthUser::from_request(req, payload);
        let state = web::Data::<AppState>::extract(req);
        Box::pin(async move {
            let user = user.await?;
            let db = state.await?.db.clone();
            Ok(Caller { user, db })
        })
    }
}

/// The post a request's path names (`/posts/{id}`), and its [`Caller`]: the id is read once
/// the token has passed.
pub struct CallersPost {
    pub caller: Caller,
    pub id: PostId,
}

impl FromRequest for CallersPost {
    type Error = actix_web::Error;
    type Future = Extracted<CallersPost>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let caller = Caller::from_request(req, payload);
        let id = PostId::from_path(req);
        Box::pin(async move {
            let caller = caller.await?;
            Ok(CallersPost { caller, id: id? })
        })
    }
}

fn not_found(id: PostId) -> ApiError {
    ApiError::NotFound(format!("post with id: {id} does not exist"))
}

fn forbidden() -> ApiError {
    ApiError::Forbidden("Not authorized to perform requested action".into())
}

/// The `Link` header of a page followed by another: a relative reference (RFC 8288 allows
/// one; it resolves against the request's own URL) made of the query alone, so it keeps the
/// path the client used, a gateway's prefix included, and needs no knowledge of host or
/// scheme behind proxies. It repeats `limit` and `search`; the cursor replaces `skip`.
fn next_link(limit: i64, search: &str, cursor: &str) -> String {
    let limit = limit.to_string();
    let mut params = vec![("limit", limit.as_str())];
    if !search.is_empty() {
        params.push(("search", search));
    }
    params.push(("cursor", cursor));
    let query = serde_urlencoded::to_string(params).unwrap_or_default();
    format!("<?{query}>; rel=\"next\"")
}

/// Lists the posts the caller may see (published ones and their own drafts), newest first.
///
/// When more posts follow, the response carries `Link: <?limit=…&search=…&cursor=…>;
/// rel="next"`, a reference relative to the request's URL. Following it pages by key: the
/// cost of a page does not grow with its depth, and posts created meanwhile neither repeat
/// nor hide others. `skip` still works but reads every skipped post (its cost grows with the
/// offset); with a cursor it counts from the cursor's position.
#[utoipa::path(get, path = "/posts/", tag = "Posts",
    params(ListQuery),
    responses(
        (status = 200, description = "One page of posts", body = [PostOut],
            headers(("Link" = String, description = "`<?limit=…&cursor=…>; rel=\"next\"` \
                (RFC 8288, relative to the request URL) when another page follows; absent \
                on the last page"))),
        (status = 422, description = "Invalid limit, skip, search or cursor"),
    ))]
pub async fn list_posts(caller: Caller, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let query = ListQuery::parse(req.query_string())?;
    let limit = query.limit();
    if limit == 0 {
        return Ok(HttpResponse::Ok().json(Vec::<PostOut>::new()));
    }
    let caller_id = caller.user.id;
    let page = caller
        .db
        .run(move |conn| {
            let request = PageRequest {
                caller: caller_id,
                limit,
                skip: query.skip(),
                before: query.cursor().map(|position| position.last_id()),
                search: query.search(),
            };
            store::page_of_posts_with_votes(conn, &request).map(|page| (page, query))
        })
        .await;
    let (page, query) = page?;
    let next = match page.rows.last() {
        Some((last, _, _)) if page.has_next => Some(next_link(
            limit,
            query.search().text(),
            &query.next_cursor(last.id),
        )),
        _ => None,
    };
    let body: Vec<PostOut> = page.rows.into_iter().map(PostOut::new).collect();
    let mut response = HttpResponse::Ok();
    if let Some(link) = next {
        response.insert_header((actix_web::http::header::LINK, link));
    }
    Ok(response.json(body))
}

/// Creates a post owned by the caller.
#[utoipa::path(post, path = "/posts/", tag = "Posts", request_body = PostInput,
    responses(
        (status = 201, description = "Created", body = PostJson),
        (status = 422, description = "Invalid body"),
    ))]
pub async fn create_post(caller: Caller, body: Body) -> Result<HttpResponse, ApiError> {
    let input: PostInput = body.json().await?;
    let author = caller.author();
    let (post, owner) = caller
        .db
        .run(move |conn| store::insert_post(conn, &author, &input, service_kit::time::now_utc()))
        .await?;
    log::info!("user {} created post {}", owner.id, post.id);
    Ok(HttpResponse::Created().json(PostJson::new(post, owner)))
}

/// Reads one post with its vote count; someone else's draft reads as absent.
#[utoipa::path(get, path = "/posts/{id}", tag = "Posts",
    params(PostId),
    responses(
        (status = 200, description = "The post", body = PostOut),
        (status = 404, description = "post with id: {id} was not found"),
        (status = 422, description = "Id is not a 64-bit integer"),
    ))]
pub async fn get_post(post: CallersPost) -> Result<HttpResponse, ApiError> {
    let CallersPost { caller, id } = post;
    let reader = caller.user.id;
    let row = caller
        .db
        .run(move |conn| store::post_with_votes(conn, id, reader))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("post with id: {id} was not found")))?;
    Ok(HttpResponse::Ok().json(PostOut::new(row)))
}

/// Replaces one of the caller's posts (an omitted `published` resets to `true`).
#[utoipa::path(put, path = "/posts/{id}", tag = "Posts", request_body = PostInput,
    params(PostId),
    responses(
        (status = 200, description = "The updated post", body = PostJson),
        (status = 403, description = "Not authorized to perform requested action"),
        (status = 404, description = "post with id: {id} does not exist"),
        (status = 422, description = "Id is not a 64-bit integer, or invalid body"),
    ))]
pub async fn update_post(post: CallersPost, body: Body) -> Result<HttpResponse, ApiError> {
    let input: PostInput = body.json().await?;
    let CallersPost { caller, id } = post;
    let author = caller.author();
    let change = caller
        .db
        .run(move |conn| store::update_post(conn, id, &author, &input))
        .await?;
    match change {
        Change::Done((post, owner)) => Ok(HttpResponse::Ok().json(PostJson::new(post, owner))),
        Change::NotFound => Err(not_found(id)),
        Change::Forbidden => Err(forbidden()),
    }
}

/// Deletes one of the caller's posts, and its votes.
#[utoipa::path(delete, path = "/posts/{id}", tag = "Posts",
    params(PostId),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Not authorized to perform requested action"),
        (status = 404, description = "post with id: {id} does not exist"),
        (status = 422, description = "Id is not a 64-bit integer"),
    ))]
pub async fn delete_post(post: CallersPost) -> Result<HttpResponse, ApiError> {
    let owner = post.caller.user.id;
    let id = post.id;
    let change = post
        .caller
        .db
        .run(move |conn| store::delete_post(conn, id, owner))
        .await?;
    match change {
        Change::Done(()) => {
            log::info!("user {owner} deleted post {id}");
            Ok(HttpResponse::NoContent().finish())
        }
        Change::NotFound => Err(not_found(id)),
        Change::Forbidden => Err(forbidden()),
    }
}
