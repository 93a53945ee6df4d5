//! The grammar of `DATABASE_URL`: which URLs the services accept, the backend each selects,
//! and how a URL is printed (its password masked).

/// Which database engine a URL selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// A database URL checked at start: `postgres://…` / `postgresql://…`, `sqlite://FILE`,
/// `sqlite:FILE`, or a plain file path (SQLite). Parsed once ([`DatabaseUrl::parse`]) and
/// handed as it is to the pool, which opens every connection from it without reading the
/// text again. Printed ([`Display`](std::fmt::Display) and [`Debug`]), its password is
/// masked (`***`).
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    backend: Backend,
    url: String,
}

/// Why a database URL is refused. Every message shows the URL with its password masked.
#[derive(Debug, thiserror::Error)]
pub enum DbUrlError {
    #[error("is empty: give sqlite://FILE, a file path, or postgres://USER@HOST/DB")]
    Empty,
    #[error(
        "scheme `{scheme}` must be written in lower case (`{}://`) in {url}",
        scheme.to_lowercase()
    )]
    UpperCaseScheme { scheme: String, url: String },
    #[error(
        "unsupported scheme `{scheme}` in {url}: use postgres://, postgresql://, sqlite://FILE \
         or a file path"
    )]
    UnsupportedScheme { scheme: String, url: String },
    #[error("`{scheme}:` must be followed by `//` (`{scheme}://USER@HOST/DB`)")]
    NoSlashes { scheme: String },
    #[error("{url} is not a PostgreSQL URL: {source}")]
    InvalidPostgres {
        url: String,
        #[source]
        source: url::ParseError,
    },
    #[error(
        "{url} is an in-memory SQLite database: each pooled connection would get its own \
         empty database; name a file"
    )]
    InMemory { url: String },
    #[error("{url} names no SQLite file")]
    NoSqliteFile { url: String },
}

impl DatabaseUrl {
    /// Checks a database URL and picks its backend.
    pub fn parse(raw: &str) -> Result<DatabaseUrl, DbUrlError> {
        let text = raw.trim();
        if text.is_empty() {
            return Err(DbUrlError::Empty);
        }
        let sqlite = |path: &str| {
            if path.is_empty() {
                Err(DbUrlError::NoSqliteFile { url: masked(raw) })
            } else if path == ":memory:" || path.starts_with("file::memory:") {
                Err(DbUrlError::InMemory { url: masked(raw) })
            } else {
                Ok(DatabaseUrl {
                    backend: Backend::Sqlite,
                    url: raw.to_owned(),
                })
            }
        };
        let parsed = match url::Url::parse(text) {
            // No scheme: a file path (`data/auth.db`, `/var/lib/auth.db`, `:memory:`).
            Err(url::ParseError::RelativeUrlWithoutBase) => return sqlite(text),
            other => other,
        };
        // `Url` lower-cases the scheme; the services' drivers do not, so read it as written.
        let scheme = text.split(':').next().unwrap_or_default();
        let lower = scheme.to_ascii_lowercase();
        if !matches!(lower.as_str(), "postgres" | "postgresql" | "sqlite") {
            return Err(DbUrlError::UnsupportedScheme {
                scheme: scheme.to_owned(),
                url: masked(raw),
            });
        }
        if scheme != lower {
            return Err(DbUrlError::UpperCaseScheme {
                scheme: scheme.to_owned(),
                url: masked(raw),
            });
        }
        if lower == "sqlite" {
            return sqlite(sqlite_path(text));
        }
        match parsed {
            Ok(_) if text.starts_with(&format!("{scheme}://")) => Ok(DatabaseUrl {
                backend: Backend::Postgres,
                url: raw.to_owned(),
            }),
            Ok(_) => Err(DbUrlError::NoSlashes {
                scheme: scheme.to_owned(),
            }),
            Err(source) => Err(DbUrlError::InvalidPostgres {
                url: masked(raw),
                source,
            }),
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The URL as given (with its password: for the driver, never for messages).
    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// The file a SQLite URL names (`sqlite://data/auth.db` → `data/auth.db`).
    pub fn sqlite_path(&self) -> &str {
        sqlite_path(&self.url)
    }

    /// The same database and backend, written as `url` (the pool's additions to it).
    pub(super) fn rewritten(&self, url: String) -> DatabaseUrl {
        DatabaseUrl {
            backend: self.backend,
            url,
        }
    }
}

impl std::str::FromStr for DatabaseUrl {
    type Err = DbUrlError;

    fn from_str(raw: &str) -> Result<DatabaseUrl, DbUrlError> {
        DatabaseUrl::parse(raw)
    }
}

impl std::fmt::Debug for DatabaseUrl {
    /// The URL with its password masked, as [`Display`](std::fmt::Display) shows it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("DatabaseUrl")
            .field(&masked(&self.url))
            .finish()
    }
}

impl std::fmt::Display for DatabaseUrl {
    /// The URL with its password masked, for messages.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&masked(&self.url))
    }
}

/// `url` with any password (`user:password@`, `?password=`) replaced by `***`.
pub fn masked(url: &str) -> String {
    if let Ok(mut parsed) = url::Url::parse(url) {
        if parsed.password().is_some() {
            let _ = parsed.set_password(Some("***"));
        }
        if parsed.query_pairs().any(|(k, _)| k == "password") {
            let pairs: Vec<(String, String)> = parsed
                .query_pairs()
                .map(|(k, v)| {
                    let v = if k == "password" {
                        "***".into()
                    } else {
                        v.into_owned()
                    };
                    (k.into_owned(), v)
                })
                .collect();
            parsed.query_pairs_mut().clear().extend_pairs(pairs);
        }
        return parsed.to_string();
    }
    // Not a URL `Url` reads (a bad port, say): mask between the user and the `@` anyway.
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match (authority.rfind('@'), authority.find(':')) {
        (Some(at), Some(colon)) if colon < at => format!(
            "{scheme}://{}:***{}{tail}",
            &authority[..colon],
            &authority[at..]
        ),
        _ => url.to_owned(),
    }
}

/// The file path a SQLite URL names (`sqlite://data/auth.db` → `data/auth.db`).
pub fn sqlite_path(url: &str) -> &str {
    url.strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_database_urls_pick_their_backend() {
        for (url, backend) in [
            ("postgres://u:p@h:5432/db", Backend::Postgres),
            ("postgresql://u@h/db?sslmode=require", Backend::Postgres),
            ("postgres:///db?host=/run/postgresql", Backend::Postgres),
            ("sqlite://data/auth.db", Backend::Sqlite),
            ("sqlite:///var/lib/auth.db", Backend::Sqlite),
            ("sqlite:data/auth.db", Backend::Sqlite),
            ("data/auth.db", Backend::Sqlite),
            ("/var/lib/auth.db", Backend::Sqlite),
        ] {
            let parsed = DatabaseUrl::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"));
            assert_eq!(parsed.backend(), backend, "{url}");
            assert_eq!(parsed.as_str(), url);
            assert_eq!(url.parse::<DatabaseUrl>().unwrap(), parsed);
        }
    }

    #[test]
    fn refused_database_urls_say_why_with_the_password_masked() {
        for (url, expected) in [
            ("", "is empty"),
            ("   ", "is empty"),
            ("POSTGRES://u:secret@h/db", "lower case"),
            ("Sqlite://x.db", "lower case"),
            (
                "postgress://u:secret@h/db",
                "unsupported scheme `postgress`",
            ),
            ("mysql://u:secret@h/db", "unsupported scheme `mysql`"),
            ("http://u:secret@h/db", "unsupported scheme `http`"),
            ("postgres:u:secret@h/db", "must be followed by `//`"),
            ("postgres://u:secret@h:port/db", "not a PostgreSQL URL"),
            ("sqlite://:memory:", "in-memory"),
            (":memory:", "in-memory"),
            ("sqlite://", "names no SQLite file"),
        ] {
            let err = DatabaseUrl::parse(url).unwrap_err().to_string();
            assert!(err.contains(expected), "{url}: {err}");
            assert!(!err.contains("secret"), "{url}: password shown: {err}");
            assert!(!err.contains('\n'), "{url}: one line: {err}");
        }
    }

    #[test]
    fn masking_hides_passwords_in_the_user_part_and_the_query() {
        assert_eq!(masked("postgres://u:pw@h/db"), "postgres://u:***@h/db");
        assert_eq!(
            masked("postgres://u@h/db?password=pw&sslmode=require"),
            "postgres://u@h/db?password=***&sslmode=require"
        );
        assert_eq!(
            masked("postgres://u:pw@h:bad/db"),
            "postgres://u:***@h:bad/db"
        );
        assert_eq!(masked("sqlite://data/auth.db"), "sqlite://data/auth.db");
    }

    #[test]
    fn a_parsed_url_prints_with_its_password_masked() {
        let url = DatabaseUrl::parse("postgres://u:pw@h/db?password=pw").unwrap();
        assert_eq!(url.to_string(), "postgres://u:***@h/db?password=***");
        assert_eq!(
            format!("{url:?}"),
            r#"DatabaseUrl("postgres://u:***@h/db?password=***")"#
        );
        assert_eq!(url.as_str(), "postgres://u:pw@h/db?password=pw");
    }
}
