//! The course app's own access tokens, accepted during a move from it
//! (`COURSE_TOKEN_SECRET`, `COURSE_TOKEN_UNTIL`): HS256 with the course's `SECRET_KEY`,
//! claims `{"user_id", "exp"}`, no `iss`, `aud`, `sub` or `sid`. They carry no session, so
//! no single one can be ended: a user's `logout?scope=all` or password change refuses all
//! of that user's course tokens from then on (see [`crate::Revocations`]).

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};

use jsonwebtoken::{DecodingKey, Validation};
use serde::Deserialize;

use crate::key_set::MAX_LEEWAY;
use crate::{Claims, VerifyError};

/// The `SECRET_KEY` the course's tutorial publishes (and its `.env` examples copy): a token
/// signed with it proves nothing, so it is refused as `COURSE_TOKEN_SECRET`.
pub const COURSE_TUTORIAL_SECRET_KEY: &str =
    "09d25e094faa6ca2556c818166b7a9563b93f7099f6f0f4caa6cf63b88e8d3e7";

/// Course tokens and their deadline; counts the ones accepted.
pub struct CourseTokens {
    key: DecodingKey,
    /// Unix second from which course tokens are refused.
    until: i64,
    accepted: AtomicU64,
}

impl std::fmt::Debug for CourseTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CourseTokens")
            .field("until", &self.until)
            .finish_non_exhaustive()
    }
}

/// What a course token says.
#[derive(Deserialize)]
struct CourseClaims {
    user_id: serde_json::Value,
    exp: i64,
    #[serde(flatten)]
    rest: serde_json::Map<String, serde_json::Value>,
}

impl CourseTokens {
    /// Course tokens signed with `secret` (the course's `SECRET_KEY`), accepted until `until`
    /// (unix seconds, excluded). The secret must be at least [`crate::MIN_SECRET_LEN`] bytes
    /// and not the course tutorial's published key (anyone could sign tokens with it). The
    /// message names the option.
    pub fn new(secret: &[u8], until: i64) -> Result<CourseTokens, String> {
        if secret.len() < crate::MIN_SECRET_LEN {
            return Err(format!(
                "COURSE_TOKEN_SECRET must be at least {} bytes (got {}): a shorter HS256 key can be guessed offline from one token",
                crate::MIN_SECRET_LEN,
                secret.len()
            ));
        }
        if secret == COURSE_TUTORIAL_SECRET_KEY.as_bytes() {
            return Err("COURSE_TOKEN_SECRET is the course tutorial's published SECRET_KEY: anyone can sign a token for any user with it, so its tokens are not accepted (the users log in again)".into());
        }
        Ok(CourseTokens {
            key: DecodingKey::from_secret(secret),
            until,
            accepted: AtomicU64::new(0),
        })
    }

    /// The unix second from which course tokens are refused.
    pub fn until(&self) -> i64 {
        self.until
    }

    /// Counts one course token accepted (verified, and its user not refused).
    pub(crate) fn record_accepted(&self) {
        self.accepted.fetch_add(1, Ordering::Relaxed);
    }

    /// Course tokens accepted since start.
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }

    /// Verifies a course token: HS256 with the secret, `exp` required and in the future
    /// (within `leeway_seconds`), a positive integer `user_id` (a number, or a string of
    /// one as the course also accepts), none of this project's `sub`, `iss`, `aud`, `sid`,
    /// and the deadline not passed. The claims returned have `course_token` set, `sub` and
    /// `user_id` the user, and no email.
    pub fn verify(&self, token: &str, leeway_seconds: u64) -> Result<Claims, VerifyError> {
        let now = chrono::Utc::now().timestamp();
        if now >= self.until {
            return Err(VerifyError::Invalid(
                "course tokens are no longer accepted (COURSE_TOKEN_UNTIL passed)".into(),
            ));
        }
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| VerifyError::Malformed(format!("header: {e}")))?;
        if header.alg != jsonwebtoken::Algorithm::HS256 {
            return Err(VerifyError::AlgorithmMismatch {
                expected: crate::Alg::HS256,
                found: format!("{:?}", header.alg),
            });
        }
        if header.crit.is_some() {
            return Err(VerifyError::Malformed("header: crit".into()));
        }
        let leeway = leeway_seconds.min(MAX_LEEWAY);
        let mut validation = Validation::new(jsonwebtoken::Algorithm::HS256);
        validation.required_spec_claims = HashSet::from(["exp".to_string()]);
        validation.leeway = leeway;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        // No audience expected: a token naming one is not a course token.
        validation.validate_aud = true;
        let claims = jsonwebtoken::decode::<CourseClaims>(token, &self.key, &validation)
            .map_err(|e| VerifyError::Invalid(format!("course token: {e}")))?
            .claims;
        if claims.exp <= now.saturating_sub(i64::try_from(leeway).unwrap_or(i64::MAX)) {
            return Err(VerifyError::Expired);
        }
        if let Some(claim) = ["sub", "iss", "aud", "sid"]
            .into_iter()
            .find(|c| claims.rest.contains_key(*c))
        {
            return Err(VerifyError::Invalid(format!(
                "course token with a {claim} claim"
            )));
        }
        let id = match &claims.user_id {
            serde_json::Value::Number(n) => n.as_i64(),
            serde_json::Value::String(s) => Some(s.as_str())
                .filter(|s| {
                    !s.starts_with('0') && !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
                })
                .and_then(|s| s.parse().ok()),
            _ => None,
        }
        .filter(|id| *id > 0)
        .ok_or_else(|| VerifyError::Invalid("course token: user_id is not a user id".into()))?;
        Ok(Claims {
            sub: id.to_string(),
            email: String::new(),
            iat: 0,
            nbf: 0,
            exp: claims.exp,
            iss: String::new(),
            aud: String::new(),
            jti: String::new(),
            user_created_at: None,
            sid: None,
            course_user_id: Some(id),
            course_token: true,
        })
    }
}

/// `COURSE_TOKEN_SECRET` and `COURSE_TOKEN_UNTIL`, flattened into a service's settings (the
/// auth service's, and every resource server's through
/// [`ResourceServerArgs`](crate::resource::ResourceServerArgs)).
#[cfg(feature = "cli")]
#[derive(Debug, Clone, Default, clap::Args)]
pub struct CourseTokenArgs {
    /// The course app's `SECRET_KEY`: its own access tokens (HS256, `{"user_id", "exp"}`) are
    /// accepted too, until `COURSE_TOKEN_UNTIL`, so users logged in to the old app stay
    /// logged in across the move. Off when unset.
    #[arg(
        long = "course-token-secret",
        value_name = "COURSE_TOKEN_SECRET",
        env = "COURSE_TOKEN_SECRET",
        hide_env_values = true
    )]
    pub course_token_secret: Option<crate::Secret>,

    /// RFC 3339 date and time (`2027-01-31T00:00:00Z`) from which course tokens are refused;
    /// required with `COURSE_TOKEN_SECRET`.
    #[arg(long = "course-token-until", value_name = "COURSE_TOKEN_UNTIL",
          env = "COURSE_TOKEN_UNTIL", value_parser = parse_rfc3339)]
    pub course_token_until: Option<chrono::DateTime<chrono::Utc>>,
}

#[cfg(feature = "cli")]
fn parse_rfc3339(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| format!("not an RFC 3339 date and time (2027-01-31T00:00:00Z): {e}"))
}

#[cfg(feature = "cli")]
impl CourseTokenArgs {
    /// Checks the settings without logging (what [`Self::course_tokens`] refuses), so a
    /// service's configuration check stops it before anything starts.
    pub fn check(&self) -> Result<(), String> {
        match (&self.course_token_secret, self.course_token_until) {
            (Some(secret), Some(until)) => {
                CourseTokens::new(secret.expose().as_bytes(), until.timestamp()).map(|_| ())
            }
            (None, None) => Ok(()),
            _ => self.course_tokens().map(|_| ()),
        }
    }

    /// The course tokens to accept, when the option is on: both settings, or neither (the
    /// message names the missing one). Logs at warning level while it is on.
    pub fn course_tokens(&self) -> Result<Option<std::sync::Arc<CourseTokens>>, String> {
        match (&self.course_token_secret, self.course_token_until) {
            (None, None) => Ok(None),
            (Some(_), None) => {
                Err("COURSE_TOKEN_UNTIL is required with COURSE_TOKEN_SECRET".into())
            }
            (None, Some(_)) => {
                Err("COURSE_TOKEN_UNTIL is set but COURSE_TOKEN_SECRET is not".into())
            }
            (Some(secret), Some(until)) => {
                let tokens = CourseTokens::new(secret.expose().as_bytes(), until.timestamp())?;
                if chrono::Utc::now() >= until {
                    log::warn!(
                        "COURSE_TOKEN_UNTIL {} has passed: course tokens are refused",
                        until.to_rfc3339()
                    );
                } else {
                    log::warn!(
                        "accepting the course app's own tokens (COURSE_TOKEN_SECRET) until {}",
                        until.to_rfc3339()
                    );
                }
                Ok(Some(std::sync::Arc::new(tokens)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SECRET: &[u8] = b"a3c1f0e2b4d6a8c0e2f4b6d8a0c2e4f6b8d0a2c4e6f8b0d2a4c6e8f0b2d4a6c8";

    fn course_token(claims: serde_json::Value, secret: &[u8]) -> String {
        crate::testing::encode_hs256_for_testing(&claims, secret)
    }

    fn future() -> i64 {
        chrono::Utc::now().timestamp() + 600
    }

    #[test]
    fn a_course_token_verifies_until_the_deadline() {
        let tokens = CourseTokens::new(SECRET, future()).unwrap();
        let exp = future();
        let claims = tokens
            .verify(&course_token(json!({"user_id": 7, "exp": exp}), SECRET), 0)
            .unwrap();
        assert_eq!(
            (claims.user_id(), claims.course_user_id),
            (Some(7), Some(7))
        );
        assert!(claims.course_token && claims.sid.is_none() && claims.email.is_empty());
        // The course's string spelling too.
        let t = course_token(json!({"user_id": "7", "exp": exp}), SECRET);
        assert_eq!(tokens.verify(&t, 0).unwrap().user_id(), Some(7));

        let past = CourseTokens::new(SECRET, chrono::Utc::now().timestamp()).unwrap();
        let t = course_token(json!({"user_id": 7, "exp": exp}), SECRET);
        assert!(matches!(past.verify(&t, 0), Err(VerifyError::Invalid(_))));
    }

    #[test]
    fn anything_else_is_refused() {
        let tokens = CourseTokens::new(SECRET, future()).unwrap();
        let exp = future();
        let now = chrono::Utc::now().timestamp();
        for claims in [
            json!({"user_id": 7, "exp": now - 1}),
            json!({"user_id": 7}),
            json!({"exp": exp}),
            json!({"user_id": 0, "exp": exp}),
            json!({"user_id": -3, "exp": exp}),
            json!({"user_id": "07", "exp": exp}),
            json!({"user_id": "abc", "exp": exp}),
            json!({"user_id": 7, "exp": exp, "sub": "7"}),
            json!({"user_id": 7, "exp": exp, "aud": "posts-service"}),
            json!({"user_id": 7, "exp": exp, "sid": "s"}),
        ] {
            let t = course_token(claims.clone(), SECRET);
            assert!(tokens.verify(&t, 0).is_err(), "{claims}");
        }
        let other = course_token(json!({"user_id": 7, "exp": exp}), &[b'x'; 64]);
        assert!(tokens.verify(&other, 0).is_err());
        assert!(CourseTokens::new(b"", future()).is_err());
        assert!(CourseTokens::new(&[b'k'; 31], future()).is_err());
        assert!(CourseTokens::new(&[b'k'; 32], future()).is_ok());
        let tutorial = CourseTokens::new(COURSE_TUTORIAL_SECRET_KEY.as_bytes(), future());
        assert!(tutorial.unwrap_err().contains("published"));
    }
}
