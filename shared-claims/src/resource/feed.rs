//! Ended sessions: a background poller keeps the verifier's [`Revocations`] in step with the
//! auth service's feed (`GET /sessions/ended`), so a token whose session ended is refused
//! within about a second of the logout, and no request ever waits for the auth service.
//!
//! While the feed cannot be reached the service keeps verifying with the list it has (the
//! sessions ended until then stay refused; newer logouts are not known yet), logs that the
//! list is stale, and shows its age at `GET /revocations`. Until the list was loaded once
//! (the listener waits for it a bounded time), tokens carrying a session cannot be judged:
//! they get 503 with `Retry-After`, as every token does before the keys are loaded.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::{chain, FetchError};
use crate::{Revocations, Verifier};

/// Time between two polls.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// How far before the feed's previous `now` the next poll asks from: a session ended by an
/// auth replica whose clock is behind, or whose transaction committed late, is still seen.
const OVERLAP_SECONDS: i64 = 30;
/// While the feed fails, how often the staleness is logged again.
const STALE_LOG_EVERY: Duration = Duration::from_secs(30);
/// A list older than this is reported stale.
const STALE_AFTER: Duration = Duration::from_secs(5);

#[derive(Debug, Deserialize)]
struct Feed {
    now: i64,
    ended: Vec<Ended>,
    /// Users whose course tokens are refused (absent from auth services older than it).
    #[serde(default)]
    course_tokens_refused: Vec<CourseRefused>,
    /// Course tokens name users below this id (absent: no import recorded, or an auth
    /// service older than it; then no course token is accepted).
    #[serde(default)]
    course_user_ids_below: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct CourseRefused {
    user_id: i64,
    since: i64,
}

#[derive(Debug, Deserialize)]
struct Ended {
    sid: String,
    until: i64,
}

async fn fetch(
    client: &reqwest::Client,
    url: &str,
    since: Option<i64>,
    secret: Option<&crate::Secret>,
) -> Result<Feed, FetchError> {
    let url = match since {
        Some(since) => {
            let sep = if url.contains('?') { '&' } else { '?' };
            format!("{url}{sep}since={}", since.max(0))
        }
        None => url.to_owned(),
    };
    let url = url.as_str();
    let request = client.get(url);
    let request = match secret {
        Some(secret) => request.bearer_auth(secret.expose()),
        None => request,
    };
    request
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(FetchError::http(url))?
        .json::<Feed>()
        .await
        .map_err(FetchError::http(url))
}

/// Polls the feed forever (a background task of the service, spawned before its listener
/// opens: the listener waits for the first load, see `KEYS_WAIT_SECONDS`).
pub(super) async fn poll(
    revocations: Arc<Revocations>,
    client: reqwest::Client,
    url: String,
    secret: Option<crate::Secret>,
) {
    let mut since: Option<i64> = None;
    let mut failing: Option<Instant> = None;
    let mut last_logged: Option<Instant> = None;
    loop {
        match fetch(&client, &url, since, secret.as_ref()).await {
            Ok(feed) => {
                let now = chrono::Utc::now().timestamp();
                let first = !revocations.is_loaded();
                revocations.set_course_user_ids_below(feed.course_user_ids_below);
                revocations.merge_course_refusals(
                    feed.course_tokens_refused
                        .into_iter()
                        .map(|r| (r.user_id, r.since)),
                );
                revocations.merge(feed.ended.into_iter().map(|e| (e.sid, e.until)), now);
                since = Some(feed.now - OVERLAP_SECONDS);
                if first {
                    log::info!(
                        "loaded the list of ended sessions from {url} ({} held)",
                        revocations.len()
                    );
                } else if let Some(start) = failing {
                    log::info!(
                        "the list of ended sessions is current again (feed was unreachable for {:.0?})",
                        start.elapsed()
                    );
                }
                failing = None;
                last_logged = None;
            }
            Err(e) => {
                let e = chain(&e);
                failing.get_or_insert_with(Instant::now);
                if last_logged.is_none_or(|t| t.elapsed() >= STALE_LOG_EVERY) {
                    last_logged = Some(Instant::now());
                    match revocations.age() {
                        Some(age) => log::warn!(
                            "the list of ended sessions is stale (last updated {age:.0?} ago): {e}; \
                             verifying with what it holds, newer logouts are not yet refused"
                        ),
                        None => log::warn!(
                            "cannot load the list of ended sessions: {e}; tokens with a session get 503 until it loads"
                        ),
                    }
                }
            }
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// `GET /revocations`: whether the list of ended sessions is loaded and how old it is.
pub(super) async fn status(verifier: web::Data<Verifier>) -> HttpResponse {
    let Some(r) = verifier.revocations() else {
        return HttpResponse::Ok().json(json!({ "enabled": false }));
    };
    let age = r.age();
    HttpResponse::Ok().json(json!({
        "enabled": true,
        "loaded": r.is_loaded(),
        "age_seconds": age.map(|a| (a.as_secs_f64() * 10.0).round() / 10.0),
        "stale": age.is_none_or(|a| a > STALE_AFTER),
        "ended_sessions": r.len(),
    }))
}
