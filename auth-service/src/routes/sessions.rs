//! Sessions: `POST /token/refresh` (refresh-token rotation with reuse detection),
//! `POST /logout[?scope=all]`, and `GET /sessions/ended`, the compact feed of ended sessions
//! that resource services poll to refuse their tokens before they expire.
//!
//! A login starts a session; its access tokens carry the session id as `sid`. Refresh tokens
//! are 256 random bits, stored only as their SHA-256 (a fast hash suffices for a secret of
//! that entropy), and live `REFRESH_TOKEN_EXPIRE_DAYS` from the login or refresh that issued
//! them.

use actix_web::http::header::{self, CacheControl, CacheDirective, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, NaiveDateTime, TimeDelta};
use serde::Serialize;
use service_kit::input::{Body, Detail, ValidationErrors};
use service_kit::ApiError;
use shared_claims::{AuthError, AuthUser};
use utoipa::ToSchema;

use crate::domain::{EndedSince, LogoutQuery, RefreshForm};
use crate::store::{self, NewSession, RefreshOutcome, Rotation, User};
use crate::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource(["/token/refresh", "/token/refresh/"]).route(web::post().to(refresh)),
    )
    .service(web::resource(["/logout", "/logout/"]).route(web::post().to(logout)))
    .service(
        web::resource(["/sessions/ended", "/sessions/ended/"]).route(web::get().to(ended_sessions)),
    );
}

/// Session lifetimes.
#[derive(Debug, Clone, Copy)]
pub struct SessionSettings {
    /// Lifetime of a refresh token.
    pub refresh_ttl: TimeDelta,
    /// How long after a rotation its old token is refused without ending the session.
    pub reuse_grace: TimeDelta,
}

/// The answer of a login or refresh: the course's token fields plus the refresh token.
#[derive(Debug, Serialize, ToSchema)]
pub struct Token {
    pub access_token: String,
    /// Always `bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Opaque; exchange it at `POST /token/refresh` for a new pair (it then stops working).
    pub refresh_token: String,
    /// Seconds until the refresh token expires.
    pub refresh_expires_in: u64,
}

/// 256 random bits, base64url: a refresh token or a session id.
fn random_token(bytes: usize) -> Result<String, ApiError> {
    let mut buf = vec![0u8; bytes];
    aws_lc_rs::rand::fill(&mut buf)
        .map_err(|_| ApiError::Internal("no randomness for a token".into()))?;
    Ok(URL_SAFE_NO_PAD.encode(buf))
}

/// What the database keeps of a refresh token.
fn token_hash(token: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.as_ref())
}

fn unix(ts: i64) -> Result<NaiveDateTime, ApiError> {
    DateTime::from_timestamp(ts, 0)
        .map(|t| t.naive_utc())
        .ok_or_else(|| ApiError::internal(format!("timestamp {ts} out of range")))
}

fn token_response(token: Token) -> HttpResponse {
    let mut resp = HttpResponse::Ok()
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        .json(token);
    resp.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    resp
}

/// Signs an access token of session `sid`, issued at `now` (unix seconds).
fn access_token(
    state: &AppState,
    user: &User,
    sid: &str,
    now: i64,
) -> Result<(String, i64), ApiError> {
    state
        .issuer
        .issue_in_session_at(
            user.id,
            &user.email,
            Some(service_kit::time::iso(&user.created_at)),
            Some(sid),
            now,
        )
        .map_err(ApiError::internal)
}

/// Starts a session for a user whose password was just checked; answers the login.
pub async fn start_session(state: &AppState, user: User) -> Result<HttpResponse, ApiError> {
    let sid = random_token(16)?;
    let refresh_token = random_token(32)?;
    let now = service_kit::time::now_utc();
    let (access, exp) = access_token(state, &user, &sid, now.and_utc().timestamp())?;
    let access_until = unix(exp)?;
    let refresh_expires_at = now + state.sessions.refresh_ttl;
    let refresh_hash = token_hash(&refresh_token);
    let user_id = user.id;
    state
        .db
        .query(move |conn| {
            store::start_session(
                conn,
                &NewSession {
                    id: &sid,
                    user_id,
                    now,
                    access_until,
                    refresh_hash: &refresh_hash,
                    refresh_expires_at,
                },
            )
        })
        .await?;
    Ok(token_response(Token {
        access_token: access,
        token_type: "bearer",
        expires_in: state.issuer.ttl().as_secs(),
        refresh_token,
        refresh_expires_in: state.sessions.refresh_ttl.num_seconds().max(0) as u64,
    }))
}

/// Exchanges a refresh token for a new access token and a new refresh token.
#[utoipa::path(post, path = "/token/refresh", tag = "Authentication",
    // `multipart/form-data` is read too (as FastAPI's forms are) but left out here: it adds
    // nothing a client needs, and fuzzers put raw control bytes in its part headers.
    request_body(content(
        (RefreshForm = "application/x-www-form-urlencoded"),
        (RefreshForm = "application/json"),
    )),
    responses(
        (status = 200, description = "New tokens; the refresh token presented stops working", body = Token),
        (status = 401, description = "Could not validate credentials (invalid, expired, ended or reused refresh token)", body = Detail),
        (status = 413, description = "Body larger than the limit", body = Detail),
        (status = 422, description = "Missing or invalid field", body = ValidationErrors),
    ))]
pub async fn refresh(
    state: web::Data<AppState>,
    body: Body,
) -> Result<HttpResponse, actix_web::Error> {
    let RefreshForm {
        refresh_token: presented,
        ..
    } = body.json_or_form().await?;

    let successor = random_token(32)?;
    let now = service_kit::time::now_utc();
    // The access token is issued at `now`, so its expiry is known before it is signed and the
    // session records it in the same transaction that rotates the refresh token.
    let issued_at = now.and_utc().timestamp();
    let access_until = unix(issued_at.saturating_add(state.issuer.ttl().as_secs() as i64))?;
    let rotation_hashes = (token_hash(&presented), token_hash(&successor));
    let settings = state.sessions;
    let outcome = state
        .db
        .query(move |conn| {
            store::rotate_refresh_token(
                conn,
                &Rotation {
                    old_hash: &rotation_hashes.0,
                    new_hash: &rotation_hashes.1,
                    now,
                    access_until,
                    refresh_expires_at: now + settings.refresh_ttl,
                    grace_cutoff: now - settings.reuse_grace,
                },
            )
        })
        .await?;
    let (user, sid) = match outcome {
        RefreshOutcome::Rotated { user, session_id } => (user, session_id),
        RefreshOutcome::Reused { session_id } => {
            log::warn!("a rotated refresh token was presented again: session {session_id} ended");
            return Err(AuthError::InvalidCredentials.into());
        }
        other => {
            log::debug!("refresh refused: {other:?}");
            return Err(AuthError::InvalidCredentials.into());
        }
    };
    let (access, _) = access_token(&state, &user, &sid, issued_at)?;
    Ok(token_response(Token {
        access_token: access,
        token_type: "bearer",
        expires_in: state.issuer.ttl().as_secs(),
        refresh_token: successor,
        refresh_expires_in: settings.refresh_ttl.num_seconds().max(0) as u64,
    }))
}

/// Refuses a verified access token whose session has ended (auth has the sessions at hand,
/// so it asks its database rather than a list). Tokens minted outside a session pass.
pub async fn require_live_session(
    state: &AppState,
    caller: &AuthUser,
) -> Result<(), actix_web::Error> {
    let Some(sid) = caller.claims.sid.clone() else {
        return Ok(());
    };
    let user_id = caller.id;
    let live = state
        .db
        .query(move |conn| store::session_is_live(conn, &sid, user_id))
        .await?;
    if live {
        Ok(())
    } else {
        Err(AuthError::InvalidCredentials.into())
    }
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
    caller: AuthUser,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, actix_web::Error> {
    let all = LogoutQuery::parse(req.query_string())?.all();
    let now = service_kit::time::now_utc();
    let user_id = caller.id;
    let sid = caller.claims.sid.clone();
    let ended = state
        .db
        .query(move |conn| {
            let own = match &sid {
                Some(sid) => store::end_session(conn, sid, user_id, now)?,
                None => true, // a token without a session: nothing of its own to end
            };
            if own && all {
                store::end_sessions_of_user(conn, user_id, None, now)?;
            }
            Ok::<_, service_kit::DbError>(own)
        })
        .await?;
    if !ended {
        return Err(AuthError::InvalidCredentials.into());
    }
    log::info!(
        "user {user_id} logged out ({})",
        if all { "all sessions" } else { "this session" }
    );
    Ok(HttpResponse::NoContent().finish())
}

/// One ended session in the feed.
#[derive(Debug, Serialize, ToSchema)]
pub struct EndedSession {
    /// The session id (the `sid` claim of its tokens).
    pub sid: String,
    /// Unix second when its last access token expires; it can be forgotten after that.
    pub until: i64,
}

/// The feed of ended sessions.
#[derive(Debug, Serialize, ToSchema)]
pub struct EndedSessions {
    /// The server's clock (unix seconds): ask again with `since` a little before it.
    pub now: i64,
    pub ended: Vec<EndedSession>,
}

/// Sessions ended since `since` (unix seconds; all when absent) whose access tokens could
/// still be valid. Resource services poll it to refuse those tokens without asking per
/// request. It holds no secrets: a session id cannot be used for anything.
#[utoipa::path(get, path = "/sessions/ended", tag = "Sessions",
    params(EndedSince),
    responses(
        (status = 200, description = "Ended sessions", body = EndedSessions),
        (status = 422, description = "`since` not an integer from 0 to 2^31 - 1", body = ValidationErrors),
    ))]
pub async fn ended_sessions(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let since = EndedSince::parse(req.query_string())?
        .since
        .map(unix)
        .transpose()?;
    let now = service_kit::time::now_utc();
    let rows = state
        .db
        .run(move |conn| store::ended_sessions(conn, since, now))
        .await?;
    let body = EndedSessions {
        now: now.and_utc().timestamp(),
        ended: rows
            .into_iter()
            .map(|(sid, until)| EndedSession {
                sid,
                until: until.and_utc().timestamp(),
            })
            .collect(),
    };
    Ok(HttpResponse::Ok()
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        .json(body))
}
