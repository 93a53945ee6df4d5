//! The service's own routes: `GET /bookmarks/` (the caller's, newest first),
//! `PUT /bookmarks/{id}` and `DELETE /bookmarks/{id}` (the id is a post's), beside the
//! skeleton's `/`, `/healthz`, `/readyz`, `/metrics` and `/revocations`.

use actix_web::{web, HttpResponse};
use diesel::prelude::*;
use serde::Serialize;
use service_kit::input::PathId;
use service_kit::openapi::BearerAuth;
use service_kit::{with_conn, ApiError, DbError};
use shared_claims::AuthUser;

use crate::{bookmarks, AppState};

pub fn configure(cfg: &mut web::ServiceConfig) {
    service_kit::tokens::routes::<AppState>(cfg, |state| &state.db);
    for path in ["/bookmarks", "/bookmarks/"] {
        cfg.route(path, web::get().to(list));
    }
    cfg.route("/bookmarks/{id}", web::put().to(add))
        .route("/bookmarks/{id}", web::delete().to(remove));
}

#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "bookmarks-service", description = "Bookmarks of posts."),
    paths(list, add, remove),
    components(schemas(Bookmark)),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

/// The caller and the post of `/bookmarks/{id}`. The id is read once the token has passed:
/// actix extracts a handler's arguments together, so a `PathId` argument could answer 422
/// while `AuthUser` still waits for a JWKS fetch (a token with an unknown `kid`).
struct Bookmarked {
    user: AuthUser,
    id: PathId,
}

impl actix_web::FromRequest for Bookmarked {
    type Error = actix_web::Error;
    type Future = futures_util::future::LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(
        req: &actix_web::HttpRequest,
        payload: &mut actix_web::dev::Payload,
    ) -> Self::Future {
        let user = AuthUser::from_request(req, payload);
        let raw = req.match_info().get("id").unwrap_or_default().to_owned();
        Box::pin(async move {
            let user = user.await?;
            Ok(Bookmarked {
                user,
                id: PathId::parse(&raw, "id")?,
            })
        })
    }
}

/// A bookmarked post.
#[derive(Debug, Serialize, Queryable, utoipa::ToSchema)]
pub struct Bookmark {
    pub post_id: i64,
    pub created_at: chrono::NaiveDateTime,
}

/// The caller's bookmarks, newest first.
#[utoipa::path(get, path = "/bookmarks/", security(("bearer" = [])),
    responses((status = 200, body = Vec<Bookmark>), (status = 401)))]
async fn list(user: AuthUser, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let rows = state
        .db
        .run(move |conn| {
            with_conn!(conn, |c| bookmarks::table
                .filter(bookmarks::user_id.eq(user.id))
                .order((bookmarks::created_at.desc(), bookmarks::post_id.desc()))
                .select((bookmarks::post_id, bookmarks::created_at))
                .load::<Bookmark>(c))
            .map_err(DbError::from)
        })
        .await?;
    Ok(HttpResponse::Ok().json(rows))
}

/// Bookmarks a post (again: no change).
#[utoipa::path(put, path = "/bookmarks/{id}", params(PathId), security(("bearer" = [])),
    responses((status = 204), (status = 401), (status = 422)))]
async fn add(bookmark: Bookmarked, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let Bookmarked { user, id } = bookmark;
    let row = (
        bookmarks::user_id.eq(user.id),
        bookmarks::post_id.eq(id.get()),
        bookmarks::created_at.eq(service_kit::time::now_utc()),
    );
    state
        .db
        .run(move |conn| {
            with_conn!(conn, |c| diesel::insert_into(bookmarks::table)
                .values(row)
                .on_conflict_do_nothing()
                .execute(c))
            .map_err(DbError::from)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Removes a bookmark.
#[utoipa::path(delete, path = "/bookmarks/{id}", params(PathId), security(("bearer" = [])),
    responses((status = 204), (status = 401), (status = 404), (status = 422)))]
async fn remove(
    bookmark: Bookmarked,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let Bookmarked { user, id } = bookmark;
    let mine = bookmarks::table.find((user.id, id.get()));
    let removed = state
        .db
        .run(move |conn| {
            with_conn!(conn, |c| diesel::delete(mine).execute(c)).map_err(DbError::from)
        })
        .await?;
    match removed {
        0 => Err(ApiError::NotFound("Bookmark does not exist".into())),
        _ => Ok(HttpResponse::NoContent().finish()),
    }
}
