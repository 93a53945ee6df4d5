//! Every SQL statement of the auth service, named for what it answers.

use chrono::NaiveDateTime;
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

/// Failed logins recorded for an account: `(failures, window_started_at)`.
pub fn login_failures_of(
    conn: &mut DbConn,
    key: &str,
) -> Result<Option<(i32, NaiveDateTime)>, DbError> {
    Ok(with_conn!(conn, |c| login_failures::table
        .find(key)
        .select((login_failures::failures, login_failures::window_started_at))
        .first(c)
        .optional())?)
}

/// Counts one failed login: a window older than `window_start_cutoff` starts over at 1.
pub fn record_login_failure(
    conn: &mut DbConn,
    key: &str,
    now: NaiveDateTime,
    window_start_cutoff: NaiveDateTime,
) -> Result<(), DbError> {
    with_conn!(conn, |c| {
        diesel::delete(
            login_failures::table
                .filter(login_failures::email_key.eq(key))
                .filter(login_failures::window_started_at.le(window_start_cutoff)),
        )
        .execute(c)?;
        diesel::insert_into(login_failures::table)
            .values((
                login_failures::email_key.eq(key),
                login_failures::failures.eq(1),
                login_failures::window_started_at.eq(now),
            ))
            .on_conflict(login_failures::email_key)
            .do_update()
            .set(login_failures::failures.eq(login_failures::failures + 1))
            .execute(c)
    })?;
    Ok(())
}

/// Forgets the failed logins of an account (after a successful login).
pub fn clear_login_failures(conn: &mut DbConn, key: &str) -> Result<(), DbError> {
    with_conn!(conn, |c| diesel::delete(login_failures::table.find(key))
        .execute(c))?;
    Ok(())
}
