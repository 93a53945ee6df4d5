//! Stricter inputs (issue 22, finding 5): a field given twice, answers not to be cached,
//! blank passwords, a new password equal to the current one, and `PASSWORD_POLICY=strict`.

use reqwest::Method;
use serde_json::{json, Value};

use auth_service::config::PasswordPolicy;
use auth_service::store::{self, NewUser};
use diesel::RunQueryDsl;
use service_kit::testing::TestDatabase;
use service_kit::{with_conn, ApiError, Db};

use crate::helpers::{assert_422, detail, spawn_app, spawn_app_with, start, test_config, PASSWORD};

fn duplicate(field: &str) -> Value {
    json!({"loc": ["body", field], "msg": "field given more than once", "type": "value_error.duplicate"})
}

fn blank(field: &str) -> Value {
    json!({"loc": ["body", field],
           "msg": "password must contain a character that is not whitespace, a combining mark or an invisible character",
           "type": "value_error.password.blank"})
}

service_kit::backend_tests! {
    async fn a_field_given_twice_is_422_naming_it_in_json_and_forms(backend) {
        let app = spawn_app(backend).await;
        // JSON: serde alone would keep the last email.
        let resp = app
            .post_body(
                "/users/",
                Some("application/json"),
                r#"{"email": "a@example.com", "password": "password123", "email": "b@example.com"}"#,
            )
            .await;
        assert_422(resp, json!([duplicate("email")])).await;
        app.create_user("alice@example.com").await;
        // A form: the first would have won.
        let form = "username=alice%40example.com&password=wrong-one&password=password123";
        let resp = app.post_body("/login", Some("application/x-www-form-urlencoded"), form).await;
        assert_422(resp, json!([duplicate("password")])).await;
        let multipart = "--XyZ\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nalice@example.com\r\n\
                         --XyZ\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nbob@example.com\r\n\
                         --XyZ\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\npassword123\r\n--XyZ--\r\n";
        let resp = app.post_body("/login", Some("multipart/form-data; boundary=XyZ"), multipart).await;
        assert_422(resp, json!([duplicate("username")])).await;
        let resp = app
            .post_body("/token/refresh", Some("application/json"), r#"{"refresh_token": "a", "refresh_token": "b"}"#)
            .await;
        assert_422(resp, json!([duplicate("refresh_token")])).await;
        // Nothing was created from the refused sign-up; the same bodies once each work.
        assert_eq!(app.signup("a@example.com", PASSWORD).await.status(), 201);
        assert_eq!(app.signup("b@example.com", PASSWORD).await.status(), 201);
        assert_eq!(app.login("alice@example.com", PASSWORD).await.status(), 200);
    }

    async fn answers_about_accounts_and_tokens_are_not_stored(backend) {
        let app = spawn_app(backend).await;
        let signup = app.signup("alice@example.com", PASSWORD).await;
        assert_eq!(signup.status(), 201);
        let signup_cache = signup.headers().get("cache-control").cloned();
        assert_eq!(signup_cache.as_ref().and_then(|v| v.to_str().ok()), Some("no-store"));
        let id = signup.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
        let token = app.token("alice@example.com", PASSWORD).await;
        let no_store = |resp: &reqwest::Response| {
            resp.headers().get("cache-control").and_then(|v| v.to_str().ok()).map(str::to_owned)
        };
        let mut answers = vec![
            ("signup 409", app.signup("alice@example.com", PASSWORD).await),
            ("login 200", app.login("alice@example.com", PASSWORD).await),
            ("login 403", app.login("alice@example.com", "wrong-password").await),
            ("me 200", app.me(&token).await),
            ("user 200", app.get_user(&id.to_string(), Some(&token)).await),
            ("user 401", app.get_user(&id.to_string(), None).await),
        ];
        let body = json!({"current_password": "wrong-password", "new_password": "another-password"});
        answers.push(("password 403", app.api.send_json(Method::PUT, "/users/me/password", Some(&token), &body).await));
        for (what, resp) in &answers {
            assert_eq!(no_store(resp).as_deref(), Some("no-store"), "{what}");
        }
        // The key set stays cacheable.
        let jwks = app.get("/.well-known/jwks.json").await;
        assert!(no_store(&jwks).unwrap_or_default().contains("max-age"), "{:?}", no_store(&jwks));
    }

    async fn a_password_of_only_whitespace_marks_or_invisible_characters_is_refused(backend) {
        let app = spawn_app(backend).await;
        let blanks = [
            " ".repeat(8),
            "\u{0301}".repeat(8),
            "\t \u{00a0}\u{3000}\u{2003}   ".to_string(),
            "\u{200b}".repeat(8),
            " \u{0301} \u{20dd}\u{200d}\u{200b}\u{0300}\u{0300}".to_string(),
        ];
        for password in &blanks {
            let resp = app.post_json("/users/", &json!({"email": "a@example.com", "password": password})).await;
            assert_422(resp, json!([blank("password")])).await;
        }
        // One real character among them is enough; the course's password is fine.
        assert_eq!(app.signup("a@example.com", "       e\u{0301}").await.status(), 201);
        assert_eq!(app.signup("b@example.com", "password123").await.status(), 201);
        let token = app.token("b@example.com", "password123").await;
        let body = json!({"current_password": "password123", "new_password": " ".repeat(9)});
        let resp = app.api.send_json(Method::PUT, "/users/me/password", Some(&token), &body).await;
        assert_422(resp, json!([blank("new_password")])).await;
    }

    async fn a_new_password_equal_to_the_current_one_is_refused(backend) {
        let app = spawn_app(backend).await;
        app.create_user("alice@example.com").await;
        let token = app.token("alice@example.com", PASSWORD).await;
        let other = app.token("alice@example.com", PASSWORD).await;
        let body = json!({"current_password": PASSWORD, "new_password": PASSWORD});
        let resp = app.api.send_json(Method::PUT, "/users/me/password", Some(&token), &body).await;
        assert_422(
            resp,
            json!([{"loc": ["body", "new_password"], "msg": "new password must differ from the current one",
                    "type": "value_error.password.unchanged"}]),
        )
        .await;
        // Nothing changed: the other session lives, the password is the same.
        assert_eq!(app.me(&other).await.status(), 200);
        assert_eq!(app.login("alice@example.com", PASSWORD).await.status(), 200);
        let body = json!({"current_password": PASSWORD, "new_password": "a-different-one"});
        let resp = app.api.send_json(Method::PUT, "/users/me/password", Some(&token), &body).await;
        assert_eq!(resp.status(), 204);
    }

    async fn the_strict_password_policy_refuses_guessable_passwords_and_the_email(backend) {
        let basic = spawn_app(backend).await;
        assert_eq!(basic.signup("alice@example.com", "password123").await.status(), 201);
        let app = spawn_app_with(backend, |c| c.password_policy = PasswordPolicy::Strict).await;
        for weak in ["password123", "qwertyuiop", "aliceliddell", "aliceliddell@example.com", "1234567890"] {
            let resp = app.post_json("/users/", &json!({"email": "aliceliddell@example.com", "password": weak})).await;
            assert_eq!(resp.status(), 422, "{weak}");
            let errors = detail(resp).await;
            assert_eq!(errors[0]["loc"], json!(["body", "password"]), "{weak}");
            assert_eq!(errors[0]["type"], json!("value_error.password.weak"), "{weak}");
            assert!(errors[0]["msg"].as_str().unwrap().starts_with("password is too easy to guess"), "{errors}");
            assert_eq!(errors[0]["ctx"]["min_score"], json!(3), "{errors}");
        }
        let strong = "correct horse battery staple vortex";
        assert_eq!(app.signup("aliceliddell@example.com", strong).await.status(), 201);
        let token = app.token("aliceliddell@example.com", strong).await;
        let body = json!({"current_password": strong, "new_password": "aliceliddell1"});
        let resp = app.api.send_json(Method::PUT, "/users/me/password", Some(&token), &body).await;
        assert_eq!(resp.status(), 422);
        assert_eq!(detail(resp).await[0]["loc"], json!(["body", "new_password"]));
        let body = json!({"current_password": strong, "new_password": "Tr0ub4dor&3-quartz-Nimbus"});
        let resp = app.api.send_json(Method::PUT, "/users/me/password", Some(&token), &body).await;
        assert_eq!(resp.status(), 204);
    }

    async fn a_look_alike_email_is_refused_with_409_like_a_taken_one(backend) {
        let app = spawn_app(backend).await;
        assert_eq!(app.signup("alice@example.com", PASSWORD).await.status(), 201);
        assert_eq!(app.signup("mary@example.com", PASSWORD).await.status(), 201);
        // A Cyrillic а in the local part, then in the domain; `rn` for `m`.
        for look_alike in ["\u{0430}lice@example.com", "alice@ex\u{0430}mple.com", "rnary@example.com"] {
            let resp = app.signup(look_alike, PASSWORD).await;
            assert_eq!(resp.status(), 409, "{look_alike}");
            let address = if look_alike.contains("ex\u{0430}mple") { look_alike.to_string() } else { look_alike.to_lowercase() };
            assert_eq!(
                detail(resp).await,
                json!(format!("User with email: {address} already exists (an address that looks the same is registered)")),
                "{look_alike}"
            );
        }
        // A taken address keeps the course's text; other addresses are free.
        let resp = app.signup("ALICE@example.com", PASSWORD).await;
        assert_eq!(resp.status(), 409);
        assert_eq!(detail(resp).await, json!("User with email: ALICE@example.com already exists"));
        assert_eq!(app.signup("alicia@example.com", PASSWORD).await.status(), 201);
        assert_eq!(app.login("\u{0430}lice@example.com", PASSWORD).await.status(), 403);
    }

    async fn accounts_made_before_the_skeleton_column_get_theirs_at_start(backend) {
        let db = TestDatabase::create(backend, "auth");
        let key_dir = tempfile::tempdir().unwrap();
        let config = test_config(&db, &key_dir);
        let pool = Db::new(&config.common.db_options().unwrap());
        auth_service::migrate(&pool).await.unwrap();
        let hash = bcrypt::hash(PASSWORD, 4).unwrap();
        pool.run(move |conn| {
            store::insert_user(conn, &NewUser {
                email: "alice@example.com",
                email_key: "alice@example.com",
                password_hash: &hash,
                created_at: service_kit::time::now_utc(),
                email_skeleton: "",
            })
            .map_err(ApiError::from)?;
            // As migration 000006 leaves existing rows.
            with_conn!(conn, |c| diesel::sql_query("UPDATE users SET email_skeleton = NULL").execute(c))
                .map_err(|e| ApiError::from(service_kit::DbError::from(e)))?;
            Ok::<_, ApiError>(())
        })
        .await
        .unwrap();
        let app = start(config, db, key_dir).await;
        let alice = pool
            .run(|conn| store::user_by_email_key(conn, "alice@example.com").map_err(ApiError::from))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(alice.email_skeleton.as_deref(), Some(auth_service::domain::email_skeleton("alice@example.com").as_str()));
        assert_eq!(app.signup("\u{0430}lice@example.com", PASSWORD).await.status(), 409);
    }

    async fn of_look_alike_sign_ups_at_once_exactly_one_succeeds(backend) {
        let app = spawn_app(backend).await;
        let variants = ["alice@example.com", "\u{0430}lice@example.com", "alic\u{0435}@example.com",
                        "\u{0430}lic\u{0435}@example.com", "a1ice@example.com", "al\u{0456}ce@example.com"];
        let statuses = crate::helpers::statuses(variants.iter().map(|v| app.signup(v, PASSWORD))).await;
        assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
        assert!(statuses.iter().all(|s| *s == 201 || *s == 409), "{statuses:?}");
    }
}
