//! Replicas on one PostgreSQL: three starting together on an empty database all come up
//! (migrations run once, under an advisory lock).

use service_kit::testing::TestDatabase;

use crate::helpers::{serve, test_config, PASSWORD};

#[actix_web::test]
async fn three_replicas_starting_together_on_an_empty_database_all_come_up() {
    let Some(db) = TestDatabase::postgres("auth") else {
        return;
    };
    let key_dir = tempfile::tempdir().unwrap();
    let config = test_config(&db, &key_dir);
    let replicas = futures_util::future::join_all((0..3).map(|_| serve(config.clone()))).await;
    // One signs up; every other one logs the same account in.
    let resp = replicas[0].signup("r@example.com", PASSWORD).await;
    assert_eq!(resp.status(), 201);
    for replica in &replicas {
        assert_eq!(replica.get("/readyz", None).await.status(), 200);
        let resp = replica.login("r@example.com", PASSWORD).await;
        assert_eq!(resp.status(), 200);
    }
}
