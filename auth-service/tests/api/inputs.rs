//! Input edges: strict types, text that is not UTF-8, ids and query bounds, one email folding
//! rule, and an OpenAPI document that states what the server enforces.

use auth_service::store::{self, NewUser};
use reqwest::Method;
use serde_json::{json, Value};
use service_kit::testing::TestDatabase;
use service_kit::{ApiError, Db};

use crate::helpers::{assert_422, detail, spawn_app, start, test_config, PASSWORD};

fn str_expected(field: &str) -> Value {
    json!({"loc": ["body", field], "msg": "str type expected", "type": "type_error.str"})
}

service_kit::backend_tests! {
    async fn a_number_or_a_boolean_is_not_a_string_for_signup(backend) {
        let app = spawn_app(backend).await;
        for body in [
            json!({"email": 5, "password": 12345678}),
            json!({"email": true, "password": 12345678.0}),
            json!({"email": ["a@example.com"], "password": {"p": PASSWORD}}),
        ] {
            let resp = app.post_json("/users/", &body).await;
            assert_eq!(resp.status(), 422, "{body}");
            assert_eq!(detail(resp).await, json!([str_expected("email"), str_expected("password")]), "{body}");
        }
        // Nothing was created under the number's text.
        assert_eq!(app.signup("x@example.com", "12345678").await.status(), 201);
    }

    async fn a_number_is_not_a_string_for_login_refresh_or_a_password_change(backend) {
        let app = spawn_app(backend).await;
        app.create_user("alice@example.com").await;
        let resp = app.post_json("/login", &json!({"username": 5, "password": 12345678, "grant_type": 1})).await;
        assert_422(
            resp,
            json!([str_expected("grant_type"), str_expected("username"), str_expected("password")]),
        )
        .await;
        let resp = app.post_json("/token/refresh", &json!({"refresh_token": 12345})).await;
        assert_422(resp, json!([str_expected("refresh_token")])).await;
        let token = app.token("alice@example.com", PASSWORD).await;
        let body = json!({"current_password": PASSWORD, "new_password": 123456789});
        let resp = app.api.send_json(Method::PUT, "/users/me/password", Some(&token), &body).await;
        assert_422(resp, json!([str_expected("new_password")])).await;
        // The grant type may be left out, not nulled; an empty username is no username.
        let resp = app.post_json("/login", &json!({"username": "", "password": PASSWORD, "grant_type": null})).await;
        assert_422(
            resp,
            json!([
                {"loc": ["body", "grant_type"], "msg": "none is not an allowed value", "type": "type_error.none.not_allowed"},
                {"loc": ["body", "username"], "msg": "ensure this value has at least 1 characters",
                 "type": "value_error.any_str.min_length", "ctx": {"limit_value": 1}}
            ]),
        )
        .await;
    }

    async fn a_multipart_login_with_a_part_that_is_not_utf8_is_422_not_mangled(backend) {
        let app = spawn_app(backend).await;
        app.create_user("alice@example.com").await;
        let multipart = |body: Vec<u8>| app.post_body("/login", Some("multipart/form-data; boundary=XyZ"), body);
        let with_password = |password: &[u8]| {
            let mut body = b"--XyZ\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nalice@example.com\r\n\
                --XyZ\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\n"
                .to_vec();
            body.extend_from_slice(password);
            body.extend_from_slice(b"\r\n--XyZ--\r\n");
            multipart(body)
        };
        // `password123` with one byte replaced by 0xff: a lossy decoder reads U+FFFD there.
        let resp = with_password(b"passw\xffrd123").await;
        assert_422(
            resp,
            json!([{"loc": ["body", "password"], "type": "value_error.unicodedecode",
                    "msg": "'utf-8' codec can't decode byte 0xff in position 5: invalid start byte"}]),
        )
        .await;
        assert_eq!(with_password(PASSWORD.as_bytes()).await.status(), 200);
        // A body that is no multipart form at all is a 422 too, not an empty form.
        let resp = multipart(b"--XyZ\r\nno end of headers".to_vec()).await;
        assert_eq!(resp.status(), 422);
        assert_eq!(detail(resp).await[0]["type"], "value_error.form");
    }

    async fn a_urlencoded_form_or_query_that_is_not_utf8_is_422(backend) {
        let app = spawn_app(backend).await;
        app.create_user("alice@example.com").await;
        let form = "username=alice%40example.com&password=pass%C3word123";
        let resp = app.post_body("/login", Some("application/x-www-form-urlencoded"), form).await;
        assert_422(
            resp,
            json!([{"loc": ["body", "password"], "type": "value_error.unicodedecode",
                    "msg": "'utf-8' codec can't decode byte 0xc3 in position 4: invalid continuation byte"}]),
        )
        .await;
        let resp = app.get("/sessions/ended?since=%FF").await;
        assert_eq!(resp.status(), 422);
        assert_eq!(detail(resp).await[0]["loc"], json!(["query", "since"]));
    }

    async fn ids_below_1_are_422_in_the_course_shape(backend) {
        let app = spawn_app(backend).await;
        app.create_user("fay@example.com").await;
        let token = app.token("fay@example.com", PASSWORD).await;
        for id in ["0", "-1"] {
            let resp = app.get_user(id, Some(&token)).await;
            assert_eq!(resp.status(), 422, "{id}");
            assert_eq!(
                detail(resp).await,
                json!([{"loc": ["path", "id"], "msg": "ensure this value is greater than or equal to 1",
                        "type": "value_error.number.not_ge", "ctx": {"limit_value": 1}}])
            );
        }
        // Without a token the answer is 401 whatever the id.
        assert_eq!(app.get_user("0", None).await.status(), 401);
    }

    async fn compatibility_twins_of_an_address_are_one_account(backend) {
        let app = spawn_app(backend).await;
        let id = app.create_user("kevin@example.com").await;
        // Kelvin sign, full-width letters, upper case: the same account.
        for twin in ["\u{212A}evin@example.com", "\u{FF4B}\u{FF45}vin@example.com", "KEVIN@example.com"] {
            let resp = app.signup(twin, PASSWORD).await;
            assert_eq!(resp.status(), 409, "{twin}");
            let token = app.token(twin, PASSWORD).await;
            let me: Value = app.me(&token).await.json().await.unwrap();
            assert_eq!(me["id"], id, "{twin}");
            // The account shows the address it was created with.
            assert_eq!(me["email"], "kevin@example.com");
        }
        // A look-alike from another script is another address, and refused as one that looks
        // the same (issue 22; see `stricter::a_look_alike_email_is_refused_with_409_like_a_taken_one`).
        let resp = app.signup("k\u{0435}vin@example.com", PASSWORD).await;
        assert_eq!(resp.status(), 409);
        assert!(detail(resp).await.as_str().unwrap().ends_with("(an address that looks the same is registered)"));
        assert_eq!(app.login("k\u{0435}vin@example.com", PASSWORD).await.status(), 403);
    }

    async fn full_width_signup_shows_the_address_as_given_and_logs_in_with_ascii(backend) {
        let app = spawn_app(backend).await;
        let resp = app.signup("\u{FF4B}evin@Example.com", PASSWORD).await;
        assert_eq!(resp.status(), 201);
        assert_eq!(resp.json::<Value>().await.unwrap()["email"], "\u{FF4B}evin@example.com");
        assert_eq!(app.login("kevin@example.com", PASSWORD).await.status(), 200);
        assert_eq!(app.signup("kevin@example.com", PASSWORD).await.status(), 409);
    }

    async fn accounts_stored_under_the_old_key_are_refolded_at_start(backend) {
        let db = TestDatabase::create(backend, "auth");
        let key_dir = tempfile::tempdir().unwrap();
        let config = test_config(&db, &key_dir);
        let pool = Db::new(&config.common.db_options().unwrap());
        auth_service::migrate(&pool).await.unwrap();
        // As the previous rule stored them: the key is the address lower-cased, no more.
        let hash = bcrypt::hash(PASSWORD, 4).unwrap();
        for address in ["\u{FF4B}evin@example.com", "K\u{FF45}vin@example.com"] {
            let (key, hash) = (address.to_lowercase(), hash.clone());
            pool.run(move |conn| {
                store::insert_user(conn, &NewUser {
                    email: address,
                    email_key: &key,
                    password_hash: &hash,
                    created_at: service_kit::time::now_utc(),
                    email_skeleton: &auth_service::domain::email_skeleton(&key),
                })
                .map_err(ApiError::from)
            })
            .await
            .unwrap();
        }
        let app = start(config, db, key_dir).await;
        // The first is found under the new key; the second folds to the same address and
        // keeps its old key (an operator decides; nothing is lost).
        let token = app.token("kevin@example.com", PASSWORD).await;
        let me: Value = app.me(&token).await.json().await.unwrap();
        assert_eq!(me["email"], "\u{FF4B}evin@example.com");
        assert_eq!(app.signup("KEVIN@example.com", PASSWORD).await.status(), 409);
        let second = pool
            .run(|conn| store::user_by_email_key(conn, "k\u{FF45}vin@example.com").map_err(ApiError::from))
            .await
            .unwrap();
        assert_eq!(second.expect("the colliding account is kept").email, "K\u{FF45}vin@example.com");
    }

    async fn the_openapi_document_states_what_the_server_enforces(backend) {
        let app = spawn_app(backend).await;
        let spec: Value = app.get("/openapi.json").await.json().await.unwrap();
        let schemas = &spec["components"]["schemas"];
        let signup = &schemas["UserCreate"]["properties"];
        assert_eq!(signup["email"]["format"], "email");
        assert_eq!(signup["email"]["maxLength"], 254);
        assert_eq!(signup["password"]["minLength"], 8);
        assert_eq!(signup["password"]["maxLength"], 72);
        assert_eq!(schemas["PasswordChange"]["properties"]["new_password"]["minLength"], 8);
        let id = &spec["paths"]["/users/{id}"]["get"]["parameters"][0];
        assert_eq!(id["name"], "id");
        assert_eq!(id["schema"]["minimum"], 1);
        let since = &spec["paths"]["/sessions/ended"]["get"]["parameters"][0];
        assert_eq!(since["schema"]["minimum"], 0);
        assert_eq!(since["schema"]["maximum"], i64::from(i32::MAX));
        let scope = &spec["paths"]["/logout"]["post"]["parameters"][0];
        assert_eq!(scope["schema"]["enum"], json!(["session", "all"]), "{scope}");
        for (path, method) in [
            ("/users/", "post"),
            ("/users/{id}", "get"),
            ("/users/me/password", "put"),
            ("/login", "post"),
            ("/token/refresh", "post"),
            ("/logout", "post"),
            ("/sessions/ended", "get"),
        ] {
            let r422 = &spec["paths"][path][method]["responses"]["422"];
            assert_eq!(
                r422["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/ValidationErrors",
                "{method} {path}"
            );
        }
        let login = &spec["paths"]["/login"]["post"]["requestBody"]["content"];
        for media in ["application/x-www-form-urlencoded", "application/json"] {
            assert!(login.get(media).is_some(), "/login takes {media}");
        }
        let form = &schemas["LoginForm"]["properties"];
        assert_eq!(form["username"]["minLength"], 1);
        assert_eq!(form["grant_type"]["type"], "string", "not nullable: null is refused");
        assert_eq!(form["grant_type"]["pattern"], "^password$");
        // 72 bytes, which JSON Schema cannot count: a format of its own names the rule.
        assert_eq!(signup["password"]["format"], "bcrypt-password");
    }

    async fn other_methods_on_the_key_set_are_405(backend) {
        let app = spawn_app(backend).await;
        let resp = app.request(Method::POST, "/.well-known/jwks.json").send().await.unwrap();
        assert_eq!(resp.status(), 405);
        assert_eq!(detail(resp).await, "Method Not Allowed");
    }
}
