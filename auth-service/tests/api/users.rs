use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{assert_422, detail, field_required, spawn_app, statuses, PASSWORD};

service_kit::backend_tests! {
    async fn signing_up_returns_201_with_the_user_and_no_password(backend) {
        let app = spawn_app(backend).await;
        let resp = app.signup("alice@example.com", PASSWORD).await;
        assert_eq!(resp.status(), 201);
        let body: Value = resp.json().await.unwrap();
        let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 3, "only id, email, created_at: {body}");
        assert!(body["id"].as_i64().unwrap() > 0);
        assert_eq!(body["email"], "alice@example.com");
        let created = body["created_at"].as_str().unwrap();
        assert!(created.ends_with("+00:00"), "{created}");
        chrono::DateTime::parse_from_rfc3339(created).expect("an ISO-8601 timestamp");
    }

    async fn both_spellings_of_the_signup_path_answer_without_a_redirect(backend) {
        let app = spawn_app(backend).await;
        let resp = app.post_json("/users", &json!({ "email": "a@example.com", "password": PASSWORD })).await;
        assert_eq!(resp.status(), 201);
    }

    async fn the_domain_is_lower_cased_and_the_local_part_kept(backend) {
        let app = spawn_app(backend).await;
        let resp = app.signup("Bob@Example.COM", PASSWORD).await;
        assert_eq!(resp.status(), 201);
        assert_eq!(resp.json::<Value>().await.unwrap()["email"], "Bob@example.com");
    }

    async fn a_taken_email_is_a_conflict_whatever_its_case(backend) {
        let app = spawn_app(backend).await;
        app.create_user("carol@example.com").await;
        for email in ["carol@example.com", "CAROL@example.com", "carol@EXAMPLE.com"] {
            let resp = app.signup(email, PASSWORD).await;
            assert_eq!(resp.status(), 409, "{email}");
            assert!(detail(resp).await.as_str().unwrap().contains("already exists"));
        }
    }

    async fn twenty_four_racing_signups_with_one_email_give_one_201_and_23_409s(backend) {
        let app = spawn_app(backend).await;
        let statuses = statuses((0..24).map(|_| app.signup("race@example.com", PASSWORD))).await;
        assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
        assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 23, "{statuses:?}");
    }

    async fn an_invalid_email_is_422_in_the_course_shape(backend) {
        let app = spawn_app(backend).await;
        let invalid = json!([{"loc": ["body", "email"], "msg": "value is not a valid email address", "type": "value_error.email"}]);
        assert_422(app.signup("not-an-email", PASSWORD).await, invalid).await;
    }

    async fn missing_fields_are_each_reported_in_order(backend) {
        let app = spawn_app(backend).await;
        let resp = app.post_json("/users/", &json!({})).await;
        assert_422(resp, json!([field_required("email"), field_required("password")])).await;
        let resp = app.post_json("/users/", &json!({"email": null, "password": PASSWORD})).await;
        assert_eq!(
            detail(resp).await,
            json!([{"loc": ["body", "email"], "msg": "none is not an allowed value", "type": "type_error.none.not_allowed"}])
        );
    }

    async fn a_missing_or_malformed_body_is_422(backend) {
        let app = spawn_app(backend).await;
        let resp = app.request(Method::POST, "/users/").send().await.unwrap();
        assert_422(resp, json!([{"loc": ["body"], "msg": "field required", "type": "value_error.missing"}])).await;
        let resp = app.post_body("/users/", Some("application/json"), "{\"email\": ").await;
        assert_eq!(resp.status(), 422);
        let d = detail(resp).await;
        assert_eq!(d[0]["type"], "value_error.jsondecode");
        assert_eq!(d[0]["loc"][0], "body");
        let body = r#"{"email":"x@example.com","password":"password123"}"#;
        let resp = app.post_body("/users/", Some("text/plain"), body).await;
        assert_eq!(
            detail(resp).await,
            json!([{"loc": ["body"], "msg": "value is not a valid dict", "type": "type_error.dict"}])
        );
    }

    async fn passwords_need_8_characters_and_at_most_72_bytes(backend) {
        let app = spawn_app(backend).await;
        let resp = app.signup("short@example.com", "1234567").await;
        assert_eq!(resp.status(), 422);
        assert_eq!(detail(resp).await[0]["type"], "value_error.any_str.min_length");
        // 36 two-byte characters are exactly 72 bytes: accepted.
        let resp = app.signup("exact@example.com", &"ü".repeat(36)).await;
        assert_eq!(resp.status(), 201);
        // 73 bytes would be truncated by bcrypt: refused instead.
        let resp = app.signup("long@example.com", &"a".repeat(73)).await;
        assert_eq!(resp.status(), 422);
        let d = detail(resp).await;
        assert_eq!(d[0]["loc"], json!(["body", "password"]));
        assert_eq!(d[0]["msg"], "ensure this value has at most 72 bytes");
        // ... and nothing was stored for it.
        let resp = app.signup("long@example.com", PASSWORD).await;
        assert_eq!(resp.status(), 201);
    }

    async fn a_megabyte_password_is_refused_before_hashing(backend) {
        let app = spawn_app(backend).await;
        let resp = app.signup("big@example.com", &"x".repeat(1024 * 1024)).await;
        assert_eq!(resp.status(), 413);
        assert_eq!(detail(resp).await, "Request body too large");
        let resp = app.login("big@example.com", &"x".repeat(1024 * 1024)).await;
        assert_eq!(resp.status(), 413);
    }

    async fn reading_a_user_needs_a_bearer_token(backend) {
        let app = spawn_app(backend).await;
        let id = app.create_user("dave@example.com").await;
        let resp = app.get_user(&id.to_string(), None).await;
        assert_eq!(resp.status(), 401);
        assert_eq!(resp.headers()["www-authenticate"], "Bearer");
        assert_eq!(detail(resp).await, "Not authenticated");

        let resp = app.get_user(&id.to_string(), Some("not-a-token")).await;
        assert_eq!(resp.status(), 401);
        assert_eq!(resp.headers()["www-authenticate"], "Bearer");
        assert_eq!(detail(resp).await, "Could not validate credentials");
    }

    async fn a_user_is_read_by_id_with_a_token(backend) {
        let app = spawn_app(backend).await;
        let id = app.create_user("erin@example.com").await;
        let token = app.token("erin@example.com", PASSWORD).await;
        let resp = app.get_user(&id.to_string(), Some(&token)).await;
        assert_eq!(resp.status(), 200);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["id"], id);
        assert_eq!(body["email"], "erin@example.com");
        let resp = app.get_user(&format!("{id}/"), Some(&token)).await;
        assert_eq!(resp.status(), 200);
    }

    async fn an_unknown_user_is_404_and_a_non_integer_id_422(backend) {
        let app = spawn_app(backend).await;
        app.create_user("fay@example.com").await;
        let token = app.token("fay@example.com", PASSWORD).await;
        let resp = app.get_user("9999", Some(&token)).await;
        assert_eq!(resp.status(), 404);
        assert_eq!(detail(resp).await, "User with id: 9999 does not exist");
        let not_an_integer = json!([{"loc": ["path", "id"], "msg": "value is not a valid integer", "type": "type_error.integer"}]);
        for id in ["abc", "99999999999999999999"] {
            assert_422(app.get_user(id, Some(&token)).await, not_an_integer.clone()).await;
        }
    }

    async fn unknown_paths_and_methods_answer_in_json(backend) {
        let app = spawn_app(backend).await;
        let resp = app.get("/nowhere").await;
        assert_eq!(resp.status(), 404);
        assert_eq!(detail(resp).await, "Not Found");
        let resp = app.get("/login").await;
        assert_eq!(resp.status(), 405);
        assert_eq!(detail(resp).await, "Method Not Allowed");
    }

    async fn health_readiness_and_docs_are_served(backend) {
        let app = spawn_app(backend).await;
        assert_eq!(app.get("/healthz").await.status(), 200);
        assert_eq!(app.get("/readyz").await.status(), 200);
        let spec: Value = app.get("/openapi.json").await.json().await.unwrap();
        for path in ["/users/", "/users/{id}", "/login", "/.well-known/jwks.json"] {
            assert!(spec["paths"].get(path).is_some(), "{path} missing from OpenAPI");
        }
        let resp = app.get("/docs/").await;
        assert_eq!(resp.status(), 200);
        assert!(resp.text().await.unwrap().contains("swagger"));
        assert_eq!(app.get("/").await.json::<Value>().await.unwrap()["message"], "Hello World pushing out to ubuntu");
    }
    async fn request_ids_are_echoed_or_generated(backend) {
        let app = spawn_app(backend).await;
        let resp = app.request(Method::GET, "/healthz").header("x-request-id", "trace-42").send().await.unwrap();
        assert_eq!(resp.headers()["x-request-id"], "trace-42");
        let resp = app.get("/healthz").await;
        let generated = resp.headers()["x-request-id"].to_str().unwrap();
        assert_eq!(generated.len(), 36, "a UUID: {generated}");
    }

    async fn cors_follows_cors_allow_origins(backend) {
        let app = crate::helpers::spawn_app_with(backend, |c| {
            c.common.server.cors_allow_origins = "https://app.example.com".into()
        })
        .await;
        let preflight = |origin: &'static str| {
            app.request(Method::OPTIONS, "/users/")
                .header("origin", origin)
                .header("access-control-request-method", "POST")
                .send()
        };
        let resp = preflight("https://app.example.com").await.unwrap();
        assert_eq!(resp.headers()["access-control-allow-origin"], "https://app.example.com");
        let resp = preflight("https://evil.example.com").await.unwrap();
        assert!(resp.headers().get("access-control-allow-origin").is_none());
        // By default no origin is allowed.
        let plain = spawn_app(backend).await;
        let resp = plain
            .request(Method::GET, "/healthz")
            .header("origin", "https://app.example.com")
            .send()
            .await
            .unwrap();
        assert!(resp.headers().get("access-control-allow-origin").is_none());
    }
}
