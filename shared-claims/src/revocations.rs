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
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
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
    /// Users whose course tokens (`COURSE_TOKEN_SECRET`, no session id) are refused, with the
    /// unix second since when: after a `logout?scope=all` or a password change. Kept while
    /// the service runs (one entry per such user; course tokens stop at `COURSE_TOKEN_UNTIL`).
    course_refused: RwLock<HashMap<i64, i64>>,
    /// Course tokens name users below this id, as `stack import-course` recorded it in auth's
    /// database (0 until the feed says: no course token is accepted). This project's own
    /// users have ids past it, so a course token cannot name one of them.
    course_below: AtomicI64,
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
            course_refused: RwLock::new(HashMap::new()),
            course_below: AtomicI64::new(0),
        }
    }

    /// Sets the bound below which course tokens name users (from the feed; `None`: no import
    /// recorded, no course token accepted).
    pub fn set_course_user_ids_below(&self, below: Option<i64>) {
        self.course_below
            .store(below.unwrap_or(0).max(0), Ordering::Release);
    }

    /// Whether a course token of `user_id` may be accepted: only for the course app's user
    /// ids (below the bound the last import recorded; none before one), not once that user
    /// logged out of every session or changed their password (a course token has no session
    /// or issue time to tell an older one from a newer one), and not before the list was
    /// loaded once.
    pub fn check_course_token(&self, user_id: i64) -> Result<(), Refusal> {
        if !self.loaded.load(Ordering::Acquire) {
            return Err(Refusal::NotLoaded);
        }
        if user_id >= self.course_below.load(Ordering::Acquire) {
            return Err(Refusal::Ended);
        }
        let refused = match self.course_refused.read() {
            Ok(guard) => guard.contains_key(&user_id),
            Err(poisoned) => poisoned.into_inner().contains_key(&user_id),
        };
        if refused {
            Err(Refusal::Ended)
        } else {
            Ok(())
        }
    }

    /// Adds users whose course tokens are refused (`(user_id, since)`); call before
    /// [`Revocations::merge`] of the same poll (which marks the list loaded).
    pub fn merge_course_refusals(&self, entries: impl IntoIterator<Item = (i64, i64)>) {
        let mut entries = entries.into_iter().peekable();
        if entries.peek().is_none() {
            return;
        }
        let mut refused = match self.course_refused.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        for (user_id, since) in entries {
            let entry = refused.entry(user_id).or_insert(since);
            *entry = (*entry).min(since);
        }
    }

    /// Users whose course tokens are refused.
    pub fn course_refusals(&self) -> usize {
        match self.course_refused.read() {
            Ok(guard) => guard.len(),
            Err(poisoned) => poisoned.into_inner().len(),
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
    fn course_tokens_of_a_refused_user_are_refused_once_loaded() {
        let r = Revocations::new(0);
        assert_eq!(r.check_course_token(7), Err(Refusal::NotLoaded));
        r.merge([], 100);
        // No import recorded: no course token names a user here.
        assert_eq!(r.check_course_token(7), Err(Refusal::Ended));
        r.set_course_user_ids_below(Some(50));
        assert_eq!(r.check_course_token(7), Ok(()));
        // Ids from the bound on are this project's own users.
        assert_eq!(r.check_course_token(50), Err(Refusal::Ended));
        assert_eq!(r.check_course_token(100_050), Err(Refusal::Ended));
        r.merge_course_refusals([(7, 90)]);
        r.merge([], 101);
        assert_eq!(r.check_course_token(7), Err(Refusal::Ended));
        assert_eq!(r.check_course_token(8), Ok(()));
        // Later merges keep the entry (it does not expire with session entries).
        r.merge([], 10_000);
        r.merge_course_refusals([(7, 95)]);
        assert_eq!(r.check_course_token(7), Err(Refusal::Ended));
        assert_eq!(r.course_refusals(), 1);
    }

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
