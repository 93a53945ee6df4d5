//! The one error type of auth's handlers and modules. It holds either of the two answers the
//! service gives besides success, each rendered by its own crate exactly as everywhere else:
//! [`ApiError`], the course-shaped errors every service shares (403, 404, 409, 422, 429, 500,
//! 503), and [`AuthError`], a refused bearer token (401 with `WWW-Authenticate: Bearer`).
//!
//! It is not a third response shape: actix receives the inner error itself (see the
//! `From<Error> for actix_web::Error` below), so the access log still finds an [`ApiError`]
//! and logs its cause once, with the request id.

use service_kit::{ApiError, DbError};
use shared_claims::AuthError;

/// What every auth handler and extractor, and the modules they call (`sessions`,
/// `credentials`), return besides success. The modules below them (`domain`, `hashing`) can
/// only fail with an [`ApiError`], and answer with it; `?` converts.
#[derive(Debug)]
pub enum Error {
    /// 403, 404, 409, 422, 429, 500, 503: `{"detail": ...}` as service-kit writes them.
    Api(ApiError),
    /// 401 `Not authenticated` / `Could not validate credentials` with
    /// `WWW-Authenticate: Bearer` (or the extractor's 500 / 503).
    Token(AuthError),
}

impl Error {
    /// 401 `Could not validate credentials`: a refused token, refresh token or ended session.
    pub fn unauthorized() -> Error {
        Error::Token(AuthError::InvalidCredentials)
    }

    /// 403 `Invalid Credentials`: a wrong password, and the same bytes for an unknown email.
    pub fn invalid_credentials() -> Error {
        Error::Api(ApiError::Forbidden(INVALID_CREDENTIALS.into()))
    }
}

/// The detail of [`Error::invalid_credentials`] (the course's text).
const INVALID_CREDENTIALS: &str = "Invalid Credentials";

impl From<ApiError> for Error {
    fn from(e: ApiError) -> Error {
        Error::Api(e)
    }
}

impl From<AuthError> for Error {
    fn from(e: AuthError) -> Error {
        Error::Token(e)
    }
}

/// A database failure: 503 when it is the database's state (down, saturated, locked), 500
/// otherwise, as [`ApiError`] maps it.
impl From<DbError> for Error {
    fn from(e: DbError) -> Error {
        Error::Api(e.into())
    }
}

/// Hands actix the inner error, which renders its own response.
impl From<Error> for actix_web::Error {
    fn from(e: Error) -> actix_web::Error {
        match e {
            Error::Api(e) => e.into(),
            Error::Token(e) => e.into(),
        }
    }
}
