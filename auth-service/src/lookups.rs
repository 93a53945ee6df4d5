//! `GET /users/{id}` is no directory of emails (issue 22, finding 4): the caller's own
//! account shows its email; another's shows it masked ([`masked_email`]), and each caller
//! may look up at most `USER_LOOKUPS_PER_MINUTE` other accounts a minute ([`LookupLimit`]).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// An email as another user sees it: the first character of the local part, `***`, then the
/// domain (`alice@example.com` → `a***@example.com`). Still an address in form, so a client
/// that parses the course's `UserOut` (an `EmailStr`) keeps working; no longer one to write to.
pub fn masked_email(email: &str) -> String {
    let (local, domain) = email.rsplit_once('@').unwrap_or((email, ""));
    let first: String = local.chars().take(1).collect();
    format!("{first}***@{domain}")
}

/// Lookups of other accounts per caller, counted in fixed one-minute windows in this
/// process (each replica counts its own).
pub struct LookupLimit {
    per_minute: u32,
    windows: Mutex<HashMap<i64, (Instant, u32)>>,
}

/// Past this many callers tracked, windows that have ended are dropped.
const PRUNE_ABOVE: usize = 10_000;
const WINDOW: Duration = Duration::from_secs(60);

impl LookupLimit {
    /// `per_minute` 0: no limit.
    pub fn new(per_minute: u32) -> LookupLimit {
        LookupLimit {
            per_minute,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one lookup by `caller`: `Err(seconds until the window ends)` when it is one
    /// too many.
    pub fn check(&self, caller: i64) -> Result<(), u64> {
        self.check_at(caller, Instant::now())
    }

    fn check_at(&self, caller: i64, now: Instant) -> Result<(), u64> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if windows.len() > PRUNE_ABOVE {
            windows.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
        }
        let (start, count) = windows.entry(caller).or_insert((now, 0));
        if now.duration_since(*start) >= WINDOW {
            *start = now;
            *count = 0;
        }
        if *count >= self.per_minute {
            let left = WINDOW.saturating_sub(now.duration_since(*start));
            return Err(left.as_secs_f64().ceil().max(1.0) as u64);
        }
        *count += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_masked_to_their_first_character_and_domain() {
        assert_eq!(masked_email("alice@example.com"), "a***@example.com");
        assert_eq!(
            masked_email("\u{0430}b@example.com"),
            "\u{0430}***@example.com"
        );
        assert_eq!(masked_email("x@y.org"), "x***@y.org");
    }

    #[test]
    fn a_caller_gets_its_budget_per_window_then_a_wait() {
        let limit = LookupLimit::new(2);
        let t0 = Instant::now();
        assert_eq!(limit.check_at(1, t0), Ok(()));
        assert_eq!(limit.check_at(1, t0), Ok(()));
        assert_eq!(limit.check_at(1, t0 + Duration::from_secs(20)), Err(40));
        // Another caller has its own budget; a new window a fresh one.
        assert_eq!(limit.check_at(2, t0), Ok(()));
        assert_eq!(limit.check_at(1, t0 + Duration::from_secs(60)), Ok(()));
        assert_eq!(LookupLimit::new(0).check_at(1, t0), Ok(()));
    }
}
