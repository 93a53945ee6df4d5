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
    #[error("{url} is not a PostgreSQL URL: {reason}")]
    InvalidPostgres { url: String, reason: String },
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
        // What libpq's own reading of the string said.
        let postgres = |checked: Result<(), String>| match checked {
            Ok(()) => Ok(DatabaseUrl {
                backend: Backend::Postgres,
                url: raw.to_owned(),
            }),
            Err(reason) => Err(DbUrlError::InvalidPostgres {
                url: masked(raw),
                reason,
            }),
        };
        // libpq's keyword/value form (`host=db1,db2 dbname=auth`).
        if super::libpq::is_keyword_form(text) {
            return postgres(super::libpq::keyword_settings(text).map(drop));
        }
        // No scheme: a file path (`data/auth.db`, `/var/lib/auth.db`, `:memory:`).
        if let Err(url::ParseError::RelativeUrlWithoutBase) = url::Url::parse(text) {
            return sqlite(text);
        }
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
        // libpq's URI, read as libpq reads it (several `host:port` pairs, its settings):
        // `url` cannot parse a host list.
        match text.strip_prefix(&format!("{scheme}://")) {
            Some(rest) => postgres(super::libpq::check_uri(rest).map(drop)),
            None => Err(DbUrlError::NoSlashes {
                scheme: scheme.to_owned(),
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

/// The settings a PostgreSQL connection string gives (its URI query, or its keywords), and
/// whether it is the keyword/value form.
pub(crate) fn postgres_settings(url: &str) -> (Vec<String>, bool) {
    let text = url.trim();
    if super::libpq::is_keyword_form(text) {
        let keys = super::libpq::keyword_settings(text)
            .map(|s| s.into_iter().map(|(k, _)| k).collect())
            .unwrap_or_default();
        return (keys, true);
    }
    let rest = text
        .strip_prefix("postgres://")
        .or_else(|| text.strip_prefix("postgresql://"));
    let keys = rest
        .and_then(|rest| super::libpq::check_uri(rest).ok())
        .unwrap_or_default();
    (keys, false)
}

/// `url` with any password (`user:password@`, `?password=`, `password=`) replaced by `***`.
pub fn masked(url: &str) -> String {
    let text = url.trim();
    for scheme in ["postgres", "postgresql"] {
        if let Some(rest) = text.strip_prefix(&format!("{scheme}://")) {
            return super::libpq::mask_uri(scheme, rest);
        }
    }
    if super::libpq::is_keyword_form(text) {
        return super::libpq::mask_keywords(text);
    }
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
    fn libpq_connection_strings_are_postgres_urls() {
        for url in [
            "postgres://u:p@db1:5432,db2:5432/auth?target_session_attrs=read-write",
            "postgresql://u@db1,db2,db3/auth?target_session_attrs=prefer-standby&load_balance_hosts=random",
            "postgres://u@[::1]:5432,[fd00::2]/auth?target_session_attrs=primary",
            "postgres://u@:5432,db2:/auth",
            "postgres://u@%2Fvar%2Frun%2Fpostgresql/auth",
            "postgres://u@db1/auth?sslmode=verify-full&sslrootcert=/etc/ssl/ca.pem&connect_timeout=5",
            "postgres://u@db1/auth?passfile=/run/secrets/pgpass&target_session_attrs=standby",
            "postgres://u@db1/auth?host=/run/postgresql&port=5432,5433",
            "postgres://u@db1/auth?target_session_attrs=any&ssl=true",
            "host=db1,db2 port=5432,5433 dbname=auth user=u target_session_attrs=read-write",
            "host=/run/postgresql dbname=auth",
            "dbname = auth  password='it\\'s' application_name='posts api'",
            "dbname=auth password='a \\'quoted\\' secret'",
        ] {
            let parsed = DatabaseUrl::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"));
            assert_eq!(parsed.backend(), Backend::Postgres, "{url}");
            assert_eq!(parsed.as_str(), url);
        }
    }

    #[test]
    fn libpq_strings_libpq_would_refuse_are_refused_naming_the_problem() {
        for (url, expected) in [
            (
                "postgres://u:secret@db1:5432,db2:x/auth",
                "invalid port number `x`",
            ),
            (
                "postgres://u:secret@db1:70000/auth",
                "invalid port number `70000`",
            ),
            (
                "postgres://u:secret@db1/auth?target_session_attrs=master",
                "`target_session_attrs` must be one of",
            ),
            (
                "postgres://u:secret@db1/auth?load_balance_hosts=yes",
                "`load_balance_hosts` must be one of",
            ),
            (
                "postgres://u:secret@db1/auth?sslmode=on",
                "`sslmode` must be one of",
            ),
            (
                "postgres://u:secret@db1/auth?conect_timeout=5",
                "unknown connection setting `conect_timeout`",
            ),
            (
                "postgres://u:secret@db1/auth?connect_timeout=soon",
                "whole number",
            ),
            ("postgres://u:secret@[::1/auth", "`]`"),
            ("postgres://u:secret@db1/auth?sslmode", "has no `=`"),
            ("postgres://u:secret@db%zz/auth", "percent escape"),
            (
                "host=db1 password=secret target_session_attrs=leader",
                "`target_session_attrs` must be one of",
            ),
            ("host=db1 password=secret dbname", "has no `=`"),
            ("host=db1 password='secret", "no closing quote"),
        ] {
            let err = DatabaseUrl::parse(url).unwrap_err().to_string();
            assert!(err.contains(expected), "{url}: {err}");
            assert!(!err.contains("secret"), "{url}: password shown: {err}");
        }
    }

    #[test]
    fn passwords_in_libpq_strings_are_masked() {
        assert_eq!(
            masked("postgres://u:pw@db1:5432,db2:5432/auth?password=pw&target_session_attrs=read-write"),
            "postgres://u:***@db1:5432,db2:5432/auth?password=***&target_session_attrs=read-write"
        );
        assert_eq!(
            masked("host=db1,db2 password='p w' dbname=auth"),
            "host=db1,db2 password=*** dbname=auth"
        );
        let url = DatabaseUrl::parse("user=u password=pw host=db1").unwrap();
        assert_eq!(url.to_string(), "user=u password=*** host=db1");
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
