//! The database layer: one connection type for both backends, a pool of it, and migrations.
//!
//! SQLite is the embedded default; a `postgres://` URL selects PostgreSQL. Store code is
//! written once against diesel's DSL and expanded for each backend by [`with_conn!`], so
//! every query (upserts included) runs on the concrete connection type.
//!
//! - [`url`]: the grammar of `DATABASE_URL` ([`DatabaseUrl`], checked once at start; libpq's
//!   URIs with several hosts and its keyword/value strings, read by `libpq`);
//! - [`conn`]: the connection enum and [`with_conn!`];
//! - [`pool`]: the pool handlers use ([`Db`]);
//! - [`migrations`]: the embedded migrations, applied under a lock;
//! - [`error`]: what can fail ([`DbError`]); its HTTP answer is in [`crate::error`].

pub mod conn;
pub mod error;
mod libpq;
pub mod migrations;
pub mod pool;
pub mod url;

pub use conn::{openssl_without_exit_cleanup, DbConn};
pub use error::DbError;
pub use migrations::MigrationError;
pub use pool::{Db, DbManager, DbOptions, PoolConn, PoolStats};
pub use url::{masked, sqlite_path, Backend, DatabaseUrl, DbUrlError};
