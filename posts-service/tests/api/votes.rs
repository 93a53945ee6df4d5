use serde_json::json;

use crate::helpers::*;

service_kit::backend_tests! {
    async fn voting_adds_once_and_removing_deletes(backend) {
        let app = spawn_app(backend).await;
        let (alice, bob) = (alice(), bob());
        let id = app.new_post(&alice, "vote me", true).await;

        let (status, body) = status_json(app.vote(&bob, id, 1).await).await;
        assert_eq!((status, body), (201, json!({ "message": "successfully added vote" })));
        let (status, body) = status_json(app.vote(&bob, id, 1).await).await;
        assert_eq!((status, body), (409, detail(&format!("user {BOB} has alredy voted on post {id}"))));
        // Voting on one's own post is allowed.
        assert_eq!(app.vote(&alice, id, 1).await.status(), 201);
        let (_, body) = status_json(app.get_post(&bob, id).await).await;
        assert_eq!(body["votes"], 2);

        let (status, body) = status_json(app.vote(&bob, id, 0).await).await;
        assert_eq!((status, body), (201, json!({ "message": "successfully deleted vote" })));
        let (status, body) = status_json(app.vote(&bob, id, 0).await).await;
        assert_eq!((status, body), (404, detail("Vote does not exist")));
        let (_, body) = status_json(app.get_post(&bob, id).await).await;
        assert_eq!(body["votes"], 1);
    }

    async fn voting_on_an_absent_post_is_404(backend) {
        let app = spawn_app(backend).await;
        for dir in [0, 1] {
            let (status, body) = status_json(app.vote(&alice(), 80000, dir).await).await;
            assert_eq!((status, body), (404, detail("Post with id: 80000 does not exist")));
        }
    }

    async fn dir_must_be_0_or_1_and_fields_are_validated(backend) {
        let app = spawn_app(backend).await;
        let token = alice();
        let id = app.new_post(&token, "p", true).await;
        let (status, body) = status_json(app.vote(&token, id, 2).await).await;
        assert_eq!(status, 422);
        assert_eq!(body, json!({ "detail": [{ "loc": ["body", "dir"], "msg": "ensure this value is less than or equal to 1", "type": "value_error.number.not_le", "ctx": { "limit_value": 1 } }] }));
        let (status, body) = status_json(app.vote(&token, id, -1).await).await;
        assert_eq!(status, 422);
        assert_eq!(body, json!({ "detail": [{ "loc": ["body", "dir"], "msg": "ensure this value is greater than or equal to 0", "type": "value_error.number.not_ge", "ctx": { "limit_value": 0 } }] }));
        let (status, body) = status_json(app.vote_body(&token, json!({ "post_id": "x" })).await).await;
        assert_eq!(status, 422);
        assert_eq!(body, json!({ "detail": [
            { "loc": ["body", "post_id"], "msg": "value is not a valid integer", "type": "type_error.integer" },
            { "loc": ["body", "dir"], "msg": "field required", "type": "value_error.missing" },
        ] }));
        let resp = app
            .request(reqwest::Method::POST, "/vote/", Some(&token))
            .header("Content-Type", "application/json")
            .body(r#"{"post_id": 99999999999999999999, "dir": 1}"#)
            .send()
            .await
            .unwrap();
        let (status, body) = status_json(resp).await;
        assert_eq!(status, 422);
        assert_eq!(body["detail"][0]["loc"], json!(["body", "post_id"]));
        // Strict types: neither "1" nor true is 1 (see inputs.rs for every case).
        let (status, body) = status_json(app.vote_body(&token, json!({ "post_id": id.to_string(), "dir": "1" })).await).await;
        assert_eq!(status, 422);
        assert_eq!(body["detail"].as_array().unwrap().len(), 2, "{body}");
        let (status, body) = status_json(app.vote_body(&token, json!({ "post_id": id, "dir": true })).await).await;
        assert_eq!(status, 422);
        assert_eq!(body["detail"][0]["loc"], json!(["body", "dir"]));
    }

    async fn concurrent_identical_votes_give_one_201_and_409s_for_the_rest(backend) {
        let app = spawn_app(backend).await;
        let token = bob();
        let id = app.new_post(&alice(), "popular", true).await;
        let attempts = (0..32).map(|_| async { app.vote(&token, id, 1).await.status().as_u16() });
        let mut statuses = futures_util::future::join_all(attempts).await;
        statuses.sort_unstable();
        let mut expected = vec![201];
        expected.extend([409; 31]);
        assert_eq!(statuses, expected);
        let (_, body) = status_json(app.get_post(&token, id).await).await;
        assert_eq!(body["votes"], 1);
    }
}
