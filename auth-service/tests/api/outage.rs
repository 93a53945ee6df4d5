//! A database outage: requests that need the database answer 503 with Retry-After within the
//! acquire timeout, invalid tokens still get 401, and service resumes when it returns. The
//! proxy stands in front of the test server (`TEST_POSTGRES_URL`), wherever it runs.

use std::time::{Duration, Instant};

use service_kit::testing::{CuttableProxy, TestDatabase};

use crate::helpers::{detail, start, test_config, PASSWORD};

#[actix_web::test]
async fn a_database_outage_gives_503_with_retry_after_and_service_resumes_after_it() {
    let Some(db) = TestDatabase::postgres("auth") else {
        return;
    };
    let proxy = CuttableProxy::in_front_of(&db.url).await;
    let key_dir = tempfile::tempdir().unwrap();
    let mut config = test_config(&db, &key_dir);
    config.common.database_url = proxy.route(&db.url);
    config.common.pool.database_timeout_seconds = 2;
    let app = start(config, db, key_dir).await;
    let id = app.create_user("alice@example.com").await;
    let token = app.token("alice@example.com", PASSWORD).await;

    proxy.cut();
    for _ in 0..2 {
        let resp = app.get_user(&id.to_string(), Some(&token)).await;
        assert_eq!(resp.status(), 503);
        assert!(resp.headers().contains_key("retry-after"));
        assert_eq!(detail(resp).await, "Service temporarily unavailable");
    }
    let resp = app.login("alice@example.com", PASSWORD).await;
    assert_eq!(resp.status(), 503);
    assert_eq!(app.signup("bob@example.com", PASSWORD).await.status(), 503);
    assert_eq!(app.get("/readyz").await.status(), 503);
    assert_eq!(app.get("/healthz").await.status(), 200);
    // Token checks need no database.
    let resp = app.get_user(&id.to_string(), Some("garbage")).await;
    assert_eq!(resp.status(), 401);

    proxy.restore();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let status = app.get_user(&id.to_string(), Some(&token)).await.status();
        if status == 200 {
            break;
        }
        assert_eq!(status, 503, "only 503 while recovering");
        assert!(Instant::now() < deadline, "service did not resume");
        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(app.login("alice@example.com", PASSWORD).await.status(), 200);
}
