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
    /// Audience; empty (and then absent from the token) when the issuer is configured with
    /// none (`JWT_AUDIENCE=none`, so the course's own code can decode the token).
    #[serde(default, skip_serializing_if = "String::is_empty")]
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
    /// The user id again, as the integer `user_id` claim the course app's tokens carry, so a
    /// course client that decodes its token for the user id keeps working. Absent in tokens
    /// issued before it was added (still accepted); when present it must equal `sub`.
    #[serde(rename = "user_id", default, skip_serializing_if = "Option::is_none")]
    pub course_user_id: Option<i64>,
    /// Whether this is the course app's own token (`COURSE_TOKEN_SECRET`), not one of auth's:
    /// then only `sub`, `user_id` and `exp` say anything (no email, no session).
    #[serde(skip)]
    pub course_token: bool,
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

    /// Whether the `user_id` claim, when there is one, names the same user as `sub`.
    pub fn user_id_agrees(&self) -> bool {
        self.course_user_id
            .is_none_or(|id| self.user_id() == Some(id))
    }
}
