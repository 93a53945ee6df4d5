//! The course app's own access tokens during a move (`COURSE_TOKEN_SECRET`,
//! `COURSE_TOKEN_UNTIL`): HS256 with the course's secret, `{"user_id", "exp"}`, accepted on
//! both services until the deadline, refused after it, after the user's `logout?scope=all`
//! and after a password change, and refused when the option is off.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};
use service_kit::Backend;
use shared_claims::Secret;
use stack::TestStack;
use test_support::{metric_value, scrape_metrics};

use auth_service::schema::course_import::dsl as ci;
use diesel::{ExpressionMethods, RunQueryDsl};
use service_kit::testing::TestDatabase;
use service_kit::{with_conn, DatabaseUrl, DbConn};

use crate::helpers::PASSWORD;

/// A course deployment's `SECRET_KEY` (the tutorial's published one is refused).
const COURSE_SECRET: &str = "5f1c0d7e9a2b4c6d8e0f1a3b5c7d9e1f3a5b7c9d1e3f5a7b9c1d3e5f7a9b1c3d";

/// A token as the course app's `create_access_token({"user_id": id})` mints it.
fn course_token(user_id: i64) -> String {
    let exp = chrono::Utc::now().timestamp() + 30 * 60;
    shared_claims::testing::encode_hs256_for_testing(
        &json!({ "user_id": user_id, "exp": exp }),
        COURSE_SECRET.as_bytes(),
    )
}

/// A stack (with its databases) accepting course tokens until `until` (`None`: off).
async fn stack_accepting_until(
    backend: Backend,
    until: Option<chrono::DateTime<chrono::Utc>>,
) -> (TestStack, [TestDatabase; 2]) {
    let auth = TestDatabase::create(backend, "course_auth");
    let posts = TestDatabase::create(backend, "course_posts");
    let stack = TestStack::builder()
        .database_urls(auth.url.clone(), posts.url.clone())
        .configure(|c| {
            if let Some(until) = until {
                let secret: Secret = COURSE_SECRET.parse().unwrap();
                c.auth.course.course_token_secret = Some(secret.clone());
                c.auth.course.course_token_until = Some(until);
                c.posts.tokens.course.course_token_secret = Some(secret);
                c.posts.tokens.course.course_token_until = Some(until);
            }
        })
        .start()
        .await;
    (stack, [auth, posts])
}

/// Records in auth's database, as `stack import-course` does, that course tokens name the
/// users below `below` (here: the users signed up so far stand for the imported ones), then
/// waits (up to 10 s) until posts has it from the feed.
async fn record_course_users(stack: &TestStack, auth: &TestDatabase, below: i64) {
    let url = DatabaseUrl::parse(&auth.url).unwrap();
    let mut conn = DbConn::establish(&url).unwrap();
    let now = service_kit::time::now_utc();
    with_conn!(&mut conn, |c| diesel::insert_into(ci::course_import)
        .values((
            ci::id.eq(1),
            ci::user_ids_below.eq(below),
            ci::imported_at.eq(now)
        ))
        .execute(c))
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let token = course_token(below - 1);
    while stack.posts().get("/posts/", Some(&token)).await.status() != 200 {
        assert!(
            Instant::now() < deadline,
            "posts did not learn the course users"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The statuses a token gets on posts (`GET /posts/`) and on auth (`GET /users/me`).
async fn statuses(stack: &TestStack, token: &str) -> (u16, u16) {
    let posts = stack
        .posts()
        .get("/posts/", Some(token))
        .await
        .status()
        .as_u16();
    let auth = stack
        .auth()
        .get("/users/me", Some(token))
        .await
        .status()
        .as_u16();
    (posts, auth)
}

/// Waits (up to 10 s: posts polls auth's feed every second) until posts refuses the token.
async fn refused_by_posts_soon(stack: &TestStack, token: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if stack.posts().get("/posts/", Some(token)).await.status() == 401 {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

service_kit::backend_tests! {
    async fn course_tokens_work_until_the_deadline_and_stop_at_a_logout_everywhere_or_a_password_change(backend) {
        let until = chrono::Utc::now() + chrono::TimeDelta::hours(1);
        let (stack, dbs) = stack_accepting_until(backend, Some(until)).await;
        let alice = stack.sign_up("alice@example.com", PASSWORD).await;
        let bob = stack.sign_up("bob@example.com", PASSWORD).await;
        let carol = stack.sign_up("carol@example.com", PASSWORD).await;
        // Before an import says which ids are the course's, no course token is accepted.
        assert_eq!(statuses(&stack, &course_token(alice)).await, (401, 401));
        record_course_users(&stack, &dbs[0], carol + 1).await;
        // An id from the bound on is this project's own user, never a course user.
        let dave = stack.sign_up("dave@example.com", PASSWORD).await;
        assert_eq!(statuses(&stack, &course_token(dave)).await, (401, 401));

        // Alice writes once with a token of this project (posts learns her email), then with
        // her course token: both posts are hers and show her email.
        let own = stack.log_in("alice@example.com", PASSWORD).await;
        stack.create_post(&own, "first", "a", true).await;
        let course = course_token(alice);
        assert_eq!(statuses(&stack, &course).await, (200, 200));
        let post = stack.create_post(&course, "from the old app", "b", true).await;
        assert_eq!(post["owner_id"], alice);
        assert_eq!(post["owner"]["email"], "alice@example.com");
        let me: Value = stack.auth().get("/users/me", Some(&course)).await.json().await.unwrap();
        assert_eq!(me["id"], alice);
        // The course's string spelling of the id works too, as in the course app.
        let exp = chrono::Utc::now().timestamp() + 600;
        let as_string = shared_claims::testing::encode_hs256_for_testing(
            &json!({ "user_id": alice.to_string(), "exp": exp }),
            COURSE_SECRET.as_bytes(),
        );
        assert_eq!(statuses(&stack, &as_string).await, (200, 200));
        // Counted in /metrics on both services.
        for api in [stack.posts(), stack.auth()] {
            let accepted = metric_value(&scrape_metrics(api).await, "course_tokens_accepted_total");
            assert!(accepted.is_some_and(|n| n >= 1.0), "{accepted:?}");
        }
        // Another secret, an expired one: refused.
        let forged = shared_claims::testing::encode_hs256_for_testing(
            &json!({ "user_id": alice, "exp": exp }),
            &[b'x'; 64],
        );
        let expired = shared_claims::testing::encode_hs256_for_testing(
            &json!({ "user_id": alice, "exp": exp - 3600 }),
            COURSE_SECRET.as_bytes(),
        );
        for token in [&forged, &expired] {
            assert_eq!(statuses(&stack, token).await, (401, 401));
        }

        // Alice logs out of every session with a token of this project: her course tokens
        // are refused on both services from then on; Bob's still work.
        let resp = stack.auth().request(Method::POST, "/logout?scope=all", Some(&own)).send().await.unwrap();
        assert_eq!(resp.status(), 204);
        assert!(refused_by_posts_soon(&stack, &course).await, "posts refuses alice's course token");
        assert_eq!(statuses(&stack, &course).await, (401, 401));
        assert_eq!(statuses(&stack, &course_token(alice)).await, (401, 401), "a fresh one too");
        let bobs = course_token(bob);
        assert_eq!(statuses(&stack, &bobs).await, (200, 200));

        // Bob changes his password with his course token: they all stop.
        let body = json!({ "current_password": PASSWORD, "new_password": "a new password 1" });
        let resp = stack.auth().send_json(Method::PUT, "/users/me/password", Some(&bobs), &body).await;
        assert_eq!(resp.status(), 204);
        assert!(refused_by_posts_soon(&stack, &bobs).await, "posts refuses bob's course token");
        assert_eq!(statuses(&stack, &bobs).await, (401, 401));

        // Carol logs out with her course token itself: it cannot be told from her others.
        let carols = course_token(carol);
        let resp = stack.auth().request(Method::POST, "/logout", Some(&carols)).send().await.unwrap();
        assert_eq!(resp.status(), 204);
        assert!(refused_by_posts_soon(&stack, &carols).await, "posts refuses carol's course token");
        assert_eq!(statuses(&stack, &course_token(carol)).await, (401, 401));
        // Her own tokens still work.
        let hers = stack.log_in("carol@example.com", PASSWORD).await;
        assert_eq!(statuses(&stack, &hers).await, (200, 200));
    }

    async fn course_tokens_are_refused_after_the_deadline_and_when_the_option_is_off(backend) {
        // Accepted while the deadline is ahead, refused once it has passed (same token, same
        // processes: the deadline is checked on every request).
        // 20 s: time for a PostgreSQL stack to start on a busy machine before the first check.
        let until = chrono::Utc::now() + chrono::TimeDelta::seconds(20);
        let (stack, dbs) = stack_accepting_until(backend, Some(until)).await;
        let alice = stack.sign_up("alice@example.com", PASSWORD).await;
        record_course_users(&stack, &dbs[0], alice + 1).await;
        let token = course_token(alice);
        assert_eq!(statuses(&stack, &token).await, (200, 200));
        let wait = (until - chrono::Utc::now()).to_std().unwrap_or_default();
        tokio::time::sleep(wait + Duration::from_millis(100)).await;
        assert_eq!(statuses(&stack, &token).await, (401, 401));
        stack.stop().await;

        let (stack, dbs) = stack_accepting_until(backend, None).await;
        let alice = stack.sign_up("alice@example.com", PASSWORD).await;
        let url = DatabaseUrl::parse(&dbs[0].url).unwrap();
        let now = service_kit::time::now_utc();
        with_conn!(&mut DbConn::establish(&url).unwrap(), |c| diesel::insert_into(ci::course_import)
            .values((ci::id.eq(1), ci::user_ids_below.eq(alice + 1), ci::imported_at.eq(now)))
            .execute(c))
        .unwrap();
        assert_eq!(statuses(&stack, &course_token(alice)).await, (401, 401));
        let metrics = scrape_metrics(stack.posts()).await;
        assert!(!metrics.contains("course_tokens_accepted_total"), "no counter while off");
    }
}
