//! Stopping gracefully: the termination signals, then the listener drain (see [`drain`]),
//! then the servers' own graceful stop.

pub(crate) mod drain;

/// Waits for SIGINT (Ctrl-C) or SIGTERM, then stops the servers gracefully: they stop
/// accepting, finish in-flight requests within their shutdown timeout, and their `run`
/// futures resolve. Services build their servers with `disable_signals()` and spawn this (or
/// [`stop_when`], with the signal future they started with), so Ctrl-C is as graceful as
/// SIGTERM. Before the servers stop, every listening socket made by [`crate::http::serve`] in this process
/// is drained first (see [`drain`]), so no connection a client has already opened
/// is reset.
pub async fn stop_on_signal(servers: Vec<actix_web::dev::ServerHandle>) {
    stop_when(termination_signal(), servers).await;
}

/// [`stop_on_signal`] with the signal's future given: `signal` resolves with the name of
/// what asked to stop (see [`termination_signal`]).
pub async fn stop_when(
    signal: impl std::future::Future<Output = &'static str>,
    servers: Vec<actix_web::dev::ServerHandle>,
) {
    let name = signal.await;
    log::info!("{name} received: graceful shutdown, finishing in-flight requests");
    drain::drain_then_stop(&servers, &drain::registered(), drain::LIMIT).await;
}

/// Resolves with the signal's name at the first SIGTERM or SIGINT (Ctrl-C) from now on: the
/// handlers are installed when this is called, not when the future is first polled, so a
/// signal that arrives in between is not lost (nor, for a container's PID 1, ignored).
/// Tokio's handlers stay installed for the life of the process.
pub fn termination_signal() -> impl std::future::Future<Output = &'static str> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        async move {
            match (term, int) {
                (Ok(mut term), Ok(mut int)) => tokio::select! {
                    _ = int.recv() => "SIGINT",
                    _ = term.recv() => "SIGTERM",
                },
                (Ok(mut term), Err(_)) => {
                    term.recv().await;
                    "SIGTERM"
                }
                (Err(_), _) => {
                    let _ = tokio::signal::ctrl_c().await;
                    "SIGINT"
                }
            }
        }
    }
    #[cfg(windows)]
    {
        let ctrl_c = tokio::signal::windows::ctrl_c();
        async move {
            match ctrl_c {
                Ok(mut ctrl_c) => {
                    ctrl_c.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
            "Ctrl-C"
        }
    }
    #[cfg(not(any(unix, windows)))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        }
    }
}
