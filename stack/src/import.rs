//! `stack import-course`: copies a course app's PostgreSQL database (its `users`, `posts` and
//! `votes`) into the two services' databases, keeping ids and bcrypt hashes.
//!
//! A subcommand of the stack because it writes both services' databases in one run (auth's
//! `users`, posts' `authors`, `posts` and `votes`), with the same URL settings the stack
//! uses for them, and so must agree on which users made it in before it copies their posts.
//!
//! * The source is opened read-only (`default_transaction_read_only`); only the columns
//!   every course revision with that table has are read (`phone_number` is never needed;
//!   a `posts` without `published` / `created_at` gets `true` / now; no `votes` table: none).
//! * Every row is checked with the services' own rules ([`auth_service::domain::Email`],
//!   [`posts_service::domain::Title`], [`posts_service::domain::Content`], a bcrypt hash);
//!   a refused row is reported by table and id with the reason. `--on-invalid stop` (the
//!   default) writes nothing when any row is refused; `skip` writes the rest.
//! * Writes are `INSERT … ON CONFLICT DO NOTHING` by id, in batches of one transaction
//!   each: a second run inserts nothing, and a run stopped anywhere leaves whole batches
//!   that the next run completes. PostgreSQL sequences are set past the imported ids
//!   (SQLite's next rowid follows the largest id by itself).

use std::io::{IsTerminal, Write};

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text, Timestamptz};
use service_kit::{with_conn, Backend, DatabaseUrl, DbConn};

/// What to do with a row this project refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnInvalid {
    /// Report every refused row and write nothing.
    Stop,
    /// Report every refused row and import the others.
    Skip,
}

/// `stack import-course`'s options.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "import-course",
    bin_name = "stack import-course",
    about = "Import a course app's PostgreSQL database into both services' databases"
)]
pub struct ImportArgs {
    /// The course app's database (`postgres://user:pass@host/db`), read only.
    #[arg(long = "from", value_name = "URL", env = "COURSE_DATABASE_URL")]
    pub from: String,
    /// The auth service's database (default: `sqlite://<data dir>/auth.db`).
    #[arg(long, env = "AUTH_DATABASE_URL")]
    pub auth_database_url: Option<String>,
    /// The posts service's database (default: `sqlite://<data dir>/posts.db`).
    #[arg(long, env = "POSTS_DATABASE_URL")]
    pub posts_database_url: Option<String>,
    /// The stack's data folder (for the default database files).
    #[arg(long, env = "STACK_DATA_DIR", default_value = "data")]
    pub data_dir: std::path::PathBuf,
    /// What a refused row does: `stop` writes nothing, `skip` imports the rest.
    #[arg(long, value_enum, default_value_t = OnInvalid::Stop)]
    pub on_invalid: OnInvalid,
    /// Read and check everything, report what would be written, write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Rows per transaction.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub batch_size: u32,
    /// New users and posts of this project get ids from the course app's next id plus this
    /// margin on, so the old app can keep signing users up and taking posts (rows a later
    /// import brings over) until the switch without their ids meeting this project's own.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(i64).range(0..=1_000_000_000))]
    pub id_margin: i64,
    /// Test hook: stop (exit status 3) after writing this many batches, as a killed run would.
    #[arg(long, hide = true)]
    pub stop_after_batches: Option<u32>,
    /// Test hook: after writing this many batches, print `paused` on stderr and wait (up to
    /// ten minutes) to be killed, so a test kills the run at a known point.
    #[arg(long, hide = true)]
    pub pause_after_batches: Option<u32>,
}

/// A row this project refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub table: &'static str,
    /// The row's id (`post_id/user_id` for a vote).
    pub id: String,
    pub reason: String,
}

/// What happened to one table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub read: usize,
    pub inserted: usize,
    pub unchanged: usize,
    pub refused: usize,
}

/// The outcome of a run.
#[derive(Debug, Default)]
pub struct Report {
    pub users: Counts,
    pub posts: Counts,
    pub votes: Counts,
    pub refused: Vec<Refused>,
    /// Whether nothing was written (a dry run, or refused rows under `stop`).
    pub wrote_nothing: bool,
    /// Rows a write would insert (new to the targets), per table: users, posts, votes.
    pub new_rows: [usize; 3],
    /// Course tokens name users below this id (the course app's next user id), recorded in
    /// auth's database by a run that wrote.
    pub course_user_ids_below: Option<i64>,
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    Setup(String),
    #[error("{what}: {source}")]
    Db {
        what: String,
        source: diesel::result::Error,
    },
    /// The test hook stopped the run.
    #[error("stopped after {0} batch(es) (--stop-after-batches)")]
    Stopped(u32),
}

fn db(what: impl Into<String>) -> impl FnOnce(diesel::result::Error) -> ImportError {
    let what = what.into();
    move |source| ImportError::Db { what, source }
}

#[derive(QueryableByName)]
struct CourseUser {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    email: String,
    #[diesel(sql_type = Text)]
    password: String,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
}

#[derive(QueryableByName)]
struct CoursePost {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    title: String,
    #[diesel(sql_type = Text)]
    content: String,
    #[diesel(sql_type = BigInt)]
    owner_id: i64,
    #[diesel(sql_type = Bool)]
    published: bool,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
}

#[derive(QueryableByName)]
struct CourseVote {
    #[diesel(sql_type = BigInt)]
    post_id: i64,
    #[diesel(sql_type = BigInt)]
    user_id: i64,
}

#[derive(QueryableByName)]
struct Column {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
}

/// A checked user.
struct User {
    id: i64,
    email: String,
    email_key: String,
    email_skeleton: String,
    password_hash: String,
    created_at: NaiveDateTime,
}

/// A checked post.
struct Post {
    id: i64,
    title: String,
    title_search: String,
    content: String,
    owner_id: i64,
    published: bool,
    created_at: NaiveDateTime,
}

/// The highest bcrypt cost a hash may carry: each login with a cost-16 hash would hold a
/// bcrypt thread for seconds (passlib's default is 12).
const MAX_BCRYPT_COST: u32 = 15;

/// Why `hash` is not a bcrypt hash as passlib writes it (`$2b$12$` + 53 characters; `$2a$`
/// and `$2y$` too) that the auth service verifies as is, with a cost of 4 to
/// [`MAX_BCRYPT_COST`].
fn bcrypt_hash_problem(hash: &str) -> Option<String> {
    let b = hash.as_bytes();
    let shaped = hash.len() == 60
        && (hash.starts_with("$2a$") || hash.starts_with("$2b$") || hash.starts_with("$2y$"))
        && b[4].is_ascii_digit()
        && b[5].is_ascii_digit()
        && b[6] == b'$'
        && b[7..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'.' || *c == b'/');
    if !shaped {
        return Some("password is not a bcrypt hash".into());
    }
    let cost = u32::from(b[4] - b'0') * 10 + u32::from(b[5] - b'0');
    match cost {
        4..=MAX_BCRYPT_COST => None,
        0..=3 => Some(format!("bcrypt cost {cost} is below bcrypt's minimum of 4")),
        _ => Some(format!(
            "bcrypt cost {cost} is above {MAX_BCRYPT_COST}: each login would take seconds"
        )),
    }
}

/// What a course revision's schema has.
struct Schema {
    columns: Vec<(String, String)>,
}

impl Schema {
    fn has(&self, table: &str, column: &str) -> bool {
        self.columns.iter().any(|(t, c)| t == table && c == column)
    }

    fn has_table(&self, table: &str) -> bool {
        self.columns.iter().any(|(t, _)| t == table)
    }
}

/// The rows of the course database, and its next ids.
type Source = (Vec<CourseUser>, Vec<CoursePost>, Vec<CourseVote>, NextIds);

/// The course database's next ids: past every id it ever gave (the largest id, and the
/// sequence's last value), so also past rows deleted since.
#[derive(Debug, Clone, Copy)]
struct NextIds {
    users: i64,
    posts: i64,
}

#[derive(QueryableByName)]
struct Sequence {
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    seq: Option<String>,
}

#[derive(QueryableByName)]
struct LastValue {
    #[diesel(sql_type = BigInt)]
    last_value: i64,
}

/// Reads the course database, read only.
fn read_source(url: &str) -> Result<Source, ImportError> {
    let parsed = DatabaseUrl::parse(url).map_err(|e| ImportError::Setup(format!("--from: {e}")))?;
    if parsed.backend() != Backend::Postgres {
        return Err(ImportError::Setup(
            "--from: the course app's database is a PostgreSQL URL".into(),
        ));
    }
    let mut conn = DbConn::establish(&parsed)
        .map_err(|e| ImportError::Setup(format!("--from {}: {e}", service_kit::db::masked(url))))?;
    let DbConn::Pg(c) = &mut conn else {
        return Err(ImportError::Setup(
            "--from: the course app's database is a PostgreSQL URL".into(),
        ));
    };
    diesel::sql_query("SET default_transaction_read_only = on")
        .execute(c)
        .map_err(db("setting the source read only"))?;
    c.build_transaction()
        .read_only()
        .repeatable_read()
        .run(|c| {
            let columns: Vec<Column> = diesel::sql_query(
                "SELECT table_name::text AS table_name, column_name::text AS column_name \
             FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name IN ('users', 'posts', 'votes')",
            )
            .load(c)?;
            let schema = Schema {
                columns: columns
                    .into_iter()
                    .map(|c| (c.table_name, c.column_name))
                    .collect(),
            };
            let users = if schema.has_table("users") {
                diesel::sql_query(
                    "SELECT id::bigint AS id, email, password, created_at FROM users ORDER BY id",
                )
                .load(c)?
            } else {
                Vec::new()
            };
            let posts = if schema.has("posts", "owner_id") && schema.has("posts", "content") {
                let published = match schema.has("posts", "published") {
                    true => "published",
                    false => "TRUE",
                };
                let created_at = match schema.has("posts", "created_at") {
                    true => "created_at",
                    false => "now()",
                };
                diesel::sql_query(format!(
                    "SELECT id::bigint AS id, title, content, owner_id::bigint AS owner_id, \
                 {published} AS published, {created_at} AS created_at FROM posts ORDER BY id"
                ))
                .load(c)?
            } else {
                Vec::new()
            };
            let votes = if schema.has_table("votes") {
                diesel::sql_query(
                    "SELECT post_id::bigint AS post_id, user_id::bigint AS user_id \
                 FROM votes ORDER BY post_id, user_id",
                )
                .load(c)?
            } else {
                Vec::new()
            };
            // Past every id the table ever gave: its largest, and its sequence's last value.
            let mut next_id = |table: &str, largest: Option<i64>| -> QueryResult<i64> {
                let mut next = largest.map_or(1, |id| id.saturating_add(1));
                if schema.has_table(table) {
                    let seq: Sequence = diesel::sql_query(format!(
                        "SELECT pg_get_serial_sequence('{table}', 'id') AS seq"
                    ))
                    .get_result(c)?;
                    if let Some(seq) = seq.seq {
                        // The name comes quoted as needed from PostgreSQL itself.
                        let last: LastValue = diesel::sql_query(format!(
                            "SELECT last_value::bigint AS last_value FROM {seq}"
                        ))
                        .get_result(c)?;
                        next = next.max(last.last_value.saturating_add(1));
                    }
                }
                Ok(next)
            };
            let next_ids = NextIds {
                users: next_id("users", users.last().map(|u: &CourseUser| u.id))?,
                posts: next_id("posts", posts.iter().map(|p: &CoursePost| p.id).max())?,
            };
            Ok((users, posts, votes, next_ids))
        })
        .map_err(db("reading the course database"))
}

/// Checks every row against this project's rules.
fn check(
    users: Vec<CourseUser>,
    posts: Vec<CoursePost>,
    votes: Vec<CourseVote>,
    report: &mut Report,
) -> (Vec<User>, Vec<Post>, Vec<(i64, i64)>) {
    use std::collections::{HashMap, HashSet};
    report.users.read = users.len();
    report.posts.read = posts.len();
    report.votes.read = votes.len();
    let mut refuse = |table: &'static str, id: String, reason: String| {
        report.refused.push(Refused { table, id, reason });
    };
    let mut keys: HashMap<String, i64> = HashMap::new();
    let mut good_users = Vec::new();
    for u in users {
        let email = match auth_service::domain::Email::parse(u.email.clone()) {
            Ok(email) => email,
            Err(e) => {
                refuse(
                    "users",
                    u.id.to_string(),
                    format!("email {:?}: {}", u.email, e.msg),
                );
                continue;
            }
        };
        if let Some(problem) = bcrypt_hash_problem(&u.password) {
            refuse("users", u.id.to_string(), problem);
            continue;
        }
        if let Some(other) = keys.get(email.key()) {
            refuse(
                "users",
                u.id.to_string(),
                format!(
                    "email {:?} is user {other}'s here (emails are case-insensitive)",
                    u.email
                ),
            );
            continue;
        }
        keys.insert(email.key().to_owned(), u.id);
        good_users.push(User {
            id: u.id,
            email: email.address().to_owned(),
            email_key: email.key().to_owned(),
            email_skeleton: email.skeleton(),
            password_hash: u.password,
            created_at: u.created_at.naive_utc(),
        });
    }
    let user_ids: HashSet<i64> = good_users.iter().map(|u| u.id).collect();
    let mut good_posts = Vec::new();
    for p in posts {
        let id = p.id.to_string();
        if !user_ids.contains(&p.owner_id) {
            refuse("posts", id, format!("owner {} is not imported", p.owner_id));
            continue;
        }
        let title = match posts_service::domain::Title::parse(p.title) {
            Ok(t) => t,
            Err(e) => {
                refuse("posts", id, format!("title: {}", e.msg));
                continue;
            }
        };
        let content = match posts_service::domain::Content::parse(p.content) {
            Ok(c) => c,
            Err(e) => {
                refuse("posts", id, format!("content: {}", e.msg));
                continue;
            }
        };
        if title.as_str().contains('\0') || content.as_str().contains('\0') {
            refuse("posts", id, "a NUL character".into());
            continue;
        }
        good_posts.push(Post {
            id: p.id,
            title_search: title.search_key(),
            title: title.as_str().to_owned(),
            content: content.as_str().to_owned(),
            owner_id: p.owner_id,
            published: p.published,
            created_at: p.created_at.naive_utc(),
        });
    }
    let post_ids: HashSet<i64> = good_posts.iter().map(|p| p.id).collect();
    let mut good_votes = Vec::new();
    for v in votes {
        let id = format!("{}/{}", v.post_id, v.user_id);
        if !post_ids.contains(&v.post_id) {
            refuse("votes", id, format!("post {} is not imported", v.post_id));
        } else if !user_ids.contains(&v.user_id) {
            refuse("votes", id, format!("user {} is not imported", v.user_id));
        } else {
            good_votes.push((v.post_id, v.user_id));
        }
    }
    for r in &report.refused {
        match r.table {
            "users" => report.users.refused += 1,
            "posts" => report.posts.refused += 1,
            _ => report.votes.refused += 1,
        }
    }
    (good_users, good_posts, good_votes)
}

/// Progress: a line rewritten in place on a terminal, a line per step otherwise.
struct Progress {
    terminal: bool,
}

impl Progress {
    fn show(&self, table: &str, done: usize, total: usize) {
        let mut err = std::io::stderr();
        if self.terminal {
            let width = 30;
            let filled = (done * width).checked_div(total).unwrap_or(width);
            let _ = write!(
                err,
                "\r{table:>6} [{}{}] {done}/{total}",
                "#".repeat(filled),
                "-".repeat(width - filled)
            );
            if done == total {
                let _ = writeln!(err);
            }
        } else {
            let _ = writeln!(err, "{table}: {done}/{total}");
        }
    }
}

/// Counts batches against the test hooks.
struct Batches {
    written: u32,
    stop_after: Option<u32>,
    pause_after: Option<u32>,
}

impl Batches {
    fn done(&mut self) -> Result<(), ImportError> {
        self.written += 1;
        if self.pause_after == Some(self.written) {
            eprintln!("paused");
            std::thread::sleep(std::time::Duration::from_secs(600));
        }
        match self.stop_after {
            Some(n) if self.written >= n => Err(ImportError::Stopped(n)),
            _ => Ok(()),
        }
    }
}

fn open(url: &str, option: &str) -> Result<DbConn, ImportError> {
    let parsed =
        DatabaseUrl::parse(url).map_err(|e| ImportError::Setup(format!("{option}: {e}")))?;
    DbConn::establish(&parsed)
        .map_err(|e| ImportError::Setup(format!("{option} {}: {e}", service_kit::db::masked(url))))
}

/// Writes `$rows` in batches of `$size`, each in one transaction (`$insert` is an
/// expression of `$c`, the backend's connection, and `$row`, giving 1 for a new row and 0 for
/// one already there), counting into `$counts`, showing progress and counting batches.
macro_rules! write_batches {
    ($conn:expr, $table:expr, $rows:expr, $size:expr, $counts:expr, $progress:expr, $batches:expr,
     |$c:ident, $row:ident| $insert:expr) => {{
        let rows = $rows;
        let mut done = 0;
        $progress.show($table, 0, rows.len());
        for batch in rows.chunks($size) {
            let inserted: usize = with_conn!($conn, |conn| conn.transaction(|$c| {
                let mut inserted = 0;
                for $row in batch {
                    inserted += $insert?;
                }
                QueryResult::Ok(inserted)
            }))
            .map_err(db(format!("writing {}", $table)))?;
            $counts.inserted += inserted;
            $counts.unchanged += batch.len() - inserted;
            done += batch.len();
            $progress.show($table, done, rows.len());
            $batches.done()?;
        }
    }};
}

/// Applies the services' migrations to their databases.
pub async fn migrate(auth_url: &str, posts_url: &str) -> Result<(), ImportError> {
    let options = |url: &str, option: &str| -> Result<service_kit::db::DbOptions, ImportError> {
        Ok(service_kit::db::DbOptions {
            url: DatabaseUrl::parse(url)
                .map_err(|e| ImportError::Setup(format!("{option}: {e}")))?,
            max_connections: 1,
            acquire_timeout: std::time::Duration::from_secs(10),
        })
    };
    let auth = service_kit::Db::new(&options(auth_url, "AUTH_DATABASE_URL")?);
    auth_service::migrate(&auth)
        .await
        .map_err(|e| ImportError::Setup(format!("auth database: {e}")))?;
    let posts = service_kit::Db::new(&options(posts_url, "POSTS_DATABASE_URL")?);
    posts_service::migrate(&posts)
        .await
        .map_err(|e| ImportError::Setup(format!("posts database: {e}")))?;
    Ok(())
}

impl ImportArgs {
    /// Refuses a `--from` that is not a PostgreSQL URL (before anything is created).
    pub fn check_source(&self) -> Result<(), ImportError> {
        let parsed = DatabaseUrl::parse(&self.from)
            .map_err(|e| ImportError::Setup(format!("--from: {e}")))?;
        if parsed.backend() != Backend::Postgres {
            return Err(ImportError::Setup(
                "--from: the course app's database is a PostgreSQL URL".into(),
            ));
        }
        Ok(())
    }

    /// The auth and posts database URLs.
    pub fn targets(&self) -> (String, String) {
        let default = |file: &str| format!("sqlite://{}", self.data_dir.join(file).display());
        (
            self.auth_database_url
                .clone()
                .unwrap_or_else(|| default("auth.db")),
            self.posts_database_url
                .clone()
                .unwrap_or_else(|| default("posts.db")),
        )
    }
}

/// Ids looked up in the targets per query.
const LOOKUP_CHUNK: usize = 1000;

/// Compares the checked users with auth's: the same id with the same email is this row (an
/// earlier run's); an id or an email that is another account's is refused, with the user's
/// posts and votes. Returns the users to write and how many of them are new.
fn compare_users(
    auth: Option<&mut DbConn>,
    users: Vec<User>,
    report: &mut Report,
) -> Result<(Vec<User>, usize), ImportError> {
    use auth_service::schema::users as t;
    use std::collections::HashMap;
    let Some(auth) = auth else {
        let new = users.len();
        return Ok((users, new));
    };
    let mut kept = Vec::with_capacity(users.len());
    let mut new = 0;
    for chunk in users.chunks(LOOKUP_CHUNK) {
        let ids: Vec<i64> = chunk.iter().map(|u| u.id).collect();
        let keys: Vec<&str> = chunk.iter().map(|u| u.email_key.as_str()).collect();
        let by_id: HashMap<i64, String> = with_conn!(&mut *auth, |c| t::table
            .filter(t::id.eq_any(&ids))
            .select((t::id, t::email_key))
            .load::<(i64, String)>(c))
        .map_err(db("reading auth's users"))?
        .into_iter()
        .collect();
        let by_key: HashMap<String, i64> = with_conn!(&mut *auth, |c| t::table
            .filter(t::email_key.eq_any(&keys))
            .select((t::email_key, t::id))
            .load::<(String, i64)>(c))
        .map_err(db("reading auth's users"))?
        .into_iter()
        .collect();
        for u in chunk {
            let refusal = match (by_id.get(&u.id), by_key.get(&u.email_key)) {
                (Some(key), _) if *key == u.email_key => None,
                (Some(_), _) => Some("id already taken here by another account".to_string()),
                (None, Some(other)) => Some(format!("{:?} is already user {other} here", u.email)),
                (None, None) => {
                    new += 1;
                    None
                }
            };
            match refusal {
                Some(reason) => {
                    report.users.refused += 1;
                    report.refused.push(Refused {
                        table: "users",
                        id: u.id.to_string(),
                        reason,
                    });
                }
                None => kept.push(User {
                    id: u.id,
                    email: u.email.clone(),
                    email_key: u.email_key.clone(),
                    email_skeleton: u.email_skeleton.clone(),
                    password_hash: u.password_hash.clone(),
                    created_at: u.created_at,
                }),
            }
        }
    }
    Ok((kept, new))
}

/// Compares the checked posts with posts': a post whose owner was refused is refused; the
/// same id with the same owner and title is this post (an earlier run's); an id that is
/// another post's is refused (its votes would land on the wrong post). Returns the posts to
/// write and how many of them are new.
fn compare_posts(
    posts_db: Option<&mut DbConn>,
    posts: Vec<Post>,
    owners: &std::collections::HashSet<i64>,
    report: &mut Report,
) -> Result<(Vec<Post>, usize), ImportError> {
    use posts_service::schema::posts as t;
    use std::collections::HashMap;
    let refuse = |report: &mut Report, id: i64, reason: String| {
        report.posts.refused += 1;
        report.refused.push(Refused {
            table: "posts",
            id: id.to_string(),
            reason,
        });
    };
    let posts: Vec<Post> = posts
        .into_iter()
        .filter(|p| {
            let ok = owners.contains(&p.owner_id);
            if !ok {
                refuse(
                    report,
                    p.id,
                    format!("owner {} is not imported", p.owner_id),
                );
            }
            ok
        })
        .collect();
    let Some(posts_db) = posts_db else {
        let new = posts.len();
        return Ok((posts, new));
    };
    let mut kept = Vec::with_capacity(posts.len());
    let mut new = 0;
    let mut posts = posts.into_iter().peekable();
    while posts.peek().is_some() {
        let chunk: Vec<Post> = posts.by_ref().take(LOOKUP_CHUNK).collect();
        let ids: Vec<i64> = chunk.iter().map(|p| p.id).collect();
        let here: HashMap<i64, (i64, String)> = with_conn!(&mut *posts_db, |c| t::table
            .filter(t::id.eq_any(&ids))
            .select((t::id, t::owner_id, t::title))
            .load::<(i64, i64, String)>(c))
        .map_err(db("reading posts' posts"))?
        .into_iter()
        .map(|(id, owner, title)| (id, (owner, title)))
        .collect();
        for p in chunk {
            match here.get(&p.id) {
                Some((owner, title)) if *owner == p.owner_id && *title == p.title => kept.push(p),
                Some((owner, _)) => refuse(
                    report,
                    p.id,
                    format!("id already taken here by another post (user {owner}'s)"),
                ),
                None => {
                    new += 1;
                    kept.push(p);
                }
            }
        }
    }
    Ok((kept, new))
}

/// Opens a target to compare with in a dry run, which must not create or migrate it: a
/// SQLite file that does not exist yet, or a database without the services' tables, holds
/// nothing.
fn open_to_compare(url: &str, option: &str, table: &str) -> Result<Option<DbConn>, ImportError> {
    let parsed =
        DatabaseUrl::parse(url).map_err(|e| ImportError::Setup(format!("{option}: {e}")))?;
    if parsed.backend() == Backend::Sqlite && !std::path::Path::new(parsed.sqlite_path()).exists() {
        return Ok(None);
    }
    let mut conn = open(url, option)?;
    let probe = diesel::sql_query(format!("SELECT 1 FROM {table} WHERE 1 = 0"));
    match with_conn!(&mut conn, |c| probe.execute(c)) {
        Ok(_) => Ok(Some(conn)),
        Err(e) => {
            log::info!("{option}: no {table} table yet ({e}): compared with nothing");
            Ok(None)
        }
    }
}

/// Records in auth's database which user ids course tokens may name: those below the course
/// app's next user id (kept if an earlier run recorded more). Every id below it that is not a
/// user this import brought over (one it refused, or an account of this project's own) gets
/// its course tokens refused, and this project's next user id is moved past it plus
/// `margin`. One transaction.
fn record_course_users(
    auth: &mut DbConn,
    next_user_id: i64,
    imported: &std::collections::HashSet<i64>,
    refused_ids: &[i64],
    margin: i64,
) -> Result<i64, ImportError> {
    use auth_service::schema::{course_import as ci, course_token_refusals as r, users as u};
    let now = service_kit::time::now_utc();
    with_conn!(auth, |c| c.transaction(|c| {
        let recorded: Option<i64> = ci::table
            .find(1)
            .select(ci::user_ids_below)
            .first(c)
            .optional()?;
        let below = recorded.unwrap_or(0).max(next_user_id);
        let others: Vec<i64> = u::table
            .filter(u::id.lt(below))
            .select(u::id)
            .load::<i64>(c)?
            .into_iter()
            .filter(|id| !imported.contains(id))
            .collect();
        let refusals: Vec<_> = others
            .iter()
            .chain(refused_ids.iter().filter(|id| **id < below))
            .map(|id| (r::user_id.eq(*id), r::since.eq(now)))
            .collect();
        for batch in refusals.chunks(LOOKUP_CHUNK) {
            diesel::insert_into(r::table)
                .values(batch)
                .on_conflict_do_nothing()
                .execute(c)?;
        }
        diesel::insert_into(ci::table)
            .values((
                ci::id.eq(1),
                ci::user_ids_below.eq(below),
                ci::imported_at.eq(now),
            ))
            .on_conflict(ci::id)
            .do_update()
            .set((ci::user_ids_below.eq(below), ci::imported_at.eq(now)))
            .execute(c)?;
        QueryResult::Ok(below)
    }))
    .map_err(db("recording the course's user ids"))
    .and_then(|below| {
        set_sequence_at_least(
            auth,
            "users",
            below.saturating_sub(1).saturating_add(margin),
        )?;
        Ok(below)
    })
}

/// Moves the next id of `table` past `at_least` (and past its largest id).
fn set_sequence_at_least(conn: &mut DbConn, table: &str, at_least: i64) -> Result<(), ImportError> {
    let result = match conn {
        DbConn::Pg(c) => diesel::sql_query(format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
             GREATEST((SELECT COALESCE(MAX(id), 0) FROM {table}), $1, 1), true)"
        ))
        .bind::<BigInt, _>(at_least)
        .execute(c),
        // AUTOINCREMENT: the next id is past both the largest id and sqlite_sequence's.
        DbConn::Sqlite(c) => diesel::sql_query(
            "INSERT INTO sqlite_sequence (name, seq) SELECT ?1, ?2 \
             WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = ?1)",
        )
        .bind::<Text, _>(table)
        .bind::<BigInt, _>(at_least)
        .execute(c)
        .and_then(|_| {
            diesel::sql_query("UPDATE sqlite_sequence SET seq = MAX(seq, ?2) WHERE name = ?1")
                .bind::<Text, _>(table)
                .bind::<BigInt, _>(at_least)
                .execute(c)
        }),
    };
    result
        .map(|_| ())
        .map_err(db(format!("setting the next id of {table}")))
}

/// Reads, checks, compares with the targets and (unless a dry run, or refused rows under
/// `stop`) writes. The targets' migrations must have been applied ([`migrate`]) unless a dry
/// run.
pub fn run(args: &ImportArgs) -> Result<Report, ImportError> {
    use auth_service::schema::users;
    use posts_service::schema::{authors, posts, votes};
    use std::collections::HashSet;

    let mut report = Report::default();
    let (users_in, posts_in, votes_in, next_ids) = read_source(&args.from)?;
    let source_user_ids: Vec<i64> = users_in.iter().map(|u| u.id).collect();
    let (users_ok, posts_ok, votes_ok) = check(users_in, posts_in, votes_in, &mut report);
    let (auth_url, posts_url) = args.targets();
    let (mut auth, mut posts_db) = match args.dry_run {
        true => (
            open_to_compare(&auth_url, "AUTH_DATABASE_URL", "users")?,
            open_to_compare(&posts_url, "POSTS_DATABASE_URL", "posts")?,
        ),
        false => (
            Some(open(&auth_url, "AUTH_DATABASE_URL")?),
            Some(open(&posts_url, "POSTS_DATABASE_URL")?),
        ),
    };

    // What the targets already hold: conflicts are refused rows like any other, so `stop`
    // and `--dry-run` see them before anything is written.
    let (users_ok, new_users) = compare_users(auth.as_mut(), users_ok, &mut report)?;
    let owners: HashSet<i64> = users_ok.iter().map(|u| u.id).collect();
    let (posts_ok, new_posts) = compare_posts(posts_db.as_mut(), posts_ok, &owners, &mut report)?;
    let post_ids: HashSet<i64> = posts_ok.iter().map(|p| p.id).collect();
    let mut votes_kept = Vec::with_capacity(votes_ok.len());
    for (post_id, user_id) in votes_ok {
        let reason = if !post_ids.contains(&post_id) {
            format!("post {post_id} is not imported")
        } else if !owners.contains(&user_id) {
            format!("user {user_id} is not imported")
        } else {
            votes_kept.push((post_id, user_id));
            continue;
        };
        report.votes.refused += 1;
        report.refused.push(Refused {
            table: "votes",
            id: format!("{post_id}/{user_id}"),
            reason,
        });
    }
    let votes_ok = votes_kept;
    report.new_rows = [new_users, new_posts, 0];
    report.users.unchanged = users_ok.len() - new_users;
    report.posts.unchanged = posts_ok.len() - new_posts;
    if args.dry_run || (args.on_invalid == OnInvalid::Stop && !report.refused.is_empty()) {
        report.wrote_nothing = true;
        return Ok(report);
    }
    let (Some(mut auth), Some(mut posts_db)) = (auth.take(), posts_db.take()) else {
        return Err(ImportError::Setup("the targets are not open".into()));
    };
    report.users.unchanged = 0;
    report.posts.unchanged = 0;
    let progress = Progress {
        terminal: std::io::stderr().is_terminal(),
    };
    let mut batches = Batches {
        written: 0,
        stop_after: args.stop_after_batches,
        pause_after: args.pause_after_batches,
    };
    let size = args.batch_size as usize;

    write_batches!(
        &mut auth,
        "users",
        &users_ok,
        size,
        report.users,
        progress,
        batches,
        |c, u| {
            diesel::insert_into(users::table)
                .values((
                    users::id.eq(u.id),
                    users::email.eq(&u.email),
                    users::email_key.eq(&u.email_key),
                    users::email_skeleton.eq(&u.email_skeleton),
                    users::password_hash.eq(&u.password_hash),
                    users::created_at.eq(u.created_at),
                ))
                .on_conflict_do_nothing()
                .execute(c)
        }
    );
    // A sign-up that took an id or an email between the comparison and the write: reported,
    // not overwritten.
    let mut taken = HashSet::new();
    for chunk in users_ok.chunks(LOOKUP_CHUNK) {
        let keys: Vec<&str> = chunk.iter().map(|u| u.email_key.as_str()).collect();
        let here: std::collections::HashMap<String, i64> = with_conn!(&mut auth, |c| users::table
            .filter(users::email_key.eq_any(&keys))
            .select((users::email_key, users::id))
            .load::<(String, i64)>(c))
        .map_err(db("checking users"))?
        .into_iter()
        .collect();
        for u in chunk {
            let at = here.get(&u.email_key).copied();
            if at != Some(u.id) {
                taken.insert(u.id);
                report.refused.push(Refused {
                    table: "users",
                    id: u.id.to_string(),
                    reason: match at {
                        Some(other) => format!("{:?} is already user {other} here", u.email),
                        None => "id already taken here by another account".into(),
                    },
                });
            }
        }
    }
    report.users.unchanged -= taken.len();
    report.users.refused += taken.len();
    let imported: HashSet<i64> = owners.difference(&taken).copied().collect();
    let refused_ids: Vec<i64> = source_user_ids
        .into_iter()
        .filter(|id| !imported.contains(id))
        .collect();
    report.course_user_ids_below = Some(record_course_users(
        &mut auth,
        next_ids.users,
        &imported,
        &refused_ids,
        args.id_margin,
    )?);

    let authors: Vec<&User> = users_ok.iter().filter(|u| !taken.contains(&u.id)).collect();
    let mut author_counts = Counts::default();
    write_batches!(
        &mut posts_db,
        "authors",
        &authors,
        size,
        author_counts,
        progress,
        batches,
        |c, u| {
            diesel::insert_into(authors::table)
                .values((
                    authors::id.eq(u.id),
                    authors::email.eq(&u.email),
                    authors::created_at.eq(Some(u.created_at)),
                ))
                .on_conflict_do_nothing()
                .execute(c)
        }
    );
    log::info!(
        "authors: {} inserted, {} unchanged",
        author_counts.inserted,
        author_counts.unchanged
    );
    let posts_ok: Vec<&Post> = posts_ok
        .iter()
        .filter(|p| !taken.contains(&p.owner_id))
        .collect();
    write_batches!(
        &mut posts_db,
        "posts",
        &posts_ok,
        size,
        report.posts,
        progress,
        batches,
        |c, p| {
            diesel::insert_into(posts::table)
                .values((
                    posts::id.eq(p.id),
                    posts::title.eq(&p.title),
                    posts::title_search.eq(&p.title_search),
                    posts::content.eq(&p.content),
                    posts::published.eq(p.published),
                    posts::created_at.eq(p.created_at),
                    posts::owner_id.eq(p.owner_id),
                ))
                .on_conflict_do_nothing()
                .execute(c)
        }
    );
    // As for users: posts written here meanwhile do not take ids the old app gives.
    set_sequence_at_least(
        &mut posts_db,
        "posts",
        next_ids
            .posts
            .saturating_sub(1)
            .saturating_add(args.id_margin),
    )?;
    let votes_ok: Vec<&(i64, i64)> = votes_ok
        .iter()
        .filter(|(_, u)| !taken.contains(u))
        .collect();
    write_batches!(
        &mut posts_db,
        "votes",
        &votes_ok,
        size,
        report.votes,
        progress,
        batches,
        |c, v| {
            diesel::insert_into(votes::table)
                .values((votes::post_id.eq(v.0), votes::user_id.eq(v.1)))
                .on_conflict_do_nothing()
                .execute(c)
        }
    );
    Ok(report)
}

impl Report {
    /// The summary printed at the end: each refused row, then the counts.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        for r in &self.refused {
            out.push_str(&format!("refused {} {}: {}\n", r.table, r.id, r.reason));
        }
        for (table, c) in [
            ("users", &self.users),
            ("posts", &self.posts),
            ("votes", &self.votes),
        ] {
            out.push_str(&format!(
                "{table}: {} read, {} inserted, {} unchanged, {} refused\n",
                c.read, c.inserted, c.unchanged, c.refused
            ));
        }
        if self.wrote_nothing {
            let [users, posts, _] = self.new_rows;
            out.push_str(&format!(
                "nothing written (new here: {users} user(s), {posts} post(s))\n"
            ));
        }
        if let Some(below) = self.course_user_ids_below {
            out.push_str(&format!(
                "course tokens name the users below id {below} (COURSE_TOKEN_SECRET)\n"
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::bcrypt_hash_problem;

    #[test]
    fn bcrypt_hashes_are_taken_at_the_costs_a_login_can_afford() {
        let salt_and_hash = "LQv3c1yqBWVHxkd0LHAkCOYz6TtxMQJqhN8/LewY5GyYIr5lA5j3a";
        for version in ["2a", "2b", "2y"] {
            for cost in ["04", "12", "15"] {
                let hash = format!("${version}${cost}${salt_and_hash}");
                assert_eq!(bcrypt_hash_problem(&hash), None, "{hash}");
            }
        }
        for (hash, problem) in [
            (format!("$2b$03${salt_and_hash}"), "below"),
            (format!("$2b$16${salt_and_hash}"), "above 15"),
            (format!("$2b$31${salt_and_hash}"), "above 15"),
            (format!("$2x$12${salt_and_hash}"), "not a bcrypt hash"),
            (
                format!("$2b$12${}", &salt_and_hash[1..]),
                "not a bcrypt hash",
            ),
            ("password123".to_string(), "not a bcrypt hash"),
        ] {
            let got = bcrypt_hash_problem(&hash).unwrap_or_default();
            assert!(got.contains(problem), "{hash}: {got}");
        }
    }
}
