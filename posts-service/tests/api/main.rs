//! Black-box tests of the posts service: each starts the real application on port 0 against
//! a fresh database, on SQLite and on PostgreSQL, with tokens minted from the shared test key
//! (no auth service involved).

mod auth;
mod config;
mod connections;
mod exit_stress;
mod hardening;
mod helpers;
mod inputs;
mod keys;
mod metrics;
mod outage;
mod paging;
mod posts;
mod sessions;
mod stricter;
mod votes;
