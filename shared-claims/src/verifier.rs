//! Token verification (used by resource services such as the posts service).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use futures_util::future::BoxFuture;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{DecodingKey, Validation};

use crate::keys::{check_secret, ed25519_public_from_pem, ed25519_thumbprint, KeyError};
use crate::{Alg, Claims, Revocations};

/// Longest token accepted (bytes); longer input is rejected before parsing.
const MAX_TOKEN_LEN: usize = 16 * 1024;
/// Upper bound applied to the configured leeway (10 years).
const MAX_LEEWAY: u64 = 10 * 365 * 24 * 3600;

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
    /// Required `aud` claim.
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
        validation.required_spec_claims = ["exp", "iss", "aud", "sub"]
            .into_iter()
            .map(String::from)
            .collect::<HashSet<_>>();
        validation.leeway = leeway;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = true;
        validation.set_issuer(&[&config.issuer]);
        validation.set_audience(&[&config.audience]);

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

/// Why a key set could not be fetched (the fetcher's own error, kept for the log).
pub type RefreshError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Fetches a fresh key set (e.g. the auth service's JWKS).
pub type RefreshFn =
    Box<dyn Fn() -> BoxFuture<'static, Result<KeySet, RefreshError>> + Send + Sync>;

struct Refresh {
    min_interval: Duration,
    fetch: RefreshFn,
}

/// How often the keys were fetched again, and how often that failed (for metrics).
#[derive(Debug, Default)]
struct RefreshCounts {
    refreshes: std::sync::atomic::AtomicU64,
    failures: std::sync::atomic::AtomicU64,
}

impl RefreshCounts {
    fn record(&self, succeeded: bool) {
        use std::sync::atomic::Ordering::Relaxed;
        self.refreshes.fetch_add(1, Relaxed);
        if !succeeded {
            self.failures.fetch_add(1, Relaxed);
        }
    }
}

/// The verifier a service keeps in its app state: a [`KeySet`] that can be
/// refreshed when a token names an unknown `kid`.
pub struct Verifier {
    /// Shared with a refresh task, which installs what it fetched even if the request that
    /// started it has gone away.
    keys: Arc<RwLock<Arc<KeySet>>>,
    config: VerifyConfig,
    refresh: Option<Refresh>,
    last_refresh: tokio::sync::Mutex<Option<Instant>>,
    verified: VerifiedTokens,
    /// Ended sessions whose tokens are refused (checked on every verification, remembered
    /// or not).
    revocations: Option<Arc<Revocations>>,
    refreshes: Arc<RefreshCounts>,
}

/// Tokens this verifier accepted recently, with the key set that accepted them: a client
/// sending its token again costs a lookup and an expiry check instead of a signature check.
/// An entry counts only while that same key set is current (a key rotation or removal
/// empties it in effect) and only until the token expires. Bounded: when full it starts over.
struct VerifiedTokens {
    entries: std::sync::Mutex<std::collections::HashMap<Box<str>, Verified>>,
}

/// A token's claims and the key set that accepted them.
type Verified = (Claims, Arc<KeySet>);

/// Most tokens remembered (a few MiB at most).
const VERIFIED_CAPACITY: usize = 4096;

impl VerifiedTokens {
    fn get(&self, token: &str, keys: &Arc<KeySet>, leeway: u64) -> Option<Claims> {
        let entries = self.entries.lock().ok()?;
        let (claims, verified_with) = entries.get(token)?;
        let now = chrono::Utc::now().timestamp();
        let leeway = i64::try_from(leeway.min(MAX_LEEWAY)).unwrap_or(0);
        (Arc::ptr_eq(verified_with, keys) && claims.exp > now.saturating_sub(leeway))
            .then(|| claims.clone())
    }

    fn remember(&self, token: &str, claims: &Claims, keys: Arc<KeySet>) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= VERIFIED_CAPACITY {
                entries.clear();
            }
            entries.insert(token.into(), (claims.clone(), keys));
        }
    }
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("keys", &self.keys())
            .field("config", &self.config)
            .field("refresh", &self.refresh.as_ref().map(|r| r.min_interval))
            .finish()
    }
}

impl Verifier {
    /// A verifier without refresh.
    pub fn new(keys: KeySet, config: VerifyConfig) -> Self {
        Self {
            keys: Arc::new(RwLock::new(Arc::new(keys))),
            config,
            refresh: None,
            last_refresh: tokio::sync::Mutex::new(None),
            verified: VerifiedTokens {
                entries: std::sync::Mutex::new(std::collections::HashMap::new()),
            },
            revocations: None,
            refreshes: Arc::default(),
        }
    }

    /// Refuses tokens of the sessions in `revocations` (see [`Revocations`]).
    pub fn with_revocations(mut self, revocations: Arc<Revocations>) -> Self {
        self.revocations = Some(revocations);
        self
    }

    /// The ended sessions this verifier refuses, when it checks any.
    pub fn revocations(&self) -> Option<&Arc<Revocations>> {
        self.revocations.as_ref()
    }

    /// Enables refreshing the key set on an unknown `kid`, at most once per
    /// `min_interval`.
    pub fn with_refresh(mut self, min_interval: Duration, refresh: RefreshFn) -> Self {
        self.refresh = Some(Refresh {
            min_interval,
            fetch: refresh,
        });
        self
    }

    /// The current key set.
    pub fn keys(&self) -> Arc<KeySet> {
        match self.keys.read() {
            Ok(guard) => Arc::clone(&guard),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Sync fast path: verifies with the current keys; never refreshes.
    pub fn verify_now(&self, token: &str) -> Result<Claims, VerifyError> {
        self.verify_with(&self.keys(), token)
    }

    /// Verifies with `keys`, through the memory of recently verified tokens.
    fn verify_with(&self, keys: &Arc<KeySet>, token: &str) -> Result<Claims, VerifyError> {
        let claims = match self.verified.get(token, keys, self.config.leeway_seconds) {
            Some(claims) => claims,
            None => {
                let claims = keys.verify(token, &self.config).map_err(|e| match e {
                    VerifyError::UnknownKid(_) if keys.is_empty() => VerifyError::NoKeys,
                    e => e,
                })?;
                self.verified.remember(token, &claims, Arc::clone(keys));
                claims
            }
        };
        if let Some(revocations) = &self.revocations {
            revocations.check(claims.sid.as_deref())?;
        }
        Ok(claims)
    }

    /// Verifies a token; on [`VerifyError::UnknownKid`] (or [`VerifyError::NoKeys`]) with a
    /// refresh function, refreshes the keys (single-flight, rate limited) and verifies once
    /// more.
    pub async fn verify(&self, token: &str) -> Result<Claims, VerifyError> {
        let before = self.keys();
        let err = match self.verify_with(&before, token) {
            Err(e @ (VerifyError::UnknownKid(_) | VerifyError::NoKeys)) => e,
            other => return other,
        };
        let Some(refresh) = &self.refresh else {
            return Err(err);
        };

        let mut last = self.last_refresh.lock().await;
        let replaced_meanwhile = !Arc::ptr_eq(&before, &self.keys());
        let too_soon = last.is_some_and(|t| t.elapsed() < refresh.min_interval);
        if !replaced_meanwhile && !too_soon {
            *last = Some(Instant::now());
            // The fetch runs as a task of its own: a client that disconnects mid-request
            // cannot cancel it (and so cannot keep new keys out for `min_interval`).
            let fetch = (refresh.fetch)();
            let slot = Arc::clone(&self.keys);
            let counts = Arc::clone(&self.refreshes);
            let task = tokio::spawn(async move {
                let result = fetch.await;
                counts.record(matches!(&result, Ok(keys) if !keys.is_empty()));
                match result {
                    Ok(keys) if keys.is_empty() => {
                        log::warn!("refreshed key set is empty; keeping the old keys")
                    }
                    Ok(keys) => {
                        log::info!("refreshed verification keys ({} keys)", keys.len());
                        install(&slot, keys);
                    }
                    Err(e) => {
                        log::warn!("refreshing verification keys failed, keeping old keys: {e}")
                    }
                }
            });
            let _ = task.await;
        }
        drop(last);
        self.verify_now(token)
    }

    /// Whether the current key set has at least one key.
    pub fn has_keys(&self) -> bool {
        !self.keys().is_empty()
    }

    /// Whether the list of ended sessions has loaded once (true when there is none to check).
    pub fn ended_sessions_loaded(&self) -> bool {
        self.revocations.as_ref().is_none_or(|r| r.is_loaded())
    }

    /// Whether it can judge every token: keys held and, when it checks ended sessions, their
    /// list loaded (until then some tokens get [`VerifyError::not_ready`]).
    pub fn is_ready(&self) -> bool {
        self.has_keys() && self.ended_sessions_loaded()
    }

    /// Replaces the key set.
    pub fn replace_keys(&self, keys: KeySet) {
        install(&self.keys, keys);
    }

    /// Replaces the key set with `keys` unless it holds exactly the current keys (then the
    /// memory of verified tokens stays valid). Returns whether it replaced them.
    pub fn update_keys(&self, keys: KeySet) -> bool {
        if self.keys().same_keys(&keys) {
            return false;
        }
        install(&self.keys, keys);
        true
    }

    /// Counts a fetch of the key set made outside [`Verifier::verify`] (a service's
    /// periodic refresh), so [`Verifier::key_refreshes`] covers every fetch. A fetch that
    /// yields no usable key counts as failed.
    pub fn record_key_refresh(&self, succeeded: bool) {
        self.refreshes.record(succeeded);
    }

    /// How many times the key set was fetched again (on an unknown `kid`, or as recorded by
    /// [`Verifier::record_key_refresh`]), and how many of those fetches failed.
    pub fn key_refreshes(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (
            self.refreshes.refreshes.load(Relaxed),
            self.refreshes.failures.load(Relaxed),
        )
    }

    /// The verification config.
    pub fn config(&self) -> &VerifyConfig {
        &self.config
    }
}

fn install(slot: &RwLock<Arc<KeySet>>, keys: KeySet) {
    let keys = Arc::new(keys);
    match slot.write() {
        Ok(mut guard) => *guard = keys,
        Err(poisoned) => *poisoned.into_inner() = keys,
    }
}

#[cfg(test)]
mod tests;
