//! `POST /token/refresh`, `POST /logout[?scope=all]`, and `GET /sessions/ended`, the compact
//! feed of ended sessions that resource services poll to refuse their tokens before they
//! expire. What they do is [`crate::sessions`].

use actix_web::http::header::{CacheControl, CacheDirective};
use actix_web::middleware::from_fn;
use actix_web::{web, HttpRequest, HttpResponse};
use service_kit::input::{Body, Detail, ValidationErrors};

use crate::domain::{EndedSince, LogoutQuery, RefreshForm};
use crate::error::Error;
use crate::limits::{self, Route};
use crate::routes::BodyTooLarge;
use crate::sessions::{self, EndedSessions, LiveSession, Token};
use crate::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource(["/token/refresh", "/token/refresh/"])
            .wrap(from_fn(limits::middleware(Route::Refresh)))
            .wrap(service_kit::http::no_store())
            .route(web::post().to(refresh)),
    )
    .service(web::resource(["/logout", "/logout/"]).route(web::post().to(logout)))
    .service(
        web::resource(["/sessions/ended", "/sessions/ended/"]).route(web::get().to(ended_sessions)),
    );
}

/// Exchanges a refresh token for a new access token and a new refresh token.
#[utoipa::path(post, path = "/token/refresh", tag = "Authentication",
    // `multipart/form-data` is read too but left out here, as at `POST /login`.
    request_body(content(
        (RefreshForm = "application/x-www-form-urlencoded"),
        (RefreshForm = "application/json"),
    )),
    responses(BodyTooLarge,
        (status = 200, description = "New tokens; the refresh token presented stops working", body = Token),
        (status = 401, description = "Could not validate credentials (invalid, expired, ended or reused refresh token)", body = Detail),
        (status = 422, description = "Missing or invalid field", body = ValidationErrors),
        (status = 429, description = "Too many refreshes from this client or to this route; see Retry-After and RateLimit", body = Detail),
    ))]
pub async fn refresh(state: web::Data<AppState>, body: Body) -> Result<Token, Error> {
    let RefreshForm { refresh_token, .. } = body.json_or_form().await?;
    sessions::refresh(&state, &refresh_token).await
}

/// Ends the caller's session (`?scope=all`: every session of the caller). Its access tokens
/// are refused by every posts replica within seconds; its refresh token at once.
#[utoipa::path(post, path = "/logout", tag = "Authentication",
    params(LogoutQuery),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Ended"),
        (status = 401, description = "Missing, invalid or already ended token", body = Detail),
        (status = 422, description = "Unknown scope", body = ValidationErrors),
    ))]
pub async fn logout(
    caller: LiveSession,
    query: LogoutQuery,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Error> {
    sessions::end(&state, &caller, query.all()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Sessions ended since `since` (unix seconds; all when absent) whose access tokens could
/// still be valid. Resource services poll it to refuse those tokens without asking per
/// request. For them only: with `SESSIONS_FEED_SECRET` set, it requires that secret as a
/// bearer token (401 otherwise), since the list shows every ended session and its expiry.
#[utoipa::path(get, path = "/sessions/ended", tag = "Sessions",
    params(EndedSince),
    security(("feed_secret" = [])),
    responses(
        (status = 200, description = "Ended sessions", body = EndedSessions),
        (status = 401, description = "Could not validate credentials (no or another `SESSIONS_FEED_SECRET`)", body = Detail),
        (status = 422, description = "`since` not an integer from 0 to 2^31 - 1", body = ValidationErrors),
    ))]
pub async fn ended_sessions(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, Error> {
    if let Some(secret) = &state.feed_secret {
        let presented = req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .map(|v| v.as_bytes());
        if !shared_claims::presents_feed_secret(presented, secret) {
            return Err(Error::unauthorized());
        }
    }
    let since = EndedSince::parse(req.query_string())?.since;
    let body = sessions::ended_since(&state, since).await?;
    Ok(HttpResponse::Ok()
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        .json(body))
}
