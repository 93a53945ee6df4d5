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
    /// Test hook: stop (exit status 3) after writing this many batches, as a killed run would.
    #[arg(long, hide = true)]
    pub stop_after_batches: Option<u32>,
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

/// Whether `hash` is a bcrypt hash as passlib writes it (`$2b$12$` + 53 characters; `$2a$`
/// and `$2y$` too), which the auth service verifies as is.
fn is_bcrypt_hash(hash: &str) -> bool {
    let b = hash.as_bytes();
    hash.len() == 60
        && (hash.starts_with("$2a$") || hash.starts_with("$2b$") || hash.starts_with("$2y$"))
        && b[4].is_ascii_digit()
        && b[5].is_ascii_digit()
        && b[6] == b'$'
        && b[7..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'.' || *c == b'/')
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

/// The rows of the course database.
type Source = (Vec<CourseUser>, Vec<CoursePost>, Vec<CourseVote>);

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
            Ok((users, posts, votes))
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
        if !is_bcrypt_hash(&u.password) {
            refuse(
                "users",
                u.id.to_string(),
                "password is not a bcrypt hash".into(),
            );
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

/// Counts batches against the test hook.
struct Batches {
    written: u32,
    stop_after: Option<u32>,
}

impl Batches {
    fn done(&mut self) -> Result<(), ImportError> {
        self.written += 1;
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

/// Sets a PostgreSQL sequence past the largest id of its table.
fn set_sequence(conn: &mut DbConn, table: &str) -> Result<(), ImportError> {
    if let DbConn::Pg(c) = conn {
        diesel::sql_query(format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
             GREATEST((SELECT COALESCE(MAX(id), 0) FROM {table}), 1), \
             (SELECT COUNT(*) > 0 FROM {table}))"
        ))
        .execute(c)
        .map_err(db(format!("setting the sequence of {table}")))?;
    }
    Ok(())
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

/// Reads, checks and (unless a dry run, or refused rows under `stop`) writes. The targets'
/// migrations must have been applied ([`migrate`]).
pub fn run(args: &ImportArgs) -> Result<Report, ImportError> {
    use auth_service::schema::users;
    use posts_service::schema::{authors, posts, votes};

    let mut report = Report::default();
    let (users_in, posts_in, votes_in) = read_source(&args.from)?;
    let (users_ok, posts_ok, votes_ok) = check(users_in, posts_in, votes_in, &mut report);
    if args.dry_run || (args.on_invalid == OnInvalid::Stop && !report.refused.is_empty()) {
        report.wrote_nothing = true;
        return Ok(report);
    }
    let (auth_url, posts_url) = args.targets();
    let mut auth = open(&auth_url, "AUTH_DATABASE_URL")?;
    let mut posts_db = open(&posts_url, "POSTS_DATABASE_URL")?;
    let progress = Progress {
        terminal: std::io::stderr().is_terminal(),
    };
    let mut batches = Batches {
        written: 0,
        stop_after: args.stop_after_batches,
    };
    let size = args.batch_size as usize;

    // A user already here under another id with that email is reported, not overwritten.
    let mut taken = Vec::new();
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
    for u in &users_ok {
        let here: Option<i64> = with_conn!(&mut auth, |c| users::table
            .filter(users::email_key.eq(&u.email_key))
            .select(users::id)
            .first(c)
            .optional())
        .map_err(db("checking users"))?;
        if here != Some(u.id) {
            taken.push(u.id);
            report.refused.push(Refused {
                table: "users",
                id: u.id.to_string(),
                reason: match here {
                    Some(other) => format!("{:?} is already user {other} here", u.email),
                    None => "id already taken here by another account".into(),
                },
            });
        }
    }
    report.users.unchanged -= taken.len();
    report.users.refused += taken.len();
    set_sequence(&mut auth, "users")?;

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
    set_sequence(&mut posts_db, "posts")?;
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
            out.push_str("nothing written\n");
        }
        out
    }
}
