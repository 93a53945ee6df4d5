//! End-to-end tests: both services started as `cargo run -p stack` starts them, driven over
//! HTTP the way a client of the course app drives it, on SQLite and on PostgreSQL.

mod binary;
mod browser;
mod compose;
mod compose_stack;
mod course_tokens;
mod docs;
mod ephemeral;
mod expiry;
mod gateway;
mod gateway_metrics;
mod harness;
mod helpers;
mod import;
mod kubernetes;
mod processes;
mod rotation;
mod sessions;
mod settings;
mod story;
