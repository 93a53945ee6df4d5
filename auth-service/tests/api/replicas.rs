//! Replicas on one PostgreSQL: three starting together on an empty database all come up
//! (migrations run once, under an advisory lock).

use service_kit::testing::TestDatabase;

use crate::helpers::{test_config, PASSWORD};

#[actix_web::test]
async fn three_replicas_starting_together_on_an_empty_database_all_come_up() {
    let Some(db) = TestDatabase::postgres("auth") else {
        return;
    };
    let key_dir = tempfile::tempdir().unwrap();
    let config = test_config(&db, &key_dir);
    let apps = futures_util::future::join_all(
        (0..3).map(|_| auth_service::Application::build(config.clone())),
    )
    .await;
    let client = reqwest::Client::new();
    let mut urls = Vec::new();
    for app in apps {
        let app = app.expect("every replica starts");
        urls.push(format!("http://127.0.0.1:{}", app.port()));
        actix_web::rt::spawn(app.run_until_stopped());
    }
    // One signs up; every other one logs the same account in.
    let resp = client
        .post(format!("{}/users/", urls[0]))
        .json(&serde_json::json!({"email": "r@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    for url in &urls {
        assert_eq!(
            client
                .get(format!("{url}/readyz"))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
        let resp = client
            .post(format!("{url}/login"))
            .form(&[("username", "r@example.com"), ("password", PASSWORD)])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
}
