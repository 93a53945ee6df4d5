//! The JWT claim set.

use serde::{Deserialize, Serialize};

/// Claims carried by an access token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Claims {
    /// Subject: the user id as a decimal string.
    pub sub: String,
    /// The user's email address.
    pub email: String,
    /// Issued at (unix seconds).
    pub iat: i64,
    /// Not before (unix seconds).
    pub nbf: i64,
    /// Expiry (unix seconds); the token is invalid from this second on.
    pub exp: i64,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Unique token id (UUID v4).
    pub jti: String,
    /// Account creation time of the user (RFC 3339), so services can show it
    /// without asking the auth service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_created_at: Option<String>,
    /// The session the token belongs to (absent in tokens minted outside a session): once
    /// the session ends, its tokens are refused before they expire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

impl Claims {
    /// The user id: `sub` when it is a positive integer in canonical decimal form (`42`;
    /// never `0`, `-1`, `+1`, `01` or ` 1`), so one user has exactly one spelling.
    pub fn user_id(&self) -> Option<i64> {
        let sub = self.sub.as_bytes();
        if sub.first().is_none_or(|&b| b == b'0') || !sub.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.sub.parse().ok()
    }
}
