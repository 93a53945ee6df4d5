//! `POST /vote/`: add (`dir` 1) or remove (`dir` 0) the caller's vote on a post.

use actix_web::{web, HttpResponse};
use serde::Serialize;
use serde_json::json;
use service_kit::input::Body;
use service_kit::ApiError;
use shared_claims::AuthUser;
use utoipa::ToSchema;

use crate::routes::author_of;
use crate::store::{self, VoteOutcome};
use crate::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource(["/vote", "/vote/"]).route(web::post().to(vote)));
}

/// Vote body.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Vote {
    post_id: i64,
    /// 1 adds the caller's vote, 0 removes it.
    #[schema(minimum = 0, maximum = 1)]
    dir: i64,
}

/// `{"message": ...}`.
#[derive(Serialize, ToSchema)]
pub struct Message {
    pub message: String,
}

/// Adds or removes the caller's vote on a post they can see.
#[utoipa::path(post, path = "/vote/", tag = "Vote", request_body = Vote,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "successfully added vote / successfully deleted vote",
            body = Message),
        (status = 401, description = "Missing or invalid token"),
        (status = 404, description = "Post with id: {id} does not exist / Vote does not exist"),
        (status = 409, description = "user {uid} has alredy voted on post {pid}"),
        (status = 422, description = "Invalid body (dir must be 0 or 1)"),
    ))]
pub async fn vote(
    user: AuthUser,
    state: web::Data<AppState>,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    let mut fields = body.read().await?.json_object()?;
    let post_id = fields.integer("post_id");
    let dir = fields.integer("dir");
    if let Some(dir) = dir {
        fields.check_range("dir", dir, 0, 1);
    }
    fields.finish()?;
    let (Some(post_id), Some(dir)) = (post_id, dir) else {
        return Err(ApiError::Internal("validated fields missing".into()));
    };

    let voter = author_of(&user);
    let add = dir == 1;
    let outcome = state
        .db
        .run(move |conn| store::vote(conn, post_id, &voter, add).map_err(ApiError::from))
        .await?;
    let message = match outcome {
        VoteOutcome::Added => "successfully added vote",
        VoteOutcome::Deleted => "successfully deleted vote",
        VoteOutcome::PostNotFound => {
            return Err(ApiError::NotFound(format!(
                "Post with id: {post_id} does not exist"
            )))
        }
        VoteOutcome::AlreadyVoted => {
            return Err(ApiError::Conflict(format!(
                "user {} has alredy voted on post {post_id}",
                user.id
            )))
        }
        VoteOutcome::VoteNotFound => return Err(ApiError::NotFound("Vote does not exist".into())),
    };
    Ok(HttpResponse::Created().json(json!({ "message": message })))
}
