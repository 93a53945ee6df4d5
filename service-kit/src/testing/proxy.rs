//! A proxy that cuts a service off from its database, and lets it back.

use super::postgres_addresses;

/// A TCP proxy a test controls, to cut a service off from its database and restore it.
pub struct CuttableProxy {
    pub port: u16,
    state: std::sync::Arc<ProxyState>,
}

struct ProxyState {
    /// Bumped by every cut: connections from an older generation close.
    generation: std::sync::atomic::AtomicU64,
    cut: std::sync::atomic::AtomicBool,
    changed: tokio::sync::Notify,
}

impl CuttableProxy {
    /// Starts forwarding to the server a `postgres://` URL names (the test server's, from
    /// `TEST_POSTGRES_URL`, wherever it runs).
    pub async fn in_front_of(url: &str) -> CuttableProxy {
        let target = postgres_addresses(url)
            .and_then(|addrs| addrs.into_iter().next())
            .unwrap_or_else(|| panic!("no TCP host and port in the database URL"));
        CuttableProxy::start(target).await
    }

    /// Starts forwarding `127.0.0.1:<port>` to `target` (on the current runtime).
    pub async fn start(target: std::net::SocketAddr) -> CuttableProxy {
        use std::sync::atomic::Ordering;
        use std::sync::Arc;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(ProxyState {
            generation: 0.into(),
            cut: false.into(),
            changed: tokio::sync::Notify::new(),
        });
        let shared = Arc::clone(&state);
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if shared.cut.load(Ordering::SeqCst) {
                    drop(inbound); // refused while cut
                    continue;
                }
                let generation = shared.generation.load(Ordering::SeqCst);
                let state = Arc::clone(&shared);
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await else {
                        return;
                    };
                    loop {
                        let notified = state.changed.notified();
                        if state.generation.load(Ordering::SeqCst) != generation {
                            return; // cut: both sockets close
                        }
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => return,
                            _ = notified => continue,
                        }
                    }
                });
            }
        });
        CuttableProxy { port, state }
    }

    /// Closes every open connection and refuses new ones until [`Self::restore`].
    pub fn cut(&self) {
        use std::sync::atomic::Ordering;
        self.state.cut.store(true, Ordering::SeqCst);
        self.state.generation.fetch_add(1, Ordering::SeqCst);
        self.state.changed.notify_waiters();
    }

    /// Accepts connections again.
    pub fn restore(&self) {
        self.state
            .cut
            .store(false, std::sync::atomic::Ordering::SeqCst);
    }

    /// `url` with its host and port replaced by this proxy's (for `postgres://` URLs).
    pub fn route(&self, url: &str) -> String {
        let mut url = url::Url::parse(url).expect("a database URL");
        url.set_host(Some("127.0.0.1")).expect("a URL with a host");
        url.set_port(Some(self.port)).expect("a URL with a host");
        url.into()
    }
}
