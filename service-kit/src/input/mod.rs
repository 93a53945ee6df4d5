//! Request input, each job in its module: bodies read with a size limit ([`Body`]), forms
//! decoded (multipart or urlencoded), field-by-field validation ([`Fields`], [`FromFields`])
//! that reports every failing field at once in pydantic v1's 422 shape, as the course app
//! does, with the refusals' texts written once ([`Invalid`]), path ids ([`PathId`]) and query
//! strings ([`Query`]).

mod body;
mod fields;
mod form;
mod invalid;
mod path;
mod query;

pub use body::{Body, BodyLimit, RawBody, DEFAULT_BODY_LIMIT};
pub use fields::{Fields, FromFields, Strict};
pub use invalid::{check_length, check_range, non_empty, Bound, Invalid};
pub use path::{path_id, PathId};
pub use query::Query;

/// The error bodies' schemas live in [`crate::openapi`]; here for the handlers that name
/// them beside their inputs.
pub use crate::openapi::{Detail, ValidationErrors};
