//! Fixed keys and helpers **for tests only** (unit and integration tests of the
//! services). Helpers panic on failure. Never use these keys in production.

use jsonwebtoken::{EncodingKey, Header};
use serde::Serialize;

use crate::{Claims, KeySet, SigningKey, DEFAULT_AUDIENCE, DEFAULT_ISSUER};

/// A fixed Ed25519 private key (PKCS#8 v1 PEM). Test use only.
pub const TEST_ED25519_PRIVATE_PEM: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIAoJQz+fbNW0ILQ508c04BTDEyptojOYpkDvIoNIXPn+
-----END PRIVATE KEY-----
";

/// A fixed HS256 secret (≥ 32 bytes). Test use only.
pub const TEST_HS256_SECRET: &[u8] = b"test-only-hs256-secret-0123456789abcdef";

/// The signing key of [`TEST_ED25519_PRIVATE_PEM`].
pub fn test_signing_key() -> SigningKey {
    SigningKey::from_pkcs8_pem(TEST_ED25519_PRIVATE_PEM).expect("valid test key")
}

/// A key set holding the public half of [`test_signing_key`].
pub fn test_key_set() -> KeySet {
    KeySet::from_jwks(&jsonwebtoken::jwk::JwkSet {
        keys: vec![test_signing_key().public_jwk()],
    })
    .expect("valid test key set")
}

/// Encodes arbitrary claims as an EdDSA token with header `kid = key.kid()`.
pub fn encode_for_testing(claims: &impl Serialize, key: &SigningKey) -> String {
    let mut header = Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.kid = Some(key.kid().to_string());
    jsonwebtoken::encode(&header, claims, &key.encoding_key()).expect("EdDSA encoding")
}

/// Encodes arbitrary claims as an EdDSA token with exactly this header JSON (for tokens the
/// typed header cannot express, such as `"crit": null`).
pub fn encode_with_header_for_testing(
    header: &serde_json::Value,
    claims: &impl Serialize,
    key: &SigningKey,
) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(header).expect("header JSON")),
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).expect("claims JSON"))
    );
    let signature = jsonwebtoken::crypto::sign(
        message.as_bytes(),
        &key.encoding_key(),
        jsonwebtoken::Algorithm::EdDSA,
    )
    .expect("EdDSA signing");
    format!("{message}.{signature}")
}

/// Encodes arbitrary claims as an HS256 token (no `kid`).
pub fn encode_hs256_for_testing(claims: &impl Serialize, secret: &[u8]) -> String {
    let header = Header::new(jsonwebtoken::Algorithm::HS256);
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret))
        .expect("HS256 encoding")
}

/// Claims with `iss`/`aud` set to the defaults, `iat = nbf = now`,
/// `exp = now + ttl_seconds` (negative = already expired) and a random `jti`.
pub fn claims_for_testing(user_id: i64, email: &str, ttl_seconds: i64) -> Claims {
    let now = chrono::Utc::now().timestamp();
    Claims {
        sub: user_id.to_string(),
        email: email.to_string(),
        iat: now,
        nbf: now,
        exp: now + ttl_seconds,
        iss: DEFAULT_ISSUER.to_string(),
        aud: DEFAULT_AUDIENCE.to_string(),
        jti: uuid::Uuid::new_v4().to_string(),
        user_created_at: None,
        sid: None,
        course_user_id: Some(user_id),
        course_token: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_key_is_canonical_pkcs8_v1() {
        let key = test_signing_key();
        assert_eq!(key.to_pkcs8_pem(), TEST_ED25519_PRIVATE_PEM);
        assert!(test_key_set().contains(key.kid()));
        assert!(TEST_HS256_SECRET.len() >= crate::MIN_SECRET_LEN);
    }
}
