//! Sessions: a login starts one, a refresh rotates its refresh token (and ends it when a
//! rotated token comes back after the grace period: the reuse rule), a logout or a password
//! change ends it, and [`LiveSession`] refuses the access tokens of an ended one. The routes
//! (`routes/login.rs`, `routes/sessions.rs`, `routes/users.rs`) only call these.
//!
//! A session's access tokens carry its id as `sid`. Refresh tokens are 256 random bits,
//! stored only as their SHA-256 (a fast hash suffices for a secret of that entropy), and live
//! `REFRESH_TOKEN_EXPIRE_DAYS` from the login or refresh that issued them.

use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::{self, CacheControl, CacheDirective, HeaderValue};
use actix_web::{web, FromRequest, HttpRequest, HttpResponse, Responder};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, NaiveDateTime, TimeDelta};
use serde::Serialize;
use service_kit::ApiError;
use shared_claims::AuthUser;
use utoipa::ToSchema;

use crate::error::Error;
use crate::store::{self, NewRefreshToken, NewSession, RefreshOutcome, Rotation, User};
use crate::AppState;

/// Session lifetimes.
#[derive(Debug, Clone, Copy)]
pub struct SessionSettings {
    /// Lifetime of a refresh token.
    pub refresh_ttl: TimeDelta,
    /// How long after a rotation its old token is refused without ending the session.
    pub reuse_grace: TimeDelta,
    /// Live sessions per user (`MAX_SESSIONS_PER_USER`): a login beyond it ends the oldest.
    pub max_per_user: u32,
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

/// A token is never cached: `Cache-Control: no-store`, `Pragma: no-cache`.
impl Responder for Token {
    type Body = actix_web::body::BoxBody;

    fn respond_to(self, _req: &HttpRequest) -> HttpResponse {
        let mut resp = HttpResponse::Ok()
            .insert_header(CacheControl(vec![CacheDirective::NoStore]))
            .json(self);
        resp.headers_mut()
            .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        resp
    }
}

/// 256 random bits, base64url: a refresh token or a session id.
fn random_token(bytes: usize) -> Result<String, Error> {
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

fn unix(ts: i64) -> Result<NaiveDateTime, Error> {
    DateTime::from_timestamp(ts, 0)
        .map(|t| t.naive_utc())
        .ok_or_else(|| ApiError::internal(format!("timestamp {ts} out of range")).into())
}

/// The answer carrying a new access token of session `sid`, issued at `issued_at` (unix
/// seconds), and the session's new refresh token.
fn token(
    state: &AppState,
    user: &User,
    sid: &str,
    issued_at: i64,
    refresh_token: String,
) -> Result<Token, Error> {
    let (access_token, _) = state
        .issuer
        .issue_in_session_at(
            user.id,
            &user.email,
            Some(service_kit::time::iso(&user.created_at)),
            Some(sid),
            issued_at,
        )
        .map_err(ApiError::internal)?;
    Ok(Token {
        access_token,
        token_type: "bearer",
        expires_in: state.issuer.ttl().as_secs(),
        refresh_token,
        refresh_expires_in: state.sessions.refresh_ttl.num_seconds().max(0) as u64,
    })
}

/// Expiry of an access token issued at `issued_at` (unix seconds): known before it is
/// signed, so the session records it in the same transaction that starts or extends it.
fn access_until(state: &AppState, issued_at: i64) -> Result<NaiveDateTime, Error> {
    unix(issued_at.saturating_add(state.issuer.ttl().as_secs() as i64))
}

/// Starts a session for a user whose password was just checked: the login's answer.
pub async fn start(state: &AppState, user: User) -> Result<Token, Error> {
    let sid = random_token(16)?;
    let now = service_kit::time::now_utc();
    let issued_at = now.and_utc().timestamp();
    let access_until = access_until(state, issued_at)?;
    let token = token(state, &user, &sid, issued_at, random_token(32)?)?;
    let refresh_hash = token_hash(&token.refresh_token);
    let refresh_expires_at = now + state.sessions.refresh_ttl;
    let user_id = user.id;
    let max_sessions = state.sessions.max_per_user;
    state
        .db
        .run(move |conn| {
            store::start_session(
                conn,
                &NewSession {
                    id: &sid,
                    user_id,
                    now,
                    max_sessions,
                    access_until,
                    refresh_token: NewRefreshToken {
                        token_hash: &refresh_hash,
                        session_id: &sid,
                        issued_at: now,
                        expires_at: refresh_expires_at,
                    },
                },
            )
            .map_err(Error::from)
        })
        .await?;
    Ok(token)
}

/// Exchanges a refresh token for a new pair. The presented token stops working; presented
/// again within `REFRESH_REUSE_GRACE_SECONDS` it is refused (a client's race), after that it
/// is taken as stolen and its session ends. Every refusal is the same 401.
pub async fn refresh(state: &AppState, presented: &str) -> Result<Token, Error> {
    let successor = random_token(32)?;
    let now = service_kit::time::now_utc();
    let issued_at = now.and_utc().timestamp();
    let access_until = access_until(state, issued_at)?;
    let hashes = (token_hash(presented), token_hash(&successor));
    let settings = state.sessions;
    let outcome = state
        .db
        .run(move |conn| {
            store::rotate_refresh_token(
                conn,
                &Rotation {
                    old_hash: &hashes.0,
                    new_hash: &hashes.1,
                    now,
                    access_until,
                    refresh_expires_at: now + settings.refresh_ttl,
                    grace_cutoff: now - settings.reuse_grace,
                },
            )
            .map_err(Error::from)
        })
        .await?;
    match outcome {
        RefreshOutcome::Rotated { user, session_id } => {
            token(state, &user, &session_id, issued_at, successor)
        }
        RefreshOutcome::Reused { session_id } => {
            log::warn!("a rotated refresh token was presented again: session {session_id} ended");
            Err(Error::unauthorized())
        }
        other => {
            log::debug!("refresh refused: {other:?}");
            Err(Error::unauthorized())
        }
    }
}

/// Ends the caller's session, and with `all` every other session of theirs too. A token
/// minted outside a session has none of its own to end. 401 when its session had already
/// ended (a concurrent logout).
pub async fn end(state: &AppState, caller: &AuthUser, all: bool) -> Result<(), Error> {
    let now = service_kit::time::now_utc();
    let user_id = caller.id;
    let sid = caller.claims.sid.clone();
    // A course token cannot be told from the user's other course tokens: logging out with
    // one refuses them all, as `?scope=all` does.
    let refuse_course_tokens = state.course_tokens && (all || caller.claims.course_token);
    let ended = state
        .db
        .run(move |conn| {
            let own = match &sid {
                Some(sid) => store::end_session(conn, sid, user_id, now)?,
                None => true,
            };
            if own && all {
                store::end_sessions_of_user(conn, user_id, None, now)?;
            }
            if own && refuse_course_tokens {
                store::refuse_course_tokens(conn, user_id, now)?;
            }
            Ok::<_, Error>(own)
        })
        .await?;
    if !ended {
        return Err(Error::unauthorized());
    }
    log::info!(
        "user {user_id} logged out ({})",
        if all { "all sessions" } else { "this session" }
    );
    Ok(())
}

/// One ended session in the feed.
#[derive(Debug, Serialize, ToSchema)]
pub struct EndedSession {
    /// The session id (the `sid` claim of its tokens).
    pub sid: String,
    /// Unix second when its last access token expires; it can be forgotten after that.
    pub until: i64,
}

/// A user whose course tokens (`COURSE_TOKEN_SECRET`) are refused.
#[derive(Debug, Serialize, ToSchema)]
pub struct CourseTokensRefused {
    pub user_id: i64,
    /// Unix second since when (their `logout?scope=all` or password change).
    pub since: i64,
}

/// The feed of ended sessions.
#[derive(Debug, Serialize, ToSchema)]
pub struct EndedSessions {
    /// The server's clock (unix seconds): ask again with `since` a little before it.
    pub now: i64,
    pub ended: Vec<EndedSession>,
    /// Users whose course tokens are refused since `since` (empty unless
    /// `COURSE_TOKEN_SECRET` is set): a course token has no session to end.
    pub course_tokens_refused: Vec<CourseTokensRefused>,
    /// Course tokens name users below this id (the course app's next user id at the last
    /// `stack import-course`); absent unless `COURSE_TOKEN_SECRET` is set and an import
    /// recorded it: then no course token is accepted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub course_user_ids_below: Option<i64>,
}

/// Sessions ended since `since` (unix seconds; all when `None`) whose access tokens could
/// still be valid.
pub async fn ended_since(state: &AppState, since: Option<i64>) -> Result<EndedSessions, Error> {
    let since = since.map(unix).transpose()?;
    let now = service_kit::time::now_utc();
    let course_tokens = state.course_tokens;
    let (rows, refused, below) = state
        .db
        .run(move |conn| {
            let rows = store::ended_sessions(conn, since, now)?;
            let (refused, below) = match course_tokens {
                true => (
                    store::course_token_refusals(conn, since)?,
                    store::course_user_ids_below(conn)?,
                ),
                false => (Vec::new(), None),
            };
            Ok::<_, Error>((rows, refused, below))
        })
        .await?;
    Ok(EndedSessions {
        now: now.and_utc().timestamp(),
        course_user_ids_below: below,
        course_tokens_refused: refused
            .into_iter()
            .map(|(user_id, since)| CourseTokensRefused {
                user_id,
                since: since.and_utc().timestamp(),
            })
            .collect(),
        ended: rows
            .into_iter()
            .map(|(sid, until)| EndedSession {
                sid,
                until: until.and_utc().timestamp(),
            })
            .collect(),
    })
}

/// The caller of a request whose access token verifies ([`AuthUser`]) *and* whose session
/// has not ended: auth has the sessions at hand, so it asks its database rather than a list.
/// Tokens minted outside a session pass. Refusals are [`AuthUser`]'s: 401 `Could not validate
/// credentials` with `WWW-Authenticate: Bearer`.
///
/// Put it first among a handler's arguments, as [`AuthUser`] would be. actix extracts the
/// arguments together and answers the first error that is ready, so an argument that fails
/// at once (a bad query or path) can still answer 422 while the session is being looked up,
/// as it did when the handler checked the session itself.
#[derive(Debug, Clone)]
pub struct LiveSession(pub AuthUser);

impl Deref for LiveSession {
    type Target = AuthUser;

    fn deref(&self) -> &AuthUser {
        &self.0
    }
}

impl FromRequest for LiveSession {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<LiveSession, Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let caller = AuthUser::from_request(req, payload);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let caller = caller.await?;
            if caller.claims.course_token {
                // A course token lives while its user has not logged out everywhere or
                // changed their password since the move.
                let state = state
                    .ok_or_else(|| ApiError::internal("LiveSession: no web::Data<AppState>"))?;
                let user_id = caller.id;
                let accepted = state
                    .db
                    .run(move |conn| {
                        store::course_tokens_accepted(conn, user_id).map_err(Error::from)
                    })
                    .await?;
                return match accepted {
                    true => Ok(LiveSession(caller)),
                    false => Err(Error::unauthorized()),
                };
            }
            let Some(sid) = caller.claims.sid.clone() else {
                return Ok(LiveSession(caller));
            };
            let state =
                state.ok_or_else(|| ApiError::internal("LiveSession: no web::Data<AppState>"))?;
            let user_id = caller.id;
            let live = state
                .db
                .run(move |conn| store::session_is_live(conn, &sid, user_id).map_err(Error::from))
                .await?;
            if live {
                Ok(LiveSession(caller))
            } else {
                Err(Error::unauthorized())
            }
        })
    }
}
