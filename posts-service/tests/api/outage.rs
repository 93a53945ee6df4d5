//! A database outage: requests that need the database answer 503 with Retry-After within the
//! acquire timeout (never 500), token checks still work, and service resumes afterwards. The
//! proxy stands in front of the test server (`TEST_POSTGRES_URL`), wherever it runs.

use std::time::{Duration, Instant};

use serde_json::json;
use service_kit::testing::{postgres_admin_url, postgres_tests_run, CuttableProxy};
use service_kit::Backend;

use crate::helpers::*;

#[actix_web::test]
async fn a_database_outage_gives_503_with_retry_after_and_service_resumes_after_it() {
    if !postgres_tests_run() {
        return;
    }
    let proxy = CuttableProxy::in_front_of(&postgres_admin_url()).await;
    let app = spawn_app_with(Backend::Postgres, |c| {
        c.common.database_url = proxy.route(&c.common.database_url);
        c.common.pool.database_timeout_seconds = 2;
    })
    .await;
    let token = alice();
    let id = app.new_post(&token, "before the outage", true).await;

    proxy.cut();
    for resp in [
        app.list(&token, "").await,
        app.get_post(&token, id).await,
        app.create_post(&token, json!({ "title": "t", "content": "c" }))
            .await,
        app.vote(&token, id, 1).await,
        app.delete_post(&token, id).await,
    ] {
        assert_eq!(resp.status(), 503);
        assert!(resp.headers().contains_key("retry-after"));
        let (_, body) = status_json(resp).await;
        assert_eq!(body, detail("Service temporarily unavailable"));
    }
    assert_eq!(app.get("/readyz", None).await.status(), 503);
    assert_eq!(app.get("/healthz", None).await.status(), 200);
    // Token checks need no database.
    assert_eq!(app.get("/posts/", Some("garbage")).await.status(), 401);

    proxy.restore();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let status = app.get_post(&token, id).await.status();
        if status == 200 {
            break;
        }
        assert_eq!(status, 503, "only 503 while recovering");
        assert!(Instant::now() < deadline, "service did not resume");
        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(app.vote(&token, id, 1).await.status(), 201);
}
