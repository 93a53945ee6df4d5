//! The settings of a resource server: where its verification keys come from, what tokens
//! must say, where the feed of ended sessions is, and how long to wait for both at start.

use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::RangedU64ValueParser;

use crate::{Alg, Secret};

/// Where the auth service publishes its keys when it runs on this machine with its defaults.
pub const DEFAULT_JWKS_URL: &str = "http://127.0.0.1:8001/.well-known/jwks.json";

/// A service's token settings, flattened into its own (`#[command(flatten)]`): every option
/// is a flag and an environment variable.
#[derive(Debug, Clone, clap::Args)]
pub struct ResourceServerArgs {
    /// Algorithm tokens must use: `EdDSA` (public keys) or `HS256` (shared secret).
    #[arg(long = "jwt-algorithm", value_name = "JWT_ALGORITHM", env = "JWT_ALGORITHM",
          default_value_t = Alg::EdDSA)]
    pub algorithm: Alg,

    /// Shared secret for `HS256`, at least 32 bytes.
    #[arg(
        long = "jwt-secret",
        value_name = "JWT_SECRET",
        env = "JWT_SECRET",
        hide_env_values = true
    )]
    pub secret: Option<Secret>,

    /// Where the auth service publishes its public keys (fetched at start, retried until it
    /// answers, and again on an unknown `kid`). Unused when `JWT_PUBLIC_KEY_FILE` is set.
    #[arg(long = "jwt-jwks-url", value_name = "JWT_JWKS_URL", env = "JWT_JWKS_URL",
          default_value = DEFAULT_JWKS_URL)]
    pub jwks_url: String,

    /// An Ed25519 public key (SPKI PEM) to verify tokens with, fully offline (no JWKS fetch).
    #[arg(
        long = "jwt-public-key-file",
        value_name = "JWT_PUBLIC_KEY_FILE",
        env = "JWT_PUBLIC_KEY_FILE"
    )]
    pub public_key_file: Option<PathBuf>,

    /// Required `iss` of tokens.
    #[arg(long = "jwt-issuer", value_name = "JWT_ISSUER", env = "JWT_ISSUER",
          default_value = crate::DEFAULT_ISSUER)]
    pub issuer: String,

    /// Required `aud` of tokens; `none`: tokens must carry no `aud` (auth configured to issue
    /// course-decodable tokens, see README).
    #[arg(long = "jwt-audience", value_name = "JWT_AUDIENCE", env = "JWT_AUDIENCE",
          default_value = crate::DEFAULT_AUDIENCE)]
    pub audience: String,

    /// Clock-skew allowance for `exp` and `nbf`, in seconds.
    #[arg(long = "jwt-leeway-seconds", value_name = "JWT_LEEWAY_SECONDS",
          env = "JWT_LEEWAY_SECONDS", default_value_t = 0, value_parser = seconds(0..=3600))]
    pub leeway_seconds: u64,

    /// The auth service's feed of ended sessions, polled every second so tokens of a session
    /// that ended (logout, password change, reused refresh token) are refused within seconds.
    /// Default: `/sessions/ended` beside `JWT_JWKS_URL`; with `JWT_PUBLIC_KEY_FILE` or `HS256`
    /// there is none unless set. `off` disables it.
    #[arg(long, env = "SESSIONS_FEED_URL")]
    pub sessions_feed_url: Option<String>,

    /// Seconds to wait at start, before listening, for the keys from `JWT_JWKS_URL` and the
    /// list of ended sessions (what tokens are checked with). Until the service listens, a
    /// gateway routing to it is refused the connection and tries another replica. After
    /// this the service listens anyway and answers 503 with `Retry-After` to a token it
    /// cannot judge yet (any before the keys load, one carrying a session before the list
    /// loads); what is not a valid token still gets 401. 0 listens at once.
    #[arg(long, env = "KEYS_WAIT_SECONDS", default_value_t = 10, value_parser = seconds(0..=600))]
    pub keys_wait_seconds: u64,

    /// Least seconds between two JWKS refetches caused by unknown `kid`s.
    #[arg(long, env = "JWKS_REFRESH_MIN_SECONDS", default_value_t = 10,
          value_parser = seconds(1..=86_400))]
    pub jwks_refresh_min_seconds: u64,

    /// The course app's own tokens, accepted during a move from it.
    #[command(flatten)]
    pub course: crate::CourseTokenArgs,

    /// The credential sent to the ended-sessions feed.
    #[command(flatten)]
    pub feed_secret: crate::FeedSecretArgs,
}

impl ResourceServerArgs {
    /// Checks what clap cannot: the pairing of algorithm and key source, and the URLs. The
    /// message names the option.
    pub fn validate(&self) -> Result<(), String> {
        if self.audience.trim().is_empty() {
            return Err(
                "JWT_AUDIENCE is empty: name the audience, or `none` for tokens without one".into(),
            );
        }
        self.course.check()?;
        self.feed_secret.load()?;
        if self.course.course_token_secret.is_some() && self.sessions_feed().is_none() {
            return Err(super::COURSE_TOKENS_NEED_THE_FEED.into());
        }
        if let Some(feed) = self.sessions_feed() {
            if !is_http_url(&feed) {
                return Err(format!(
                    "SESSIONS_FEED_URL must be an http(s) URL or `off`, got {feed:?}"
                ));
            }
        }
        match self.algorithm {
            Alg::HS256 => crate::check_hs256_secret(self.secret.as_ref().map(Secret::expose)),
            Alg::EdDSA if self.public_key_file.is_some() => Ok(()),
            Alg::EdDSA if is_http_url(&self.jwks_url) => Ok(()),
            Alg::EdDSA => Err(format!(
                "JWT_JWKS_URL must be an http(s) URL, got {:?}",
                self.jwks_url
            )),
        }
    }

    /// Whether keys come from the JWKS (EdDSA without a key file).
    pub fn uses_jwks(&self) -> bool {
        self.algorithm == Alg::EdDSA && self.public_key_file.is_none()
    }

    /// Where to poll for ended sessions, if anywhere (see `SESSIONS_FEED_URL`).
    pub fn sessions_feed(&self) -> Option<String> {
        match self.sessions_feed_url.as_deref().map(str::trim) {
            Some("") | Some("off") => None,
            Some(url) => Some(url.to_owned()),
            None if self.uses_jwks() => reqwest::Url::parse(&self.jwks_url)
                .and_then(|jwks| jwks.join("/sessions/ended"))
                .ok()
                .map(String::from),
            None => None,
        }
    }

    /// Least time between two JWKS refetches caused by unknown `kid`s.
    pub fn jwks_refresh_min_interval(&self) -> Duration {
        Duration::from_secs(self.jwks_refresh_min_seconds)
    }

    /// Longest the listener waits for the keys and the list of ended sessions.
    pub fn keys_wait(&self) -> Duration {
        Duration::from_secs(self.keys_wait_seconds)
    }
}

/// A number of seconds within `range`.
fn seconds(range: RangeInclusive<u64>) -> RangedU64ValueParser<u64> {
    RangedU64ValueParser::new().range(range)
}

fn is_http_url(text: &str) -> bool {
    reqwest::Url::parse(text)
        .is_ok_and(|url| matches!(url.scheme(), "http" | "https") && url.has_host())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        tokens: ResourceServerArgs,
    }

    fn parse(args: &[&str]) -> ResourceServerArgs {
        Cli::try_parse_from(args).unwrap().tokens
    }

    #[test]
    fn the_secret_is_not_printed() {
        let args = parse(&["t", "--jwt-secret", "a-very-secret-value-of-32-bytes!!"]);
        let shown = format!("{args:?}");
        assert!(!shown.contains("a-very-secret"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
        assert_eq!(
            args.secret.as_ref().map(Secret::expose),
            Some("a-very-secret-value-of-32-bytes!!")
        );
    }

    #[test]
    fn the_feed_defaults_to_beside_the_jwks_only_when_keys_come_from_it() {
        let args = parse(&[
            "t",
            "--jwt-jwks-url",
            "http://auth:8001/.well-known/jwks.json",
        ]);
        assert_eq!(
            args.sessions_feed().as_deref(),
            Some("http://auth:8001/sessions/ended")
        );
        let offline = parse(&["t", "--jwt-public-key-file", "key.pem"]);
        assert_eq!(offline.sessions_feed(), None);
        let off = parse(&["t", "--sessions-feed-url", "off"]);
        assert_eq!(off.sessions_feed(), None);
        let bad = parse(&["t", "--sessions-feed-url", "ftp://x/feed"]);
        assert!(bad.validate().unwrap_err().contains("SESSIONS_FEED_URL"));
    }

    #[test]
    fn course_tokens_need_a_real_secret_the_feed_and_an_audience_setting() {
        let course = |extra: &[&str]| {
            let mut args = vec![
                "t",
                "--course-token-secret",
                "a-course-deployment-secret-of-32-bytes",
                "--course-token-until",
                "2099-01-01T00:00:00Z",
            ];
            args.extend_from_slice(extra);
            parse(&args).validate()
        };
        assert_eq!(course(&[]), Ok(()));
        let offline = course(&["--sessions-feed-url", "off"]).unwrap_err();
        assert!(offline.contains("SESSIONS_FEED_URL"), "{offline}");
        let short = parse(&[
            "t",
            "--course-token-secret",
            "short",
            "--course-token-until",
            "2099-01-01T00:00:00Z",
        ]);
        assert!(short.validate().unwrap_err().contains("at least 32 bytes"));
        let tutorial = parse(&[
            "t",
            "--course-token-secret",
            crate::COURSE_TUTORIAL_SECRET_KEY,
            "--course-token-until",
            "2099-01-01T00:00:00Z",
        ]);
        assert!(tutorial.validate().unwrap_err().contains("published"));
        let alone = parse(&["t", "--course-token-until", "2099-01-01T00:00:00Z"]);
        assert!(alone
            .validate()
            .unwrap_err()
            .contains("COURSE_TOKEN_SECRET"));
        let empty = parse(&["t", "--jwt-audience", ""]);
        assert!(empty.validate().unwrap_err().contains("JWT_AUDIENCE"));
    }
}
