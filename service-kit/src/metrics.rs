//! `GET /metrics` in Prometheus' text exposition format (version 0.0.4).
//!
//! Every service counts its requests and their latency by route pattern (`/posts/{id}`, never
//! the raw path, so ids do not multiply series) and status; that part is recorded by the
//! access middleware ([`crate::logging::access_log`]) into the [`Metrics`] that
//! [`crate::http::serve`] registers as app data. What a service adds (its database pool, its
//! hashing queue, its keys) is read when scraped, from counters those parts keep anyway, so
//! nothing has to be threaded through to record it: a handler starts a [`Scrape`], adds those
//! values, and answers with it.

use std::time::Duration;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::HttpResponse;
use prometheus::core::Collector;
use prometheus::proto::MetricFamily;
use prometheus::{
    Encoder, Gauge, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, TextEncoder,
};

use crate::db::PoolStats;

/// The label of requests that matched no route (unknown paths), so arbitrary paths cannot
/// create series.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Latency buckets in seconds: from a cached token check (well under a millisecond) to a
/// login waiting for bcrypt (about a quarter of a second each, queued) and past the 5 s
/// database timeout.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The request metrics of one service instance (all its workers share it).
pub struct Metrics {
    requests: IntCounterVec,
    latency: HistogramVec,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let labels = &["method", "route", "status"];
        Metrics {
            requests: IntCounterVec::new(
                Opts::new("http_requests_total", "HTTP requests answered"),
                labels,
            )
            .expect("a valid metric definition"),
            latency: HistogramVec::new(
                HistogramOpts::new(
                    "http_request_duration_seconds",
                    "Time from the request head to the response head",
                )
                .buckets(LATENCY_BUCKETS.to_vec()),
                labels,
            )
            .expect("a valid metric definition"),
        }
    }

    /// Records one answered request. `route` is the matched route pattern (`None`: no route
    /// matched).
    pub fn observe(
        &self,
        method: &Method,
        route: Option<&str>,
        status: StatusCode,
        elapsed: Duration,
    ) {
        let labels = [
            method_label(method),
            route.unwrap_or(UNMATCHED_ROUTE),
            status.as_str(),
        ];
        self.requests.with_label_values(&labels).inc();
        self.latency
            .with_label_values(&labels)
            .observe(elapsed.as_secs_f64());
    }

    /// Starts a scrape holding the request metrics; the service adds its own and answers
    /// with [`Scrape::response`].
    pub fn scrape(&self) -> Scrape {
        let mut families = self.requests.collect();
        families.extend(self.latency.collect());
        Scrape { families }
    }
}

/// A method as a label: the standard ones by name, anything else as `OTHER` (a client must
/// not be able to create series at will).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "OTHER",
    }
}

/// One scrape's metric families, read at scrape time.
pub struct Scrape {
    families: Vec<MetricFamily>,
}

impl Scrape {
    /// Adds a gauge (a value that goes up and down).
    pub fn gauge(self, name: &str, help: &str, value: f64) -> Self {
        self.metric(name, Gauge::new(name, help), |gauge| gauge.set(value))
    }

    /// Adds a counter (a total since start, kept by the code that counts).
    pub fn counter(self, name: &str, help: &str, total: u64) -> Self {
        self.metric(name, IntCounter::new(name, help), |counter| {
            counter.inc_by(total)
        })
    }

    /// Adds `metric` once `set` has given it its value; a metric that could not be made
    /// (a bad name) is logged and left out.
    fn metric<M: Collector>(
        mut self,
        name: &str,
        metric: prometheus::Result<M>,
        set: impl FnOnce(&M),
    ) -> Self {
        match metric {
            Ok(metric) => {
                set(&metric);
                self.families.extend(metric.collect());
            }
            Err(e) => log::error!("metric {name}: {e}"),
        }
        self
    }

    /// Adds the database pool's connections (open, in use, the most it opens) and the
    /// requests waiting for one.
    pub fn db_pool(self, stats: PoolStats) -> Self {
        self.gauge(
            "db_pool_connections_max",
            "Most database connections the pool opens",
            f64::from(stats.max_connections),
        )
        .gauge(
            "db_pool_connections_open",
            "Database connections open (in use or idle)",
            f64::from(stats.open),
        )
        .gauge(
            "db_pool_connections_in_use",
            "Database connections checked out by a request",
            f64::from(stats.in_use),
        )
        .gauge(
            "db_pool_waiting",
            "Requests waiting for a database connection",
            stats.waiting as f64,
        )
    }

    /// The exposition: `200 text/plain; version=0.0.4`, families sorted by name.
    pub fn response(mut self) -> HttpResponse {
        // A labelled family with no series yet (no request answered) has nothing to show.
        self.families.retain(|f| !f.get_metric().is_empty());
        self.families.sort_by(|a, b| a.name().cmp(b.name()));
        let encoder = TextEncoder::new();
        let mut body = Vec::new();
        if let Err(e) = encoder.encode(&self.families, &mut body) {
            log::error!("cannot encode the metrics: {e}");
            return crate::error::detail_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal Server Error",
            );
        }
        let mut resp = HttpResponse::Ok()
            .content_type(encoder.format_type())
            .body(body);
        resp.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(resp: HttpResponse) -> String {
        let bytes = actix_web::body::to_bytes(resp.into_body());
        let bytes = futures_util::FutureExt::now_or_never(bytes)
            .expect("an in-memory body")
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[test]
    fn requests_are_counted_by_route_pattern_and_status_and_other_methods_fold() {
        let metrics = Metrics::new();
        let ms = Duration::from_millis(3);
        metrics.observe(&Method::GET, Some("/posts/{id}"), StatusCode::OK, ms);
        metrics.observe(&Method::GET, Some("/posts/{id}"), StatusCode::OK, ms);
        metrics.observe(&Method::GET, None, StatusCode::NOT_FOUND, ms);
        let odd = Method::from_bytes(b"BREW").unwrap();
        metrics.observe(&odd, None, StatusCode::NOT_FOUND, ms);
        let resp = metrics.scrape().response();
        assert_eq!(
            resp.headers().get(header::CONTENT_TYPE).unwrap(),
            "text/plain; version=0.0.4"
        );
        let text = body(resp);
        assert!(text.contains(
            "http_requests_total{method=\"GET\",route=\"/posts/{id}\",status=\"200\"} 2\n"
        ));
        assert!(text.contains(
            "http_requests_total{method=\"GET\",route=\"unmatched\",status=\"404\"} 1\n"
        ));
        assert!(text.contains(
            "http_requests_total{method=\"OTHER\",route=\"unmatched\",status=\"404\"} 1\n"
        ));
        assert!(text.contains(
            "http_request_duration_seconds_bucket{method=\"GET\",route=\"/posts/{id}\",status=\"200\",le=\"0.005\"} 2\n"
        ));
        assert!(text.contains("# TYPE http_request_duration_seconds histogram\n"));
    }

    #[test]
    fn scrape_time_values_are_typed_and_sorted() {
        let text = body(
            Metrics::new()
                .scrape()
                .counter("zeta_total", "A total", 7)
                .gauge("alpha", "A level", 1.5)
                .db_pool(PoolStats {
                    max_connections: 8,
                    open: 3,
                    in_use: 2,
                    waiting: 1,
                })
                .response(),
        );
        assert!(text.contains("# TYPE zeta_total counter\nzeta_total 7\n"));
        assert!(text.contains("# TYPE alpha gauge\nalpha 1.5\n"));
        assert!(text.contains("db_pool_connections_in_use 2\n"));
        assert!(text.contains("db_pool_waiting 1\n"));
        let alpha = text.find("# HELP alpha").unwrap();
        let db = text.find("# HELP db_pool_connections_in_use").unwrap();
        let zeta = text.find("# HELP zeta_total").unwrap();
        assert!(alpha < db && db < zeta, "{text}");
    }
}
