//! Token verification for resource services such as the posts service: the current
//! [`KeySet`], refreshed when it runs out or on an unknown `kid` (one fetch for many
//! requests), recently verified tokens, and the ended sessions a token must not carry.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;

use crate::key_set::MAX_LEEWAY;
use crate::{Claims, CourseTokens, KeySet, Revocations, VerifyConfig, VerifyError};

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
    /// The course app's own tokens, accepted beside auth's during a move from it.
    course: Option<Arc<CourseTokens>>,
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
            course: None,
        }
    }

    /// Also accepts the course app's own tokens (see [`CourseTokens`]); with revocations,
    /// those of a user who logged out everywhere or changed their password are refused.
    pub fn with_course_tokens(mut self, course: Arc<CourseTokens>) -> Self {
        self.course = Some(course);
        self
    }

    /// The course tokens accepted, when they are.
    pub fn course_tokens(&self) -> Option<&Arc<CourseTokens>> {
        self.course.as_ref()
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
            None => match keys.verify(token, &self.config) {
                Ok(claims) => {
                    self.verified.remember(token, &claims, Arc::clone(keys));
                    claims
                }
                Err(e) => {
                    let e = match e {
                        VerifyError::UnknownKid(_) if keys.is_empty() => VerifyError::NoKeys,
                        e => e,
                    };
                    // Not one of auth's: perhaps the course app's (never remembered, so its
                    // deadline is checked every time).
                    let Some(course) = &self.course else {
                        return Err(e);
                    };
                    let claims = match course.verify(token, self.config.leeway_seconds) {
                        Ok(claims) => claims,
                        Err(course_error) => {
                            log::debug!("not a course token either: {course_error}");
                            return Err(e);
                        }
                    };
                    if let Some(revocations) = &self.revocations {
                        let id = claims.course_user_id.unwrap_or_default();
                        revocations.check_course_token(id)?;
                    }
                    course.record_accepted();
                    return Ok(claims);
                }
            },
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
