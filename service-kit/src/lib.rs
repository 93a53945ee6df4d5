//! What both services share besides the token contract: the database layer (one connection
//! type over SQLite and PostgreSQL), the error type and its JSON shapes, input validation in
//! the course's 422 format, and common HTTP pieces.

pub mod config;
pub mod db;
pub mod error;
pub mod http;
pub mod input;
pub mod logging;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod time;

pub use db::{Backend, Db, DbConn, DbError, DbOptions};
pub use error::{ApiError, FieldError};
