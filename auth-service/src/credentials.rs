//! Checking a password under the per-account throttle: what a login and a password change
//! (its current password) both do before anything else.

use chrono::{NaiveDateTime, TimeDelta};
use service_kit::ApiError;

use crate::error::Error;
use crate::store::{self, CheckOutcome, Reservation, User};
use crate::{AppState, Throttle};

/// The account under `email_key` when `password` is its password; `None` when it is not, or
/// when no account has that key (checked against a dummy hash then, so both take as long).
///
/// One trip to the database reserves the check *before* it runs (so parallel guesses cannot
/// get past the limit) and finds the account; a second settles it. Errors: 429 with
/// `Retry-After` when the account's budget is used up, 503 when the hashing queue is full.
pub async fn check_password(
    state: &AppState,
    email_key: String,
    password: String,
) -> Result<Option<User>, Error> {
    let now = service_kit::time::now_utc();
    let window = TimeDelta::minutes(state.throttle.window_minutes);
    let max_attempts = state.throttle.max_failures;
    let key = email_key.clone();
    let (reservation, user) = state
        .db
        .run(move |conn| {
            let reservation =
                store::reserve_login_attempt(conn, &key, now, now - window, max_attempts)?;
            let user = match reservation {
                Reservation::Granted => store::user_by_email_key(conn, &key)?,
                Reservation::Refused { .. } => None,
            };
            Ok::<_, Error>((reservation, user))
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
        .run(move |conn| {
            store::settle_login_attempt(conn, &email_key, now, outcome).map_err(Error::from)
        })
        .await?;
    verified?;
    Ok(user)
}

/// The 429 of a refused reservation.
fn refuse_if_throttled(
    reservation: Reservation,
    throttle: &Throttle,
    now: NaiveDateTime,
) -> Result<(), ApiError> {
    let Reservation::Refused {
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
