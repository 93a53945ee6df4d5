//! Every SQL statement of the posts service, named for what it answers. Each runs on both
//! backends through [`with_conn!`]; writes that span statements run in one transaction
//! (`BEGIN IMMEDIATE` on SQLite, so a read followed by a write cannot fail with
//! `SQLITE_BUSY` when another writer got in between).

use chrono::NaiveDateTime;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sqlite::SqliteConnection;
use diesel::upsert::excluded;
use service_kit::{with_conn, DbConn, DbError};

use crate::schema::{authors, posts, votes};

/// A stored post (without its search key).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = posts)]
pub struct Post {
    pub id: i64,
    pub title: String,
    pub content: String,
    pub published: bool,
    pub created_at: NaiveDateTime,
    pub owner_id: i64,
}

/// A post's owner, as their token last described them.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = authors)]
pub struct Author {
    pub id: i64,
    pub email: String,
    pub created_at: Option<NaiveDateTime>,
}

/// The caller of a write, from verified claims.
#[derive(Debug, Clone)]
pub struct NewAuthor {
    pub id: i64,
    pub email: String,
    /// `None` when the token does not say; a known date is then kept.
    pub created_at: Option<NaiveDateTime>,
}

/// What a client may set on a post.
#[derive(Debug, Clone)]
pub struct PostInput {
    pub title: String,
    pub content: String,
    pub published: bool,
}

/// The case-folded title that `search` matches against (computed here, not in SQL, so both
/// backends agree on non-ASCII text).
pub fn search_key(title: &str) -> String {
    title.to_lowercase()
}

/// A `LIKE` pattern matching `search` literally, case-insensitively, anywhere in a title
/// (`\` is the escape character).
pub fn contains_pattern(search: &str) -> String {
    let mut pattern = String::with_capacity(search.len() + 2);
    pattern.push('%');
    for ch in search.to_lowercase().chars() {
        if matches!(ch, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(ch);
    }
    pattern.push('%');
    pattern
}

/// Outcome of a write on someone's post.
#[derive(Debug)]
pub enum Change<T> {
    Done(T),
    /// No such post, or someone else's draft (whose existence is not revealed).
    NotFound,
    /// Someone else's published post.
    Forbidden,
}

/// Outcome of a vote.
#[derive(Debug, PartialEq, Eq)]
pub enum VoteOutcome {
    Added,
    Deleted,
    /// No such post, or not visible to the voter.
    PostNotFound,
    AlreadyVoted,
    VoteNotFound,
}

/// Transactions that write: `BEGIN IMMEDIATE` on SQLite, a plain transaction on PostgreSQL.
pub trait WriteTransaction: Connection {
    fn write_transaction<T, E, F>(&mut self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Self) -> Result<T, E>,
        E: From<diesel::result::Error>;
}

impl WriteTransaction for PgConnection {
    fn write_transaction<T, E, F>(&mut self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Self) -> Result<T, E>,
        E: From<diesel::result::Error>,
    {
        self.transaction(f)
    }
}

impl WriteTransaction for SqliteConnection {
    fn write_transaction<T, E, F>(&mut self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Self) -> Result<T, E>,
        E: From<diesel::result::Error>,
    {
        self.immediate_transaction(f)
    }
}

/// Posts `caller` may see: published ones, and their own drafts.
macro_rules! visible_to {
    ($caller:expr) => {
        posts::published.eq(true).or(posts::owner_id.eq($caller))
    };
}

/// The number of votes of the outer query's post, as a correlated scalar subquery.
macro_rules! vote_count {
    () => {
        votes::table
            .filter(votes::post_id.eq(posts::id))
            .count()
            .single_value()
            .assume_not_null()
    };
}

/// Records (or refreshes) the caller as an author; part of the caller's write transaction.
macro_rules! upsert_author {
    ($c:expr, $author:expr) => {{
        let author: &NewAuthor = $author;
        let insert = diesel::insert_into(authors::table).values((
            authors::id.eq(author.id),
            authors::email.eq(&author.email),
            authors::created_at.eq(author.created_at),
        ));
        if author.created_at.is_some() {
            insert
                .on_conflict(authors::id)
                .do_update()
                .set((
                    authors::email.eq(excluded(authors::email)),
                    authors::created_at.eq(excluded(authors::created_at)),
                ))
                .returning(Author::as_returning())
                .get_result($c)
        } else {
            insert
                .on_conflict(authors::id)
                .do_update()
                .set(authors::email.eq(excluded(authors::email)))
                .returning(Author::as_returning())
                .get_result($c)
        }
    }};
}

diesel::alias!(posts as page: PageAlias);

/// The ids of one page: visible to `caller`, newest first, titles matching `$pattern` when
/// given. Reads `posts` under the alias `page`, so the statement has a fixed type (no boxing).
macro_rules! page_ids {
    ($caller:expr, $limit:expr, $skip:expr $(, $pattern:expr)?) => {
        page.select(page.field(posts::id))
            .filter(
                page.field(posts::published)
                    .eq(true)
                    .or(page.field(posts::owner_id).eq($caller)),
            )
            $(.filter(page.field(posts::title_search).like($pattern).escape('\\')))?
            .order(page.field(posts::id).desc())
            .limit($limit)
            .offset($skip)
    };
}

/// The statement of [`page_of_posts_with_votes`] for a page of ids (a macro so it is built
/// for each backend). Not boxed: the statement's SQL is fixed, so diesel prepares it once
/// per connection and reuses it.
macro_rules! page_query {
    ($ids:expr) => {
        posts::table
            .inner_join(authors::table)
            .filter(posts::id.eq_any($ids))
            .order(posts::id.desc())
            .select((Post::as_select(), Author::as_select(), vote_count!()))
    };
}

/// One page of the posts `caller` may see, newest first, each with its owner and vote
/// count, in one statement: the page's ids come from a subselect (filters, order, limit,
/// offset), so votes are counted for the page's rows only, by a correlated subquery on the
/// votes primary key.
pub fn page_of_posts_with_votes(
    conn: &mut DbConn,
    caller: i64,
    limit: i64,
    skip: i64,
    search: &str,
) -> Result<Vec<(Post, Author, i64)>, DbError> {
    let pattern = (!search.is_empty()).then(|| contains_pattern(search));
    Ok(with_conn!(conn, |c| match pattern.as_deref() {
        None => page_query!(page_ids!(caller, limit, skip)).load(c),
        Some(pattern) => page_query!(page_ids!(caller, limit, skip, pattern)).load(c),
    })?)
}

/// One post with its owner and vote count, if `caller` may see it.
pub fn post_with_votes(
    conn: &mut DbConn,
    id: i64,
    caller: i64,
) -> Result<Option<(Post, Author, i64)>, DbError> {
    Ok(with_conn!(conn, |c| posts::table
        .inner_join(authors::table)
        .filter(posts::id.eq(id))
        .filter(visible_to!(caller))
        .select((Post::as_select(), Author::as_select(), vote_count!()))
        .first(c)
        .optional())?)
}

/// Creates a post owned by `author`, recording the author in the same transaction.
pub fn insert_post(
    conn: &mut DbConn,
    author: &NewAuthor,
    input: &PostInput,
    now: NaiveDateTime,
) -> Result<(Post, Author), DbError> {
    Ok(with_conn!(conn, |c| c.write_transaction(|c| {
        let owner: Author = upsert_author!(c, author)?;
        let post = diesel::insert_into(posts::table)
            .values((
                posts::title.eq(&input.title),
                posts::title_search.eq(search_key(&input.title)),
                posts::content.eq(&input.content),
                posts::published.eq(input.published),
                posts::created_at.eq(now),
                posts::owner_id.eq(author.id),
            ))
            .returning(Post::as_returning())
            .get_result(c)?;
        Ok::<_, diesel::result::Error>((post, owner))
    }))?)
}

/// Why a write on post `id` by `caller` changed nothing: absent or someone else's draft
/// (`NotFound`, so drafts stay private), or someone else's published post (`Forbidden`).
macro_rules! classify_refusal {
    ($c:expr, $id:expr, $caller:expr) => {{
        let found: Option<(i64, bool)> = posts::table
            .find($id)
            .select((posts::owner_id, posts::published))
            .first($c)
            .optional()?;
        match found {
            Some((owner, published)) if owner != $caller && published => Change::Forbidden,
            _ => Change::NotFound,
        }
    }};
}

/// Replaces a post of `author`'s (race-free: the `WHERE` decides ownership).
pub fn update_post(
    conn: &mut DbConn,
    id: i64,
    author: &NewAuthor,
    input: &PostInput,
) -> Result<Change<(Post, Author)>, DbError> {
    Ok(with_conn!(conn, |c| c.write_transaction(|c| {
        let updated = diesel::update(
            posts::table
                .filter(posts::id.eq(id))
                .filter(posts::owner_id.eq(author.id)),
        )
        .set((
            posts::title.eq(&input.title),
            posts::title_search.eq(search_key(&input.title)),
            posts::content.eq(&input.content),
            posts::published.eq(input.published),
        ))
        .returning(Post::as_returning())
        .get_result(c)
        .optional()?;
        match updated {
            Some(post) => {
                let owner: Author = upsert_author!(c, author)?;
                Ok::<_, diesel::result::Error>(Change::Done((post, owner)))
            }
            None => Ok(classify_refusal!(c, id, author.id)),
        }
    }))?)
}

/// Deletes a post of `caller`'s; its votes cascade away.
pub fn delete_post(conn: &mut DbConn, id: i64, caller: i64) -> Result<Change<()>, DbError> {
    Ok(with_conn!(conn, |c| {
        let deleted = diesel::delete(
            posts::table
                .filter(posts::id.eq(id))
                .filter(posts::owner_id.eq(caller)),
        )
        .execute(c)?;
        if deleted > 0 {
            Ok::<_, diesel::result::Error>(Change::Done(()))
        } else {
            Ok(classify_refusal!(c, id, caller))
        }
    })?)
}

/// Adds (`add`) or removes the caller's vote on a post they can see. The primary key
/// decides duplicates, so concurrent identical votes give one `Added`, never an error.
pub fn vote(
    conn: &mut DbConn,
    post_id: i64,
    voter: &NewAuthor,
    add: bool,
) -> Result<VoteOutcome, DbError> {
    let result = with_conn!(conn, |c| c.write_transaction(|c| {
        let visible = posts::table
            .filter(posts::id.eq(post_id))
            .filter(visible_to!(voter.id))
            .select(posts::id)
            .first::<i64>(c)
            .optional()?;
        if visible.is_none() {
            return Ok(VoteOutcome::PostNotFound);
        }
        if add {
            let _: Author = upsert_author!(c, voter)?;
            diesel::insert_into(votes::table)
                .values((votes::post_id.eq(post_id), votes::user_id.eq(voter.id)))
                .execute(c)?;
            Ok::<_, diesel::result::Error>(VoteOutcome::Added)
        } else {
            let deleted = diesel::delete(
                votes::table
                    .filter(votes::post_id.eq(post_id))
                    .filter(votes::user_id.eq(voter.id)),
            )
            .execute(c)?;
            Ok(if deleted > 0 {
                VoteOutcome::Deleted
            } else {
                VoteOutcome::VoteNotFound
            })
        }
    }));
    match result.map_err(DbError::from) {
        Err(e) if e.is_unique_violation() => Ok(VoteOutcome::AlreadyVoted),
        // The post was deleted between the check and the insert.
        Err(e) if e.is_foreign_key_violation() => Ok(VoteOutcome::PostNotFound),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_is_one_statement_counting_votes_of_its_rows_only() {
        use diesel::pg::Pg;
        use diesel::sqlite::Sqlite;
        let pg =
            diesel::debug_query::<Pg, _>(&page_query!(page_ids!(7_i64, 10_i64, 20_i64, "%x%")))
                .to_string();
        let sqlite =
            diesel::debug_query::<Sqlite, _>(&page_query!(page_ids!(7_i64, 10_i64, 20_i64, "%x%")))
                .to_string();
        println!("PostgreSQL: {pg}\nSQLite: {sqlite}");
        for sql in [pg, sqlite.replace('`', "\"")] {
            assert_eq!(sql.matches("SELECT").count(), 3, "{sql}");
            assert!(sql.contains("LIMIT"), "{sql}");
            assert!(sql.contains("OFFSET"), "{sql}");
            assert!(
                sql.contains("WHERE (\"votes\".\"post_id\" = \"posts\".\"id\")"),
                "{sql}"
            );
        }
    }

    #[test]
    fn page_statements_have_fixed_sql_so_diesel_caches_them_prepared() {
        use diesel::pg::Pg;
        use diesel::query_builder::{QueryFragment, QueryId};
        fn is_static<Q: QueryId + QueryFragment<Pg>>(_: &Q) -> bool {
            Q::HAS_STATIC_QUERY_ID
        }
        assert!(is_static(&page_query!(page_ids!(7_i64, 10_i64, 20_i64))));
        assert!(is_static(&page_query!(page_ids!(
            7_i64, 10_i64, 20_i64, "%x%"
        ))));
    }

    #[test]
    fn patterns_match_wildcards_literally() {
        assert_eq!(contains_pattern("ÉCOLE"), "%école%");
        assert_eq!(contains_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
    }
}
