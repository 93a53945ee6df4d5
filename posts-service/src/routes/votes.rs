//! `POST /vote/`: add (`dir` 1) or remove (`dir` 0) the caller's vote on a post.

use actix_web::{web, HttpResponse};
use serde::Serialize;
use serde_json::json;
use service_kit::input::Body;
use service_kit::ApiError;
use utoipa::ToSchema;

use crate::domain::VoteInput;
use crate::routes::posts::Caller;
use crate::store::{self, VoteOutcome};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource(["/vote", "/vote/"]).route(web::post().to(vote)));
}

/// `{"message": ...}`.
#[derive(Serialize, ToSchema)]
pub struct Message {
    pub message: String,
}

/// Adds or removes the caller's vote on a post they can see.
#[utoipa::path(post, path = "/vote/", tag = "Vote", request_body = VoteInput,
    responses(
        (status = 201, description = "successfully added vote / successfully deleted vote",
            body = Message),
        (status = 404, description = "Post with id: {id} does not exist / Vote does not exist"),
        (status = 409, description = "user {uid} has alredy voted on post {pid}"),
        (status = 422, description = "Invalid body: `post_id` not an integer, `dir` not 0 or 1"),
    ))]
pub async fn vote(caller: Caller, body: Body) -> Result<HttpResponse, ApiError> {
    let input: VoteInput = body.json().await?;
    let post_id = input.post_id();
    let voter = caller.author();
    let outcome = caller
        .db
        .run(move |conn| store::vote(conn, &input, &voter))
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
                caller.user.id
            )))
        }
        VoteOutcome::VoteNotFound => return Err(ApiError::NotFound("Vote does not exist".into())),
    };
    Ok(HttpResponse::Created().json(json!({ "message": message })))
}
