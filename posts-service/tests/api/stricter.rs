//! Stricter inputs (issue 22, finding 5): a field given twice is 422 naming it; posts, which
//! carry their owner's email, are not to be cached.

use serde_json::json;

use crate::helpers::*;

service_kit::backend_tests! {
    async fn a_post_or_vote_field_given_twice_is_422_naming_it(backend) {
        let app = spawn_app(backend).await;
        let body = r#"{"title": "first", "content": "c", "title": "second"}"#;
        let (status, errors) = status_json(app.post_json_text(&alice(), "/posts/", body).await).await;
        let duplicate = |field: &str| {
            json!({"loc": ["body", field], "msg": "field given more than once", "type": "value_error.duplicate"})
        };
        assert_eq!((status, errors), (422, json!({"detail": [duplicate("title")]})));
        let id = app.new_post(&alice(), "once", true).await;
        let body = format!(r#"{{"post_id": {id}, "dir": 1, "dir": 0}}"#);
        let (status, errors) = status_json(app.post_json_text(&bob(), "/vote/", body).await).await;
        assert_eq!((status, errors), (422, json!({"detail": [duplicate("dir")]})));
        // Only the post sent once exists.
        let (status, posts) = status_json(app.list(&alice(), "").await).await;
        assert_eq!(status, 200);
        assert_eq!(posts.as_array().unwrap().len(), 1, "{posts}");
    }

    async fn posts_are_not_stored_by_caches(backend) {
        let app = spawn_app(backend).await;
        let id = app.new_post(&alice(), "hello", true).await;
        for resp in [
            app.list(&alice(), "").await,
            app.get_post(&alice(), id).await,
            app.get("/posts/", None).await,
        ] {
            let cache = resp.headers().get("cache-control").and_then(|v| v.to_str().ok()).map(str::to_owned);
            assert_eq!(cache.as_deref(), Some("no-store"), "{}", resp.url());
        }
    }
}
