//! Token issuing (used by the auth service).

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{EncodingKey, Header};

use crate::keys::{check_secret, KeyError, SigningKey};
use crate::{Alg, Claims};

struct Inner {
    alg: Alg,
    key: EncodingKey,
    kid: Option<String>,
    jwks: JwkSet,
    issuer: String,
    audience: String,
    ttl: Duration,
}

/// Signs access tokens. Cheap to clone.
#[derive(Clone)]
pub struct Issuer {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issuer")
            .field("alg", &self.inner.alg)
            .field("kid", &self.inner.kid)
            .field("issuer", &self.inner.issuer)
            .field("audience", &self.inner.audience)
            .field("ttl", &self.inner.ttl)
            .finish_non_exhaustive()
    }
}

impl Issuer {
    /// An EdDSA issuer signing with `key`; its public JWK is published by [`Issuer::jwks`].
    pub fn ed25519(
        key: &SigningKey,
        issuer: &str,
        audience: &str,
        ttl: Duration,
    ) -> Result<Self, KeyError> {
        Self::ed25519_publishing(key, &[], issuer, audience, ttl)
    }

    /// An EdDSA issuer signing with `key` that also publishes `published` (the next key
    /// before it signs, the previous one until its last token expires). A key listed twice,
    /// or the signing key listed again, is published once.
    pub fn ed25519_publishing(
        key: &SigningKey,
        published: &[Jwk],
        issuer: &str,
        audience: &str,
        ttl: Duration,
    ) -> Result<Self, KeyError> {
        let mut keys = vec![key.public_jwk()];
        for jwk in published {
            if !keys.iter().any(|k| k.common.key_id == jwk.common.key_id) {
                keys.push(jwk.clone());
            }
        }
        Ok(Self::build(
            Alg::EdDSA,
            key.encoding_key(),
            Some(key.kid().to_string()),
            JwkSet { keys },
            issuer,
            audience,
            ttl,
        ))
    }

    /// An HS256 issuer with a shared secret; refuses secrets shorter than
    /// [`crate::MIN_SECRET_LEN`] bytes.
    pub fn hs256(
        secret: &[u8],
        issuer: &str,
        audience: &str,
        ttl: Duration,
    ) -> Result<Self, KeyError> {
        check_secret(secret)?;
        Ok(Self::build(
            Alg::HS256,
            EncodingKey::from_secret(secret),
            None,
            JwkSet::default(),
            issuer,
            audience,
            ttl,
        ))
    }

    fn build(
        alg: Alg,
        key: EncodingKey,
        kid: Option<String>,
        jwks: JwkSet,
        issuer: &str,
        audience: &str,
        ttl: Duration,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                alg,
                key,
                kid,
                jwks,
                issuer: issuer.to_string(),
                audience: audience.to_string(),
                ttl,
            }),
        }
    }

    /// Signs a token for a user: `sub` = `user_id` (and the `user_id` claim, as the course
    /// app's tokens carry it), `iat` = `nbf` = now,
    /// `exp` = now + ttl, `jti` = random UUID v4. Header carries `alg`, `typ: JWT`
    /// and (EdDSA) the `kid`.
    pub fn issue(
        &self,
        user_id: i64,
        email: &str,
        user_created_at: Option<String>,
    ) -> Result<String, KeyError> {
        self.issue_in_session(user_id, email, user_created_at, None)
            .map(|(token, _)| token)
    }

    /// Like [`Issuer::issue`], with the session id as the `sid` claim; also returns the
    /// token's `exp` (unix seconds), which the session records as its last token's expiry.
    pub fn issue_in_session(
        &self,
        user_id: i64,
        email: &str,
        user_created_at: Option<String>,
        sid: Option<&str>,
    ) -> Result<(String, i64), KeyError> {
        let now = chrono::Utc::now().timestamp();
        self.issue_in_session_at(user_id, email, user_created_at, sid, now)
    }

    /// Like [`Issuer::issue_in_session`], issued at `now` (unix seconds), so a caller that
    /// must record the expiry before signing knows it exactly.
    pub fn issue_in_session_at(
        &self,
        user_id: i64,
        email: &str,
        user_created_at: Option<String>,
        sid: Option<&str>,
        now: i64,
    ) -> Result<(String, i64), KeyError> {
        let inner = &*self.inner;
        let ttl = i64::try_from(inner.ttl.as_secs()).unwrap_or(i64::MAX);
        let claims = Claims {
            sub: user_id.to_string(),
            email: email.to_string(),
            iat: now,
            nbf: now,
            exp: now.saturating_add(ttl),
            iss: inner.issuer.clone(),
            aud: inner.audience.clone(),
            jti: uuid::Uuid::new_v4().to_string(),
            user_created_at,
            sid: sid.map(str::to_owned),
            course_user_id: Some(user_id),
            course_token: false,
        };
        let mut header = Header::new(inner.alg.to_jwt());
        header.kid = inner.kid.clone();
        let token = jsonwebtoken::encode(&header, &claims, &inner.key)
            .map_err(|e| KeyError::Signing(e.to_string()))?;
        Ok((token, claims.exp))
    }

    /// Token lifetime.
    pub fn ttl(&self) -> Duration {
        self.inner.ttl
    }

    /// Public keys for `/.well-known/jwks.json`; empty for HS256 (the secret is
    /// never published).
    pub fn jwks(&self) -> JwkSet {
        self.inner.jwks.clone()
    }

    /// The signing algorithm.
    pub fn algorithm(&self) -> Alg {
        self.inner.alg
    }

    /// The `kid` put in token headers (EdDSA only).
    pub fn kid(&self) -> Option<&str> {
        self.inner.kid.as_deref()
    }
}
