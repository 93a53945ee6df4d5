//! Connection lifetimes (issue 22, finding 1): a request whose chunked body stops arriving
//! gets its connection closed within a bounded time on every route kind.

use std::time::Duration;

use serde_json::json;
use service_kit::testing::slow_client::{assert_closed_within, chunked_head};

use crate::helpers::*;

service_kit::backend_tests! {
    /// The first chunk of a post arrives, then nothing more: the 408 was sent but the
    /// connection was drained forever. Now it is closed: authenticated (408 once the body
    /// deadline passes), unauthenticated (401 at once) and `/healthz` (200, body never read).
    async fn a_chunked_body_that_stops_arriving_gets_its_connection_closed_on_every_route_kind(backend) {
        let app = spawn_app_with(backend, |c| c.common.server.body_read_timeout_seconds = 1).await;
        let bound = Duration::from_secs(4);
        let json_type = "Content-Type: application/json\r\n";
        let authenticated = format!("Authorization: Bearer {}\r\n{json_type}", alice());
        let timed_out = assert_closed_within(app.port, chunked_head("POST", "/posts/", &authenticated), 408, bound).await;
        assert!(timed_out.response.ends_with(r#"{"detail":"Request body not received in time"}"#), "{timed_out:?}");
        let refused = assert_closed_within(app.port, chunked_head("POST", "/posts/", json_type), 401, bound).await;
        assert!(refused.response.ends_with(r#"{"detail":"Not authenticated"}"#), "{refused:?}");
        assert_closed_within(app.port, chunked_head("GET", "/healthz", ""), 200, bound).await;
        // Nothing was created from the part that arrived.
        let (status, body) = status_json(app.list(&alice(), "").await).await;
        assert_eq!((status, body), (200, json!([])));
    }
}
