//! A key set and the checks of one token against it: the algorithm pinned, `exp` / `nbf`
//! with the configured leeway, `iss` / `aud` / `sub` required, the key found by `kid`.
//! [`crate::Verifier`] holds one and keeps it current.

use std::collections::{HashMap, HashSet};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{DecodingKey, Validation};

use crate::keys::{check_secret, ed25519_public_from_pem, ed25519_thumbprint, KeyError};
use crate::{Alg, Claims};

/// Longest token accepted (bytes); longer input is rejected before parsing.
const MAX_TOKEN_LEN: usize = 16 * 1024;
/// Upper bound applied to the configured leeway (10 years).
pub(crate) const MAX_LEEWAY: u64 = 10 * 365 * 24 * 3600;

#[derive(Clone)]
enum Keys {
    Ed25519(HashMap<String, DecodingKey>),
    Hs256(DecodingKey),
}

/// Public verification keys, found by `kid` (or a single HS256 secret).
#[derive(Clone)]
pub struct KeySet {
    keys: Keys,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.keys {
            Keys::Ed25519(map) => f
                .debug_struct("KeySet")
                .field("alg", &Alg::EdDSA)
                .field("kids", &map.keys().collect::<Vec<_>>())
                .finish(),
            Keys::Hs256(_) => f
                .debug_struct("KeySet")
                .field("alg", &Alg::HS256)
                .finish_non_exhaustive(),
        }
    }
}

/// Expected `iss`/`aud` and clock-skew leeway for verification.
#[derive(Debug, Clone)]
pub struct VerifyConfig {
    /// Required `iss` claim.
    pub issuer: String,
    /// Required `aud` claim; empty: tokens must carry none (see [`crate::audience_setting`]).
    pub audience: String,
    /// Clock-skew leeway for `exp`/`nbf`, in seconds.
    pub leeway_seconds: u64,
}

/// Why a token was rejected. Display texts are for debug logs only and never
/// contain the token.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// Not a structurally valid JWT (segments, base64, header JSON, unknown alg).
    #[error("malformed token: {0}")]
    Malformed(String),
    /// No key for the header's `kid` (or no `kid` where one is required).
    #[error("unknown key id: {0:?}")]
    UnknownKid(Option<String>),
    /// No key is loaded yet (the JWKS has not answered since start): the token cannot be
    /// judged either way.
    #[error("no verification keys loaded yet")]
    NoKeys,
    /// The header `alg` differs from the key set's algorithm.
    #[error("algorithm mismatch: expected {expected}, token uses {found}")]
    AlgorithmMismatch {
        /// Algorithm of the key set.
        expected: Alg,
        /// Algorithm named in the token header.
        found: String,
    },
    /// The token has expired.
    #[error("token expired")]
    Expired,
    /// The token's `nbf` is in the future.
    #[error("token not yet valid")]
    NotYetValid,
    /// Signature, issuer, audience, missing or malformed claims, non-numeric `sub`.
    #[error("invalid token: {0}")]
    Invalid(String),
    /// The token's session has ended, or cannot be checked yet.
    #[error("session refused: {0}")]
    Session(#[from] crate::revocations::Refusal),
}

/// What a verifier is still waiting for before it can judge tokens (see
/// [`VerifyError::not_ready`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotReady {
    #[error("no verification keys loaded yet")]
    Keys,
    #[error("the list of ended sessions is not loaded yet")]
    EndedSessions,
}

impl VerifyError {
    /// What this verifier still waits for, when the token could not be judged because it is
    /// not ready (no keys, or the list of ended sessions not loaded yet) rather than found
    /// wanting: the answer is "try again shortly" (503), not "these credentials are bad"
    /// (401), which would make a client drop a good token.
    pub fn not_ready(&self) -> Option<NotReady> {
        match self {
            VerifyError::NoKeys => Some(NotReady::Keys),
            VerifyError::Session(crate::revocations::Refusal::NotLoaded) => {
                Some(NotReady::EndedSessions)
            }
            _ => None,
        }
    }
}

impl KeySet {
    /// An EdDSA key set with no keys (every well-formed token fails with `UnknownKid`, which
    /// a [`Verifier`] holding it reports as [`VerifyError::NoKeys`]).
    pub fn empty() -> Self {
        Self {
            keys: Keys::Ed25519(HashMap::new()),
        }
    }

    /// Builds an EdDSA key set from a JWKS, keeping only OKP/Ed25519 signature
    /// keys that have a `kid`; other keys are skipped with a warning.
    pub fn from_jwks(jwks: &JwkSet) -> Result<Self, KeyError> {
        let mut map = HashMap::new();
        for jwk in &jwks.keys {
            let kid = match &jwk.common.key_id {
                Some(kid) if !kid.is_empty() => kid,
                _ => {
                    log::warn!("JWKS: skipping key without kid");
                    continue;
                }
            };
            let params = match &jwk.algorithm {
                AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => p,
                _ => {
                    log::warn!("JWKS: skipping key {kid:?}: not an OKP/Ed25519 key");
                    continue;
                }
            };
            if matches!(&jwk.common.key_algorithm, Some(a) if *a != KeyAlgorithm::EdDSA) {
                log::warn!("JWKS: skipping key {kid:?}: alg is not EdDSA");
                continue;
            }
            if matches!(&jwk.common.public_key_use, Some(u) if *u != PublicKeyUse::Signature) {
                log::warn!("JWKS: skipping key {kid:?}: use is not sig");
                continue;
            }
            if !matches!(URL_SAFE_NO_PAD.decode(&params.x), Ok(x) if x.len() == 32) {
                log::warn!("JWKS: skipping key {kid:?}: x is not a 32-byte base64url value");
                continue;
            }
            match DecodingKey::from_jwk(jwk) {
                Ok(key) => {
                    map.insert(kid.clone(), key);
                }
                Err(e) => log::warn!("JWKS: skipping key {kid:?}: {e}"),
            }
        }
        Ok(Self {
            keys: Keys::Ed25519(map),
        })
    }

    /// Parses a JWKS JSON document (see [`KeySet::from_jwks`]).
    pub fn from_jwks_json(json: &str) -> Result<Self, KeyError> {
        let jwks: JwkSet =
            serde_json::from_str(json).map_err(|e| KeyError::InvalidJwks(e.to_string()))?;
        Self::from_jwks(&jwks)
    }

    /// A single Ed25519 public key from SPKI PEM; its `kid` is the RFC 7638 thumbprint.
    pub fn from_public_key_pem(pem: &str) -> Result<Self, KeyError> {
        let public = ed25519_public_from_pem(pem)?;
        let kid = ed25519_thumbprint(&public);
        let mut map = HashMap::new();
        map.insert(kid, DecodingKey::from_ed_der(&public));
        Ok(Self {
            keys: Keys::Ed25519(map),
        })
    }

    /// An HS256 key set with one shared secret, used for any `kid` (or none).
    /// Refuses secrets shorter than [`crate::MIN_SECRET_LEN`] bytes.
    pub fn hs256(secret: &[u8]) -> Result<Self, KeyError> {
        check_secret(secret)?;
        Ok(Self {
            keys: Keys::Hs256(DecodingKey::from_secret(secret)),
        })
    }

    /// The algorithm every token must use.
    pub fn algorithm(&self) -> Alg {
        match self.keys {
            Keys::Ed25519(_) => Alg::EdDSA,
            Keys::Hs256(_) => Alg::HS256,
        }
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        match &self.keys {
            Keys::Ed25519(map) => map.len(),
            Keys::Hs256(_) => 1,
        }
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The key ids, sorted (empty for HS256).
    pub fn kids(&self) -> Vec<&str> {
        let mut kids: Vec<&str> = match &self.keys {
            Keys::Ed25519(map) => map.keys().map(String::as_str).collect(),
            Keys::Hs256(_) => Vec::new(),
        };
        kids.sort_unstable();
        kids
    }

    /// Whether both sets hold the same EdDSA keys (a `kid` is the key's thumbprint, so equal
    /// ids are equal keys). HS256 sets never compare equal: their secret is not inspected.
    pub fn same_keys(&self, other: &KeySet) -> bool {
        matches!(
            (&self.keys, &other.keys),
            (Keys::Ed25519(_), Keys::Ed25519(_))
        ) && self.kids() == other.kids()
    }

    /// Whether a key with this `kid` exists (always true for HS256).
    pub fn contains(&self, kid: &str) -> bool {
        match &self.keys {
            Keys::Ed25519(map) => map.contains_key(kid),
            Keys::Hs256(_) => true,
        }
    }

    /// Verifies signature and claims.
    ///
    /// The algorithm is pinned to the key set's (checked before key lookup);
    /// `exp`, `iss`, `aud`, `sub` are required; `nbf` is validated; `iss`/`aud`
    /// must equal `config`; leeway is `config.leeway_seconds`. A token is invalid
    /// from its `exp` second on, `sub` must be a user id (a positive integer in canonical
    /// form), and a header with `crit` is refused.
    pub fn verify(&self, token: &str, config: &VerifyConfig) -> Result<Claims, VerifyError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(VerifyError::Malformed("token too long".into()));
        }
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| VerifyError::Malformed(format!("header: {e}")))?;
        // RFC 7515 §4.1.11: a recipient must refuse a token whose `crit` lists extensions it
        // does not understand. This verifier understands none, so any `crit` is refused (an
        // empty or null one too: the RFC forbids those).
        if header.crit.is_some() || header_has_crit(token) {
            return Err(VerifyError::Malformed(
                "header: critical extensions (crit) are not supported".into(),
            ));
        }
        let expected = self.algorithm();
        if header.alg != expected.to_jwt() {
            return Err(VerifyError::AlgorithmMismatch {
                expected,
                found: format!("{:?}", header.alg),
            });
        }
        let key = match &self.keys {
            Keys::Hs256(key) => key,
            Keys::Ed25519(map) => match header.kid {
                None => return Err(VerifyError::UnknownKid(None)),
                Some(kid) => match map.get(&kid) {
                    Some(key) => key,
                    None => return Err(VerifyError::UnknownKid(Some(kid))),
                },
            },
        };

        let leeway = config.leeway_seconds.min(MAX_LEEWAY);
        let mut validation = Validation::new(expected.to_jwt());
        // With no audience configured, `aud` is not required, and a token that names one is
        // refused (jsonwebtoken refuses any `aud` when it expects none).
        let required: &[&str] = match config.audience.is_empty() {
            true => &["exp", "iss", "sub"],
            false => &["exp", "iss", "aud", "sub"],
        };
        validation.required_spec_claims = required
            .iter()
            .copied()
            .map(String::from)
            .collect::<HashSet<_>>();
        validation.leeway = leeway;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = true;
        validation.set_issuer(&[&config.issuer]);
        if !config.audience.is_empty() {
            validation.set_audience(&[&config.audience]);
        }

        let claims = jsonwebtoken::decode::<Claims>(token, key, &validation)
            .map_err(map_jwt_error)?
            .claims;

        // jsonwebtoken accepts exp == now; a token is invalid at its exp second.
        let now = chrono::Utc::now().timestamp();
        let leeway = i64::try_from(leeway).unwrap_or(i64::MAX);
        if claims.exp <= now.saturating_sub(leeway) {
            return Err(VerifyError::Expired);
        }
        if claims.nbf > now.saturating_add(leeway) {
            return Err(VerifyError::NotYetValid);
        }
        if claims.user_id().is_none() {
            return Err(VerifyError::Invalid(
                "sub is not a positive integer in canonical form".into(),
            ));
        }
        if !claims.user_id_agrees() {
            return Err(VerifyError::Invalid("user_id differs from sub".into()));
        }
        Ok(claims)
    }
}

/// Whether the token's header names a `crit` member at all (`"crit": null` included, which
/// the parsed header cannot tell from an absent one).
fn header_has_crit(token: &str) -> bool {
    let Some(segment) = token.split('.').next() else {
        return false;
    };
    URL_SAFE_NO_PAD
        .decode(segment)
        .ok()
        .and_then(|json| serde_json::from_slice::<serde_json::Value>(&json).ok())
        .is_some_and(|header| header.get("crit").is_some())
}

fn map_jwt_error(e: jsonwebtoken::errors::Error) -> VerifyError {
    match e.kind() {
        ErrorKind::ExpiredSignature => VerifyError::Expired,
        ErrorKind::ImmatureSignature => VerifyError::NotYetValid,
        ErrorKind::InvalidToken | ErrorKind::Base64(_) | ErrorKind::Utf8(_) => {
            VerifyError::Malformed(e.to_string())
        }
        ErrorKind::InvalidSignature => VerifyError::Invalid("bad signature".into()),
        ErrorKind::InvalidIssuer => VerifyError::Invalid("wrong issuer".into()),
        ErrorKind::InvalidAudience => VerifyError::Invalid("wrong audience".into()),
        ErrorKind::MissingRequiredClaim(c) => VerifyError::Invalid(format!("missing claim {c}")),
        ErrorKind::InvalidClaimFormat(c) => VerifyError::Invalid(format!("malformed claim {c}")),
        ErrorKind::Json(err) => VerifyError::Invalid(format!("claims: {err}")),
        other => VerifyError::Invalid(format!("{other:?}")),
    }
}
