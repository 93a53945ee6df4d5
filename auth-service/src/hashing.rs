//! Password hashing on a bounded pool of its own threads, off the actix workers.
//!
//! bcrypt at cost 12 takes about a fifth of a second of one core. A fixed set of threads
//! (one per core by default) does all of it; a bounded queue lets a burst wait its turn,
//! and past the queue signup and login answer 503 with `Retry-After` instead of piling up.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, OnceLock};

use service_kit::ApiError;
use tokio::sync::oneshot;

/// The longest password accepted; bcrypt ignores everything past 72 bytes.
pub const MAX_PASSWORD_BYTES: usize = 72;

type Job = Box<dyn FnOnce() + Send>;

/// Handle to the hashing threads. Cheap to clone.
#[derive(Clone)]
pub struct PasswordHasher {
    jobs: SyncSender<Job>,
    cost: u32,
    /// Hash checked for unknown emails, so they take as long as a wrong password.
    dummy_hash: Arc<OnceLock<String>>,
    counts: Arc<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    /// Jobs accepted and not yet taken by a thread.
    queued: AtomicUsize,
    /// Jobs a thread is working on now.
    running: AtomicUsize,
    /// Jobs refused because the queue was full.
    rejected: AtomicU64,
}

/// The hashing queue now (for metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashingStats {
    /// Jobs waiting for a hashing thread.
    pub queued: usize,
    /// Jobs being hashed or checked now (at most the number of threads).
    pub running: usize,
    /// Jobs refused (503) since start because the queue was full.
    pub rejected: u64,
}

impl PasswordHasher {
    /// Starts `threads` hashing threads with room for `queue` waiting jobs.
    pub fn start(threads: usize, queue: usize, cost: u32) -> std::io::Result<PasswordHasher> {
        let (jobs, rx) = sync_channel::<Job>(queue);
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = Arc::clone(&rx);
            std::thread::Builder::new()
                .name(format!("bcrypt-{i}"))
                .spawn(move || work(&rx))?;
        }
        let hasher = PasswordHasher {
            jobs,
            cost,
            dummy_hash: Arc::new(OnceLock::new()),
            counts: Arc::default(),
        };
        // Prepare the dummy hash in the background so start-up does not wait for it.
        let dummy = Arc::clone(&hasher.dummy_hash);
        std::thread::spawn(move || {
            lower_priority();
            dummy.get_or_init(|| make_dummy_hash(cost));
        });
        Ok(hasher)
    }

    async fn submit<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let (tx, rx) = oneshot::channel();
        let counts = Arc::clone(&self.counts);
        let job: Job = Box::new(move || {
            counts.running.fetch_add(1, Ordering::Relaxed);
            counts.queued.fetch_sub(1, Ordering::Relaxed);
            let result = f();
            counts.running.fetch_sub(1, Ordering::Relaxed);
            let _ = tx.send(result);
        });
        // Counted before it is sent, so a thread taking it at once never counts below zero.
        self.counts.queued.fetch_add(1, Ordering::Relaxed);
        match self.jobs.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.counts.queued.fetch_sub(1, Ordering::Relaxed);
                self.counts.rejected.fetch_add(1, Ordering::Relaxed);
                return Err(ApiError::Unavailable {
                    cause: "password hashing queue is full".into(),
                    retry_after: 1,
                });
            }
            Err(TrySendError::Disconnected(_)) => {
                self.counts.queued.fetch_sub(1, Ordering::Relaxed);
                return Err(ApiError::Internal(
                    "password hashing threads stopped".into(),
                ));
            }
        }
        rx.await
            .map_err(|_| ApiError::Internal("password hashing job was dropped".into()))
    }

    /// Hashes a password of at most [`MAX_PASSWORD_BYTES`]; longer ones are an error, never
    /// truncated. (bcrypt's `non_truncating_*` functions also refuse exactly 72 bytes, which
    /// bcrypt uses in full, so the limit is checked here instead.)
    pub async fn hash(&self, password: String) -> Result<String, ApiError> {
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(ApiError::Internal(
                "password longer than bcrypt's limit".into(),
            ));
        }
        let cost = self.cost;
        self.submit(move || bcrypt::hash(password, cost))
            .await?
            .map_err(ApiError::internal)
    }

    /// Jobs waiting for a thread, jobs being worked on, and jobs refused since start.
    pub fn stats(&self) -> HashingStats {
        HashingStats {
            queued: self.counts.queued.load(Ordering::Relaxed),
            running: self.counts.running.load(Ordering::Relaxed),
            rejected: self.counts.rejected.load(Ordering::Relaxed),
        }
    }

    /// Checks a password against a stored hash, or against a dummy hash when there is no
    /// account (always false then), so both cases cost the same. A password longer than
    /// bcrypt's limit matches nothing.
    pub async fn verify(&self, password: String, hash: Option<String>) -> Result<bool, ApiError> {
        if password.len() > MAX_PASSWORD_BYTES {
            return Ok(false);
        }
        let dummy = Arc::clone(&self.dummy_hash);
        let cost = self.cost;
        self.submit(move || match hash {
            Some(h) => bcrypt::verify(password, &h).unwrap_or(false),
            None => {
                let h = dummy.get_or_init(|| make_dummy_hash(cost));
                let _ = bcrypt::verify(password, h);
                false
            }
        })
        .await
    }
}

fn make_dummy_hash(cost: u32) -> String {
    bcrypt::hash("dummy password for unknown accounts", cost).unwrap_or_else(|_| {
        String::from("$2b$12$invalidinvalidinvalidinvalidinvalidinvalidinvalidinva")
    })
}

/// Hashing runs below the HTTP workers' priority (nice 10 on Linux): a login storm then
/// uses the CPU left over, and the service's other requests keep their latency. It still
/// gets most of the CPU when nothing else wants it.
fn lower_priority() {
    use thread_priority::{set_current_thread_priority, ThreadPriority, ThreadPriorityValue};
    // On Linux the cross-platform scale 0..=99 maps onto nice 20..=-20; 24 is nice 10.
    let Ok(value) = ThreadPriorityValue::try_from(24u8) else {
        return;
    };
    if let Err(e) = set_current_thread_priority(ThreadPriority::Crossplatform(value)) {
        log::warn!("cannot lower the priority of a hashing thread: {e:?}");
    }
}

fn work(rx: &Mutex<Receiver<Job>>) {
    lower_priority();
    loop {
        let job = match rx.lock() {
            Ok(guard) => guard.recv(),
            Err(_) => return,
        };
        match job {
            Ok(job) => job(),
            Err(_) => return, // every sender dropped: the service is shutting down
        }
    }
}
