//! Connection lifetimes (issue 22, finding 1): a request whose chunked body stops arriving
//! gets its connection closed within a bounded time on every route kind.

use std::time::Duration;

use service_kit::testing::slow_client::{assert_closed_within, chunked_head};

use crate::helpers::{spawn_app_with, TestApp, PASSWORD};

/// The port the test app listens on.
fn port(app: &TestApp) -> u16 {
    app.api
        .base_url()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

service_kit::backend_tests! {
    /// Finding 1 of issue 22: a chunked body whose first chunk arrives and then nothing more
    /// got its 408, but the connection was drained forever. Now every route kind closes it:
    /// the public login (which reads the body: 408), an authenticated route (which reads it
    /// too: 408), and `/healthz` (which never reads it: answered at once, then closed).
    async fn a_chunked_body_that_stops_arriving_gets_its_connection_closed_on_every_route_kind(backend) {
        let app = spawn_app_with(backend, |c| c.common.server.body_read_timeout_seconds = 1).await;
        app.create_user("alice@example.com").await;
        let token = app.token("alice@example.com", PASSWORD).await;
        let bound = Duration::from_secs(4);
        let form = "Content-Type: application/x-www-form-urlencoded\r\n";
        let login = assert_closed_within(port(&app), chunked_head("POST", "/login", form), 408, bound).await;
        assert!(login.response.ends_with(r#"{"detail":"Request body not received in time"}"#), "{login:?}");
        let authenticated = format!("Authorization: Bearer {token}\r\nContent-Type: application/json\r\n");
        assert_closed_within(port(&app), chunked_head("PUT", "/users/me/password", &authenticated), 408, bound).await;
        assert_closed_within(port(&app), chunked_head("POST", "/users/", "Content-Type: application/json\r\n"), 408, bound).await;
        assert_closed_within(port(&app), chunked_head("GET", "/healthz", ""), 200, bound).await;
        // Not authenticated: refused at once, then closed.
        assert_closed_within(port(&app), chunked_head("PUT", "/users/me/password", "Content-Type: application/json\r\n"), 401, bound).await;
        // The service still answers, and the account is untouched.
        assert!(!app.token("alice@example.com", PASSWORD).await.is_empty());
    }
}

/// `MAX_CONNECTIONS`: a request on a connection beyond the limit is answered 503 with
/// `Retry-After` and `Connection: close`; once connections close, new ones are served again.
#[actix_web::test]
async fn a_connection_beyond_max_connections_is_answered_503_and_closed() {
    use std::io::{Read, Write};
    let app = spawn_app_with(service_kit::Backend::Sqlite, |c| {
        c.common.server.max_connections = 2
    })
    .await;
    let port = port(&app);
    let (refused, served_again) = actix_web::rt::task::spawn_blocking(move || {
        let held: Vec<_> = (0..2)
            .map(|_| std::net::TcpStream::connect(("127.0.0.1", port)).unwrap())
            .collect();
        // The server counts a connection once it has accepted it.
        std::thread::sleep(Duration::from_millis(300));
        let request = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";
        let refused = service_kit::testing::slow_client::send_then_stall(
            port,
            request,
            Duration::from_secs(5),
        );
        drop(held);
        let started = std::time::Instant::now();
        let served_again = loop {
            let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            s.write_all(request.as_bytes()).unwrap();
            let mut buf = [0u8; 12];
            let n = s.read(&mut buf).unwrap_or(0);
            if buf[..n].starts_with(b"HTTP/1.1 200") {
                break Some(started.elapsed());
            }
            if started.elapsed() > Duration::from_secs(5) {
                break None;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        (refused, served_again)
    })
    .await
    .unwrap();
    assert_eq!(refused.status(), Some(503), "{refused:?}");
    let closed_after = refused
        .closed_after
        .expect("the refused connection is closed");
    assert!(closed_after < Duration::from_secs(3), "{closed_after:?}");
    let head = refused.response.to_ascii_lowercase();
    assert!(head.contains("retry-after: 1\r\n"), "{head}");
    assert!(head.contains("connection: close\r\n"), "{head}");
    assert!(
        refused
            .response
            .ends_with(r#"{"detail":"Too many connections"}"#),
        "{refused:?}"
    );
    assert!(
        served_again.is_some(),
        "no 200 within 5 s of the held connections closing"
    );
}
