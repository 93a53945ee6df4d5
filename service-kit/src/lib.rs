//! What both services share besides the token contract: the database layer (one connection
//! type over SQLite and PostgreSQL), the error type and its JSON shapes, input validation in
//! the course's 422 format, common HTTP pieces, the graceful stop, the settings every
//! service has ([`config::CommonArgs`]), and the skeleton each service is built on
//! ([`service::Service`]).

pub mod config;
pub mod db;
pub mod deadline;
pub mod error;
pub mod http;
pub mod input;
pub mod logging;
pub mod metrics;
pub mod openapi;
pub mod service;
pub mod shutdown;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod time;
#[cfg(feature = "tokens")]
pub mod tokens;

pub use db::{Backend, DatabaseUrl, Db, DbConn, DbError, DbOptions};
pub use error::{ApiError, FieldError};
pub use service::{Service, StartError};
