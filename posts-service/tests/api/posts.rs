use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

fn validation(loc: Value, msg: &str, kind: &str) -> Value {
    json!({ "detail": [{ "loc": loc, "msg": msg, "type": kind }] })
}

fn validation_ctx(loc: Value, msg: &str, kind: &str, limit: i64) -> Value {
    json!({ "detail": [{ "loc": loc, "msg": msg, "type": kind, "ctx": { "limit_value": limit } }] })
}

service_kit::backend_tests! {
    async fn both_path_spellings_answer_without_redirect(backend) {
        let app = spawn_app(backend).await;
        let token = alice();
        for path in ["/posts", "/posts/"] {
            let body = json!({ "title": path, "content": "c" });
            let resp = app.api.send_json(Method::POST, path, Some(&token), &body).await;
            assert_eq!(resp.status(), 201, "POST {path}");
            let (status, body) = status_json(app.get(path, Some(&token)).await).await;
            assert_eq!(status, 200, "GET {path}");
            assert!(body.is_array());
        }
        let id = app.new_post(&token, "slash", true).await;
        let (status, _) = status_json(app.get(&format!("/posts/{id}/"), Some(&token)).await).await;
        assert_eq!(status, 200);
        let resp = app.api.send_json(Method::POST, "/vote", Some(&token), &json!({ "post_id": id, "dir": 1 })).await;
        assert_eq!(resp.status(), 201);
    }

    async fn creating_a_post_echoes_it_with_its_owner_and_defaults_to_published(backend) {
        let app = spawn_app(backend).await;
        let resp = app
            .create_post(&alice(), json!({ "title": "hello world", "content": "first", "id": 99, "owner_id": 7 }))
            .await;
        assert_eq!(resp.status(), 201);
        let text = resp.text().await.unwrap();
        // Keys in the course's order.
        let keys = ["\"title\"", "\"content\"", "\"published\"", "\"id\"", "\"created_at\"", "\"owner_id\"", "\"owner\""];
        let positions: Vec<usize> = keys.iter().map(|k| text.find(k).unwrap()).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
        let body: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(body["title"], "hello world");
        assert_eq!(body["content"], "first");
        assert_eq!(body["published"], true);
        assert_eq!(body["owner_id"], ALICE);
        assert_eq!(body["owner"]["id"], ALICE);
        assert_eq!(body["owner"]["email"], "alice@example.com");
        assert_ne!(body["id"], 99);
        let created_at = body["created_at"].as_str().unwrap();
        assert!(created_at.ends_with("+00:00"), "{created_at}");

        let (status, body) = status_json(
            app.create_post(&alice(), json!({ "title": "5", "content": "", "published": false })).await,
        )
        .await;
        assert_eq!(status, 201);
        assert_eq!(body["title"], "5");
        assert_eq!(body["content"], "");
        assert_eq!(body["published"], false);
    }

    async fn titles_and_contents_outside_their_lengths_are_422(backend) {
        let app = spawn_app(backend).await;
        let token = alice();
        let (status, body) = status_json(app.create_post(&token, json!({ "title": "", "content": "c" })).await).await;
        assert_eq!(status, 422);
        assert_eq!(body, validation_ctx(json!(["body", "title"]), "ensure this value has at least 1 characters", "value_error.any_str.min_length", 1));
        let (status, body) = status_json(app.create_post(&token, json!({ "title": "x".repeat(301), "content": "c" })).await).await;
        assert_eq!(status, 422);
        assert_eq!(body, validation_ctx(json!(["body", "title"]), "ensure this value has at most 300 characters", "value_error.any_str.max_length", 300));
        let (status, body) = status_json(app.create_post(&token, json!({ "title": "t", "content": "x".repeat(100_001) })).await).await;
        assert_eq!(status, 422);
        assert_eq!(body, validation_ctx(json!(["body", "content"]), "ensure this value has at most 100000 characters", "value_error.any_str.max_length", 100_000));
        // The limits count characters, not bytes.
        let (status, _) = status_json(app.create_post(&token, json!({ "title": "é".repeat(300), "content": "ü".repeat(100_000) })).await).await;
        assert_eq!(status, 201);
    }

    async fn malformed_or_mistyped_bodies_are_422(backend) {
        let app = spawn_app(backend).await;
        let token = alice();
        let resp = app.post_json_text(&token, "/posts/", "{\"title\": ").await;
        let (status, body) = status_json(resp).await;
        assert_eq!(status, 422);
        assert_eq!(body["detail"][0]["type"], "value_error.jsondecode");

        let resp = app.request(Method::POST, "/posts/", Some(&token)).send().await.unwrap();
        let (status, body) = status_json(resp).await;
        assert_eq!((status, body), (422, json!({ "detail": [{ "loc": ["body"], "msg": "field required", "type": "value_error.missing" }] })));

        let (status, body) = status_json(app.create_post(&token, json!([1, 2])).await).await;
        assert_eq!((status, body), (422, validation(json!(["body"]), "value is not a valid dict", "type_error.dict")));

        let (status, body) = status_json(
            app.create_post(&token, json!({ "title": ["x"], "published": "maybe" })).await,
        )
        .await;
        assert_eq!(status, 422);
        assert_eq!(
            body,
            json!({ "detail": [
                { "loc": ["body", "title"], "msg": "str type expected", "type": "type_error.str" },
                { "loc": ["body", "content"], "msg": "field required", "type": "value_error.missing" },
                { "loc": ["body", "published"], "msg": "value could not be parsed to a boolean", "type": "type_error.bool" },
            ] })
        );
        let (status, body) = status_json(app.create_post(&token, json!({ "title": null, "content": "c" })).await).await;
        assert_eq!((status, body), (422, validation(json!(["body", "title"]), "none is not an allowed value", "type_error.none.not_allowed")));
    }

    async fn bodies_over_one_mebibyte_are_413(backend) {
        let app = spawn_app(backend).await;
        let big = format!("{{\"title\": \"t\", \"content\": \"{}\"}}", "x".repeat(1024 * 1024));
        let resp = app.post_json_text(&alice(), "/posts/", big).await;
        let (status, body) = status_json(resp).await;
        assert_eq!((status, body), (413, detail("Request body too large")));
    }

    async fn the_list_is_newest_first_and_pages_with_limit_and_skip(backend) {
        let app = spawn_app(backend).await;
        let token = alice();
        let ids = app.numbered_posts(&token, 12).await;
        assert_eq!(app.list_ids(&token, "").await, ids[..10]);
        assert_eq!(app.list_ids(&token, "limit=3").await, ids[..3]);
        assert_eq!(app.list_ids(&token, "limit=3&skip=3").await, ids[3..6]);
        assert_eq!(app.list_ids(&token, "limit=100&skip=10").await, ids[10..]);
        assert_eq!(app.list_ids(&token, "limit=100").await, ids);
        assert!(app.list_ids(&token, "limit=0").await.is_empty());
        assert!(app.list_ids(&token, "skip=1000000").await.is_empty());
        let (status, body) = status_json(app.list(&token, "limit=1").await).await;
        assert_eq!(status, 200);
        assert_eq!(body[0]["votes"], 0);
        assert_eq!(body[0]["Post"]["owner"]["email"], "alice@example.com");
    }

    async fn out_of_range_or_non_integer_limit_and_skip_are_422(backend) {
        let app = spawn_app(backend).await;
        let token = alice();
        let cases = [
            ("limit=101", json!([{ "loc": ["query", "limit"], "msg": "ensure this value is less than or equal to 100", "type": "value_error.number.not_le", "ctx": { "limit_value": 100 } }])),
            ("limit=-1", json!([{ "loc": ["query", "limit"], "msg": "ensure this value is greater than or equal to 0", "type": "value_error.number.not_ge", "ctx": { "limit_value": 0 } }])),
            ("limit=abc", json!([{ "loc": ["query", "limit"], "msg": "value is not a valid integer", "type": "type_error.integer" }])),
            ("skip=-1", json!([{ "loc": ["query", "skip"], "msg": "ensure this value is greater than or equal to 0", "type": "value_error.number.not_ge", "ctx": { "limit_value": 0 } }])),
            ("skip=99999999999999999999", json!([{ "loc": ["query", "skip"], "msg": "value is not a valid integer", "type": "type_error.integer" }])),
        ];
        for (query, expected) in cases {
            let (status, body) = status_json(app.list(&token, query).await).await;
            assert_eq!(status, 422, "{query}");
            assert_eq!(body["detail"], expected, "{query}");
        }
    }

    async fn search_is_a_case_insensitive_literal_substring_of_the_title(backend) {
        let app = spawn_app(backend).await;
        let token = alice();
        let [ecole, hello, percent, underscore, slash, _plain] = app
            .new_posts(&token, ["Notre école", "Hello World", "100% sure", "snake_case", "back\\slash", "snakeXcase 1000 sure"])
            .await;

        assert_eq!(app.list_ids(&token, "search=%C3%89COLE").await, [ecole]);
        assert_eq!(app.list_ids(&token, "search=hello%20WORLD").await, [hello]);
        assert_eq!(app.list_ids(&token, "search=%25").await, [percent]);
        assert_eq!(app.list_ids(&token, "search=0%25%20s").await, [percent]);
        assert_eq!(app.list_ids(&token, "search=_").await, [underscore]);
        assert_eq!(app.list_ids(&token, "search=%5C").await, [slash]);
        assert!(app.list_ids(&token, "search=content").await.is_empty());
        assert_eq!(app.list_ids(&token, "search=").await.len(), 6);
    }

    async fn drafts_are_visible_to_their_owner_only(backend) {
        let app = spawn_app(backend).await;
        let (alice, bob) = (alice(), bob());
        let public = app.new_post(&alice, "public", true).await;
        let draft = app.new_post(&alice, "draft", false).await;
        let bobs_draft = app.new_post(&bob, "bob's draft", false).await;

        assert_eq!(app.list_ids(&alice, "").await, [draft, public]);
        assert_eq!(app.list_ids(&bob, "").await, [bobs_draft, public]);
        assert_eq!(app.list_ids(&bob, "search=draft").await, [bobs_draft]);

        let (status, body) = status_json(app.get_post(&alice, draft).await).await;
        assert_eq!(status, 200);
        assert_eq!(body["Post"]["published"], false);
        let (status, body) = status_json(app.get_post(&bob, draft).await).await;
        assert_eq!((status, body), (404, detail(&format!("post with id: {draft} was not found"))));
        // Nor can it be changed, deleted or voted on, or its existence learnt that way.
        let (status, body) = status_json(app.put_post(&bob, draft, json!({ "title": "x", "content": "y" })).await).await;
        assert_eq!((status, body), (404, detail(&format!("post with id: {draft} does not exist"))));
        let (status, body) = status_json(app.delete_post(&bob, draft).await).await;
        assert_eq!((status, body), (404, detail(&format!("post with id: {draft} does not exist"))));
        let (status, body) = status_json(app.vote(&bob, draft, 1).await).await;
        assert_eq!((status, body), (404, detail(&format!("Post with id: {draft} does not exist"))));
    }

    async fn reading_a_post_gives_it_with_its_votes(backend) {
        let app = spawn_app(backend).await;
        let (alice, bob) = (alice(), bob());
        let id = app.new_post(&alice, "hello world", true).await;
        let other = app.new_post(&alice, "other", true).await;
        for token in [&alice, &bob, &token_for(3, "c@example.com")] {
            assert_eq!(app.vote(token, id, 1).await.status(), 201);
        }
        assert_eq!(app.vote(&bob, other, 1).await.status(), 201);

        let (status, body) = status_json(app.get_post(&bob, id).await).await;
        assert_eq!(status, 200);
        assert_eq!(body["votes"], 3);
        assert_eq!(body["Post"]["id"], id);
        assert_eq!(body["Post"]["title"], "hello world");
        assert_eq!(body["Post"]["owner"]["id"], ALICE);
        let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["Post", "votes"]);

        let (_, list) = status_json(app.list(&bob, "").await).await;
        let votes: Vec<(i64, i64)> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["Post"]["id"].as_i64().unwrap(), p["votes"].as_i64().unwrap()))
            .collect();
        assert_eq!(votes, [(other, 1), (id, 3)]);
    }

    async fn reading_an_absent_post_is_404_and_a_bad_id_is_422(backend) {
        let app = spawn_app(backend).await;
        let token = alice();
        let (status, body) = status_json(app.get_post(&token, 88888).await).await;
        assert_eq!((status, body), (404, detail("post with id: 88888 was not found")));
        let (status, body) = status_json(app.get_post(&token, -1).await).await;
        assert_eq!((status, body), (404, detail("post with id: -1 was not found")));
        let bad_id = validation(json!(["path", "id"]), "value is not a valid integer", "type_error.integer");
        for id in ["abc", "99999999999999999999", "1.5"] {
            let (status, body) = status_json(app.get_post(&token, id).await).await;
            assert_eq!((status, &body), (422, &bad_id), "GET {id}");
            let (status, body) = status_json(app.put_post(&token, id, json!({ "title": "t", "content": "c" })).await).await;
            assert_eq!((status, &body), (422, &bad_id), "PUT {id}");
            let (status, body) = status_json(app.delete_post(&token, id).await).await;
            assert_eq!((status, &body), (422, &bad_id), "DELETE {id}");
        }
    }

    async fn replacing_a_post_checks_path_then_body_then_existence_then_ownership(backend) {
        let app = spawn_app(backend).await;
        let (alice, bob) = (alice(), bob());
        let id = app.new_post(&alice, "mine", true).await;

        let (status, body) = status_json(app.put_post(&alice, "abc", json!({})).await).await;
        assert_eq!(status, 422);
        assert_eq!(body["detail"][0]["loc"], json!(["path", "id"]));
        let (status, body) = status_json(app.put_post(&alice, 9999, json!({})).await).await;
        assert_eq!(status, 422);
        assert_eq!(body["detail"][0]["loc"], json!(["body", "title"]));
        let valid = json!({ "title": "new title", "content": "new content" });
        let (status, body) = status_json(app.put_post(&alice, 9999, valid.clone()).await).await;
        assert_eq!((status, body), (404, detail("post with id: 9999 does not exist")));
        let (status, body) = status_json(app.put_post(&bob, id, valid.clone()).await).await;
        assert_eq!((status, body), (403, detail("Not authorized to perform requested action")));
        let (_, body) = status_json(app.get_post(&alice, id).await).await;
        assert_eq!(body["Post"]["title"], "mine");
    }

    async fn replacing_a_post_updates_it_and_resets_published_when_omitted(backend) {
        let app = spawn_app(backend).await;
        let token = alice();
        let id = app.new_post(&token, "Old Title", false).await;
        let (status, body) = status_json(
            app.put_post(&token, id, json!({ "title": "Nouveau Été", "content": "updated" })).await,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["id"], id);
        assert_eq!(body["title"], "Nouveau Été");
        assert_eq!(body["content"], "updated");
        assert_eq!(body["published"], true);
        assert_eq!(body["owner"]["email"], "alice@example.com");
        // The search key follows the title.
        assert_eq!(app.list_ids(&bob(), "search=%C3%A9T%C3%A9").await, [id]);
        assert!(app.list_ids(&token, "search=old").await.is_empty());

        let (status, body) = status_json(
            app.put_post(&token, id, json!({ "title": "t", "content": "c", "published": false })).await,
        )
        .await;
        assert_eq!((status, body["published"].clone()), (200, json!(false)));
    }

    async fn deleting_a_post_answers_204_and_removes_its_votes(backend) {
        let app = spawn_app(backend).await;
        let (alice, bob) = (alice(), bob());
        let id = app.new_post(&alice, "doomed", true).await;
        assert_eq!(app.vote(&bob, id, 1).await.status(), 201);

        let (status, body) = status_json(app.delete_post(&bob, id).await).await;
        assert_eq!((status, body), (403, detail("Not authorized to perform requested action")));

        let resp = app.delete_post(&alice, id).await;
        assert_eq!(resp.status(), 204);
        assert!(resp.headers().get("content-type").is_none());
        assert!(resp.bytes().await.unwrap().is_empty());

        let (status, body) = status_json(app.delete_post(&alice, id).await).await;
        assert_eq!((status, body), (404, detail(&format!("post with id: {id} does not exist"))));
        let (status, body) = status_json(app.get_post(&alice, id).await).await;
        assert_eq!((status, body), (404, detail(&format!("post with id: {id} was not found"))));
        let (status, body) = status_json(app.vote(&bob, id, 0).await).await;
        assert_eq!((status, body), (404, detail(&format!("Post with id: {id} does not exist"))));
        let (status, body) = status_json(app.delete_post(&alice, 8_000_000).await).await;
        assert_eq!((status, body), (404, detail("post with id: 8000000 does not exist")));

        // The cascade really removed the vote row.
        let count = service_kit::Db::new(&app.config.common.db_options().unwrap())
            .run(move |conn| {
                use diesel::prelude::*;
                use posts_service::schema::votes;
                Ok::<i64, service_kit::DbError>(service_kit::with_conn!(conn, |c| votes::table
                    .filter(votes::post_id.eq(id))
                    .count()
                    .get_result(c))?)
            })
            .await
            .unwrap();
        assert_eq!(count, 0);
    }
}
