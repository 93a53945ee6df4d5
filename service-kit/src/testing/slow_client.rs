//! A client that starts a request and then goes silent: the connection-lifetime tests of
//! every service send the same bytes and watch how long the socket stays open.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// What a raw exchange gave back: the time until the server closed the connection (read
/// returned 0 or failed), `None` when it was still open after `within`, and every byte sent.
#[derive(Debug)]
pub struct Exchange {
    pub closed_after: Option<Duration>,
    pub response: String,
}

impl Exchange {
    /// The status line's code, if an answer came.
    pub fn status(&self) -> Option<u16> {
        self.response
            .strip_prefix("HTTP/1.1 ")
            .and_then(|rest| rest.get(..3))
            .and_then(|code| code.parse().ok())
    }
}

/// The head of a request with a chunked body, the first chunk of which (`1\r\na\r\n`) follows:
/// `method path`, then any extra header lines (each ending in `\r\n`).
pub fn chunked_head(method: &str, path: &str, extra_headers: &str) -> String {
    format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\n{extra_headers}\
         Transfer-Encoding: chunked\r\n\r\n1\r\na\r\n"
    )
}

/// Sends `request` on a fresh connection to `127.0.0.1:port`, then nothing more, and reads
/// until the server closes the connection or `within` has passed. Blocking: call it from
/// `spawn_blocking` in an async test.
pub fn send_then_stall(port: u16, request: &str, within: Duration) -> Exchange {
    let mut stream =
        TcpStream::connect(("127.0.0.1", port)).expect("the service accepts a connection");
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let started = Instant::now();
    let mut response = Vec::new();
    let mut buf = [0u8; 4096];
    let closed_after = loop {
        if started.elapsed() >= within {
            break None;
        }
        match stream.read(&mut buf) {
            Ok(0) => break Some(started.elapsed()),
            Ok(n) => response.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            // A reset is a close too.
            Err(_) => break Some(started.elapsed()),
        }
    };
    Exchange {
        closed_after,
        response: String::from_utf8_lossy(&response).into_owned(),
    }
}

/// [`send_then_stall`] from an async test; panics unless the server answered with
/// `expected_status` and closed the connection within `bound`.
pub async fn assert_closed_within(
    port: u16,
    request: String,
    expected_status: u16,
    bound: Duration,
) -> Exchange {
    let within = bound + Duration::from_secs(4);
    let exchange =
        actix_web::rt::task::spawn_blocking(move || send_then_stall(port, &request, within))
            .await
            .unwrap();
    let closed_after = exchange.closed_after.unwrap_or_else(|| {
        panic!(
            "still open after {within:?}; received: {:?}",
            exchange.response
        )
    });
    assert!(
        closed_after < bound,
        "closed only after {closed_after:?}: {:?}",
        exchange.response
    );
    assert_eq!(
        exchange.status(),
        Some(expected_status),
        "{:?}",
        exchange.response
    );
    exchange
}
