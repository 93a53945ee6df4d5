//! Every SQL statement of the auth service, named for what it answers.

use chrono::NaiveDateTime;
use diesel::dsl::case_when;
use diesel::prelude::*;
use service_kit::{with_conn, DbConn, DbError};

use crate::schema::{login_failures, refresh_tokens, sessions, users};

/// A stored account.
#[derive(Debug, Clone, Queryable)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub email_key: String,
    pub password_hash: String,
    pub created_at: NaiveDateTime,
    /// `None` only between the migration that added it and the start that fills it.
    pub email_skeleton: Option<String>,
}

#[derive(Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub email: &'a str,
    pub email_key: &'a str,
    pub password_hash: &'a str,
    pub created_at: NaiveDateTime,
    pub email_skeleton: &'a str,
}

/// Inserts a user; a taken email fails with a unique violation on `users_email_key`
/// (the constraint decides, so concurrent signups cannot both succeed).
pub fn insert_user(conn: &mut DbConn, new: &NewUser<'_>) -> Result<User, DbError> {
    Ok(with_conn!(conn, |c| diesel::insert_into(users::table)
        .values(new)
        .returning(users::all_columns)
        .get_result(c))?)
}

/// Inserts a user unless another account's email has the same skeleton (a look-alike
/// address): `None` then. A taken email key is still a unique violation, as for
/// [`insert_user`]. Race-free: on PostgreSQL the check and the insert hold a transaction-scoped
/// advisory lock on the skeleton; on SQLite they are one immediate (writing) transaction.
pub fn insert_user_unless_confusable(
    conn: &mut DbConn,
    new: &NewUser<'_>,
) -> Result<Option<User>, DbError> {
    macro_rules! check_then_insert {
        ($c:ident) => {{
            let look_alike: Option<i64> = users::table
                .filter(users::email_skeleton.eq(new.email_skeleton))
                .filter(users::email_key.ne(new.email_key))
                .select(users::id)
                .first($c)
                .optional()?;
            if look_alike.is_some() {
                return Ok(None);
            }
            diesel::insert_into(users::table)
                .values(new)
                .returning(users::all_columns)
                .get_result($c)
                .map(Some)
        }};
    }
    Ok(match conn {
        DbConn::Pg(c) => c.transaction(|c| {
            diesel::sql_query("SELECT pg_advisory_xact_lock(hashtext($1))")
                .bind::<diesel::sql_types::Text, _>(format!(
                    "email_skeleton:{}",
                    new.email_skeleton
                ))
                .execute(c)?;
            check_then_insert!(c)
        }),
        DbConn::Sqlite(c) => c.immediate_transaction(|c| check_then_insert!(c)),
    }?)
}

/// Gives every account without an email skeleton its own, `skeleton` computing it from the
/// email key; the number filled. Idempotent (replicas may run it at once).
pub fn fill_email_skeletons(
    conn: &mut DbConn,
    skeleton: impl Fn(&str) -> String,
) -> Result<usize, DbError> {
    let mut filled = 0;
    loop {
        let rows: Vec<(i64, String)> = with_conn!(conn, |c| users::table
            .filter(users::email_skeleton.is_null())
            .order(users::id)
            .select((users::id, users::email_key))
            .limit(1000)
            .load(c))?;
        if rows.is_empty() {
            return Ok(filled);
        }
        for (id, key) in rows {
            let value = skeleton(&key);
            filled += with_conn!(conn, |c| diesel::update(
                users::table
                    .find(id)
                    .filter(users::email_skeleton.is_null())
            )
            .set(users::email_skeleton.eq(&value))
            .execute(c))?;
        }
    }
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

/// Accounts whose address has a character outside ASCII: the only ones whose key a change of
/// the folding rule can move (an ASCII address folds to its lower case under every rule).
/// The same condition as the partial index `users_non_ascii_email`, which answers it.
const NON_ASCII_EMAIL_PG: &str = "octet_length(email) <> char_length(email)";
const NON_ASCII_EMAIL_SQLITE: &str = "length(CAST(email AS BLOB)) <> length(email)";

/// What [`refold_email_keys`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Refolded {
    /// Accounts whose key changed.
    pub updated: usize,
    /// Ids of accounts left under their old key because an older account already holds the
    /// new one (two addresses that were distinct before and are one address now).
    pub collisions: Vec<i64>,
}

/// Recomputes the key of every account whose address is not plain ASCII with `fold`, so
/// accounts stored under an older folding rule are found under the current one. Idempotent
/// and cheap when nothing changed: it reads only the non-ASCII addresses (through their
/// partial index), and writes only the keys that differ.
pub fn refold_email_keys(
    conn: &mut DbConn,
    fold: impl Fn(&str) -> String,
) -> Result<Refolded, DbError> {
    use diesel::dsl::sql;
    use diesel::sql_types::Bool;
    let columns = (users::id, users::email, users::email_key);
    let rows: Vec<(i64, String, String)> = match conn {
        DbConn::Pg(c) => users::table
            .filter(sql::<Bool>(NON_ASCII_EMAIL_PG))
            .order(users::id)
            .select(columns)
            .load(c)?,
        DbConn::Sqlite(c) => users::table
            .filter(sql::<Bool>(NON_ASCII_EMAIL_SQLITE))
            .order(users::id)
            .select(columns)
            .load(c)?,
    };
    let mut done = Refolded::default();
    for (id, email, old_key) in rows {
        let key = fold(&email);
        if key == old_key {
            continue;
        }
        let result = with_conn!(conn, |c| diesel::update(users::table.find(id))
            // Its skeleton is recomputed from the new key (`fill_email_skeletons`).
            .set((
                users::email_key.eq(&key),
                users::email_skeleton.eq(None::<String>),
            ))
            .execute(c));
        match result.map_err(DbError::from) {
            Ok(_) => done.updated += 1,
            Err(e) if e.is_unique_violation() => done.collisions.push(id),
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// Whether a password check may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    Granted,
    /// Refused: `locked_until` when the counter's failures locked it (wait until then),
    /// otherwise other checks being run right now fill its budget (retry shortly).
    Refused {
        locked_until: Option<NaiveDateTime>,
    },
}

/// Reserves a password check under the failure counter `key` *before* it runs. Failures plus
/// checks in flight (this one included) may not exceed `max_attempts`, so parallel guesses
/// cannot get past the limit; once failures have reached it, checks wait until the counter's
/// `locked_until`, and then run one at a time (each failure lengthens the wait). Counters
/// whose last failure is at or before `quiet_cutoff` and that are not locked are purged (for
/// every key): their failures are forgotten.
pub fn reserve_login_attempt(
    conn: &mut DbConn,
    key: &str,
    now: NaiveDateTime,
    quiet_cutoff: NaiveDateTime,
    max_attempts: i32,
) -> Result<Reservation, DbError> {
    use login_failures::dsl as lf;
    Ok(with_conn!(conn, |c| {
        diesel::delete(
            lf::login_failures.filter(
                lf::window_started_at
                    .le(quiet_cutoff)
                    .and(lf::locked_until.is_null().or(lf::locked_until.le(now))),
            ),
        )
        .execute(c)?;
        let (failures, pending, locked_until): (i32, i32, Option<NaiveDateTime>) =
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
                .returning((lf::failures, lf::pending, lf::locked_until))
                .get_result(c)?;
        let locked = locked_until.filter(|until| *until > now);
        if locked.is_none()
            && (failures + pending <= max_attempts || (failures >= max_attempts && pending == 1))
        {
            return Ok(Reservation::Granted);
        }
        diesel::update(lf::login_failures.find(key))
            .set(lf::pending.eq(case_when(lf::pending.gt(0), lf::pending - 1).otherwise(0)))
            .execute(c)?;
        Ok::<_, diesel::result::Error>(Reservation::Refused {
            locked_until: locked,
        })
    })?)
}

/// How a reserved check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckOutcome {
    /// Right password: the counter's failures are forgotten.
    Succeeded,
    /// Wrong password (or no account): counts, and past the limit locks the counter.
    Failed,
    /// The check did not run (hashing queue full): only the reservation is released.
    NotChecked,
}

/// Settles a reserved check. A failure that brings the counter to `failures` locks it for
/// `lock_for(failures)` when that is `Some`.
pub fn settle_login_attempt(
    conn: &mut DbConn,
    key: &str,
    now: NaiveDateTime,
    outcome: CheckOutcome,
    lock_for: impl Fn(i32) -> Option<chrono::TimeDelta>,
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
                    lf::locked_until.eq(None::<NaiveDateTime>),
                ))
                .execute(c),
            CheckOutcome::Failed => {
                let failures: Option<i32> = row
                    .set((
                        lf::pending.eq(release),
                        lf::failures.eq(lf::failures + 1),
                        lf::window_started_at.eq(now),
                    ))
                    .returning(lf::failures)
                    .get_result(c)
                    .optional()?;
                match failures.and_then(&lock_for) {
                    Some(wait) => diesel::update(lf::login_failures.find(key))
                        .set(lf::locked_until.eq(now + wait))
                        .execute(c),
                    None => Ok(0),
                }
            }
            CheckOutcome::NotChecked => row.set(lf::pending.eq(release)).execute(c),
        }
    })?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Rate limits

/// Counts one request in the route's bucket `global` and, when the client is known, in its
/// bucket `client`, for the window starting at `window_start` (unix seconds): one upsert per
/// bucket, each starting the count afresh when its row is of an earlier window. The first
/// request of a route's window purges the rows of windows that are over. Returns the counts
/// (client, global), this request included.
pub fn count_requests(
    conn: &mut DbConn,
    global: &str,
    client: Option<&str>,
    window_start: i64,
) -> Result<(Option<i64>, i64), DbError> {
    use crate::schema::rate_limits::dsl as rl;
    use diesel::upsert::excluded;
    let rows: Vec<_> = std::iter::once(global)
        .chain(client)
        .map(|bucket| {
            (
                rl::bucket.eq(bucket),
                rl::window_start.eq(window_start),
                rl::hits.eq(1),
            )
        })
        .collect();
    Ok(with_conn!(conn, |c| {
        // One statement for both buckets.
        let counted: Vec<(String, i32)> = diesel::insert_into(rl::rate_limits)
            .values(&rows)
            .on_conflict(rl::bucket)
            .do_update()
            .set((
                // Both read the row as it was: a row of an earlier window starts at 1.
                rl::hits.eq(case_when(
                    rl::window_start.eq(excluded(rl::window_start)),
                    rl::hits + 1,
                )
                .otherwise(1)),
                rl::window_start.eq(excluded(rl::window_start)),
            ))
            .returning((rl::bucket, rl::hits))
            .get_results(c)?;
        let hits_of = |bucket: &str| {
            counted
                .iter()
                .find(|(b, _)| b == bucket)
                .map(|(_, hits)| i64::from(*hits))
        };
        let global_hits = hits_of(global).unwrap_or(1);
        let client_hits = client.map(|c| hits_of(c).unwrap_or(1));
        if global_hits == 1 {
            diesel::delete(rl::rate_limits.filter(rl::window_start.lt(window_start))).execute(c)?;
        }
        Ok::<_, diesel::result::Error>((client_hits, global_hits))
    })?)
}

// ---------------------------------------------------------------------------------------
// Sessions and refresh tokens

/// A refresh token being stored.
#[derive(Insertable)]
#[diesel(table_name = refresh_tokens)]
pub struct NewRefreshToken<'a> {
    /// SHA-256 of the token.
    pub token_hash: &'a str,
    pub session_id: &'a str,
    pub issued_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

/// What a new session starts with.
pub struct NewSession<'a> {
    pub id: &'a str,
    pub user_id: i64,
    pub now: NaiveDateTime,
    /// Live sessions the user may hold: the oldest beyond it end.
    pub max_sessions: u32,
    /// Expiry of the access token issued with it.
    pub access_until: NaiveDateTime,
    /// Its first refresh token (of session `id`, issued `now`).
    pub refresh_token: NewRefreshToken<'a>,
}

/// Starts a session with its first refresh token. Sessions no token can use any more (their
/// access tokens expired and their refresh tokens too) are purged on the way.
pub fn start_session(conn: &mut DbConn, new: &NewSession<'_>) -> Result<(), DbError> {
    use refresh_tokens::dsl as rt;
    use sessions::dsl as s;
    Ok(with_conn!(conn, |c| c.transaction(|c| {
        diesel::delete(rt::refresh_tokens.filter(rt::expires_at.le(new.now))).execute(c)?;
        diesel::delete(
            s::sessions.filter(s::access_until.le(new.now).and(diesel::dsl::not(
                diesel::dsl::exists(rt::refresh_tokens.filter(rt::session_id.eq(s::id))),
            ))),
        )
        .execute(c)?;
        diesel::insert_into(s::sessions)
            .values((
                s::id.eq(new.id),
                s::user_id.eq(new.user_id),
                s::created_at.eq(new.now),
                s::access_until.eq(new.access_until),
            ))
            .execute(c)?;
        diesel::insert_into(rt::refresh_tokens)
            .values(&new.refresh_token)
            .execute(c)?;
        // Past the user's limit, the oldest live sessions end: their refresh tokens stop at
        // once; their last access tokens are left to expire (not listed in the feed, which
        // stays as small as the limit allows).
        let evicted: Vec<String> = s::sessions
            .filter(s::user_id.eq(new.user_id).and(s::ended_at.is_null()))
            .order((s::created_at.desc(), s::id.desc()))
            .offset(i64::from(new.max_sessions))
            .limit(1000)
            .select(s::id)
            .load(c)?;
        if !evicted.is_empty() {
            diesel::update(s::sessions.filter(s::id.eq_any(&evicted)))
                .set((s::ended_at.eq(new.now), s::access_until.eq(new.now)))
                .execute(c)?;
        }
        Ok::<_, diesel::result::Error>(())
    }))?)
}

/// A refresh: the presented token's hash, its successor's, and the times involved.
pub struct Rotation<'a> {
    pub old_hash: &'a str,
    pub new_hash: &'a str,
    pub now: NaiveDateTime,
    pub access_until: NaiveDateTime,
    pub refresh_expires_at: NaiveDateTime,
    /// A token rotated at or after this instant, presented again, is a race, not reuse.
    pub grace_cutoff: NaiveDateTime,
}

/// How a refresh ended. Only `Rotated` is a success; the others all answer the same 401.
#[derive(Debug)]
pub enum RefreshOutcome {
    /// The token was current: it is rotated, its successor stored, the session extended.
    Rotated { user: User, session_id: String },
    /// No such token (never issued, or purged after it expired).
    Unknown,
    /// The token's lifetime is over.
    Expired,
    /// The token's session has ended.
    SessionEnded,
    /// Rotated moments ago (within the grace period): refused, the session lives on.
    RotatedRecently,
    /// Rotated before the grace period: taken as stolen, and the session is now ended.
    Reused { session_id: String },
}

/// Rotates a refresh token. The conditional `UPDATE ... WHERE rotated_at IS NULL` decides:
/// among any number of concurrent refreshes with one token exactly one updates the row (the
/// others wait for its lock, then no longer match), so exactly one gets a successor.
pub fn rotate_refresh_token(
    conn: &mut DbConn,
    r: &Rotation<'_>,
) -> Result<RefreshOutcome, DbError> {
    use refresh_tokens::dsl as rt;
    use sessions::dsl as s;
    Ok(with_conn!(conn, |c| c.transaction(|c| {
        let won: Option<String> = diesel::update(
            rt::refresh_tokens.filter(
                rt::token_hash
                    .eq(r.old_hash)
                    .and(rt::rotated_at.is_null())
                    .and(rt::expires_at.gt(r.now)),
            ),
        )
        .set(rt::rotated_at.eq(r.now))
        .returning(rt::session_id)
        .get_result(c)
        .optional()?;
        let Some(session_id) = won else {
            let row: Option<(String, NaiveDateTime, Option<NaiveDateTime>)> = rt::refresh_tokens
                .find(r.old_hash)
                .select((rt::session_id, rt::expires_at, rt::rotated_at))
                .first(c)
                .optional()?;
            return Ok(match row {
                None => RefreshOutcome::Unknown,
                Some((_, expires_at, _)) if expires_at <= r.now => RefreshOutcome::Expired,
                Some((_, _, Some(rotated_at))) if rotated_at >= r.grace_cutoff => {
                    RefreshOutcome::RotatedRecently
                }
                Some((session_id, _, _)) => {
                    diesel::update(s::sessions.find(&session_id).filter(s::ended_at.is_null()))
                        .set(s::ended_at.eq(r.now))
                        .execute(c)?;
                    RefreshOutcome::Reused { session_id }
                }
            });
        };
        // Locks the session row: a concurrent logout either ended it before (no match here)
        // or ends it after, and then also covers the access token issued now.
        let extended: Option<i64> =
            diesel::update(s::sessions.find(&session_id).filter(s::ended_at.is_null()))
                .set(
                    s::access_until.eq(case_when(
                        s::access_until.lt(r.access_until),
                        r.access_until.into_sql::<diesel::sql_types::Timestamp>(),
                    )
                    .otherwise(s::access_until)),
                )
                .returning(s::user_id)
                .get_result(c)
                .optional()?;
        let Some(user_id) = extended else {
            return Ok(RefreshOutcome::SessionEnded);
        };
        diesel::insert_into(rt::refresh_tokens)
            .values(&NewRefreshToken {
                token_hash: r.new_hash,
                session_id: &session_id,
                issued_at: r.now,
                expires_at: r.refresh_expires_at,
            })
            .execute(c)?;
        let user: User = users::table.find(user_id).first(c)?;
        Ok::<_, diesel::result::Error>(RefreshOutcome::Rotated { user, session_id })
    }))?)
}

/// Whether the session exists, belongs to `user_id` and has not ended.
pub fn session_is_live(conn: &mut DbConn, id: &str, user_id: i64) -> Result<bool, DbError> {
    use sessions::dsl as s;
    let found: Option<String> = with_conn!(conn, |c| s::sessions
        .find(id)
        .filter(s::user_id.eq(user_id).and(s::ended_at.is_null()))
        .select(s::id)
        .first(c)
        .optional())?;
    Ok(found.is_some())
}

/// Ends one live session of `user_id`; false when there was none to end.
pub fn end_session(
    conn: &mut DbConn,
    id: &str,
    user_id: i64,
    now: NaiveDateTime,
) -> Result<bool, DbError> {
    use sessions::dsl as s;
    let ended = with_conn!(conn, |c| diesel::update(
        s::sessions
            .find(id)
            .filter(s::user_id.eq(user_id).and(s::ended_at.is_null()))
    )
    .set(s::ended_at.eq(now))
    .execute(c))?;
    Ok(ended == 1)
}

/// Ends every live session of `user_id` but `except`; returns how many ended.
pub fn end_sessions_of_user(
    conn: &mut DbConn,
    user_id: i64,
    except: Option<&str>,
    now: NaiveDateTime,
) -> Result<usize, DbError> {
    use sessions::dsl as s;
    let except = except.unwrap_or("");
    Ok(with_conn!(conn, |c| diesel::update(
        s::sessions.filter(
            s::user_id
                .eq(user_id)
                .and(s::ended_at.is_null())
                .and(s::id.ne(except))
        )
    )
    .set(s::ended_at.eq(now))
    .execute(c))?)
}

/// Sets a new password hash and ends every other session of the user, in one transaction.
pub fn change_password(
    conn: &mut DbConn,
    user_id: i64,
    password_hash: &str,
    keep_session: Option<&str>,
    now: NaiveDateTime,
) -> Result<usize, DbError> {
    use sessions::dsl as s;
    let keep = keep_session.unwrap_or("");
    Ok(with_conn!(conn, |c| c.transaction(|c| {
        diesel::update(users::table.find(user_id))
            .set(users::password_hash.eq(password_hash))
            .execute(c)?;
        diesel::update(
            s::sessions.filter(
                s::user_id
                    .eq(user_id)
                    .and(s::ended_at.is_null())
                    .and(s::id.ne(keep)),
            ),
        )
        .set(s::ended_at.eq(now))
        .execute(c)
    }))?)
}

/// Sessions ended at or after `since` (all ended ones when `None`) whose last access token
/// has not expired by `now`: `(session id, expiry of its last access token)`.
pub fn ended_sessions(
    conn: &mut DbConn,
    since: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> Result<Vec<(String, NaiveDateTime)>, DbError> {
    use sessions::dsl as s;
    let since = since.unwrap_or(chrono::DateTime::UNIX_EPOCH.naive_utc());
    Ok(with_conn!(conn, |c| s::sessions
        .filter(s::ended_at.ge(since).and(s::access_until.gt(now)))
        .select((s::id, s::access_until))
        .load(c))?)
}

/// Refuses every course token (`COURSE_TOKEN_SECRET`) of `user_id` from `now` on (kept at
/// the first time it was set).
pub fn refuse_course_tokens(
    conn: &mut DbConn,
    user_id: i64,
    now: NaiveDateTime,
) -> Result<(), DbError> {
    use crate::schema::course_token_refusals::dsl as r;
    with_conn!(conn, |c| diesel::insert_into(r::course_token_refusals)
        .values((r::user_id.eq(user_id), r::since.eq(now)))
        .on_conflict(r::user_id)
        .do_nothing()
        .execute(c))?;
    Ok(())
}

/// Whether the course tokens of `user_id` are accepted: an import recorded which ids the
/// course app's users have (below `user_ids_below`), the id is one of them, and that user's
/// course tokens are not refused (a logout of every session, a password change, a user the
/// import refused, or one of this project's own users below the bound).
pub fn course_tokens_accepted(conn: &mut DbConn, user_id: i64) -> Result<bool, DbError> {
    use crate::schema::course_token_refusals::dsl as r;
    let Some(below) = course_user_ids_below(conn)? else {
        return Ok(false);
    };
    if user_id >= below {
        return Ok(false);
    }
    let found: Option<i64> = with_conn!(conn, |c| r::course_token_refusals
        .find(user_id)
        .select(r::user_id)
        .first(c)
        .optional())?;
    Ok(found.is_none())
}

/// The bound `stack import-course` recorded: course tokens name users below it (`None`
/// before any import: no course token names a user here).
pub fn course_user_ids_below(conn: &mut DbConn) -> Result<Option<i64>, DbError> {
    use crate::schema::course_import::dsl as ci;
    Ok(with_conn!(conn, |c| ci::course_import
        .find(1)
        .select(ci::user_ids_below)
        .first(c)
        .optional())?)
}

/// Users whose course tokens were refused at or after `since` (all when `None`).
pub fn course_token_refusals(
    conn: &mut DbConn,
    since: Option<NaiveDateTime>,
) -> Result<Vec<(i64, NaiveDateTime)>, DbError> {
    use crate::schema::course_token_refusals::dsl as r;
    let since = since.unwrap_or(chrono::DateTime::UNIX_EPOCH.naive_utc());
    Ok(with_conn!(conn, |c| r::course_token_refusals
        .filter(r::since.ge(since))
        .select((r::user_id, r::since))
        .load(c))?)
}
