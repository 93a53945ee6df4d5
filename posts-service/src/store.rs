//! Every SQL statement of the posts service, named for what it answers. Each runs on both
//! backends through [`with_conn!`]; writes that span statements run in one transaction
//! (`BEGIN IMMEDIATE` on SQLite, so a read followed by a write cannot fail with
//! `SQLITE_BUSY` when another writer got in between).

use chrono::NaiveDateTime;
use diesel::backend::Backend;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Text};
use diesel::sqlite::SqliteConnection;
use diesel::upsert::excluded;
use service_kit::{with_conn, DbConn, DbError};

use crate::domain::{PostId, PostInput, Search, VoteDir, VoteInput};
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
    /// Empty when the token does not say (a course token): a known email is then kept.
    pub email: String,
    /// `None` when the token does not say; a known date is then kept.
    pub created_at: Option<NaiveDateTime>,
}

/// A `LIKE` pattern matching `search` literally, case-insensitively (its key against the
/// titles' `title_search`), anywhere in a title (`\` is the escape character).
pub fn contains_pattern(search: &Search) -> String {
    let key = search.key();
    let mut pattern = String::with_capacity(key.len() + 2);
    pattern.push('%');
    for ch in key.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(ch);
    }
    pattern.push('%');
    pattern
}

/// A trigram index narrows a search only when the search has at least this many characters;
/// shorter ones are answered by walking the posts newest first (see [`page_of_posts_with_votes`]).
pub const TRIGRAM_CHARS: usize = 3;

/// Which page of the list to read.
#[derive(Debug, Clone)]
pub struct PageRequest<'a> {
    /// Who asks: their drafts are listed, nobody else's.
    pub caller: i64,
    /// At most this many posts (≥ 1).
    pub limit: i64,
    /// Posts to pass over first (after `before`, when both are given).
    pub skip: i64,
    /// Only posts with a lower id (a cursor's position); all when `None`.
    pub before: Option<i64>,
    /// Case-insensitive literal substring of the title; `""` for all posts.
    pub search: &'a Search,
}

/// One page, newest first, and whether posts follow it.
#[derive(Debug, Default)]
pub struct Page {
    pub rows: Vec<(Post, Author, i64)>,
    pub has_next: bool,
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
pub trait WriteTransaction<T, E: From<diesel::result::Error>>: Connection {
    fn write_transaction(&mut self, f: impl FnOnce(&mut Self) -> Result<T, E>) -> Result<T, E>;
}

impl<T, E: From<diesel::result::Error>> WriteTransaction<T, E> for PgConnection {
    fn write_transaction(&mut self, f: impl FnOnce(&mut Self) -> Result<T, E>) -> Result<T, E> {
        self.transaction(f)
    }
}

impl<T, E: From<diesel::result::Error>> WriteTransaction<T, E> for SqliteConnection {
    fn write_transaction(&mut self, f: impl FnOnce(&mut Self) -> Result<T, E>) -> Result<T, E> {
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
        if author.email.is_empty() {
            // A course token says only who: the stored row (an imported user) stays as it is.
            insert
                .on_conflict(authors::id)
                .do_update()
                .set(authors::id.eq(excluded(authors::id)))
                .returning(Author::as_returning())
                .get_result($c)
        } else if author.created_at.is_some() {
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

/// The ids of one page: visible to `caller`, below id `$before`, newest first, titles
/// matching `$pattern` when given, and not below id `$lowest` when given (a search's window). Reads `posts` under the alias `page`, so the statement has
/// a fixed type (no boxing).
macro_rules! page_ids {
    ($caller:expr, $before:expr, $limit:expr, $skip:expr $(, $pattern:expr $(, $lowest:expr)?)?) => {
        page.select(page.field(posts::id))
            .filter(
                page.field(posts::published)
                    .eq(true)
                    .or(page.field(posts::owner_id).eq($caller)),
            )
            .filter(page.field(posts::id).lt($before))
            $(.filter(page.field(posts::title_search).like($pattern).escape('\\'))
              $(.filter(page.field(posts::id).ge($lowest)))?)?
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

/// A statement PostgreSQL plans afresh for each call's values instead of keeping one plan.
///
/// A search's best plan depends on its word: a rare word is read from the trigram index and
/// sorted, a common one is found by walking the primary key newest first until the page is
/// full. A prepared statement switches to one generic plan after five calls, made without
/// the word (a fixed guess of how many titles match), which for a rare word or no match
/// reads the whole table. Marking the statement uncacheable makes diesel send it unnamed,
/// and an unnamed statement is planned with its parameters every time (at the cost of
/// planning it, tens of microseconds).
#[derive(Debug, Clone, Copy)]
pub struct PlannedPerCall<Q>(pub Q);

impl<Q> QueryId for PlannedPerCall<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: Query> Query for PlannedPerCall<Q> {
    type SqlType = Q::SqlType;
}

impl<Q: QueryFragment<DB>, DB: Backend> QueryFragment<DB> for PlannedPerCall<Q> {
    fn walk_ast<'b>(&'b self, mut pass: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        pass.unsafe_to_cache_prepared();
        self.0.walk_ast(pass.reborrow())
    }
}

impl<Q, Conn> RunQueryDsl<Conn> for PlannedPerCall<Q> {}

/// One id column of a raw statement's rows.
#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// How many of the newest posts (below the cursor) a search of three or more characters
/// walks before it asks the indexes for older matches. The older matches' trigram index
/// returns every match unordered (about 4 us each to fetch and sort at a million posts), so
/// the window is what bounds the cost for a word spread evenly: a word in more than one post
/// in 450 fills a page of ten from the window (walking 5 000 posts costs about 1.5 ms), and a
/// rarer one has fewer than 2 200 matches in a million posts for the index (about 9 ms).
pub const SEARCH_WINDOW: i64 = 5000;

/// PostgreSQL: the ids of matches older than the window (id below `$2`) that `$4` may see,
/// newest first: published ones from the trigram index of published titles only
/// (`posts_published_title_search_trgm`; ordered by `id + 0` so the plan reads that index and
/// cannot walk the primary key through rows that do not match), merged with the caller's own
/// drafts from the per-owner index of drafts. Sent unnamed, so it is planned for its pattern.
const OLDER_MATCHES_PG: &str = "\
SELECT id FROM (\
(SELECT id FROM posts \
WHERE (CASE WHEN published THEN title_search END) LIKE $1 ESCAPE '\\' AND id < $2 \
ORDER BY id + 0 DESC LIMIT $3) \
UNION ALL \
(SELECT id FROM posts \
WHERE owner_id = $4 AND NOT published AND id < $2 AND title_search LIKE $1 ESCAPE '\\' \
ORDER BY id DESC LIMIT $3)\
) AS older ORDER BY id DESC LIMIT $5 OFFSET $6";

/// SQLite: the same as [`OLDER_MATCHES_PG`]. Published matches come from the FTS5 trigram
/// index of published titles (`posts_published_fts`, kept by triggers), which yields the
/// posts holding every trigram of the search in a row, newest first, and stops once enough
/// are found; each is checked with the same `LIKE` as a walked search, so the answer is
/// exactly the same.
const OLDER_MATCHES_SQLITE: &str = "\
SELECT id FROM (\
SELECT id FROM (SELECT posts.id AS id \
FROM posts_published_fts JOIN posts ON posts.id = posts_published_fts.rowid \
WHERE posts_published_fts MATCH ?1 AND posts_published_fts.rowid < ?2 \
AND posts.published AND posts.title_search LIKE ?3 ESCAPE '\\' \
ORDER BY posts_published_fts.rowid DESC LIMIT ?4) \
UNION ALL \
SELECT id FROM (SELECT id FROM posts \
WHERE owner_id = ?5 AND NOT published AND id < ?2 AND title_search LIKE ?3 ESCAPE '\\' \
ORDER BY id DESC LIMIT ?4)\
) ORDER BY id DESC LIMIT ?6 OFFSET ?7";

/// The FTS5 query for a literal substring: one phrase (the trigram tokenizer turns it into
/// its trigrams, which must follow each other), quoted so no character is query syntax.
fn fts_phrase(search_key: &str) -> String {
    format!("\"{}\"", search_key.replace('"', "\"\""))
}

/// Which older matches to read: those below `below`, `limit` of them after passing `skip`.
struct Older<'a> {
    below: i64,
    limit: i64,
    skip: i64,
    caller: i64,
    key: &'a str,
    pattern: &'a str,
}

fn older_matches_pg(c: &mut PgConnection, o: &Older<'_>) -> QueryResult<Vec<i64>> {
    let ids: Vec<IdRow> = diesel::sql_query(OLDER_MATCHES_PG)
        .bind::<Text, _>(o.pattern)
        .bind::<BigInt, _>(o.below)
        .bind::<BigInt, _>(o.limit.saturating_add(o.skip))
        .bind::<BigInt, _>(o.caller)
        .bind::<BigInt, _>(o.limit)
        .bind::<BigInt, _>(o.skip)
        .load(c)?;
    Ok(ids.into_iter().map(|row| row.id).collect())
}

fn older_matches_sqlite(c: &mut SqliteConnection, o: &Older<'_>) -> QueryResult<Vec<i64>> {
    let ids: Vec<IdRow> = diesel::sql_query(OLDER_MATCHES_SQLITE)
        .bind::<Text, _>(fts_phrase(o.key))
        .bind::<BigInt, _>(o.below)
        .bind::<Text, _>(o.pattern)
        .bind::<BigInt, _>(o.limit.saturating_add(o.skip))
        .bind::<BigInt, _>(o.caller)
        .bind::<BigInt, _>(o.limit)
        .bind::<BigInt, _>(o.skip)
        .load(c)?;
    Ok(ids.into_iter().map(|row| row.id).collect())
}

/// A search page of three or more characters (a macro so it is built for each backend;
/// `$older` reads the older matches, [`older_matches_pg`] or [`older_matches_sqlite`]).
///
/// 1. The window: the [`SEARCH_WINDOW`] newest posts below the cursor, whose lowest id one
///    index-only walk of the primary key finds.
/// 2. The page from the window alone (the statement of a walked search, bounded below by the
///    window's lowest id, so it reads at most the window's rows). A full page ends here: the
///    window's matches are the newest ones.
/// 3. Otherwise, when older posts exist, the rest of the page from the indexes of older
///    matches, passing over what `skip` leaves after the window's matches.
macro_rules! indexed_search_page {
    ($c:expr, $req:expr, $fetch:expr, $key:expr, $pattern:expr, $older:expr) => {{
        let (c, req, fetch, pattern): (_, &PageRequest<'_>, i64, &str) =
            ($c, $req, $fetch, $pattern);
        let (caller, skip) = (req.caller, req.skip);
        let before = req.before.unwrap_or(i64::MAX);
        let floor: Option<i64> = posts::table
            .select(posts::id)
            .filter(posts::id.lt(before))
            .order(posts::id.desc())
            .offset(SEARCH_WINDOW - 1)
            .limit(1)
            .first(c)
            .optional()?;
        let lowest = floor.unwrap_or(i64::MIN);
        let mut rows: Vec<(Post, Author, i64)> =
            page_query!(page_ids!(caller, before, fetch, skip, pattern, lowest)).load(c)?;
        match floor {
            // The window holds every post below the cursor, or filled the page.
            None => rows,
            Some(_) if rows.len() as i64 >= fetch => rows,
            Some(floor) => {
                let in_window = if rows.is_empty() && skip > 0 {
                    page.filter(
                        page.field(posts::published)
                            .eq(true)
                            .or(page.field(posts::owner_id).eq(caller)),
                    )
                    .filter(page.field(posts::id).lt(before))
                    .filter(page.field(posts::id).ge(floor))
                    .filter(page.field(posts::title_search).like(pattern).escape('\\'))
                    .count()
                    .get_result::<i64>(c)?
                } else {
                    skip.saturating_add(rows.len() as i64)
                };
                let older = Older {
                    below: floor,
                    limit: fetch - rows.len() as i64,
                    skip: skip.saturating_sub(in_window).max(0),
                    caller,
                    key: $key,
                    pattern,
                };
                let ids = $older(c, &older)?;
                if !ids.is_empty() {
                    rows.extend(page_query!(ids).load(c)?);
                }
                rows
            }
        }
    }};
}

/// One page of the posts `caller` may see, newest first, each with its owner and vote
/// count. The page's ids come from a subselect (filters, order, limit, offset), so votes are
/// counted for the page's rows only, by a correlated subquery on the votes primary key; one
/// row more than the page is read to learn whether another page follows.
///
/// Cost: a page below a cursor (`before`) starts at its position in the primary key, so it
/// costs the same at any depth; `skip` still reads every skipped row. A search of three or
/// more characters reads at most [`SEARCH_WINDOW`] of the newest posts below the cursor and,
/// when they do not fill the page, older matches from indexes that hold only what the caller
/// may see: published titles' trigrams (PostgreSQL: a `pg_trgm` GIN index of an expression
/// that is NULL for drafts; SQLite: FTS5, which returns them newest first) and the caller's own
/// drafts (see [`indexed_search_page`]). So neither a word found only in others' drafts nor one
/// found only in old posts makes it walk the table. A search of one or two characters, which
/// no trigram index can narrow, walks the posts newest first until the page is full: cheap for
/// common letters, a scan of every title below the cursor for a pair that (almost) never
/// occurs.
pub fn page_of_posts_with_votes(conn: &mut DbConn, req: &PageRequest<'_>) -> Result<Page, DbError> {
    if !req.search.can_match() || req.limit <= 0 {
        return Ok(Page::default());
    }
    let key = req.search.key();
    let key_chars = key.chars().count();
    let pattern = contains_pattern(req.search);
    let (caller, skip) = (req.caller, req.skip);
    let before = req.before.unwrap_or(i64::MAX);
    let fetch = req.limit.saturating_add(1);
    let mut rows: Vec<(Post, Author, i64)> = match conn {
        DbConn::Pg(c) if key.is_empty() => {
            page_query!(page_ids!(caller, before, fetch, skip)).load(c)?
        }
        DbConn::Pg(c) if key_chars < TRIGRAM_CHARS => PlannedPerCall(page_query!(page_ids!(
            caller, before, fetch, skip, &pattern
        )))
        .load(c)?,
        DbConn::Pg(c) => indexed_search_page!(c, req, fetch, key, &pattern, older_matches_pg),
        DbConn::Sqlite(c) if key.is_empty() => {
            page_query!(page_ids!(caller, before, fetch, skip)).load(c)?
        }
        DbConn::Sqlite(c) if key_chars < TRIGRAM_CHARS => {
            page_query!(page_ids!(caller, before, fetch, skip, &pattern)).load(c)?
        }
        DbConn::Sqlite(c) => {
            indexed_search_page!(c, req, fetch, key, &pattern, older_matches_sqlite)
        }
    };
    let has_next = rows.len() as i64 > req.limit;
    rows.truncate(req.limit as usize);
    Ok(Page { rows, has_next })
}

/// One post with its owner and vote count, if `caller` may see it.
pub fn post_with_votes(
    conn: &mut DbConn,
    id: PostId,
    caller: i64,
) -> Result<Option<(Post, Author, i64)>, DbError> {
    Ok(with_conn!(conn, |c| posts::table
        .inner_join(authors::table)
        .filter(posts::id.eq(id.get()))
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
                posts::title.eq(input.title().as_str()),
                posts::title_search.eq(input.title().search_key()),
                posts::content.eq(input.content().as_str()),
                posts::published.eq(input.published()),
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
    id: PostId,
    author: &NewAuthor,
    input: &PostInput,
) -> Result<Change<(Post, Author)>, DbError> {
    let id = id.get();
    Ok(with_conn!(conn, |c| c.write_transaction(|c| {
        let updated = diesel::update(
            posts::table
                .filter(posts::id.eq(id))
                .filter(posts::owner_id.eq(author.id)),
        )
        .set((
            posts::title.eq(input.title().as_str()),
            posts::title_search.eq(input.title().search_key()),
            posts::content.eq(input.content().as_str()),
            posts::published.eq(input.published()),
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
pub fn delete_post(conn: &mut DbConn, id: PostId, caller: i64) -> Result<Change<()>, DbError> {
    let id = id.get();
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

/// Adds or removes (the vote's `dir`) the caller's vote on a post they can see. The primary
/// key decides duplicates, so concurrent identical votes give one `Added`, never an error.
pub fn vote(
    conn: &mut DbConn,
    vote: &VoteInput,
    voter: &NewAuthor,
) -> Result<VoteOutcome, DbError> {
    let post_id = vote.post_id().get();
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
        if vote.dir() == VoteDir::Add {
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
        let pg = diesel::debug_query::<Pg, _>(&page_query!(page_ids!(
            7_i64, 99_i64, 10_i64, 20_i64, "%x%"
        )))
        .to_string();
        let sqlite = diesel::debug_query::<Sqlite, _>(&page_query!(page_ids!(
            7_i64, 99_i64, 10_i64, 20_i64, "%x%"
        )))
        .to_string();
        println!("PostgreSQL: {pg}\nSQLite: {sqlite}");
        for sql in [pg, sqlite.replace('`', "\"")] {
            assert_eq!(sql.matches("SELECT").count(), 3, "{sql}");
            assert!(sql.contains("LIMIT"), "{sql}");
            assert!(sql.contains("OFFSET"), "{sql}");
            assert!(sql.contains("\"page\".\"id\" < "), "{sql}");
            assert!(
                sql.contains("WHERE (\"votes\".\"post_id\" = \"posts\".\"id\")"),
                "{sql}"
            );
        }
    }

    #[test]
    fn list_pages_are_prepared_once_and_searches_planned_per_call() {
        use diesel::pg::Pg;
        use diesel::query_builder::{QueryFragment, QueryId};
        fn cached<Q: QueryId + QueryFragment<Pg>>(q: &Q) -> bool {
            Q::HAS_STATIC_QUERY_ID && q.is_safe_to_cache_prepared(&Pg).unwrap()
        }
        assert!(cached(&page_query!(page_ids!(
            7_i64, 99_i64, 10_i64, 20_i64
        ))));
        let search = PlannedPerCall(page_query!(page_ids!(7_i64, 99_i64, 10_i64, 20_i64, "%x%")));
        assert!(!cached(&search));
        assert!(!search.is_safe_to_cache_prepared(&Pg).unwrap());
    }

    #[test]
    fn fts_phrases_quote_everything() {
        assert_eq!(fts_phrase("say \"hi\" * or"), "\"say \"\"hi\"\" * or\"");
    }

    #[test]
    fn patterns_match_wildcards_literally() {
        let pattern = |search: &str| contains_pattern(&Search::new(search.to_owned()));
        assert_eq!(pattern("ÉCOLE"), "%école%");
        assert_eq!(pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
    }
}
