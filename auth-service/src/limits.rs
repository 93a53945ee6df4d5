//! Request limits per client address and per route, counted in auth's database so that every
//! replica sees the same counts: fixed windows of `RATE_LIMIT_WINDOW_SECONDS`, one upsert per
//! bucket (the client's and the route's) in one trip to the database. Past a limit the answer
//! is 429 with `Retry-After`; every limited answer carries the `RateLimit-Policy` and
//! `RateLimit` fields of draft-ietf-httpapi-ratelimit-headers (-10 syntax).
//!
//! The client is the peer address, unless the peer is one of `TRUSTED_PROXIES`: then it is the
//! rightmost address of `X-Forwarded-For` (or else `Forwarded`) that is not a trusted proxy.
//! IPv6 clients are counted per /64, the block one subscriber usually holds.

use std::fmt;
use std::future::Future;
use std::net::{IpAddr, Ipv6Addr};
use std::pin::Pin;
use std::str::FromStr;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{web, ResponseError};
use service_kit::ApiError;

use crate::error::Error;
use crate::store;
use crate::AppState;

/// One route's limit per window: requests from one client, and from every client together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub per_client: u32,
    pub global: u32,
}

impl FromStr for Limit {
    type Err = String;

    /// `PER_CLIENT/GLOBAL`, each a positive integer, the global one at least the other.
    fn from_str(s: &str) -> Result<Limit, String> {
        let bad = || format!("{s:?}: expected PER_CLIENT/GLOBAL, e.g. 20/600");
        let (client, global) = s.split_once('/').ok_or_else(bad)?;
        let parse = |n: &str| {
            n.trim()
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=100_000_000).contains(n))
        };
        let (per_client, global) = (
            parse(client).ok_or_else(bad)?,
            parse(global).ok_or_else(bad)?,
        );
        if global < per_client {
            return Err(format!(
                "{s:?}: the global limit is below the per-client one"
            ));
        }
        Ok(Limit { per_client, global })
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.per_client, self.global)
    }
}

/// An address block of `TRUSTED_PROXIES`: `10.0.0.0/8`, `fd00::/8`, or one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Cidr, String> {
        let s = s.trim();
        let bad = |why: &str| format!("{s:?}: {why}");
        let (addr, prefix) = match s.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (s, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| bad("not an IP address"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| bad("prefix length out of range"))?,
        };
        Ok(Cidr { addr, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                masked(u32::from(net).into(), self.prefix, 32)
                    == masked(u32::from(ip).into(), self.prefix, 32)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                masked(u128::from(net), self.prefix, 128)
                    == masked(u128::from(ip), self.prefix, 128)
            }
            _ => false,
        }
    }
}

fn masked(bits: u128, prefix: u8, width: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        bits >> (width - prefix)
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The limited routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Signup,
    Login,
    Refresh,
    Password,
}

impl Route {
    fn name(self) -> &'static str {
        match self {
            Route::Signup => "signup",
            Route::Login => "login",
            Route::Refresh => "refresh",
            Route::Password => "password",
        }
    }
}

/// The limits as configured.
#[derive(Debug, Clone)]
pub struct RateLimits {
    pub enabled: bool,
    pub window_seconds: i64,
    pub signup: Limit,
    pub login: Limit,
    pub refresh: Limit,
    pub password: Limit,
    pub trusted_proxies: Vec<Cidr>,
}

impl RateLimits {
    pub fn from_config(config: &crate::Config) -> RateLimits {
        RateLimits {
            enabled: config.rate_limits,
            window_seconds: i64::from(config.rate_limit_window_seconds),
            signup: config.rate_limit_signup,
            login: config.rate_limit_login,
            refresh: config.rate_limit_refresh,
            password: config.rate_limit_password,
            trusted_proxies: config.trusted_proxies.clone(),
        }
    }

    fn limit(&self, route: Route) -> Limit {
        match route {
            Route::Signup => self.signup,
            Route::Login => self.login,
            Route::Refresh => self.refresh,
            Route::Password => self.password,
        }
    }

    fn trusted(&self, ip: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|c| c.contains(ip))
    }

    /// The client a request counts for: the peer, or behind trusted proxies the rightmost
    /// forwarded hop that is not one of them (the leftmost when all are). `None` when the
    /// peer is unknown (not a TCP connection).
    pub fn client_of(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        let peer = canonical(peer?);
        if !self.trusted(peer) {
            return Some(peer);
        }
        let hops = forwarded_hops(headers);
        let mut client = peer;
        for hop in hops.iter().rev() {
            let Some(hop) = hop else {
                // A hop a trusted proxy could not name (`unknown`, garbage): what is left of
                // it cannot be believed; count the last address that can.
                break;
            };
            client = canonical(*hop);
            if !self.trusted(client) {
                break;
            }
        }
        Some(client)
    }
}

/// The addresses of `X-Forwarded-For` (every such field, in order), or when there is none of
/// `Forwarded`'s `for=`; `None` for an entry that is not an address.
fn forwarded_hops(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let values = |name: &str| -> Vec<String> {
        headers
            .get_all(name)
            .map(|v| {
                v.to_str()
                    .map_or_else(|_| "\u{0}".to_owned(), str::to_owned)
            })
            .collect()
    };
    let xff = values("x-forwarded-for");
    if !xff.is_empty() {
        return xff
            .iter()
            .flat_map(|v| v.split(','))
            .map(|hop| parse_hop(hop.trim()))
            .collect();
    }
    values("forwarded")
        .iter()
        .flat_map(|v| v.split(','))
        .map(|element| {
            element
                .split(';')
                .filter_map(|pair| pair.trim().split_once('='))
                .find(|(key, _)| key.eq_ignore_ascii_case("for"))
                .and_then(|(_, value)| parse_hop(value.trim().trim_matches('"')))
        })
        .collect()
}

/// `1.2.3.4`, `1.2.3.4:5678`, `[2001:db8::1]`, `[2001:db8::1]:443`, `2001:db8::1`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse() {
        return Some(ip);
    }
    if let Some(rest) = hop.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    hop.rsplit_once(':')?.0.parse().ok()
}

/// The bucket name of a client: its address, or its /64 for IPv6.
fn client_bucket(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            format!("{}/64", Ipv6Addr::from(prefix))
        }
    }
}

/// What a request's count came to.
struct Counted {
    limit: Limit,
    window: i64,
    /// Seconds until the window ends.
    reset: i64,
    client_hits: Option<i64>,
    global_hits: i64,
}

impl Counted {
    fn client_remaining(&self) -> Option<i64> {
        self.client_hits
            .map(|h| (i64::from(self.limit.per_client) - h).max(0))
    }

    fn global_remaining(&self) -> i64 {
        (i64::from(self.limit.global) - self.global_hits).max(0)
    }

    fn over(&self) -> bool {
        self.client_hits
            .is_some_and(|h| h > i64::from(self.limit.per_client))
            || self.global_hits > i64::from(self.limit.global)
    }

    /// `RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-ratelimit-headers-10).
    fn set_headers(&self, route: Route, headers: &mut HeaderMap) {
        let name = route.name();
        let mut policy = Vec::new();
        let mut state = Vec::new();
        if let Some(remaining) = self.client_remaining() {
            policy.push(format!(
                "\"{name}-client\";q={};w={}",
                self.limit.per_client, self.window
            ));
            state.push(format!("\"{name}-client\";r={remaining};t={}", self.reset));
        }
        policy.push(format!(
            "\"{name}\";q={};w={}",
            self.limit.global, self.window
        ));
        state.push(format!(
            "\"{name}\";r={};t={}",
            self.global_remaining(),
            self.reset
        ));
        for (header, value) in [("ratelimit-policy", policy), ("ratelimit", state)] {
            if let Ok(value) = HeaderValue::from_str(&value.join(", ")) {
                headers.insert(HeaderName::from_static(header), value);
            }
        }
    }
}

/// Counts the request, then answers 429 past a limit or runs the route.
async fn limit<B: MessageBody + 'static>(
    route: Route,
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    let limits = &state.rate_limits;
    if !limits.enabled {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let client = limits
        .client_of(req.peer_addr().map(|a| a.ip()), req.headers())
        .map(client_bucket);
    let limit = limits.limit(route);
    let window = limits.window_seconds;
    let now = service_kit::time::now_utc().and_utc().timestamp();
    let window_start = now - now.rem_euclid(window);
    let (name, client_key) = (route.name(), client.clone());
    let (client_hits, global_hits) = state
        .db
        .run(move |conn| {
            let global = format!("{name}|*");
            let client = client_key.map(|c| format!("{name}|{c}"));
            store::count_requests(conn, &global, client.as_deref(), window_start)
                .map_err(Error::from)
        })
        .await?;
    let counted = Counted {
        limit,
        window,
        reset: (window_start + window - now).max(1),
        client_hits,
        global_hits,
    };
    if counted.over() {
        let which = if client_hits.is_some_and(|h| h > i64::from(limit.per_client)) {
            "this client"
        } else {
            "every client together"
        };
        log::info!("{name}: rate limited ({which})");
        let mut resp = ApiError::TooManyRequests {
            detail: "Too many requests, try again later".into(),
            retry_after: counted.reset as u64,
        }
        .error_response();
        counted.set_headers(route, resp.headers_mut());
        return Ok(req.into_response(resp).map_into_right_body());
    }
    let mut resp = next.call(req).await?;
    counted.set_headers(route, resp.headers_mut());
    Ok(resp.map_into_left_body())
}

/// What [`middleware`] returns for each request.
type Answer<B> =
    Pin<Box<dyn Future<Output = Result<ServiceResponse<EitherBody<B>>, actix_web::Error>>>>;

/// The middleware limiting `route`, for `web::resource(..).wrap(from_fn(..))`.
pub fn middleware<B: MessageBody + 'static>(
    route: Route,
) -> impl Fn(ServiceRequest, Next<B>) -> Answer<B> + Clone {
    move |req, next| Box::pin(limit(route, req, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(trusted: &[&str]) -> RateLimits {
        RateLimits {
            enabled: true,
            window_seconds: 60,
            signup: "1/1".parse().unwrap(),
            login: "1/1".parse().unwrap(),
            refresh: "1/1".parse().unwrap(),
            password: "1/1".parse().unwrap(),
            trusted_proxies: trusted.iter().map(|c| c.parse().unwrap()).collect(),
        }
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        map
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn limits_and_cidrs_parse_and_refuse_nonsense() {
        assert_eq!(
            "20/600".parse::<Limit>(),
            Ok(Limit {
                per_client: 20,
                global: 600
            })
        );
        for bad in ["20", "0/10", "20/10", "a/b", "20/"] {
            assert!(bad.parse::<Limit>().is_err(), "{bad}");
        }
        let net: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(net.contains(ip("10.1.2.3")));
        assert!(net.contains(ip("::ffff:10.1.2.3")));
        assert!(!net.contains(ip("11.0.0.1")));
        assert!("0.0.0.0/0".parse::<Cidr>().unwrap().contains(ip("1.2.3.4")));
        assert!("fd00::/8".parse::<Cidr>().unwrap().contains(ip("fd12::1")));
        for bad in ["10.0.0.0/33", "nonsense", "::/129"] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn forwarded_addresses_count_only_behind_a_trusted_peer() {
        let spoofed = headers(&[("x-forwarded-for", "6.6.6.6")]);
        assert_eq!(
            limits(&[]).client_of(Some(ip("1.2.3.4")), &spoofed),
            Some(ip("1.2.3.4"))
        );
        let behind = limits(&["10.0.0.0/8"]);
        // The rightmost untrusted hop: what the client wrote before it is not believed.
        let chain = headers(&[("x-forwarded-for", "6.6.6.6, 7.7.7.7, 10.0.0.5")]);
        assert_eq!(
            behind.client_of(Some(ip("10.0.0.1")), &chain),
            Some(ip("7.7.7.7"))
        );
        let forwarded = headers(&[("forwarded", "for=\"[2001:db8::1]:443\";proto=https")]);
        assert_eq!(
            behind.client_of(Some(ip("10.0.0.1")), &forwarded),
            Some(ip("2001:db8::1"))
        );
        // No header: the proxy itself.
        assert_eq!(
            behind.client_of(Some(ip("10.0.0.1")), &HeaderMap::new()),
            Some(ip("10.0.0.1"))
        );
        // An unparsable hop stops the walk at the last believable address.
        let garbage = headers(&[("x-forwarded-for", "7.7.7.7, unknown")]);
        assert_eq!(
            behind.client_of(Some(ip("10.0.0.1")), &garbage),
            Some(ip("10.0.0.1"))
        );
    }

    #[test]
    fn ipv6_clients_count_per_64() {
        assert_eq!(
            client_bucket(ip("2001:db8:1:2:3:4:5:6")),
            "2001:db8:1:2::/64"
        );
        assert_eq!(client_bucket(ip("192.0.2.1")), "192.0.2.1");
    }
}
