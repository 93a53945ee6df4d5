//! Token contract shared by the auth service (issues JWTs) and the posts service
//! (validates them locally).
//!
//! * [`Issuer`] signs access tokens (EdDSA/Ed25519 by default, HS256 as a fallback)
//!   and publishes its public keys as a JWKS.
//! * [`KeySet`] holds verification keys and [`KeySet::verify`] checks a token
//!   against a [`VerifyConfig`], pinning the algorithm and requiring all claims.
//! * [`Verifier`] wraps a key set for app state and refreshes it on an unknown `kid`.
//! * With the `actix` feature, [`AuthUser`] is an actix-web extractor.
//! * [`Revocations`] is the set of ended sessions a verifier refuses tokens of.
//! * With the `resource-server` feature, `resource` is what a service that accepts the
//!   tokens adds: its settings, the JWKS and ended-sessions pollers, readiness, one builder.
//! * `testing` (feature `testing`) holds fixed keys and helpers for tests.

mod claims;
mod course;
#[cfg(feature = "actix")]
mod extractor;
mod feed_secret;
mod issuer;
mod key_set;
mod keys;
#[cfg(feature = "resource-server")]
pub mod resource;
mod revocations;
mod secret;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod verifier;

use std::fmt;
use std::str::FromStr;

pub use claims::Claims;
#[cfg(feature = "cli")]
pub use course::CourseTokenArgs;
pub use course::CourseTokens;
pub use course::COURSE_TUTORIAL_SECRET_KEY;
#[cfg(feature = "actix")]
pub use extractor::{AuthError, AuthUser};
#[cfg(feature = "cli")]
pub use feed_secret::FeedSecretArgs;
pub use feed_secret::{presents_feed_secret, MIN_FEED_SECRET_LEN};
pub use issuer::Issuer;
pub use key_set::{KeySet, NotReady, VerifyConfig, VerifyError};
pub use keys::{
    load_or_generate_signing_key, load_signing_key, published_jwk_from_pem, KeyError, SigningKey,
};
pub use revocations::Revocations;
pub use secret::Secret;
pub use verifier::{RefreshError, RefreshFn, Verifier};

/// Re-export so dependants can name JWK types without their own dependency.
pub use jsonwebtoken::jwk::{Jwk, JwkSet};

/// Minimum length in bytes of an HS256 secret.
pub const MIN_SECRET_LEN: usize = 32;

/// Default `iss` claim used by the auth service.
pub const DEFAULT_ISSUER: &str = "auth-service";

/// Default `aud` claim expected by the posts service.
pub const DEFAULT_AUDIENCE: &str = "posts-service";

/// The audience a `JWT_AUDIENCE` setting names: `none` (any case) or empty means none, so
/// tokens are issued without `aud` and verifiers require them to carry none (what the course
/// app's own code, python-jose without an `audience`, can decode); otherwise the setting
/// itself, trimmed.
pub fn audience_setting(setting: &str) -> String {
    let setting = setting.trim();
    if setting.eq_ignore_ascii_case("none") {
        String::new()
    } else {
        setting.to_owned()
    }
}

/// Signing algorithm of a token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Alg {
    /// Ed25519 signatures (asymmetric; public keys published as JWKS).
    EdDSA,
    /// HMAC-SHA256 with a shared secret.
    HS256,
}

impl Alg {
    /// The canonical JOSE name (`"EdDSA"` or `"HS256"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Alg::EdDSA => "EdDSA",
            Alg::HS256 => "HS256",
        }
    }

    pub(crate) fn to_jwt(self) -> jsonwebtoken::Algorithm {
        match self {
            Alg::EdDSA => jsonwebtoken::Algorithm::EdDSA,
            Alg::HS256 => jsonwebtoken::Algorithm::HS256,
        }
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error returned when parsing an unknown algorithm name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported JWT algorithm {0:?} (expected \"EdDSA\" or \"HS256\")")]
pub struct ParseAlgError(pub String);

impl FromStr for Alg {
    type Err = ParseAlgError;

    /// Parses `EdDSA` or `HS256`, case-insensitively.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("eddsa") {
            Ok(Alg::EdDSA)
        } else if t.eq_ignore_ascii_case("hs256") {
            Ok(Alg::HS256)
        } else {
            Err(ParseAlgError(s.to_string()))
        }
    }
}

/// Checks the `JWT_SECRET` a service was given for `HS256`: present, and at least
/// [`MIN_SECRET_LEN`] bytes. The message names the option.
pub fn check_hs256_secret(secret: Option<&str>) -> Result<(), String> {
    match secret {
        None => Err("JWT_SECRET is required when JWT_ALGORITHM is HS256".into()),
        Some(s) if s.len() < MIN_SECRET_LEN => Err(format!(
            "JWT_SECRET must be at least {MIN_SECRET_LEN} bytes"
        )),
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alg_parse_and_display() {
        assert_eq!("EdDSA".parse::<Alg>().unwrap(), Alg::EdDSA);
        assert_eq!("eddsa".parse::<Alg>().unwrap(), Alg::EdDSA);
        assert_eq!("HS256".parse::<Alg>().unwrap(), Alg::HS256);
        assert_eq!("hs256".parse::<Alg>().unwrap(), Alg::HS256);
        assert!("RS256".parse::<Alg>().is_err());
        assert!("none".parse::<Alg>().is_err());
        assert_eq!(Alg::EdDSA.to_string(), "EdDSA");
        assert_eq!(Alg::HS256.to_string(), "HS256");
    }
}
