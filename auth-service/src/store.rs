//! Every SQL statement of the auth service, named for what it answers.

use chrono::NaiveDateTime;
use diesel::dsl::case_when;
use diesel::prelude::*;
use service_kit::{with_conn, DbConn, DbError};

use crate::schema::{login_failures, users};

/// A stored account.
#[derive(Debug, Clone, Queryable)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub email_key: String,
    pub password_hash: String,
    pub created_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub email: &'a str,
    pub email_key: &'a str,
    pub password_hash: &'a str,
    pub created_at: NaiveDateTime,
}

/// Inserts a user; a taken email fails with a unique violation on `users_email_key`
/// (the constraint decides, so concurrent signups cannot both succeed).
pub fn insert_user(conn: &mut DbConn, new: &NewUser<'_>) -> Result<User, DbError> {
    Ok(with_conn!(conn, |c| diesel::insert_into(users::table)
        .values(new)
        .returning(users::all_columns)
        .get_result(c))?)
}

pub fn user_by_id(conn: &mut DbConn, id: i64) -> Result<Option<User>, DbError> {
    Ok(with_conn!(conn, |c| users::table
        .find(id)
        .first(c)
        .optional())?)
}

pub fn user_by_email_key(conn: &mut DbConn, key: &str) -> Result<Option<User>, DbError> {
    Ok(with_conn!(conn, |c| users::table
        .filter(users::email_key.eq(key))
        .first(c)
        .optional())?)
}

/// Whether a login attempt may check its password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    Granted,
    /// Refused: `locked` when failures alone used up the window's budget (wait for the window
    /// to end), otherwise other attempts being checked right now fill it (retry shortly).
    Refused {
        locked: bool,
        window_started_at: NaiveDateTime,
    },
}

/// Reserves a password check for an account *before* it runs. Failures in the window plus
/// checks in flight (this one included) may not exceed `max_attempts`, so parallel guesses
/// cannot get past the limit. Windows that started at or before `window_start_cutoff` are
/// over: they are purged (for every account) and counting starts afresh.
pub fn reserve_login_attempt(
    conn: &mut DbConn,
    key: &str,
    now: NaiveDateTime,
    window_start_cutoff: NaiveDateTime,
    max_attempts: i32,
) -> Result<Reservation, DbError> {
    use login_failures::dsl as lf;
    Ok(with_conn!(conn, |c| {
        diesel::delete(lf::login_failures.filter(lf::window_started_at.le(window_start_cutoff)))
            .execute(c)?;
        let (failures, pending, started): (i32, i32, NaiveDateTime) =
            diesel::insert_into(lf::login_failures)
                .values((
                    lf::email_key.eq(key),
                    lf::failures.eq(0),
                    lf::pending.eq(1),
                    lf::window_started_at.eq(now),
                ))
                .on_conflict(lf::email_key)
                .do_update()
                .set(lf::pending.eq(lf::pending + 1))
                .returning((lf::failures, lf::pending, lf::window_started_at))
                .get_result(c)?;
        if failures + pending <= max_attempts {
            return Ok(Reservation::Granted);
        }
        diesel::update(lf::login_failures.find(key))
            .set(lf::pending.eq(case_when(lf::pending.gt(0), lf::pending - 1).otherwise(0)))
            .execute(c)?;
        Ok::<_, diesel::result::Error>(Reservation::Refused {
            locked: failures >= max_attempts,
            window_started_at: started,
        })
    })?)
}

/// How a reserved password check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckOutcome {
    /// Right password: the account's failures are forgotten and a new window starts.
    Succeeded,
    /// Wrong password (or no account): counts against the window.
    Failed,
    /// The check did not run (hashing queue full): only the reservation is released.
    NotChecked,
}

/// Settles a reserved check.
pub fn settle_login_attempt(
    conn: &mut DbConn,
    key: &str,
    now: NaiveDateTime,
    outcome: CheckOutcome,
) -> Result<(), DbError> {
    use login_failures::dsl as lf;
    let release = case_when(lf::pending.gt(0), lf::pending - 1).otherwise(0);
    with_conn!(conn, |c| {
        let row = diesel::update(lf::login_failures.find(key));
        match outcome {
            CheckOutcome::Succeeded => row
                .set((
                    lf::pending.eq(release),
                    lf::failures.eq(0),
                    lf::window_started_at.eq(now),
                ))
                .execute(c),
            CheckOutcome::Failed => row
                .set((lf::pending.eq(release), lf::failures.eq(lf::failures + 1)))
                .execute(c),
            CheckOutcome::NotChecked => row.set(lf::pending.eq(release)).execute(c),
        }
    })?;
    Ok(())
}
