//! The services' embedded migrations, applied one replica at a time.

use diesel::sql_types::BigInt;
use diesel::RunQueryDsl;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness};

use super::{DbConn, DbError};

impl DbConn {
    /// Applies the embedded migrations of the connection's backend. On PostgreSQL an advisory
    /// lock (keyed by `lock_key`) serialises replicas that start together.
    pub fn run_migrations(
        &mut self,
        postgres: EmbeddedMigrations,
        sqlite: EmbeddedMigrations,
        lock_key: i64,
    ) -> Result<Vec<String>, MigrationError> {
        fn names(v: Vec<diesel::migration::MigrationVersion<'_>>) -> Vec<String> {
            v.into_iter().map(|m| m.to_string()).collect()
        }
        match self {
            DbConn::Pg(c) => {
                diesel::sql_query("SELECT pg_advisory_lock($1)")
                    .bind::<BigInt, _>(lock_key)
                    .execute(c)
                    .map_err(MigrationError::Lock)?;
                let result = c.run_pending_migrations(postgres).map(names);
                let unlock = diesel::sql_query("SELECT pg_advisory_unlock($1)")
                    .bind::<BigInt, _>(lock_key)
                    .execute(c);
                let applied = result.map_err(MigrationError::Apply)?;
                unlock.map_err(MigrationError::Unlock)?;
                Ok(applied)
            }
            DbConn::Sqlite(c) => c
                .run_pending_migrations(sqlite)
                .map(names)
                .map_err(MigrationError::Apply),
        }
    }
}

/// Why migrations could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    #[error(transparent)]
    Database(#[from] DbError),
    #[error("cannot take the migration lock: {0}")]
    Lock(#[source] diesel::result::Error),
    #[error("cannot release the migration lock: {0}")]
    Unlock(#[source] diesel::result::Error),
    #[error("{0}")]
    Apply(#[source] Box<dyn std::error::Error + Send + Sync>),
}
