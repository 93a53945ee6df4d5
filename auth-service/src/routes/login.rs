//! `POST /login`: the course's OAuth2 password form (JSON accepted too), throttled per account.

use actix_web::{web, HttpResponse};
use chrono::TimeDelta;
use service_kit::input::{Body, Detail, ValidationErrors};
use service_kit::ApiError;

use crate::domain::{email_key, LoginForm, MAX_EMAIL_BYTES};
use crate::routes::sessions::Token;
use crate::store::{self, CheckOutcome};
use crate::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource(["/login", "/login/"]).route(web::post().to(login)));
}

/// The same answer for an unknown email and a wrong password.
pub(crate) const INVALID_CREDENTIALS: &str = "Invalid Credentials";

/// The 429 of a refused password check (a login, or a password change's current password).
pub(crate) fn refuse_if_throttled(
    reservation: store::Reservation,
    throttle: &crate::Throttle,
    now: chrono::NaiveDateTime,
) -> Result<(), ApiError> {
    let store::Reservation::Refused {
        locked,
        window_started_at,
    } = reservation
    else {
        return Ok(());
    };
    let retry_after = if locked {
        log::info!(
            "login throttled for an account after {} failures",
            throttle.max_failures
        );
        let window = TimeDelta::minutes(throttle.window_minutes);
        (window_started_at + window - now).num_seconds().max(1) as u64
    } else {
        1 // only other checks in flight fill the budget: they end within a second
    };
    Err(ApiError::TooManyRequests {
        detail: "Too many failed login attempts, try again later".into(),
        retry_after,
    })
}

/// Exchanges email and password for an access token (and a refresh token: a new session).
#[utoipa::path(post, path = "/login", tag = "Authentication",
    // `multipart/form-data` is read too (as FastAPI's forms are) but left out here: it adds
    // nothing a client needs, and fuzzers put raw control bytes in its part headers.
    request_body(content(
        (LoginForm = "application/x-www-form-urlencoded"),
        (LoginForm = "application/json"),
    )),
    responses(
        (status = 200, description = "Access token, and a refresh token starting a session", body = Token),
        (status = 403, description = "Invalid Credentials", body = Detail),
        (status = 413, description = "Body larger than the limit", body = Detail),
        (status = 422, description = "Missing or invalid field", body = ValidationErrors),
        (status = 429, description = "Too many failed logins for this account; see Retry-After", body = Detail),
        (status = 503, description = "Overloaded; see Retry-After", body = Detail),
    ))]
pub async fn login(state: web::Data<AppState>, body: Body) -> Result<HttpResponse, ApiError> {
    let LoginForm {
        username, password, ..
    } = body.json_or_form().await?;

    if username.len() > MAX_EMAIL_BYTES {
        // No account has such a name: refuse without touching the database.
        return Err(ApiError::Forbidden(INVALID_CREDENTIALS.into()));
    }
    let key = email_key(&username);
    let now = service_kit::time::now_utc();
    let window = TimeDelta::minutes(state.throttle.window_minutes);
    let max_attempts = state.throttle.max_failures;

    // One trip to the database: reserve this password check (before it runs, so parallel
    // guesses cannot exceed the limit), and find the account.
    let lookup_key = key.clone();
    let (reservation, user) = state
        .db
        .run(move |conn| {
            let reservation =
                store::reserve_login_attempt(conn, &lookup_key, now, now - window, max_attempts)?;
            let user = match reservation {
                store::Reservation::Granted => store::user_by_email_key(conn, &lookup_key)?,
                store::Reservation::Refused { .. } => None,
            };
            Ok::<_, ApiError>((reservation, user))
        })
        .await?;
    refuse_if_throttled(reservation, &state.throttle, now)?;

    // A password longer than bcrypt's limit matches nothing; the hasher refuses it at once.
    let verified = state
        .hasher
        .verify(password, user.as_ref().map(|u| u.password_hash.clone()))
        .await;
    let (outcome, user) = match (&verified, user) {
        (Ok(true), Some(user)) => (CheckOutcome::Succeeded, Some(user)),
        (Ok(_), _) => (CheckOutcome::Failed, None),
        (Err(_), _) => (CheckOutcome::NotChecked, None),
    };
    state
        .db
        .query(move |conn| store::settle_login_attempt(conn, &key, now, outcome))
        .await?;
    verified?;
    let Some(user) = user else {
        return Err(ApiError::Forbidden(INVALID_CREDENTIALS.into()));
    };
    crate::routes::sessions::start_session(&state, user).await
}
