//! Fixtures: users, posts and votes from one JSON file, loaded through the services' own
//! HTTP API, so every entry passes the same validation and the passwords get the same
//! hashing as a client's would. A bad entry stops the load with an error naming it
//! (`posts[2]: title: ensure this value has at most 300 characters`).
//!
//! ```json
//! {
//!   "users": [
//!     {"email": "alice@example.com", "password": "password123"},
//!     {"email": "bob@example.com", "password": "password456"}
//!   ],
//!   "posts": [
//!     {"owner": "alice@example.com", "title": "hello", "content": "first post"},
//!     {"owner": "bob@example.com", "title": "draft", "content": "...", "published": false}
//!   ],
//!   "votes": [
//!     {"user": "bob@example.com", "post": 0}
//!   ]
//! }
//! ```
//!
//! Every section is optional. A post's `owner` and a vote's `user` name a user of the same
//! file by email (any case); a vote's `post` is the index of a post in `posts`. Posts are
//! created in file order, so the last one is the newest.

use std::path::Path;

use serde_json::{Map, Value};

use crate::StackUrls;

/// A fixture file, checked for shape (known sections and fields) but not yet for content:
/// the services check that when it is loaded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fixture {
    users: Vec<Map<String, Value>>,
    posts: Vec<Map<String, Value>>,
    votes: Vec<Map<String, Value>>,
}

/// A fixture user after loading: the account's id and a fresh access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeededUser {
    pub id: i64,
    pub email: String,
    pub token: String,
}

/// What a fixture created, in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seeded {
    pub users: Vec<SeededUser>,
    /// The id of each entry of `posts`.
    pub post_ids: Vec<i64>,
}

impl Seeded {
    /// The loaded user with this email (any case).
    pub fn user(&self, email: &str) -> Option<&SeededUser> {
        self.users
            .iter()
            .find(|u| u.email.to_lowercase() == email.to_lowercase())
    }

    /// The user whose email the entry's `field` names (`section[index]` refused otherwise).
    fn user_named_by(
        &self,
        entry: &Map<String, Value>,
        field: &str,
        section: &str,
        index: usize,
    ) -> Result<&SeededUser, SeedError> {
        let email = string_field(entry, field, section, index)?;
        self.user(email).ok_or_else(|| {
            refused(
                section,
                index,
                format!("{field}: no user {email:?} in users"),
            )
        })
    }
}

/// Why a fixture was refused.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// The file could not be read or is not a fixture.
    #[error("{0}")]
    File(String),
    /// One entry was refused (by the file's rules or by a service).
    #[error("{entry}: {message}")]
    Entry { entry: String, message: String },
    /// A service did not answer as expected.
    #[error("{entry}: {message}")]
    Service { entry: String, message: String },
}

const SECTIONS: [&str; 3] = ["users", "posts", "votes"];
const USER_FIELDS: [&str; 2] = ["email", "password"];
const POST_FIELDS: [&str; 4] = ["owner", "title", "content", "published"];
const VOTE_FIELDS: [&str; 2] = ["user", "post"];

impl Fixture {
    /// Reads and shape-checks a fixture file.
    pub fn load(path: &Path) -> Result<Fixture, SeedError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| SeedError::File(format!("{}: {e}", path.display())))?;
        Fixture::parse(&text).map_err(|e| match e {
            SeedError::File(message) => SeedError::File(format!("{}: {message}", path.display())),
            other => other,
        })
    }

    /// Shape-checks a fixture from its JSON text.
    pub fn parse(text: &str) -> Result<Fixture, SeedError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| SeedError::File(format!("not JSON: {e}")))?;
        Fixture::from_value(value)
    }

    /// Shape-checks a fixture given as JSON (`serde_json::json!({...})`, say).
    pub fn from_value(value: Value) -> Result<Fixture, SeedError> {
        let Value::Object(mut top) = value else {
            return Err(SeedError::File(
                "a fixture is a JSON object with \"users\", \"posts\" and \"votes\" lists".into(),
            ));
        };
        if let Some(unknown) = top.keys().find(|k| !SECTIONS.contains(&k.as_str())) {
            return Err(SeedError::File(format!(
                "unknown section {unknown:?} (expected \"users\", \"posts\", \"votes\")"
            )));
        }
        let mut section = |name: &str, fields: &[&str]| -> Result<_, SeedError> {
            let entries = match top.remove(name) {
                None => return Ok(Vec::new()),
                Some(Value::Array(entries)) => entries,
                Some(_) => return Err(SeedError::File(format!("{name}: must be a list"))),
            };
            entries
                .into_iter()
                .enumerate()
                .map(|(i, entry)| {
                    let Value::Object(entry) = entry else {
                        return Err(refused(name, i, "must be an object"));
                    };
                    if let Some(unknown) = entry.keys().find(|k| !fields.contains(&k.as_str())) {
                        return Err(refused(
                            name,
                            i,
                            format!("unknown field {unknown:?} (expected {})", fields.join(", ")),
                        ));
                    }
                    Ok(entry)
                })
                .collect()
        };
        Ok(Fixture {
            users: section("users", &USER_FIELDS)?,
            posts: section("posts", &POST_FIELDS)?,
            votes: section("votes", &VOTE_FIELDS)?,
        })
    }

    /// Loads the fixture into the stack at `urls`: signs each user up (`POST /users/`) and
    /// logs them in (`POST /login`), creates each post as its owner (`POST /posts/`) and
    /// casts each vote as its user (`POST /vote/`). Stops at the first refused entry.
    pub async fn apply(
        &self,
        client: &reqwest::Client,
        urls: &StackUrls,
    ) -> Result<Seeded, SeedError> {
        let mut seeded = Seeded::default();
        for (i, user) in self.users.iter().enumerate() {
            let entry = format!("users[{i}]");
            let email = string_field(user, "email", "users", i)?;
            let password = string_field(user, "password", "users", i)?;
            let created = call(
                &entry,
                201,
                client
                    .post(format!("{}/users/", urls.auth_url))
                    .json(&Value::Object(user.clone())),
            )
            .await?;
            let id = created["id"].as_i64().ok_or_else(|| SeedError::Service {
                entry: entry.clone(),
                message: format!("POST /users/ answered without an id: {created}"),
            })?;
            let login = call(
                &entry,
                200,
                client
                    .post(format!("{}/login", urls.auth_url))
                    .form(&[("username", email), ("password", password)]),
            )
            .await?;
            let token = login["access_token"]
                .as_str()
                .ok_or_else(|| SeedError::Service {
                    entry: entry.clone(),
                    message: format!("POST /login answered without a token: {login}"),
                })?
                .to_owned();
            seeded.users.push(SeededUser {
                id,
                email: email.to_owned(),
                token,
            });
        }

        for (i, post) in self.posts.iter().enumerate() {
            let entry = format!("posts[{i}]");
            let owner = seeded.user_named_by(post, "owner", "posts", i)?;
            let mut body = post.clone();
            body.remove("owner");
            let created = call(
                &entry,
                201,
                client
                    .post(format!("{}/posts/", urls.posts_url))
                    .bearer_auth(&owner.token)
                    .json(&Value::Object(body)),
            )
            .await?;
            let id = created["id"].as_i64().ok_or_else(|| SeedError::Service {
                entry: entry.clone(),
                message: format!("POST /posts/ answered without an id: {created}"),
            })?;
            seeded.post_ids.push(id);
        }

        for (i, vote) in self.votes.iter().enumerate() {
            let entry = format!("votes[{i}]");
            let voter = seeded.user_named_by(vote, "user", "votes", i)?;
            let post_id = match vote.get("post") {
                Some(Value::Number(n)) => n
                    .as_u64()
                    .and_then(|n| usize::try_from(n).ok())
                    .and_then(|n| seeded.post_ids.get(n).copied())
                    .ok_or_else(|| refused("votes", i, format!("post: no posts[{n}] in posts")))?,
                _ => {
                    return Err(refused(
                        "votes",
                        i,
                        "post: the index of a post in posts is required",
                    ))
                }
            };
            call(
                &entry,
                201,
                client
                    .post(format!("{}/vote/", urls.posts_url))
                    .bearer_auth(&voter.token)
                    .json(&serde_json::json!({ "post_id": post_id, "dir": 1 })),
            )
            .await?;
        }
        Ok(seeded)
    }
}

fn refused(section: &str, index: usize, message: impl Into<String>) -> SeedError {
    SeedError::Entry {
        entry: format!("{section}[{index}]"),
        message: message.into(),
    }
}

/// A field that must be a string for the loader itself to use it (an email to log in or
/// refer to a user with, a password to log in with).
fn string_field<'a>(
    entry: &'a Map<String, Value>,
    field: &str,
    section: &str,
    index: usize,
) -> Result<&'a str, SeedError> {
    match entry.get(field) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(refused(
            section,
            index,
            format!("{field}: must be a string"),
        )),
        None => Err(refused(section, index, format!("{field}: field required"))),
    }
}

/// Sends a request and returns its JSON body when the status is `expected`; otherwise the
/// service's refusal, as an error naming the entry.
async fn call(
    entry: &str,
    expected: u16,
    request: reqwest::RequestBuilder,
) -> Result<Value, SeedError> {
    let service = |message: String| SeedError::Service {
        entry: entry.to_owned(),
        message,
    };
    let mut waits = 0;
    let resp = loop {
        // Every request here has a body in memory: it can be sent again.
        let attempt = request
            .try_clone()
            .ok_or_else(|| service("a request that cannot be sent twice".into()))?;
        let resp = attempt.send().await.map_err(|e| service(e.to_string()))?;
        match rate_limited_for(&resp) {
            // A fixture larger than auth's rate limits (20 sign-ups a minute per client by
            // default) loads at the pace they allow.
            Some(wait) if waits < MAX_RATE_LIMIT_WAITS => {
                waits += 1;
                tokio::time::sleep(wait).await;
            }
            _ => break resp,
        }
    };
    let status = resp.status();
    let body: Value = resp
        .json()
        .await
        .map_err(|e| service(format!("{status}: {e}")))?;
    if status.as_u16() == expected {
        return Ok(body);
    }
    Err(SeedError::Entry {
        entry: entry.to_owned(),
        message: describe_refusal(status, &body),
    })
}

/// How often one entry waits out a rate limit before its 429 is the answer.
const MAX_RATE_LIMIT_WAITS: u32 = 30;

/// The `Retry-After` of a 429 (at most a minute).
fn rate_limited_for(resp: &reqwest::Response) -> Option<std::time::Duration> {
    if resp.status() != reqwest::StatusCode::TOO_MANY_REQUESTS {
        return None;
    }
    let seconds: u64 = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .parse()
        .ok()?;
    Some(std::time::Duration::from_secs(seconds.clamp(1, 60)))
}

/// The course-shaped error body as one line: `title: ensure this value ...` for each
/// validation error, the `detail` text otherwise.
fn describe_refusal(status: reqwest::StatusCode, body: &Value) -> String {
    match &body["detail"] {
        Value::String(detail) => detail.clone(),
        Value::Array(errors) => errors
            .iter()
            .map(|e| {
                let field: Vec<String> = e["loc"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .skip(1) // "body"
                    .map(|part| match part {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .collect();
                let msg = e["msg"].as_str().unwrap_or("invalid");
                if field.is_empty() {
                    msg.to_owned()
                } else {
                    format!("{}: {msg}", field.join("."))
                }
            })
            .collect::<Vec<_>>()
            .join("; "),
        _ => format!("refused with {status}: {body}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry_error(e: SeedError) -> String {
        match e {
            SeedError::Entry { .. } => e.to_string(),
            other => panic!("expected an entry error, got {other:?}"),
        }
    }

    #[test]
    fn sections_are_optional_and_entries_keep_their_order() {
        let f = Fixture::parse(r#"{"users": [{"email": "a@b.co", "password": "x"}]}"#).unwrap();
        assert_eq!(f.users.len(), 1);
        assert!(f.posts.is_empty() && f.votes.is_empty());
        assert_eq!(Fixture::parse("{}").unwrap(), Fixture::default());
    }

    #[test]
    fn shape_errors_name_the_section_or_entry() {
        assert!(matches!(Fixture::parse("[1]"), Err(SeedError::File(_))));
        assert!(matches!(Fixture::parse("{"), Err(SeedError::File(_))));
        let e = Fixture::parse(r#"{"user": []}"#).unwrap_err();
        assert!(e.to_string().contains("unknown section \"user\""), "{e}");
        let e = Fixture::parse(r#"{"posts": {}}"#).unwrap_err();
        assert_eq!(e.to_string(), "posts: must be a list");
        let e = Fixture::from_value(json!({"posts": [{"title": "t", "content": "c"}, 3]}));
        assert_eq!(entry_error(e.unwrap_err()), "posts[1]: must be an object");
        let e = Fixture::from_value(json!({"posts": [{"title": "t", "publised": false}]}));
        assert!(entry_error(e.unwrap_err()).starts_with("posts[0]: unknown field \"publised\""));
    }

    #[test]
    fn refusals_read_as_field_and_message() {
        let status = reqwest::StatusCode::UNPROCESSABLE_ENTITY;
        let body = json!({"detail": [
            {"loc": ["body", "title"], "msg": "field required", "type": "value_error.missing"},
            {"loc": ["body", "content"], "msg": "str type expected", "type": "type_error.str"}
        ]});
        assert_eq!(
            describe_refusal(status, &body),
            "title: field required; content: str type expected"
        );
        let conflict = json!({"detail": "User with email: a@b.co already exists"});
        assert_eq!(
            describe_refusal(reqwest::StatusCode::CONFLICT, &conflict),
            "User with email: a@b.co already exists"
        );
    }
}
