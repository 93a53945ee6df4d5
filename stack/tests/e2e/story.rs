//! The course's story across both services: sign up, log in, post, list, search, page, vote,
//! update, delete; ownership and drafts.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{answers, detail, spawn_stack, PASSWORD};

service_kit::backend_tests! {
    async fn a_course_client_signs_up_logs_in_posts_votes_and_deletes(backend) {
        let stack = spawn_stack(backend).await;
        let alice = stack.sign_up("alice@example.com", PASSWORD).await;
        let bob = stack.sign_up("bob@example.com", PASSWORD).await;
        let alice_token = stack.log_in("alice@example.com", PASSWORD).await;
        let bob_token = stack.log_in("bob@example.com", PASSWORD).await;

        // Create: 201, the course's Post shape, the owner taken from the token.
        let first = stack.create_post(&alice_token, "hello world", "some content", true).await;
        assert_eq!(first["title"], "hello world");
        assert_eq!(first["published"], true);
        assert_eq!(first["owner_id"], alice);
        assert_eq!(first["owner"]["id"], alice);
        assert_eq!(first["owner"]["email"], "alice@example.com");
        assert!(first.get("votes").is_none() && first.get("Post").is_none());
        let first_id = first["id"].as_i64().unwrap();
        let second = stack.create_post(&bob_token, "second post", "some content", true).await;
        let second_id = second["id"].as_i64().unwrap();

        // Votes: add, conflict (the course's text, typo included), counted in list and get.
        let resp = stack.vote(&bob_token, first_id, 1).await;
        assert_eq!(resp.status(), 201);
        assert_eq!(resp.json::<Value>().await.unwrap(), json!({"message": "successfully added vote"}));
        let resp = stack.vote(&bob_token, first_id, 1).await;
        assert_eq!(resp.status(), 409);
        assert_eq!(detail(resp).await, format!("user {bob} has alredy voted on post {first_id}"));
        assert_eq!(stack.vote(&alice_token, first_id, 1).await.status(), 201);

        // List: the course's {"Post": ..., "votes": n} items, newest first.
        let resp = stack.posts_get("/posts/", &alice_token).await;
        assert_eq!(resp.status(), 200);
        let list: Vec<Value> = resp.json().await.unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0]["Post"]["id"], second_id);
        assert_eq!(list[0]["votes"], 0);
        assert_eq!(list[1]["Post"]["id"], first_id);
        assert_eq!(list[1]["votes"], 2);
        assert_eq!(list[1]["Post"]["owner"]["email"], "alice@example.com");

        // Get one.
        let one: Value = stack.posts_get(&format!("/posts/{first_id}"), &bob_token).await.json().await.unwrap();
        assert_eq!(one["Post"]["title"], "hello world");
        assert_eq!(one["votes"], 2);

        // Search and paging.
        let found: Vec<Value> = stack.posts_get("/posts/?search=HELLO", &bob_token).await.json().await.unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0]["Post"]["id"], first_id);
        let page: Vec<Value> = stack.posts_get("/posts/?limit=1&skip=1", &bob_token).await.json().await.unwrap();
        assert_eq!(page.len(), 1);
        assert_eq!(page[0]["Post"]["id"], first_id);

        // Someone else's post: 403 to update or delete it.
        let resp = stack
            .posts_send(Method::PUT, &format!("/posts/{first_id}"), &bob_token, json!({"title": "mine now", "content": "x"}))
            .await;
        assert_eq!(resp.status(), 403);
        assert_eq!(detail(resp).await, "Not authorized to perform requested action");
        let resp = stack.posts_send(Method::DELETE, &format!("/posts/{first_id}"), &bob_token, json!({})).await;
        assert_eq!(resp.status(), 403);

        // The owner updates it.
        let resp = stack
            .posts_send(Method::PUT, &format!("/posts/{first_id}"), &alice_token, json!({"title": "updated", "content": "new"}))
            .await;
        assert_eq!(resp.status(), 200);
        let updated: Value = resp.json().await.unwrap();
        assert_eq!(updated["title"], "updated");
        assert_eq!(updated["content"], "new");

        // Remove a vote, then a vote that is not there.
        let resp = stack.vote(&bob_token, first_id, 0).await;
        assert_eq!(resp.status(), 201);
        assert_eq!(resp.json::<Value>().await.unwrap(), json!({"message": "successfully deleted vote"}));
        let resp = stack.vote(&bob_token, first_id, 0).await;
        assert_eq!(resp.status(), 404);
        assert_eq!(detail(resp).await, "Vote does not exist");

        // Delete: 204, empty; then gone, with the course's texts.
        let resp = stack.posts_send(Method::DELETE, &format!("/posts/{first_id}"), &alice_token, json!({})).await;
        assert_eq!(resp.status(), 204);
        assert!(resp.bytes().await.unwrap().is_empty());
        let resp = stack.posts_get(&format!("/posts/{first_id}"), &alice_token).await;
        assert_eq!(resp.status(), 404);
        assert_eq!(detail(resp).await, format!("post with id: {first_id} was not found"));
        let resp = stack.posts_send(Method::DELETE, &format!("/posts/{first_id}"), &alice_token, json!({})).await;
        assert_eq!(detail(resp).await, format!("post with id: {first_id} does not exist"));
        let resp = stack.vote(&bob_token, first_id, 1).await;
        assert_eq!(resp.status(), 404);
        assert_eq!(detail(resp).await, format!("Post with id: {first_id} does not exist"));
    }

    async fn drafts_are_visible_to_their_owner_only(backend) {
        let stack = spawn_stack(backend).await;
        stack.sign_up("alice@example.com", PASSWORD).await;
        stack.sign_up("bob@example.com", PASSWORD).await;
        let alice = stack.log_in("alice@example.com", PASSWORD).await;
        let bob = stack.log_in("bob@example.com", PASSWORD).await;
        let draft = stack.create_post(&alice, "secret draft", "some content", false).await;
        let id = draft["id"].as_i64().unwrap();
        assert_eq!(draft["published"], false);

        let own: Vec<Value> = stack.posts_get("/posts/", &alice).await.json().await.unwrap();
        assert_eq!(own.len(), 1);
        let others: Vec<Value> = stack.posts_get("/posts/", &bob).await.json().await.unwrap();
        assert!(others.is_empty());
        assert_eq!(stack.posts_get(&format!("/posts/{id}"), &alice).await.status(), 200);
        let resp = stack.posts_get(&format!("/posts/{id}"), &bob).await;
        assert_eq!(resp.status(), 404);
        assert_eq!(stack.vote(&bob, id, 1).await.status(), 404);

        // Publishing it shows it to everyone.
        let resp = stack
            .posts_send(Method::PUT, &format!("/posts/{id}"), &alice, json!({"title": "secret draft", "content": "c", "published": true}))
            .await;
        assert_eq!(resp.status(), 200);
        let others: Vec<Value> = stack.posts_get("/posts/", &bob).await.json().await.unwrap();
        assert_eq!(others.len(), 1);
    }

    async fn requests_without_a_valid_token_get_the_course_401s(backend) {
        let stack = spawn_stack(backend).await;
        let resp = stack.posts().get("/posts/", None).await;
        assert_eq!(resp.status(), 401);
        assert_eq!(resp.headers()["www-authenticate"], "Bearer");
        assert_eq!(detail(resp).await, "Not authenticated");
        let resp = stack.posts_get("/posts/", "garbage").await;
        assert_eq!(resp.status(), 401);
        assert_eq!(resp.headers()["www-authenticate"], "Bearer");
        assert_eq!(detail(resp).await, "Could not validate credentials");
    }
}

#[actix_web::test]
async fn stopping_the_stack_stops_both_services() {
    let stack = spawn_stack(service_kit::Backend::Sqlite).await;
    let services = [stack.auth(), stack.posts()];
    for api in services {
        assert_eq!(api.get("/healthz", None).await.status(), 200);
    }
    stack.handle().stop().await;
    for api in services {
        assert!(!answers(api).await, "{} still answers", api.base_url());
    }
}
