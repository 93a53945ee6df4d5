//! Black-box tests of the posts service: each starts the real application on port 0 against
//! a fresh database, on SQLite and on PostgreSQL, with tokens minted from the shared test key
//! (no auth service involved).

mod auth;
mod config;
mod exit_stress;
mod helpers;
mod keys;
mod outage;
mod paging;
mod posts;
mod sessions;
mod votes;
