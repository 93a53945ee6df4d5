//! Token issuing (used by the auth service).

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::jwk::JwkSet;
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
        Ok(Self::build(
            Alg::EdDSA,
            key.encoding_key(),
            Some(key.kid().to_string()),
            JwkSet {
                keys: vec![key.public_jwk()],
            },
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

    /// Signs a token for a user: `sub` = `user_id`, `iat` = `nbf` = now,
    /// `exp` = now + ttl, `jti` = random UUID v4. Header carries `alg`, `typ: JWT`
    /// and (EdDSA) the `kid`.
    pub fn issue(
        &self,
        user_id: i64,
        email: &str,
        user_created_at: Option<String>,
    ) -> Result<String, KeyError> {
        let inner = &*self.inner;
        let now = chrono::Utc::now().timestamp();
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
        };
        let mut header = Header::new(inner.alg.to_jwt());
        header.kid = inner.kid.clone();
        jsonwebtoken::encode(&header, &claims, &inner.key)
            .map_err(|e| KeyError::Signing(e.to_string()))
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
