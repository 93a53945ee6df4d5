//! Pieces every service's `App` shares, each in the module a reader looks in: JSON bodies
//! for framework errors ([`errors`]), CORS ([`cors`]), `no-store` for personal data
//! ([`caching`]), the health routes ([`health`]), the
//! `healthcheck` subcommand's client ([`healthcheck`]), the bounds on connections
//! ([`connections`]) and the server itself ([`server`]).
//! Stopping it gracefully is [`crate::shutdown`]'s; the OpenAPI pieces are
//! [`crate::openapi`]'s.

pub mod caching;
pub mod connections;
pub mod cors;
pub mod errors;
pub mod health;
pub mod healthcheck;
pub mod server;

pub use caching::no_store;
pub use cors::{comma_list, cors};
pub use errors::json_errors;
pub use health::{common_routes, healthz, readiness};
pub use healthcheck::{base_url, healthcheck, reachable};
pub use server::{serve, BoundServer};
