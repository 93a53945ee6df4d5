//! Checking a password under a failure counter: what a login and a password change (its
//! current password) both do before anything else.
//!
//! Which counter a check counts against decides who can be locked out by whom:
//! - an unknown client's login: the account's counter (`LOGIN_MAX_FAILURES`), which locks the
//!   account for unknown clients only, with incremental waits;
//! - a login from a device holding the account's device cookie: that device's own counter
//!   (`DEVICE_MAX_FAILURES`), never the account's;
//! - a password change: the caller's session's counter, so a stranger's guessing never stops
//!   a logged-in owner from changing their password (and a stolen session cannot guess on).

use chrono::{NaiveDateTime, TimeDelta};
use service_kit::ApiError;

use crate::device::Device;
use crate::error::Error;
use crate::store::{self, CheckOutcome, Reservation, User};
use crate::{AppState, Throttle};

/// What a check counts against.
pub enum Counter {
    /// A login: the devices its cookies name (none for an unknown client). One naming the
    /// account found is the counter; otherwise the account's.
    Login(Vec<Device>),
    /// The current password of a password change: this key (the session's).
    Session(String),
}

/// The account under `email_key` when `password` is its password; `None` when it is not, or
/// when no account has that key (checked against a dummy hash then, so both take as long).
/// The second value is whether the check counted against a known device's counter.
///
/// One trip to the database finds the account and reserves the check under its counter
/// *before* it runs (so parallel guesses cannot get past the limit); a second settles it.
/// Errors: 429 with `Retry-After` when the counter is locked or its budget is in use, 503
/// when the hashing queue is full.
pub async fn check_password(
    state: &AppState,
    email_key: String,
    password: String,
    counter: Counter,
) -> Result<Option<User>, Error> {
    let now = service_kit::time::now_utc();
    let (account, device, session) = (state.throttle, state.device_throttle, state.throttle);
    let (reservation, user, key, throttle) = state
        .db
        .run(move |conn| {
            let user = store::user_by_email_key(conn, &email_key)?;
            let (key, throttle) = match counter {
                Counter::Session(key) => (key, session),
                Counter::Login(devices) => match devices
                    .into_iter()
                    .find(|d| user.as_ref().is_some_and(|u| u.id == d.user_id))
                {
                    Some(known) => (known.counter_key, device),
                    None => (email_key, account),
                },
            };
            let reservation = store::reserve_login_attempt(
                conn,
                &key,
                now,
                now - throttle.window(),
                throttle.max_failures,
            )?;
            Ok::<_, Error>((reservation, user, key, throttle))
        })
        .await?;
    refuse_if_throttled(reservation, &throttle, now)?;

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
            store::settle_login_attempt(conn, &key, now, outcome, |f| throttle.lock_for(f))
                .map_err(Error::from)
        })
        .await?;
    verified?;
    Ok(user)
}

impl Throttle {
    /// How long failures are remembered after the last one (and the longest wait).
    pub fn window(&self) -> TimeDelta {
        TimeDelta::minutes(self.window_minutes)
    }

    /// The wait once a counter holds `failures`: none below the limit, then `lock_seconds`,
    /// doubling with every further failure, up to the window.
    pub fn lock_for(&self, failures: i32) -> Option<TimeDelta> {
        let beyond = failures
            .checked_sub(self.max_failures)
            .filter(|b| *b >= 0)?;
        let seconds = self
            .lock_seconds
            .saturating_mul(1i64 << beyond.min(40))
            .min(self.window().num_seconds());
        Some(TimeDelta::seconds(seconds))
    }
}

/// The 429 of a refused reservation.
fn refuse_if_throttled(
    reservation: Reservation,
    throttle: &Throttle,
    now: NaiveDateTime,
) -> Result<(), ApiError> {
    let Reservation::Refused { locked_until } = reservation else {
        return Ok(());
    };
    let retry_after = match locked_until {
        Some(until) => {
            log::info!(
                "password check throttled after {} failures",
                throttle.max_failures
            );
            (until - now).num_seconds().max(1) as u64
        }
        None => 1, // only other checks in flight fill the budget: they end within a second
    };
    Err(ApiError::TooManyRequests {
        detail: "Too many failed login attempts, try again later".into(),
        retry_after,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_from_the_limit_up_to_the_window() {
        let t = Throttle {
            max_failures: 10,
            window_minutes: 15,
            lock_seconds: 60,
        };
        assert_eq!(t.lock_for(9), None);
        let secs = |f| t.lock_for(f).unwrap().num_seconds();
        assert_eq!(
            [secs(10), secs(11), secs(12), secs(13)],
            [60, 120, 240, 480]
        );
        assert_eq!(secs(14), 900);
        assert_eq!(secs(1000), 900);
    }
}
