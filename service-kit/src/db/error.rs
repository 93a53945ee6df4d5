//! Failures to reach or use the database, and what they say about it (transient or not,
//! which constraint). Their HTTP answers are the HTTP layer's ([`crate::error`]).

/// Failure to reach or use the database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// Every connection stayed busy for the acquire timeout (`DATABASE_TIMEOUT_SECONDS`).
    #[error("database unavailable: timed out waiting for a database connection")]
    Saturated,
    /// The pool could not open a connection in time (the database is down or unreachable);
    /// r2d2's error carries the last connection error.
    #[error("database unavailable: {0}")]
    Pool(#[source] r2d2::Error),
    /// The blocking task that ran the work failed (it panicked, or the runtime is stopping).
    #[error("database unavailable: database task failed: {0}")]
    Task(#[source] tokio::task::JoinError),
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
}

impl DbError {
    /// Whether the error is a unique-constraint violation.
    pub fn is_unique_violation(&self) -> bool {
        matches!(
            self,
            DbError::Query(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _
            ))
        )
    }

    /// Whether the error is a foreign-key violation.
    pub fn is_foreign_key_violation(&self) -> bool {
        matches!(
            self,
            DbError::Query(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::ForeignKeyViolation,
                _
            ))
        )
    }
}

impl DbError {
    /// Whether the failure is the database's state (down, lost connection, locked), not the
    /// request's: the client may retry later.
    pub fn is_transient(&self) -> bool {
        use diesel::result::{DatabaseErrorKind, Error};
        match self {
            DbError::Saturated | DbError::Pool(_) | DbError::Task(_) => true,
            DbError::Query(Error::DatabaseError(kind, info)) => {
                matches!(
                    kind,
                    DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand
                ) || {
                    let m = info.message();
                    // SQLite under write contention past busy_timeout; PostgreSQL shutting down.
                    m.contains("database is locked")
                        || m.contains("database is busy")
                        || m.contains("terminating connection")
                        || m.contains("server closed the connection")
                }
            }
            // A connection lost mid-transaction can surface as a failed rollback.
            DbError::Query(
                Error::BrokenTransactionManager
                | Error::RollbackErrorOnCommit { .. }
                | Error::AlreadyInTransaction,
            ) => true,
            DbError::Query(_) => false,
        }
    }
}
