//! Sessions: refresh-token rotation and reuse detection, logout, the caller's account,
//! password changes, and the feed of ended sessions, on SQLite and PostgreSQL.

use diesel::RunQueryDsl;
use reqwest::Method;
use serde_json::{json, Value};
use service_kit::{with_conn, DbConn};
use shared_claims::{KeySet, SigningKey, VerifyConfig};

use crate::helpers::{assert_token_answer, detail, spawn_app, spawn_app_with, TestApp, PASSWORD};

const INVALID: &str = "Could not validate credentials";

/// A login's answer: access and refresh token.
struct Pair {
    access: String,
    refresh: String,
}

impl TestApp {
    async fn session(&self, email: &str, password: &str) -> Pair {
        let resp = self.login(email, password).await;
        assert_eq!(resp.status(), 200);
        pair(resp.json().await.unwrap())
    }

    async fn refresh_form(&self, token: &str) -> reqwest::Response {
        let fields = [("grant_type", "refresh_token"), ("refresh_token", token)];
        self.post_form("/token/refresh", &fields).await
    }

    async fn refresh_json(&self, token: &str) -> reqwest::Response {
        self.post_json("/token/refresh", &json!({ "refresh_token": token }))
            .await
    }

    async fn logout(&self, access: &str, query: &str) -> reqwest::Response {
        let path = format!("/logout{query}");
        self.api
            .request(Method::POST, &path, Some(access))
            .send()
            .await
            .unwrap()
    }

    pub async fn change_password(
        &self,
        access: &str,
        current: &str,
        new: &str,
    ) -> reqwest::Response {
        let body = json!({ "current_password": current, "new_password": new });
        self.api
            .send_json(Method::PUT, "/users/me/password", Some(access), &body)
            .await
    }

    async fn ended(&self, query: &str) -> Value {
        let resp = self.get(&format!("/sessions/ended{query}")).await;
        assert_eq!(resp.status(), 200);
        resp.json().await.unwrap()
    }

    /// Runs SQL on the service's database (to age rows beyond what a test can wait for).
    fn sql(&self, statement: &str) {
        let mut conn = DbConn::establish(&self._db.url.parse().unwrap()).unwrap();
        with_conn!(&mut conn, |c| diesel::sql_query(statement).execute(c)).unwrap();
    }
}

fn pair(body: Value) -> Pair {
    Pair {
        access: body["access_token"].as_str().unwrap().to_owned(),
        refresh: body["refresh_token"].as_str().unwrap().to_owned(),
    }
}

/// The 401 every bad refresh token gets, byte for byte.
async fn assert_refused(resp: reqwest::Response) {
    assert_eq!(resp.status(), 401);
    assert_eq!(resp.headers()["www-authenticate"], "Bearer");
    assert_eq!(
        resp.text().await.unwrap(),
        format!(r#"{{"detail":"{INVALID}"}}"#)
    );
}

fn verify_config() -> VerifyConfig {
    VerifyConfig {
        issuer: shared_claims::DEFAULT_ISSUER.into(),
        audience: shared_claims::DEFAULT_AUDIENCE.into(),
        leeway_seconds: 0,
    }
}

async fn claims(app: &TestApp, token: &str) -> shared_claims::Claims {
    let jwks = app
        .get("/.well-known/jwks.json")
        .await
        .text()
        .await
        .unwrap();
    KeySet::from_jwks_json(&jwks)
        .unwrap()
        .verify(token, &verify_config())
        .unwrap()
}

service_kit::backend_tests! {
    async fn a_login_starts_a_session_with_a_refresh_token(backend) {
        let app = spawn_app(backend).await;
        app.create_user("alice@example.com").await;
        let body = assert_token_answer(app.login("alice@example.com", PASSWORD).await).await;
        assert_eq!(body["refresh_expires_in"], 14 * 24 * 3600);
        let refresh = body["refresh_token"].as_str().unwrap();
        // 256 random bits in base64url.
        assert_eq!(refresh.len(), 43, "{refresh}");
        let claims = claims(&app, body["access_token"].as_str().unwrap()).await;
        let sid = claims.sid.expect("access tokens carry the session id");
        // Two logins are two sessions.
        let other = app.session("alice@example.com", PASSWORD).await;
        assert_ne!(claims_sid(&app, &other.access).await, sid);
        assert_ne!(other.refresh, refresh);
    }

    async fn a_refresh_rotates_the_refresh_token_and_keeps_the_session(backend) {
        let app = spawn_app(backend).await;
        let id = app.create_user("alice@example.com").await;
        let first = app.session("alice@example.com", PASSWORD).await;
        let sid = claims_sid(&app, &first.access).await;

        let body = assert_token_answer(app.refresh_form(&first.refresh).await).await;
        assert_eq!(body["refresh_expires_in"], 14 * 24 * 3600);
        let second = pair(body);
        assert_ne!(second.refresh, first.refresh);
        assert_eq!(claims_sid(&app, &second.access).await, sid, "same session");
        let me = app.me(&second.access).await;
        assert_eq!(me.status(), 200);
        let me: Value = me.json().await.unwrap();
        assert_eq!(me["id"], id);
        assert_eq!(me["email"], "alice@example.com");
        assert!(me["created_at"].is_string());

        // The old refresh token stopped working; the new one works, as JSON too.
        assert_refused(app.refresh_form(&first.refresh).await).await;
        let resp = app.refresh_json(&second.refresh).await;
        assert_eq!(resp.status(), 200);
        let third = pair(resp.json().await.unwrap());
        assert_eq!(app.me(&third.access).await.status(), 200);
    }

    async fn a_duplicate_within_the_grace_period_does_not_end_the_session(backend) {
        let app = spawn_app(backend).await;
        app.create_user("alice@example.com").await;
        let first = app.session("alice@example.com", PASSWORD).await;
        let resp = app.refresh_form(&first.refresh).await;
        assert_eq!(resp.status(), 200);
        let second = pair(resp.json().await.unwrap());
        // A second tab sends the same token a moment later: refused, nothing else happens.
        assert_refused(app.refresh_form(&first.refresh).await).await;
        assert_eq!(app.me(&second.access).await.status(), 200);
        assert_eq!(app.me(&first.access).await.status(), 200);
        assert_eq!(app.refresh_form(&second.refresh).await.status(), 200);
    }

    async fn a_reused_refresh_token_ends_the_whole_session(backend) {
        let app = spawn_app_with(backend, |c| c.refresh_reuse_grace_seconds = 0).await;
        app.create_user("alice@example.com").await;
        let other = app.session("alice@example.com", PASSWORD).await;
        let first = app.session("alice@example.com", PASSWORD).await;
        let resp = app.refresh_form(&first.refresh).await;
        assert_eq!(resp.status(), 200);
        let second = pair(resp.json().await.unwrap());
        actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;

        // The rotated token comes back after the grace period: taken as stolen.
        assert_refused(app.refresh_form(&first.refresh).await).await;
        // The session is over: its current refresh token and all its access tokens.
        assert_refused(app.refresh_form(&second.refresh).await).await;
        assert_refused(app.me(&second.access).await).await;
        assert_refused(app.me(&first.access).await).await;
        let sid = claims_sid(&app, &second.access).await;
        let feed = app.ended("").await;
        assert!(feed["ended"].as_array().unwrap().iter().any(|e| e["sid"] == sid.as_str()));
        // Other sessions of the user are not touched.
        assert_eq!(app.me(&other.access).await.status(), 200);
        assert_eq!(app.refresh_form(&other.refresh).await.status(), 200);
    }

    async fn sixteen_concurrent_refreshes_with_one_token_get_exactly_one_200(backend) {
        let app = spawn_app(backend).await;
        app.create_user("alice@example.com").await;
        let first = app.session("alice@example.com", PASSWORD).await;
        let responses = futures_util::future::join_all(
            (0..16).map(|_| app.refresh_form(&first.refresh)),
        )
        .await;
        let mut winners = Vec::new();
        for resp in responses {
            match resp.status().as_u16() {
                200 => winners.push(pair(resp.json().await.unwrap())),
                401 => assert_refused(resp).await,
                other => panic!("unexpected status {other}: {}", resp.text().await.unwrap()),
            }
        }
        assert_eq!(winners.len(), 1, "exactly one refresh wins");
        // The losers were within the grace period: the session goes on.
        assert_eq!(app.me(&winners[0].access).await.status(), 200);
        assert_eq!(app.refresh_form(&winners[0].refresh).await.status(), 200);
    }

    async fn logout_ends_this_session_and_scope_all_ends_every_session(backend) {
        let app = spawn_app(backend).await;
        app.create_user("alice@example.com").await;
        app.create_user("bob@example.com").await;
        let a = app.session("alice@example.com", PASSWORD).await;
        let b = app.session("alice@example.com", PASSWORD).await;
        let bob = app.session("bob@example.com", PASSWORD).await;

        assert_refused(app.logout("not-a-token", "").await).await;
        let resp = app.logout(&a.access, "").await;
        assert_eq!(resp.status(), 204);
        assert!(resp.bytes().await.unwrap().is_empty());
        assert_refused(app.me(&a.access).await).await;
        assert_refused(app.refresh_form(&a.refresh).await).await;
        assert_refused(app.logout(&a.access, "").await).await;
        assert_eq!(app.me(&b.access).await.status(), 200, "the other session lives on");

        let c = app.session("alice@example.com", PASSWORD).await;
        let resp = app.logout(&c.access, "?scope=everything").await;
        assert_eq!(resp.status(), 422);
        assert_eq!(app.logout(&c.access, "?scope=all").await.status(), 204);
        for s in [&b, &c] {
            assert_refused(app.me(&s.access).await).await;
            assert_refused(app.refresh_form(&s.refresh).await).await;
        }
        // Another user's sessions are not touched.
        assert_eq!(app.me(&bob.access).await.status(), 200);
        // Logging in again starts a fresh session.
        let d = app.session("alice@example.com", PASSWORD).await;
        assert_eq!(app.me(&d.access).await.status(), 200);
    }

    async fn a_password_change_ends_the_other_sessions(backend) {
        let app = spawn_app(backend).await;
        app.create_user("alice@example.com").await;
        let kept = app.session("alice@example.com", PASSWORD).await;
        let other = app.session("alice@example.com", PASSWORD).await;

        let resp = app.change_password(&kept.access, "wrong-password", "new-password-1").await;
        assert_eq!(resp.status(), 403);
        assert_eq!(detail(resp).await, "Invalid Credentials");
        let resp = app.change_password(&kept.access, PASSWORD, "short").await;
        assert_eq!(resp.status(), 422);
        assert_eq!(detail(resp).await[0]["loc"], json!(["body", "new_password"]));
        let resp = app.change_password(&kept.access, PASSWORD, &"x".repeat(73)).await;
        assert_eq!(resp.status(), 422);
        assert_eq!(app.me(&other.access).await.status(), 200, "failed changes end nothing");

        let resp = app.change_password(&kept.access, PASSWORD, "new-password-1").await;
        assert_eq!(resp.status(), 204);
        assert_refused(app.me(&other.access).await).await;
        assert_refused(app.refresh_form(&other.refresh).await).await;
        assert_eq!(app.me(&kept.access).await.status(), 200, "the caller's session lives on");
        assert_eq!(app.refresh_form(&kept.refresh).await.status(), 200);
        assert_eq!(app.login("alice@example.com", PASSWORD).await.status(), 403);
        assert_eq!(app.login("alice@example.com", "new-password-1").await.status(), 200);
    }

    async fn a_wrong_current_password_counts_against_the_session_not_the_account(backend) {
        let app = spawn_app_with(backend, |c| c.login_max_failures = 3).await;
        app.create_user("alice@example.com").await;
        let s = app.session("alice@example.com", PASSWORD).await;
        for _ in 0..3 {
            let resp = app.change_password(&s.access, "wrong-password", "new-password-1").await;
            assert_eq!(resp.status(), 403);
        }
        let resp = app.change_password(&s.access, PASSWORD, "new-password-1").await;
        assert_eq!(resp.status(), 429);
        assert!(resp.headers().contains_key("retry-after"));
        // The account is not locked by it, and another session of the owner still changes it.
        let other = app.session("alice@example.com", PASSWORD).await;
        let resp = app.change_password(&other.access, PASSWORD, "new-password-1").await;
        assert_eq!(resp.status(), 204);
    }

    async fn an_expired_refresh_token_gets_401(backend) {
        let app = spawn_app(backend).await;
        app.create_user("alice@example.com").await;
        let s = app.session("alice@example.com", PASSWORD).await;
        app.sql("UPDATE refresh_tokens SET expires_at = '2000-01-01 00:00:00'");
        assert_refused(app.refresh_form(&s.refresh).await).await;
        assert_refused(app.refresh_json(&s.refresh).await).await;
    }

    async fn every_bad_refresh_token_gets_the_same_401_and_missing_fields_422(backend) {
        let app = spawn_app(backend).await;
        assert_refused(app.refresh_form("garbage").await).await;
        assert_refused(app.refresh_json(&"A".repeat(43)).await).await;
        assert_refused(app.refresh_json("").await).await;
        let resp = app.post_form("/token/refresh", &[("x", "y")]).await;
        assert_eq!(resp.status(), 422);
        assert_eq!(detail(resp).await[0]["loc"], json!(["body", "refresh_token"]));
        let resp = app.post_form("/token/refresh/", &[("grant_type", "password"), ("refresh_token", "x")]).await;
        assert_eq!(resp.status(), 422);
    }

    async fn ended_sessions_stay_ended_after_a_restart_of_auth(backend) {
        let first = spawn_app(backend).await;
        first.create_user("alice@example.com").await;
        let ended = first.session("alice@example.com", PASSWORD).await;
        let live = first.session("alice@example.com", PASSWORD).await;
        assert_eq!(first.logout(&ended.access, "").await.status(), 204);

        let second = first.replica().await;
        assert_refused(second.get("/users/me", Some(&ended.access)).await).await;
        assert_eq!(second.get("/users/me", Some(&live.access)).await.status(), 200);
        let resp = second.request(Method::POST, "/token/refresh", None)
            .form(&[("refresh_token", ended.refresh.as_str())]).send().await.unwrap();
        assert_refused(resp).await;
        let feed: Value = second.get("/sessions/ended", None).await.json().await.unwrap();
        let sid = claims_sid(&first, &ended.access).await;
        assert!(feed["ended"].as_array().unwrap().iter().any(|e| e["sid"] == sid.as_str()));
    }

    async fn the_feed_lists_ended_sessions_until_their_last_access_token_expires(backend) {
        let app = spawn_app(backend).await;
        app.create_user("alice@example.com").await;
        let before = app.ended("").await;
        assert_eq!(before["ended"], json!([]));
        let now = before["now"].as_i64().unwrap();
        let s = app.session("alice@example.com", PASSWORD).await;
        let resp = app.refresh_form(&s.refresh).await;
        let refreshed = pair(resp.json().await.unwrap());
        let c = claims(&app, &refreshed.access).await;
        assert_eq!(app.logout(&refreshed.access, "").await.status(), 204);

        let feed = app.ended(&format!("?since={now}")).await;
        assert_eq!(
            feed["ended"],
            json!([{ "sid": c.sid.clone().unwrap(), "until": c.exp }]),
            "until is the expiry of the session's newest access token"
        );
        assert!(feed["now"].as_i64().unwrap() >= now);
        // Asking from a later second leaves it out; a bad `since` is a 422.
        let later = app.ended(&format!("?since={}", feed["now"].as_i64().unwrap() + 2)).await;
        assert_eq!(later["ended"], json!([]));
        assert_eq!(app.get("/sessions/ended?since=yesterday").await.status(), 422);
        // Once its last access token has expired, it leaves the feed.
        app.sql("UPDATE sessions SET access_until = '2000-01-01 00:00:00'");
        assert_eq!(app.ended("").await["ended"], json!([]));
    }

    async fn with_a_feed_secret_the_feed_answers_only_its_holders(backend) {
        let secret = "a-feed-secret-shared-with-posts-0123456789";
        let app = spawn_app_with(backend, |c| {
            c.feed_secret.sessions_feed_secret = Some(secret.into());
        })
        .await;
        app.create_user("alice@example.com").await;
        let s = app.session("alice@example.com", PASSWORD).await;
        assert_eq!(app.logout(&s.access, "").await.status(), 204);
        // Without it, with another secret, or with a user's own access token: 401, as a
        // bad token gets anywhere.
        for auth in [None, Some("Bearer a-feed-secret-shared-with-posts-012345678"), Some("Basic x")] {
            let mut req = app.request(Method::GET, "/sessions/ended");
            if let Some(auth) = auth {
                req = req.header("Authorization", auth);
            }
            assert_refused(req.send().await.unwrap()).await;
        }
        assert_refused(app.api.get("/sessions/ended", Some(&s.access)).await).await;
        let resp = app
            .request(Method::GET, "/sessions/ended")
            .bearer_auth(secret)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let feed: Value = resp.json().await.unwrap();
        assert_eq!(feed["ended"].as_array().unwrap().len(), 1, "{feed}");
    }

    async fn a_login_past_the_session_limit_ends_the_oldest_session(backend) {
        let app = spawn_app_with(backend, |c| c.max_sessions_per_user = 3).await;
        app.create_user("alice@example.com").await;
        app.create_user("bob@example.com").await;
        let bobs = app.session("bob@example.com", PASSWORD).await;
        let mut pairs = Vec::new();
        for _ in 0..5 {
            pairs.push(app.session("alice@example.com", PASSWORD).await);
        }
        // The two oldest ended: their refresh tokens and (on auth) access tokens are refused;
        // the three newest and other users' sessions live on.
        for old in &pairs[..2] {
            assert_refused(app.refresh_form(&old.refresh).await).await;
            assert_refused(app.me(&old.access).await).await;
        }
        for live in &pairs[2..] {
            assert_eq!(app.me(&live.access).await.status(), 200);
        }
        assert_eq!(app.refresh_form(&bobs.refresh).await.status(), 200);
        // Evicted sessions are not listed in the feed (their last access tokens just expire),
        // so a logout everywhere lists at most the limit.
        let now = app.ended("").await["now"].as_i64().unwrap();
        assert_eq!(app.ended("").await["ended"], json!([]));
        assert_eq!(app.logout(&pairs[4].access, "?scope=all").await.status(), 204);
        let feed = app.ended(&format!("?since={}", now - 5)).await;
        assert_eq!(feed["ended"].as_array().unwrap().len(), 3, "{feed}");
    }

    async fn tokens_minted_outside_a_session_still_read_the_account(backend) {
        // As before sessions existed: a token without `sid` cannot be ended, and is accepted.
        let app = spawn_app_with(backend, |c| {
            std::fs::write(&c.jwt_private_key_file, shared_claims::testing::TEST_ED25519_PRIVATE_PEM)
                .unwrap();
        })
        .await;
        let id = app.create_user("alice@example.com").await;
        let token = shared_claims::testing::encode_for_testing(
            &shared_claims::testing::claims_for_testing(id, "alice@example.com", 300),
            &shared_claims::testing::test_signing_key(),
        );
        assert_eq!(app.me(&token).await.status(), 200);
        assert_eq!(app.logout(&token, "").await.status(), 204);
    }

    async fn the_openapi_document_shows_the_session_endpoints(backend) {
        let app = spawn_app(backend).await;
        let doc: Value = app.get("/openapi.json").await.json().await.unwrap();
        for (path, method) in [
            ("/token/refresh", "post"),
            ("/logout", "post"),
            ("/users/me", "get"),
            ("/users/me/password", "put"),
            ("/sessions/ended", "get"),
        ] {
            assert!(doc["paths"][path][method].is_object(), "{method} {path} missing");
        }
        let token = &doc["components"]["schemas"]["Token"]["properties"];
        assert!(token["refresh_token"].is_object() && token["refresh_expires_in"].is_object());
    }

    async fn a_published_key_file_that_cannot_be_read_stops_start_up(backend) {
        let db = service_kit::testing::TestDatabase::create(backend, "auth");
        let dir = tempfile::tempdir().unwrap();
        let mut config = crate::helpers::test_config(&db, &dir);
        config.jwt_published_key_files = vec![dir.path().join("missing.pem")];
        let err = auth_service::Application::build(config.clone()).await.err().unwrap().to_string();
        assert!(err.contains("JWT_PUBLISHED_KEY_FILES") && err.contains("missing.pem"), "{err}");
        std::fs::write(dir.path().join("bad.pem"), "not a key").unwrap();
        config.jwt_published_key_files = vec![dir.path().join("bad.pem")];
        let err = auth_service::Application::build(config).await.err().unwrap().to_string();
        assert!(err.contains("bad.pem"), "{err}");
    }

    async fn the_jwks_publishes_the_extra_keys_with_a_bounded_max_age(backend) {
        let dir = tempfile::tempdir().unwrap();
        let next = SigningKey::generate().unwrap();
        let previous = SigningKey::generate().unwrap();
        let next_file = dir.path().join("next.pem");
        let previous_file = dir.path().join("previous-public.pem");
        std::fs::write(&next_file, next.to_pkcs8_pem()).unwrap();
        std::fs::write(&previous_file, previous.public_key_pem()).unwrap();
        let app = spawn_app_with(backend, |c| {
            c.jwt_published_key_files = vec![next_file.clone(), previous_file.clone()];
            c.jwks_max_age_seconds = 5;
        })
        .await;
        let resp = app.get("/.well-known/jwks.json").await;
        assert_eq!(resp.headers()["cache-control"], "public, max-age=5");
        let jwks: Value = resp.json().await.unwrap();
        let kids: Vec<&str> = jwks["keys"].as_array().unwrap().iter()
            .map(|k| k["kid"].as_str().unwrap()).collect();
        assert_eq!(kids.len(), 3);
        assert!(kids.contains(&next.kid()) && kids.contains(&previous.kid()));
        assert!(jwks["keys"].as_array().unwrap().iter().all(|k| k.get("d").is_none()));
        // Tokens are still signed with the signing key, whose kid is listed first.
        app.create_user("alice@example.com").await;
        let token = app.token("alice@example.com", PASSWORD).await;
        let header = jsonwebtoken_kid(&token);
        assert_eq!(header, kids[0]);
        assert_ne!(header, next.kid());

        // The default is a minute, well under five.
        let plain = spawn_app(backend).await;
        assert_eq!(plain.get("/.well-known/jwks.json").await.headers()["cache-control"], "public, max-age=60");
    }
}

async fn claims_sid(app: &TestApp, token: &str) -> String {
    claims(app, token).await.sid.unwrap()
}

/// The `kid` of a token's header.
fn jsonwebtoken_kid(token: &str) -> String {
    use base64::Engine;
    let header = token.split('.').next().unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .unwrap();
    let header: Value = serde_json::from_slice(&bytes).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}
