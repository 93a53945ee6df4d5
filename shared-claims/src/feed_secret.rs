//! The credential of the ended-sessions feed (`GET /sessions/ended`): a secret that the auth
//! service and every resource server share (`SESSIONS_FEED_SECRET`, or a file of it with
//! `SESSIONS_FEED_SECRET_FILE`). Resource servers send it as a bearer token; auth answers 401
//! without it. The feed is for the services: it lists every ended session id with its
//! expiry (a token thief could watch for their stolen session) and per-user activity.

use std::path::PathBuf;

use crate::Secret;

/// The shortest feed secret accepted, in bytes.
pub const MIN_FEED_SECRET_LEN: usize = 32;

/// `SESSIONS_FEED_SECRET` / `SESSIONS_FEED_SECRET_FILE`, flattened into the settings of the
/// auth service and of every resource server.
#[cfg(feature = "cli")]
#[derive(Debug, Clone, Default, clap::Args)]
pub struct FeedSecretArgs {
    /// The secret the auth service and the resource servers share for the ended-sessions
    /// feed (at least 32 bytes): resource servers send it, auth requires it. Unset on auth:
    /// the feed is open (logged at start).
    #[arg(
        long = "sessions-feed-secret",
        value_name = "SESSIONS_FEED_SECRET",
        env = "SESSIONS_FEED_SECRET",
        hide_env_values = true,
        conflicts_with = "sessions_feed_secret_file"
    )]
    pub sessions_feed_secret: Option<Secret>,

    /// A file holding `SESSIONS_FEED_SECRET` (a trailing newline is ignored), for secrets
    /// mounted as files.
    #[arg(
        long = "sessions-feed-secret-file",
        value_name = "SESSIONS_FEED_SECRET_FILE",
        env = "SESSIONS_FEED_SECRET_FILE"
    )]
    pub sessions_feed_secret_file: Option<PathBuf>,
}

#[cfg(feature = "cli")]
impl FeedSecretArgs {
    /// The secret, read from its file when given that way; `None` when neither is set. The
    /// message names the option.
    pub fn load(&self) -> Result<Option<Secret>, String> {
        let (secret, option) = match (&self.sessions_feed_secret, &self.sessions_feed_secret_file) {
            (Some(secret), _) => (secret.clone(), "SESSIONS_FEED_SECRET"),
            (None, Some(path)) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("SESSIONS_FEED_SECRET_FILE {}: {e}", path.display()))?;
                (
                    Secret::from(text.trim_end_matches(['\n', '\r'])),
                    "SESSIONS_FEED_SECRET_FILE",
                )
            }
            (None, None) => return Ok(None),
        };
        if secret.expose().len() < MIN_FEED_SECRET_LEN {
            return Err(format!(
                "{option}: the feed secret must be at least {MIN_FEED_SECRET_LEN} bytes (got {})",
                secret.expose().len()
            ));
        }
        Ok(Some(secret))
    }
}

/// Whether an `Authorization` header value is `Bearer <secret>`, compared in constant time
/// (a timing difference would let a client guess the secret byte by byte).
pub fn presents_feed_secret(authorization: Option<&[u8]>, secret: &Secret) -> bool {
    let Some(value) = authorization else {
        return false;
    };
    let Some(token) = value
        .strip_prefix(b"Bearer ")
        .or_else(|| value.strip_prefix(b"bearer "))
    else {
        return false;
    };
    constant_time_eq(token, secret.expose().as_bytes())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    // Keeps the fold from being turned into an early exit.
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_bearer_secret_passes() {
        let secret = Secret::from("s".repeat(40).as_str());
        let right = format!("Bearer {}", "s".repeat(40));
        assert!(presents_feed_secret(Some(right.as_bytes()), &secret));
        for wrong in [
            format!("Bearer {}", "s".repeat(39)),
            format!("Bearer {}t", "s".repeat(39)),
            format!("Basic {}", "s".repeat(40)),
            "s".repeat(40),
            String::new(),
        ] {
            assert!(
                !presents_feed_secret(Some(wrong.as_bytes()), &secret),
                "{wrong}"
            );
        }
        assert!(!presents_feed_secret(None, &secret));
    }

    #[cfg(feature = "cli")]
    #[test]
    fn the_secret_comes_from_the_option_or_its_file_and_is_long_enough() {
        let none = FeedSecretArgs::default();
        assert_eq!(none.load(), Ok(None));
        let short = FeedSecretArgs {
            sessions_feed_secret: Some(Secret::from("short")),
            ..FeedSecretArgs::default()
        };
        assert!(short.load().unwrap_err().contains("at least 32 bytes"));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("feed");
        std::fs::write(&path, format!("{}\n", "f".repeat(48))).unwrap();
        let file = FeedSecretArgs {
            sessions_feed_secret_file: Some(path.clone()),
            ..FeedSecretArgs::default()
        };
        assert_eq!(file.load().unwrap().unwrap().expose(), "f".repeat(48));
        let missing = FeedSecretArgs {
            sessions_feed_secret_file: Some(dir.path().join("nope")),
            ..FeedSecretArgs::default()
        };
        assert!(missing
            .load()
            .unwrap_err()
            .contains("SESSIONS_FEED_SECRET_FILE"));
    }
}
