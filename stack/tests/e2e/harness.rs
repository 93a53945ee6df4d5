//! `stack::TestStack` as another crate's tests use it: fixtures, tokens minted with the
//! stack's key and chosen claims, and a clean stop.

use serde_json::{json, Value};
use stack::seed::Fixture;
use stack::TestStack;

use crate::helpers::{answers, detail, PASSWORD};

service_kit::backend_tests! {
    async fn a_fixture_loads_through_the_api_and_its_users_are_ready_to_use(backend) {
        let fixture = Fixture::from_value(json!({
            "users": [
                {"email": "alice@example.com", "password": PASSWORD},
                {"email": "bob@example.com", "password": PASSWORD}
            ],
            "posts": [
                {"owner": "alice@example.com", "title": "first", "content": "a"},
                {"owner": "ALICE@example.com", "title": "draft", "content": "b", "published": false}
            ],
            "votes": [{"user": "bob@example.com", "post": 0}]
        }))
        .unwrap();
        let stack = TestStack::builder().backend(backend).seed(fixture).start().await;
        let seeded = stack.seeded();
        assert_eq!(seeded.users.len(), 2);
        assert_eq!(seeded.post_ids.len(), 2);
        let bob = seeded.user("bob@example.com").unwrap();
        let list: Vec<Value> = stack.posts_get("/posts/", &bob.token).await.json().await.unwrap();
        assert_eq!(list.len(), 1, "bob does not see alice's draft");
        assert_eq!(list[0]["Post"]["id"], seeded.post_ids[0]);
        assert_eq!(list[0]["votes"], 1);
        let alice = seeded.user("alice@example.com").unwrap();
        let list: Vec<Value> = stack.posts_get("/posts/", &alice.token).await.json().await.unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0]["Post"]["owner_id"], alice.id);
        // The password was hashed at sign-up as any other: logging in with it works.
        assert!(!stack.log_in("alice@example.com", PASSWORD).await.is_empty());
    }
}

#[actix_web::test]
async fn minted_tokens_are_judged_by_their_claims_under_the_stacks_own_key() {
    let stack = TestStack::start().await;
    let id = stack.sign_up("alice@example.com", PASSWORD).await;

    // Valid claims, signed with the stack's key: accepted, and the post is alice's.
    let token = stack.mint_token(&stack.claims_for(id, "alice@example.com", 60));
    let post = stack.create_post(&token, "minted", "c", true).await;
    assert_eq!(post["owner_id"], id);

    // Expired, another audience, another issuer: each the course's 401.
    let expired = stack.claims_for(id, "alice@example.com", -1);
    let mut other_audience = stack.claims_for(id, "alice@example.com", 60);
    other_audience.aud = "billing-service".into();
    let mut other_issuer = stack.claims_for(id, "alice@example.com", 60);
    other_issuer.iss = "someone-else".into();
    for claims in [expired, other_audience, other_issuer] {
        let resp = stack.posts_get("/posts/", &stack.mint_token(&claims)).await;
        assert_eq!(resp.status(), 401, "{claims:?}");
        assert_eq!(detail(resp).await, "Could not validate credentials");
    }

    // The shared test key is not the stack's: its tokens are refused.
    let foreign = shared_claims::testing::encode_for_testing(
        &stack.claims_for(id, "alice@example.com", 60),
        &shared_claims::testing::test_signing_key(),
    );
    assert_eq!(stack.posts_get("/posts/", &foreign).await.status(), 401);
    assert_ne!(
        stack.signing_key().kid(),
        shared_claims::testing::test_signing_key().kid()
    );
}

#[actix_web::test]
async fn stopping_a_test_stack_stops_both_services_and_removes_its_folder() {
    let stack = TestStack::start().await;
    let services = [stack.auth().clone(), stack.posts().clone()];
    let folder = stack.data_dir().to_path_buf();
    assert!(folder.join("auth.db").is_file());
    stack.stop().await;
    assert!(!folder.exists(), "{} is left behind", folder.display());
    for api in &services {
        assert!(!answers(api).await, "{} still answers", api.base_url());
    }
}
