//! Draining a listening socket before a graceful stop.
//!
//! Closing a listening socket resets every connection still in its accept queue, including
//! ones whose client has already sent its request. A gateway in front cannot know whether
//! such a request was processed, so it answers 502 to a POST rather than send it again (it
//! does resend an idempotent one). With Docker's DNS, a stopping replica is still handed new
//! connections until its container exits, so during a rolling restart that queue is rarely
//! empty at the moment the listener closes.
//!
//! So, before the servers are told to stop, each listener first stops taking new
//! connections: a socket filter drops incoming SYNs (connection requests), which leaves a
//! client's `connect` pending, not failed. The connections already queued are accepted and
//! served as usual; once the queue is empty the servers stop and the listener closes. The
//! client's SYN, resent a second later, then meets a closed port: "connection refused",
//! which a gateway passes to another replica even for a POST, since nothing was sent (or, if
//! the container is already gone, its connect timeout does the same). The drain takes about
//! 150 ms, at most [`LIMIT`] and 150 ms, well under the second after
//! which a dropped SYN is resent.
//!
//! Linux only (socket filters), and only with CAP_NET_ADMIN, which current Linux kernels ask
//! of a process attaching a filter to a TCP socket (the images give it to the binary; see
//! the Dockerfile); elsewhere listeners close as they always have, with a warning.

use std::net::TcpListener;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

/// Longest wait for the accept queues to empty.
pub(crate) const LIMIT: Duration = Duration::from_millis(500);
/// Handshakes answered just before the filter complete within a round trip: give them
/// that long to reach the accept queue.
const HANDSHAKES: Duration = Duration::from_millis(50);
/// Connections the accept thread has taken from the queue reach their worker through a
/// channel, which a stopping worker empties by closing what it finds there.
const HANDOFF: Duration = Duration::from_millis(100);
const POLL: Duration = Duration::from_millis(5);

/// A server's listening socket, held through a second descriptor until it is drained
/// (the server closes its own when it stops; the socket closes with the last of the
/// two). A server stopped otherwise than by [`drain_then_stop`] keeps its port open, not
/// accepting, until its `run` future ends and drops this.
pub(crate) struct Listener {
    port: u16,
    socket: Mutex<Option<TcpListener>>,
}

impl Listener {
    fn socket(&self) -> std::sync::MutexGuard<'_, Option<TcpListener>> {
        self.socket.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The listeners of this process's live servers; an entry goes with its server.
static LISTENERS: Mutex<Vec<Weak<Listener>>> = Mutex::new(Vec::new());

/// Records `listener` for draining; the returned handle lives as long as its server.
/// `None` where draining is not supported, or when the descriptor cannot be copied.
pub(crate) fn register(listener: &TcpListener) -> Option<Arc<Listener>> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    let entry = Arc::new(Listener {
        port: listener.local_addr().ok()?.port(),
        socket: Mutex::new(Some(listener.try_clone().ok()?)),
    });
    let mut all = LISTENERS.lock().unwrap_or_else(PoisonError::into_inner);
    all.retain(|l| l.strong_count() > 0);
    all.push(Arc::downgrade(&entry));
    Some(entry)
}

/// Every registered listener whose server is still alive.
pub(crate) fn registered() -> Vec<Arc<Listener>> {
    let all = LISTENERS.lock().unwrap_or_else(PoisonError::into_inner);
    all.iter().filter_map(Weak::upgrade).collect()
}

/// [`drain`], then stops `servers` gracefully.
pub(crate) async fn drain_then_stop(
    servers: &[actix_web::dev::ServerHandle],
    listeners: &[Arc<Listener>],
    limit: Duration,
) {
    drain(listeners, limit).await;
    futures_util::future::join_all(servers.iter().map(|s| s.stop(true))).await;
}

/// Refuses new connections on `listeners` and waits (at most `limit`) until the
/// connections already queued have been accepted, then lets go of the listeners, so
/// that they close as soon as their servers are stopped.
pub(crate) async fn drain(listeners: &[Arc<Listener>], limit: Duration) {
    let started = Instant::now();
    let draining: Vec<&Arc<Listener>> = listeners
        .iter()
        .filter(|listener| {
            let socket = listener.socket();
            let Some(socket) = socket.as_ref() else {
                return false;
            };
            refuse_new_connections(socket)
                .inspect_err(|e| {
                    log::warn!(
                        "port {}: cannot refuse new connections ({e}; a socket filter needs CAP_NET_ADMIN): closing without a drain",
                        listener.port
                    )
                })
                .is_ok()
        })
        .collect();
    if draining.is_empty() {
        return;
    }
    actix_web::rt::time::sleep(HANDSHAKES).await;
    let deadline = Instant::now() + limit;
    let queued = loop {
        // An unreadable length counts as empty: the fixed waits still apply.
        let queued: u64 = draining
            .iter()
            .map(|l| {
                l.socket()
                    .as_ref()
                    .map_or(0, |s| queue_length(s).unwrap_or(0))
            })
            .sum();
        if queued == 0 || Instant::now() >= deadline {
            break queued;
        }
        actix_web::rt::time::sleep(POLL).await;
    };
    actix_web::rt::time::sleep(HANDOFF).await;
    for listener in &draining {
        listener.socket().take();
    }
    let ports: Vec<String> = draining.iter().map(|l| l.port.to_string()).collect();
    let ms = started.elapsed().as_millis();
    if queued == 0 {
        log::info!(
            "port {}: new connections refused, queue drained in {ms} ms",
            ports.join(", ")
        );
    } else {
        log::warn!(
            "port {}: {queued} connection(s) still queued after {ms} ms: closing anyway",
            ports.join(", ")
        );
    }
}

/// Attaches a classic BPF filter that drops every segment with SYN set: new connection
/// requests. Segments of connections already made (or being completed) pass.
#[cfg(target_os = "linux")]
fn refuse_new_connections(socket: &TcpListener) -> std::io::Result<()> {
    use socket2::SockFilter;
    // Socket filters see a TCP segment from its header on: byte 13 holds the flags.
    const LD_B_ABS: u16 = 0x30; // BPF_LD | BPF_B | BPF_ABS
    const JSET_K: u16 = 0x45; // BPF_JMP | BPF_JSET | BPF_K
    const RET_K: u16 = 0x06; // BPF_RET | BPF_K
    const SYN: u32 = 0x02;
    let program = [
        SockFilter::new(LD_B_ABS, 0, 0, 13),
        SockFilter::new(JSET_K, 0, 1, SYN), // SYN set: next; else skip one
        SockFilter::new(RET_K, 0, 0, 0),    // drop
        SockFilter::new(RET_K, 0, 0, u32::MAX), // keep the whole segment
    ];
    socket2::SockRef::from(socket).attach_filter(&program)
}

#[cfg(not(target_os = "linux"))]
fn refuse_new_connections(_: &TcpListener) -> std::io::Result<()> {
    Err(std::io::ErrorKind::Unsupported.into())
}

/// How many connections wait in `socket`'s accept queue: for a listening socket, the
/// "rx_queue" column of /proc/net/tcp (or tcp6) on the line of its inode.
#[cfg(target_os = "linux")]
fn queue_length(socket: &TcpListener) -> std::io::Result<u64> {
    use std::io::{Error, ErrorKind};
    use std::os::fd::AsRawFd;
    let link = std::fs::read_link(format!("/proc/self/fd/{}", socket.as_raw_fd()))?;
    let inode = link
        .to_str()
        .and_then(|l| l.strip_prefix("socket:["))
        .and_then(|l| l.strip_suffix(']'))
        .ok_or_else(|| Error::new(ErrorKind::InvalidData, "not a socket"))?
        .to_owned();
    for table in ["/proc/self/net/tcp", "/proc/self/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        // sl local rem st tx_queue:rx_queue tr:when retrnsmt uid timeout inode ...
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.get(9) == Some(&inode.as_str()) {
                let rx = fields[4].split(':').nth(1).unwrap_or("");
                return u64::from_str_radix(rx, 16)
                    .map_err(|e| Error::new(ErrorKind::InvalidData, e));
            }
        }
    }
    Err(Error::new(
        ErrorKind::NotFound,
        "socket not in /proc/net/tcp",
    ))
}

#[cfg(not(target_os = "linux"))]
fn queue_length(_: &TcpListener) -> std::io::Result<u64> {
    Err(std::io::ErrorKind::Unsupported.into())
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::io::{ErrorKind, Read, Write};
    use std::net::{SocketAddr, TcpListener, TcpStream};
    use std::time::{Duration, Instant};

    fn wait_for_queue(socket: &TcpListener, length: u64) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while super::queue_length(socket).unwrap() != length {
            assert!(Instant::now() < deadline, "the queue never held {length}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Whether this process may attach a socket filter to a TCP socket (current Linux
    /// kernels ask for CAP_NET_ADMIN). Without it the drain is skipped at run time (with
    /// a warning), and these tests say so in one line; in CI it is a failure.
    fn filters_allowed() -> bool {
        let probe = TcpListener::bind("127.0.0.1:0").unwrap();
        match super::refuse_new_connections(&probe) {
            Ok(()) => true,
            Err(e) if e.kind() == ErrorKind::PermissionDenied => {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "the listener drain needs CAP_NET_ADMIN in CI: {e}"
                );
                eprintln!("skipping: no CAP_NET_ADMIN for a socket filter ({e}); run as root to test the drain");
                false
            }
            Err(e) => panic!("attaching a socket filter: {e}"),
        }
    }

    fn connect_briefly(addr: SocketAddr) -> std::io::Result<TcpStream> {
        TcpStream::connect_timeout(&addr, Duration::from_millis(300))
    }

    #[test]
    fn a_draining_socket_ignores_new_connections_and_keeps_the_queued_ones() {
        if !filters_allowed() {
            return;
        }
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mut queued = TcpStream::connect(addr).unwrap();
        queued.write_all(b"request").unwrap();
        wait_for_queue(&listener, 1);

        super::refuse_new_connections(&listener).unwrap();
        // Neither accepted nor refused: the client keeps trying until its timeout.
        let new = connect_briefly(addr).unwrap_err();
        assert_eq!(new.kind(), ErrorKind::TimedOut, "{new}");
        assert_eq!(super::queue_length(&listener).unwrap(), 1);

        // The connection made before is whole: accepted, its request read, answered.
        let (mut accepted, _) = listener.accept().unwrap();
        let mut request = [0u8; 7];
        accepted.read_exact(&mut request).unwrap();
        assert_eq!(&request, b"request");
        accepted.write_all(b"answer").unwrap();
        let mut answer = [0u8; 6];
        queued.read_exact(&mut answer).unwrap();
        assert_eq!(&answer, b"answer");

        drop(listener);
        let closed = connect_briefly(addr).unwrap_err();
        assert_eq!(closed.kind(), ErrorKind::ConnectionRefused, "{closed}");
    }

    #[derive(clap::Parser)]
    struct Flags {
        #[command(flatten)]
        server: crate::config::ServerArgs,
    }

    #[actix_web::test]
    async fn a_graceful_stop_serves_the_queued_connections_then_refuses() {
        if !filters_allowed() {
            return;
        }
        let flags: Flags = crate::config::parse_flags_only([
            "test",
            "--workers",
            "1",
            "--shutdown-grace-seconds",
            "5",
        ]);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let bound = crate::http::serve(
            listener,
            &flags.server,
            1024,
            utoipa::openapi::OpenApiBuilder::new().build(),
            crate::http::common_routes,
        )
        .unwrap();
        let registered = bound.drain.clone().expect("the listener is registered");
        let handle = bound.handle();
        actix_web::rt::spawn(bound.run_until_stopped());

        // The accept loop paused, as when it falls behind: requests wait in the queue.
        handle.pause().await;
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        let clients: Vec<_> = (0..20)
            .map(|_| {
                std::thread::spawn(move || -> std::io::Result<String> {
                    let mut stream = TcpStream::connect(addr)?;
                    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
                    stream.write_all(
                        b"GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n",
                    )?;
                    let mut answer = String::new();
                    stream.read_to_string(&mut answer)?;
                    Ok(answer)
                })
            })
            .collect();
        wait_for_queue(registered.socket().as_ref().unwrap(), 20);

        // The stop a signal starts: the drain, then the servers' graceful stop.
        let stopping = actix_web::rt::spawn({
            let handle = handle.clone();
            async move { super::drain_then_stop(&[handle], &[registered], Duration::from_secs(5)).await }
        });
        actix_web::rt::time::sleep(Duration::from_millis(150)).await;
        let new = actix_web::rt::task::spawn_blocking(move || connect_briefly(addr))
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(
            new.kind(),
            ErrorKind::TimedOut,
            "a new connection during the drain: {new}"
        );
        handle.resume().await;
        stopping.await.unwrap();

        for client in clients {
            let answer = client
                .join()
                .unwrap()
                .expect("a queued request is answered");
            assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        }
        let closed = connect_briefly(addr).unwrap_err();
        assert_eq!(closed.kind(), ErrorKind::ConnectionRefused, "{closed}");
    }
}
