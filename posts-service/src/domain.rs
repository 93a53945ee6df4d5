//! What a client may send to the posts service, as types: a post's title and content, a
//! vote's direction, a post id, the list's paging and search. Each input is built once, at
//! the edge, from a body, a query string or a path; once a handler holds one, it is valid.
//! Building one reports every failing field at once, in the course's 422 shape (pydantic
//! v1), and the same types are what the OpenAPI document describes, bounds included.
//!
//! Types are strict, as the document states them: a number is not a string, a boolean or a
//! string is not an integer (while `1.0` is one, as JSON Schema counts integers), only
//! `true` and `false` are booleans, and `null` is refused
//! wherever a value is expected (an omitted `published` defaults to `true`, as the course's
//! `published: bool = True` does; an explicit `null` is a 422 there too).

use actix_web::HttpRequest;
use service_kit::input::{check_length, check_range, path_id, Fields, FromFields, Invalid, Query};
use service_kit::ApiError;
use utoipa::{IntoParams, ToSchema};

use crate::cursor;

/// Longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 300;
/// Longest content, in characters.
pub const MAX_CONTENT_CHARS: usize = 100_000;
/// Posts in one page when `limit` is not given.
pub const DEFAULT_LIMIT: i64 = 10;
/// Most posts in one page.
pub const MAX_LIMIT: i64 = 100;
/// Largest `skip` accepted (far beyond any table; keeps `OFFSET` arithmetic safe).
pub const MAX_SKIP: i64 = i64::MAX / 2;
/// Longest `search`, in characters: far longer than any title (a search longer than the
/// longest title finds nothing, and is answered without asking the database), and short
/// enough that an ASCII one fits in a request target (at most 65 534 bytes in actix-web).
pub const MAX_SEARCH_CHARS: usize = 60_000;

/// Lower-casing turns one character into at most this many (`İ` becomes `i̇`; checked over
/// all of Unicode by a test below).
const MAX_LOWERCASE_EXPANSION: usize = 2;

/// The longest search key any title can have. A longer search cannot match, so it is
/// answered without asking the database (SQLite refuses `LIKE` patterns over 50 000 bytes).
pub const MAX_SEARCH_KEY_CHARS: usize = MAX_TITLE_CHARS * MAX_LOWERCASE_EXPANSION;

/// The case-folded text that a search matches titles by: the one place text is lower-cased,
/// in Rust rather than SQL so that both backends agree on non-ASCII text.
fn search_key(text: &str) -> String {
    text.to_lowercase()
}

/// A post's title: 1 to [`MAX_TITLE_CHARS`] characters, no NUL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Title(String);

impl Title {
    /// A title's text (its NUL already refused by the field reader).
    pub fn parse(raw: String) -> Result<Title, Invalid> {
        check_length(&raw, 1, MAX_TITLE_CHARS)?;
        Ok(Title(raw))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key searches match this title by (stored beside it, for the index).
    pub fn search_key(&self) -> String {
        search_key(&self.0)
    }
}

/// A post's content: at most [`MAX_CONTENT_CHARS`] characters, no NUL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content(String);

impl Content {
    /// A content's text (its NUL already refused by the field reader).
    pub fn parse(raw: String) -> Result<Content, Invalid> {
        check_length(&raw, 0, MAX_CONTENT_CHARS)?;
        Ok(Content(raw))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The body of create and replace (`PostCreate`, as the course names it). The document
/// also says that `title` and `content` hold no NUL (see `crate::openapi`).
#[derive(Debug, Clone, ToSchema)]
#[schema(as = PostCreate)]
pub struct PostInput {
    /// 1 to 300 characters (Unicode code points); no NUL character.
    #[schema(value_type = String, min_length = 1, max_length = 300)]
    title: Title,
    /// At most 100 000 characters (Unicode code points); no NUL character.
    #[schema(value_type = String, min_length = 0, max_length = 100000)]
    content: Content,
    /// `true` when omitted (also on replace, which resets it); `null` is refused.
    #[schema(default = true, required = false)]
    published: bool,
}

impl PostInput {
    pub fn title(&self) -> &Title {
        &self.title
    }

    pub fn content(&self) -> &Content {
        &self.content
    }

    pub fn published(&self) -> bool {
        self.published
    }
}

impl FromFields for PostInput {
    fn from_fields(fields: &mut Fields) -> Option<PostInput> {
        let title = fields.parse("title", Title::parse);
        let content = fields.parse("content", Content::parse);
        let published = fields.strict_boolean_or("published", true);
        Some(PostInput {
            title: title?,
            content: content?,
            published: published?,
        })
    }
}

/// A post's id, as a path segment (`/posts/{id}`) or a vote's `post_id`: any 64-bit
/// integer (an id no post has is a 404, not a 422).
#[derive(Debug, Clone, Copy, PartialEq, Eq, IntoParams)]
#[into_params(names("id"), parameter_in = Path)]
pub struct PostId(
    /// Post id.
    #[param(minimum = -9223372036854775808i64, maximum = 9223372036854775807i64)]
    i64,
);

impl PostId {
    /// The `{id}` of the request's path; not an integer is 422 at `["path", "id"]`. Read once
    /// the token has passed (`routes::posts::CallersPost`), so that a request without a
    /// valid token gets 401 first.
    pub fn from_path(req: &HttpRequest) -> Result<PostId, ApiError> {
        path_id(req.match_info().get("id").unwrap_or_default(), "id").map(PostId)
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl std::fmt::Display for PostId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// What a vote does: `dir` 1 adds the caller's vote, 0 removes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoteDir {
    Remove,
    Add,
}

impl VoteDir {
    /// `dir`: 0 or 1.
    pub fn parse(dir: i64) -> Result<VoteDir, Invalid> {
        check_range(dir, 0, 1)?;
        Ok(if dir == 1 {
            VoteDir::Add
        } else {
            VoteDir::Remove
        })
    }
}

/// The body of `POST /vote/` (`Vote`, as the course names it).
#[derive(Debug, Clone, ToSchema)]
#[schema(as = Vote)]
pub struct VoteInput {
    /// The post voted on.
    #[schema(value_type = i64, minimum = -9223372036854775808i64, maximum = 9223372036854775807i64)]
    post_id: PostId,
    /// 1 adds the caller's vote, 0 removes it (a number: `true` and `"1"` are not 1).
    #[schema(value_type = i64, minimum = 0, maximum = 1)]
    dir: VoteDir,
}

impl VoteInput {
    pub fn post_id(&self) -> PostId {
        self.post_id
    }

    pub fn dir(&self) -> VoteDir {
        self.dir
    }
}

impl FromFields for VoteInput {
    fn from_fields(fields: &mut Fields) -> Option<VoteInput> {
        let post_id = fields.strict_integer("post_id").map(PostId);
        let dir = fields.parse("dir", VoteDir::parse);
        Some(VoteInput {
            post_id: post_id?,
            dir: dir?,
        })
    }
}

/// The list's `search`: the text as given (repeated in the next page's link) and its key,
/// lower-cased once, which titles are matched by and cursors are made for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Search {
    text: String,
    key: String,
}

impl Search {
    pub fn new(text: String) -> Search {
        Search {
            key: search_key(&text),
            text,
        }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// The lower-cased search (`""` for none).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Whether any title could hold it: one longer than the longest title's key cannot.
    pub fn can_match(&self) -> bool {
        self.key.chars().count() <= MAX_SEARCH_KEY_CHARS
    }
}

/// Where a list page starts: below the post a previous page's cursor names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position(i64);

impl Position {
    /// The id of the last post the previous page showed.
    pub fn last_id(self) -> i64 {
        self.0
    }
}

/// The query of `GET /posts/`.
#[derive(Debug, Clone, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Posts per page, 0..=100 (default 10).
    #[param(value_type = Option<i64>, minimum = 0, maximum = 100, default = 10)]
    limit: i64,
    /// Posts to skip, ≥ 0 (default 0). Its cost grows with the offset: to page through the
    /// list, follow the `Link` header's cursor instead. With `cursor`, counts from the
    /// cursor's position.
    #[param(value_type = Option<i64>, minimum = 0, maximum = 4611686018427387903i64, default = 0)]
    skip: i64,
    /// Case-insensitive substring of the title, matched literally (`%`, `_` and `\` are
    /// plain characters); at most 60 000 characters, no NUL. A search longer than any
    /// title finds nothing.
    #[param(value_type = Option<String>, min_length = 0, max_length = 60000)]
    search: Search,
    /// Opaque position from a previous page's `Link: <…>; rel="next"`, valid with the same
    /// `search`; 422 if altered. Empty is the same as absent.
    #[param(value_type = Option<String>, pattern = "^([A-Za-z0-9_-]{23})?$")]
    cursor: Option<Position>,
}

impl ListQuery {
    pub fn limit(&self) -> i64 {
        self.limit
    }

    pub fn skip(&self) -> i64 {
        self.skip
    }

    pub fn search(&self) -> &Search {
        &self.search
    }

    pub fn cursor(&self) -> Option<Position> {
        self.cursor
    }

    /// The cursor of the page after the one ending at post `last_id`, for this search.
    pub fn next_cursor(&self, last_id: i64) -> String {
        cursor::encode(last_id, self.search.key())
    }

    /// Parses a request's query string; every failing parameter is reported at once.
    pub fn parse(query_string: &str) -> Result<ListQuery, ApiError> {
        let mut query = Query::parse(query_string);
        let limit = query.integer("limit", DEFAULT_LIMIT, 0, MAX_LIMIT);
        let skip = query.integer("skip", 0, 0, MAX_SKIP);
        let search = query.string("search");
        let raw_cursor = query.string("cursor");
        if let Err(invalid) = check_length(&search, 0, MAX_SEARCH_CHARS) {
            query.reject("search", invalid);
        }
        let search = Search::new(search);
        let cursor = match raw_cursor.as_str() {
            "" => None,
            raw => match cursor::decode(raw, search.key()) {
                Ok(id) => Some(Position(id)),
                Err(cursor::InvalidCursor) => {
                    query.reject(
                        "cursor",
                        Invalid::new(
                            "invalid cursor: not one this list gave for this search",
                            "value_error.cursor",
                        ),
                    );
                    None
                }
            },
        };
        query.finish()?;
        Ok(ListQuery {
            limit,
            skip,
            search,
            cursor,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_casing_expands_a_character_to_at_most_two() {
        let longest = (0..=u32::from(char::MAX))
            .filter_map(char::from_u32)
            .map(|c| c.to_lowercase().count())
            .max();
        assert_eq!(longest, Some(MAX_LOWERCASE_EXPANSION));
        // `str::to_lowercase` also maps final sigma by context, one character for one.
        assert_eq!(
            search_key(&"İ".repeat(MAX_TITLE_CHARS)).chars().count(),
            MAX_SEARCH_KEY_CHARS
        );
    }
}
