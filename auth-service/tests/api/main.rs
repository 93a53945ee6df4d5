//! Black-box tests of the auth service: each starts the real application on port 0 against
//! a fresh database, on SQLite and on PostgreSQL.

mod config;
mod connections;
mod database_hosts;
mod directory;
mod exit_stress;
mod hardening;
mod helpers;
mod inputs;
mod keys;
mod limits;
mod login;
mod metrics;
mod outage;
mod replicas;
mod sessions;
mod shutdown;
mod stricter;
mod throttle;
mod users;
