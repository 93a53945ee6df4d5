//! The sessions a resource service must refuse tokens of, before those tokens expire.
//!
//! The auth service publishes the sessions that ended (a logout, a password change, a reused
//! refresh token) with `until`, the expiry of the session's last access token. A resource
//! service keeps them here, filled by a poller, and [`crate::Verifier`] checks every token's
//! `sid` against them: one hash lookup under a read lock (and nothing at all while the set is
//! empty). Entries leave once `until` (plus the verifier's leeway) has passed, since no token
//! of theirs could verify any more: the set holds only the sessions ended in the last access
//! token lifetime.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

/// Ended sessions, by `sid`, each with the unix second from which its tokens are expired
/// anyway.
#[derive(Debug)]
pub struct Revocations {
    ended: RwLock<HashMap<Box<str>, i64>>,
    /// Entries in `ended`, readable without the lock (the empty set costs nothing).
    len: AtomicUsize,
    /// Whether the set was loaded once: until then a token with a `sid` cannot be checked.
    loaded: AtomicBool,
    synced_at: Mutex<Option<Instant>>,
    leeway_seconds: i64,
}

/// Why [`Revocations::check`] refused a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The token's session has ended.
    #[error("the token's session has ended")]
    Ended,
    /// The list of ended sessions has not been loaded yet.
    #[error("the list of ended sessions is not loaded yet")]
    NotLoaded,
}

impl Revocations {
    /// An empty, not yet loaded set; `leeway_seconds` is the verifier's clock-skew allowance
    /// (an entry stays that much longer than its `until`).
    pub fn new(leeway_seconds: u64) -> Revocations {
        Revocations {
            ended: RwLock::new(HashMap::new()),
            len: AtomicUsize::new(0),
            loaded: AtomicBool::new(false),
            synced_at: Mutex::new(None),
            leeway_seconds: i64::try_from(leeway_seconds).unwrap_or(i64::MAX),
        }
    }

    /// Whether a token of session `sid` may be accepted. Tokens without a session cannot be
    /// ended and always pass; tokens with one get [`Refusal::NotLoaded`] until the set was
    /// loaded once (the service cannot judge them yet: 503, not 401).
    pub fn check(&self, sid: Option<&str>) -> Result<(), Refusal> {
        let Some(sid) = sid else { return Ok(()) };
        if !self.loaded.load(Ordering::Acquire) {
            return Err(Refusal::NotLoaded);
        }
        if self.len.load(Ordering::Acquire) == 0 {
            return Ok(());
        }
        let ended = match self.ended.read() {
            Ok(guard) => guard.contains_key(sid),
            Err(poisoned) => poisoned.into_inner().contains_key(sid),
        };
        if ended {
            Err(Refusal::Ended)
        } else {
            Ok(())
        }
    }

    /// Adds ended sessions (`(sid, until)`), forgets those whose tokens have all expired by
    /// `now` (unix seconds), and records a successful sync. The write lock is taken only when
    /// something changes.
    pub fn merge(&self, entries: impl IntoIterator<Item = (String, i64)>, now: i64) {
        let live = |until: i64| until.saturating_add(self.leeway_seconds) > now;
        let fresh: Vec<(String, i64)> = entries.into_iter().filter(|(_, u)| live(*u)).collect();
        let changes = {
            let ended = match self.ended.read() {
                Ok(guard) => guard,
                Err(poisoned) => poisoned.into_inner(),
            };
            fresh
                .iter()
                .any(|(sid, until)| ended.get(sid.as_str()).is_none_or(|u| u < until))
                || ended.values().any(|until| !live(*until))
        };
        if changes {
            let mut ended = match self.ended.write() {
                Ok(guard) => guard,
                Err(poisoned) => poisoned.into_inner(),
            };
            ended.retain(|_, until| live(*until));
            for (sid, until) in fresh {
                let entry = ended.entry(sid.into_boxed_str()).or_insert(until);
                *entry = (*entry).max(until);
            }
            self.len.store(ended.len(), Ordering::Release);
        }
        if let Ok(mut at) = self.synced_at.lock() {
            *at = Some(Instant::now());
        }
        self.loaded.store(true, Ordering::Release);
    }

    /// Whether the set was loaded at least once.
    pub fn is_loaded(&self) -> bool {
        self.loaded.load(Ordering::Acquire)
    }

    /// Time since the last successful sync (`None` before the first).
    pub fn age(&self) -> Option<Duration> {
        self.synced_at
            .lock()
            .ok()
            .and_then(|at| at.map(|t| t.elapsed()))
    }

    /// Number of ended sessions held.
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Acquire)
    }

    /// Whether no ended session is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_without_a_session_always_pass_and_others_wait_for_the_first_load() {
        let r = Revocations::new(0);
        assert_eq!(r.check(None), Ok(()));
        assert_eq!(r.check(Some("s1")), Err(Refusal::NotLoaded));
        r.merge([], 100);
        assert_eq!(r.check(Some("s1")), Ok(()));
        assert!(r.is_loaded());
        assert!(r.age().is_some());
    }

    #[test]
    fn ended_sessions_are_refused_until_their_last_token_expires() {
        let r = Revocations::new(5);
        r.merge([("s1".to_string(), 110), ("s2".to_string(), 200)], 100);
        assert_eq!(r.check(Some("s1")), Err(Refusal::Ended));
        assert_eq!(r.check(Some("s2")), Err(Refusal::Ended));
        assert_eq!(r.check(Some("s3")), Ok(()));
        assert_eq!(r.len(), 2);
        // At 114, s1's tokens may still verify within the 5 s leeway; at 115 they cannot.
        r.merge([], 114);
        assert_eq!(r.check(Some("s1")), Err(Refusal::Ended));
        r.merge([], 115);
        assert_eq!(r.check(Some("s1")), Ok(()));
        assert_eq!(r.len(), 1);
        // Entries already over are not added; a later `until` for a known sid extends it.
        r.merge([("old".to_string(), 50), ("s2".to_string(), 300)], 250);
        assert_eq!(r.check(Some("old")), Ok(()));
        assert_eq!(r.check(Some("s2")), Err(Refusal::Ended));
        assert_eq!(r.len(), 1);
    }
}
