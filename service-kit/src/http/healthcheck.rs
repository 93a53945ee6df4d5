//! The `healthcheck` subcommand's client, and where a client on this machine reaches a
//! service.

/// Where a client on this machine reaches a service bound to `addr`: an unspecified address
/// (`0.0.0.0`, `[::]`) is reached through loopback of the same family.
pub fn reachable(addr: std::net::SocketAddr) -> std::net::SocketAddr {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port())
}

/// The base URL (`http://host:port`, IPv6 hosts in brackets) of a service bound to `addr`,
/// as [`reachable`] from this machine.
pub fn base_url(addr: std::net::SocketAddr) -> String {
    format!("http://{}", reachable(addr))
}

/// The `healthcheck` subcommand: asks the service at `bind_addr` for `path` over loopback and
/// succeeds on 200 (slim container images have no curl). An unspecified bind address
/// (`0.0.0.0`) is reached through loopback; proxies configured in the environment are not
/// used.
pub async fn healthcheck(bind_addr: std::net::SocketAddr, path: &str) -> Result<(), String> {
    let timeout = std::time::Duration::from_secs(3);
    let client = reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(timeout)
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| format!("HTTP client: {e}"))?;
    let url = format!("{}{path}", base_url(bind_addr));
    let response = client.get(&url).send().await.map_err(|e| {
        // reqwest's own message names only the request: the cause is in its sources.
        let mut message = format!("{}", reachable(bind_addr));
        let mut cause: Option<&dyn std::error::Error> = std::error::Error::source(&e);
        if cause.is_none() {
            message.push_str(&format!(": {e}"));
        }
        while let Some(c) = cause {
            message.push_str(&format!(": {c}"));
            cause = c.source();
        }
        message
    })?;
    match response.status() {
        reqwest::StatusCode::OK => Ok(()),
        status => Err(format!("{path} answered {status}")),
    }
}
