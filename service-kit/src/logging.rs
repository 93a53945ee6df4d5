//! Logger set-up shared by the services.

/// Starts env_logger at `info` unless `RUST_LOG` says otherwise. Safe to call twice.
pub fn init() {
    let _ = env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format_timestamp_millis()
        .try_init();
}
