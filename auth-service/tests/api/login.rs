use serde_json::{json, Value};
use shared_claims::{KeySet, VerifyConfig};

use crate::helpers::{
    assert_422, assert_token_answer, detail, field_required, spawn_app, statuses, PASSWORD,
};

fn verify_config() -> VerifyConfig {
    VerifyConfig {
        issuer: shared_claims::DEFAULT_ISSUER.into(),
        audience: shared_claims::DEFAULT_AUDIENCE.into(),
        leeway_seconds: 0,
    }
}

service_kit::backend_tests! {
    async fn form_login_returns_a_bearer_token_that_must_not_be_cached(backend) {
        let app = spawn_app(backend).await;
        app.create_user("alice@example.com").await;
        let body = assert_token_answer(app.login("alice@example.com", PASSWORD).await).await;
        assert!(body["access_token"].as_str().unwrap().split('.').count() == 3);
    }

    async fn a_token_verifies_with_nothing_but_the_served_jwks(backend) {
        let app = spawn_app(backend).await;
        let id = app.create_user("alice@example.com").await;
        let token = app.token("alice@example.com", PASSWORD).await;
        let jwks = app.get("/.well-known/jwks.json").await.text().await.unwrap();
        let keys = KeySet::from_jwks_json(&jwks).unwrap();
        let claims = keys.verify(&token, &verify_config()).expect("token verifies");
        assert_eq!(claims.sub, id.to_string());
        assert_eq!(claims.email, "alice@example.com");
        assert_eq!(claims.exp - claims.iat, 30 * 60);
        assert!(claims.user_created_at.is_some());
    }

    async fn the_token_lifetime_follows_access_token_expire_minutes(backend) {
        let app = crate::helpers::spawn_app_with(backend, |c| c.access_token_expire_minutes = 5).await;
        app.create_user("alice@example.com").await;
        let body: Value = app.login("alice@example.com", PASSWORD).await.json().await.unwrap();
        assert_eq!(body["expires_in"], 300);
    }

    async fn access_token_expire_seconds_takes_precedence_over_the_minutes(backend) {
        let app = crate::helpers::spawn_app_with(backend, |c| {
            c.access_token_expire_minutes = 5;
            c.access_token_expire_seconds = Some(2);
        })
        .await;
        app.create_user("alice@example.com").await;
        let body: Value = app.login("alice@example.com", PASSWORD).await.json().await.unwrap();
        assert_eq!(body["expires_in"], 2);
        let jwks = app.get("/.well-known/jwks.json").await.text().await.unwrap();
        let claims = KeySet::from_jwks_json(&jwks)
            .unwrap()
            .verify(body["access_token"].as_str().unwrap(), &verify_config())
            .expect("token verifies");
        assert_eq!(claims.exp - claims.iat, 2);
    }

    async fn login_accepts_json_and_any_case_of_the_email(backend) {
        let app = spawn_app(backend).await;
        app.create_user("Alice@example.com").await;
        let resp = app.post_json("/login", &json!({"username": "ALICE@example.com", "password": PASSWORD})).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(app.login("alice@EXAMPLE.com", PASSWORD).await.status(), 200);
    }

    async fn unknown_email_and_wrong_password_get_the_same_403_bytes(backend) {
        let app = spawn_app(backend).await;
        app.create_user("alice@example.com").await;
        let wrong = app.login("alice@example.com", "wrong-password").await;
        let unknown = app.login("nobody@example.com", PASSWORD).await;
        assert_eq!(wrong.status(), 403);
        assert_eq!(unknown.status(), 403);
        let strip = |r: &reqwest::Response| {
            let mut h: Vec<(String, String)> = r
                .headers()
                .iter()
                // The rate limit's count differs by one: the rest must not tell them apart.
                .filter(|(k, _)| !["date", "x-request-id", "ratelimit"].contains(&k.as_str()))
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_owned()))
                .collect();
            h.sort();
            h
        };
        assert_eq!(strip(&wrong), strip(&unknown));
        assert!(wrong.headers().get("www-authenticate").is_none());
        let (a, b) = (wrong.bytes().await.unwrap(), unknown.bytes().await.unwrap());
        assert_eq!(a, b);
        assert_eq!(&a[..], br#"{"detail":"Invalid Credentials"}"#);
    }

    async fn an_overlong_password_is_refused_as_invalid_credentials(backend) {
        let app = spawn_app(backend).await;
        app.create_user("alice@example.com").await;
        let resp = app.login("alice@example.com", &format!("{PASSWORD}{}", "x".repeat(100))).await;
        assert_eq!(resp.status(), 403);
        assert_eq!(detail(resp).await, "Invalid Credentials");
    }

    async fn missing_login_fields_are_422_in_the_course_shape(backend) {
        let app = spawn_app(backend).await;
        let resp = app.post_form("/login", &[("x", "y")]).await;
        assert_422(resp, json!([field_required("username"), field_required("password")])).await;
        let resp = app.post_form("/login", &[("username", "a@example.com")]).await;
        assert_eq!(detail(resp).await, json!([field_required("password")]));
        let resp = app.post_form("/login", &[("grant_type", "foo"), ("username", "a@example.com"), ("password", PASSWORD)]).await;
        assert_eq!(
            detail(resp).await,
            json!([{"loc": ["body", "grant_type"], "msg": "string does not match regex \"password\"",
                    "type": "value_error.str.regex", "ctx": {"pattern": "password"}}])
        );
    }

    async fn a_burst_of_logins_waits_for_the_hashing_threads_instead_of_failing(backend) {
        let app = crate::helpers::spawn_app_with(backend, |c| c.bcrypt_threads = Some(1)).await;
        let users = ["a@example.com", "b@example.com", "c@example.com"];
        for user in users {
            app.create_user(user).await;
        }
        // 30 logins at once, 10 per account, queue behind one hashing thread.
        let statuses = statuses((0..30).map(|i| app.login(users[i % 3], PASSWORD))).await;
        assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    }

    async fn checks_in_flight_for_one_account_are_bounded_by_its_budget(backend) {
        // Correct and wrong passwords alike: more than 10 checks at once for one account
        // get 429 with a short Retry-After (nothing is locked), the first 10 go through.
        let app = crate::helpers::spawn_app_with(backend, |c| c.bcrypt_threads = Some(1)).await;
        app.create_user("busy@example.com").await;
        let responses = futures_util::future::join_all(
            (0..16).map(|_| app.login("busy@example.com", PASSWORD)),
        )
        .await;
        let ok = responses.iter().filter(|r| r.status() == 200).count();
        let busy: Vec<_> = responses.iter().filter(|r| r.status() == 429).collect();
        assert_eq!(ok + busy.len(), 16);
        assert!(ok >= 10, "{ok} went through");
        for r in busy {
            assert_eq!(r.headers()["retry-after"], "1");
        }
        // Nothing stays reserved: the account logs in normally afterwards.
        assert_eq!(app.login("busy@example.com", PASSWORD).await.status(), 200);
    }

    async fn past_the_hashing_queue_signups_get_503_with_retry_after(backend) {
        // One thread, no waiting room, and a cost high enough that requests overlap.
        let app = crate::helpers::spawn_app_with(backend, |c| {
            c.bcrypt_threads = Some(1);
            c.bcrypt_queue = 0;
            c.bcrypt_cost = 10;
        })
        .await;
        let responses = futures_util::future::join_all(
            (0..8).map(|i| app.signup_owned(format!("user{i}@example.com"))),
        )
        .await;
        let created = responses.iter().filter(|r| r.status() == 201).count();
        let refused: Vec<_> = responses.iter().filter(|r| r.status() == 503).collect();
        assert!(created >= 1, "some signups get through");
        assert!(!refused.is_empty(), "the rest are refused, not queued without bound");
        assert_eq!(created + refused.len(), 8);
        for r in refused {
            assert_eq!(r.headers()["retry-after"], "1");
        }
    }
    async fn login_accepts_a_multipart_form(backend) {
        let app = spawn_app(backend).await;
        app.create_user("alice@example.com").await;
        let boundary = "----boundary42";
        let body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nalice@example.com\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\n{PASSWORD}\r\n--{boundary}--\r\n"
        );
        let content_type = format!("multipart/form-data; boundary={boundary}");
        let resp = app.post_body("/login", Some(&content_type), body).await;
        assert_eq!(resp.status(), 200);
    }

    async fn odd_usernames_are_refused_without_a_server_error(backend) {
        let app = spawn_app(backend).await;
        // Longer than any email: 403, and nothing is stored for it.
        let resp = app.login(&"x".repeat(60_000), &"a".repeat(80)).await;
        assert_eq!(resp.status(), 403);
        // NUL cannot be stored by PostgreSQL: refused as invalid input.
        let resp = app.login("a\u{0}b@example.com", PASSWORD).await;
        assert_eq!(resp.status(), 422);
        let resp = app.signup("a\u{0}b@example.com", PASSWORD).await;
        assert_eq!(resp.status(), 422);
        // Empty form values count as missing, as in the course app.
        let resp = app.login("", PASSWORD).await;
        assert_eq!(resp.status(), 422);
        assert_eq!(detail(resp).await[0]["loc"], json!(["body", "username"]));
    }

    async fn a_json_body_without_content_type_is_read_as_json(backend) {
        let app = spawn_app(backend).await;
        let body = r#"{"email": "plain@example.com", "password": "password123"}"#;
        let resp = app.post_body("/users/", None, body).await;
        assert_eq!(resp.status(), 201);
    }
}

impl crate::helpers::TestApp {
    async fn signup_owned(&self, email: String) -> reqwest::Response {
        self.signup(&email, PASSWORD).await
    }
}
