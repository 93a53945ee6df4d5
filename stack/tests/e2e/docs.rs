//! Swagger UI at `/docs` works offline: served from the binaries, rendered by Debian's
//! headless Chromium, listing every operation of each service's OpenAPI document.

use reqwest::Method;
use serde_json::{json, Value};
use test_support::ApiClient;

use crate::browser::{headless_chromium, CHROMIUM};
use crate::helpers::{assert_succeeded, auth_env, posts_env, spawn_stack, PASSWORD};
use crate::processes::tool_available;

/// The rendered DOM of `url`, after its scripts ran.
fn render(url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = headless_chromium(profile.path())
        .args(["--virtual-time-budget=15000", "--dump-dom"])
        .arg(url)
        .output()
        .unwrap();
    assert_succeeded(&out, "chromium");
    String::from_utf8(out.stdout).unwrap()
}

#[actix_web::test]
async fn swagger_ui_lists_every_operation_of_both_services_in_headless_chromium() {
    if !tool_available(CHROMIUM, "Chromium") {
        return;
    }
    let stack = spawn_stack(service_kit::Backend::Sqlite).await;
    for api in [stack.auth(), stack.posts()] {
        let base = api.base_url();
        // Nothing is loaded from elsewhere: the page and its scripts come from the binary.
        let page = api.get("/docs/", None).await.text().await.unwrap();
        assert!(
            !page.contains("https://") && !page.contains("http://"),
            "docs page loads nothing remote"
        );

        let spec: Value = api.get("/openapi.json", None).await.json().await.unwrap();
        let url = api.url("/docs/");
        let dom = actix_web::rt::task::spawn_blocking(move || render(&url))
            .await
            .unwrap();
        let mut operations = 0;
        for (path, item) in spec["paths"].as_object().unwrap() {
            let methods = item.as_object().unwrap().keys();
            assert!(
                dom.contains(&format!("data-path=\"{path}\"")),
                "{base}/docs does not list {path} ({methods:?})"
            );
            for method in methods {
                operations += 1;
                assert!(
                    dom.contains(&format!("opblock-{method}")),
                    "{base}/docs lacks a {method} operation"
                );
            }
        }
        assert!(operations >= 4, "{base} documents {operations} operations");
    }
}

/// The name of the gateway document's security scheme: FastAPI's, for the same button.
const GATEWAY_SCHEME: &str = "OAuth2PasswordBearer";

/// Paths the services document that the gateway deliberately does not route: the feed of
/// ended sessions is for the posts replicas, which read it from auth directly.
const NOT_AT_THE_GATEWAY: &[&str] = &["/sessions/ended"];

/// The gateway's OpenAPI document: both services' documents merged into one, their `bearer`
/// scheme replaced by an OAuth2 password flow against the gateway's `/login`, so that Swagger
/// UI's Authorize button asks for an email and a password (as the course's /docs does).
pub fn gateway_openapi() -> Value {
    use utoipa::OpenApi;
    let auth = serde_json::to_value(auth_service::openapi::ApiDoc::openapi()).unwrap();
    let posts = serde_json::to_value(posts_service::openapi::ApiDoc::openapi()).unwrap();
    let mut doc = json!({
        "openapi": posts["openapi"],
        "info": {
            "title": "posts API",
            "description": "The whole API behind the gateway: users, login and keys (auth-service), posts and votes (posts-service). Authorize logs in through /login.",
            "version": posts["info"]["version"],
        },
        "paths": {},
        "components": {
            "schemas": {},
            "securitySchemes": {
                GATEWAY_SCHEME: {
                    "type": "oauth2",
                    "flows": { "password": { "tokenUrl": "/login", "scopes": {} } }
                }
            }
        }
    });
    for service in [&auth, &posts] {
        for (path, item) in service["paths"].as_object().unwrap() {
            if NOT_AT_THE_GATEWAY.contains(&path.as_str()) {
                continue;
            }
            let mut item = item.clone();
            for operation in item.as_object_mut().unwrap().values_mut() {
                if let Some(requirements) =
                    operation.get_mut("security").and_then(Value::as_array_mut)
                {
                    for requirement in requirements {
                        let requirement = requirement.as_object_mut().unwrap();
                        if let Some(scopes) = requirement.remove("bearer") {
                            requirement.insert(GATEWAY_SCHEME.to_owned(), scopes);
                        }
                        assert!(
                            requirement.keys().all(|k| k == GATEWAY_SCHEME),
                            "{path}: unknown security scheme in {requirement:?}"
                        );
                    }
                }
            }
            let previous = doc["paths"]
                .as_object_mut()
                .unwrap()
                .insert(path.clone(), item);
            assert!(previous.is_none(), "both services document {path}");
        }
        for (name, schema) in service["components"]["schemas"]
            .as_object()
            .into_iter()
            .flatten()
        {
            let schemas = doc["components"]["schemas"].as_object_mut().unwrap();
            if let Some(existing) = schemas.get(name) {
                assert_eq!(
                    existing, schema,
                    "schema {name} differs between the services"
                );
            }
            schemas.insert(name.clone(), schema.clone());
        }
    }
    doc
}

fn gateway_openapi_file() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/gateway/docs/openapi.json")
}

#[test]
fn the_gateway_document_is_both_services_documents_merged() {
    let expected = serde_json::to_string_pretty(&gateway_openapi()).unwrap() + "\n";
    let path = gateway_openapi_file();
    if std::env::var_os("UPDATE_GATEWAY_OPENAPI").is_some() {
        std::fs::write(&path, &expected).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == expected,
        "{} is not both services' documents merged; regenerate it with\n  \
         UPDATE_GATEWAY_OPENAPI=1 cargo test -p stack --test e2e the_gateway_document",
        path.display()
    );
}

/// What the gateway's Swagger page does when a user authorizes with `email` and `password`,
/// then tries `GET /posts/`: the status and body Swagger UI shows.
const AUTHORIZE_AND_LIST_POSTS: &str = r#"
(async (email, password) => {
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  const until = async (what, f, ms = 30000) => {
    const end = Date.now() + ms;
    for (;;) {
      const v = f();
      if (v) return v;
      if (Date.now() > end) throw new Error('timed out waiting for ' + what);
      await sleep(100);
    }
  };
  // React listens for input events and reads the value through the prototype's setter.
  const type = (el, v) => {
    Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set.call(el, v);
    el.dispatchEvent(new Event('input', { bubbles: true }));
    el.dispatchEvent(new Event('change', { bubbles: true }));
  };
  const button = (root, text) =>
    [...root.querySelectorAll('button')].find(b => b.textContent.trim() === text);

  (await until('the Authorize button', () => document.querySelector('button.btn.authorize'))).click();
  type(await until('the username field', () => document.querySelector('.modal-ux #oauth_username')), email);
  type(document.querySelector('.modal-ux #oauth_password'), password);
  button(document.querySelector('.modal-ux'), 'Authorize').click();
  await until('the login', () => {
    const modal = document.querySelector('.modal-ux');
    const errors = modal.querySelector('.errors');
    if (errors && errors.textContent.trim()) throw new Error('authorize failed: ' + errors.textContent);
    return button(modal, 'Logout');
  });
  button(document.querySelector('.modal-ux'), 'Close').click();

  const op = await until('GET /posts/', () => [...document.querySelectorAll('.opblock-get')]
    .find(o => o.querySelector('[data-path="/posts/"]')));
  (op.querySelector('.opblock-summary-control') || op.querySelector('.opblock-summary')).click();
  (await until('Try it out', () => op.querySelector('.try-out__btn'))).click();
  (await until('Execute', () => op.querySelector('button.execute'))).click();
  const status = await until('the response', () =>
    op.querySelector('.live-responses-table tr.response .response-col_status'));
  const body = op.querySelector('.live-responses-table .response-col_description pre');
  return { status: status.textContent.trim(), body: body ? body.textContent : '' };
})
"#;

/// In a headless browser on `docs_url`: authorize with `email`/`password` through the
/// Authorize button, then run `GET /posts/`; returns what the page shows.
pub fn authorize_and_list_posts(docs_url: &str, email: &str, password: &str) -> Value {
    let mut browser = crate::browser::Browser::open(docs_url);
    browser.eval(&format!(
        "{AUTHORIZE_AND_LIST_POSTS}({}, {})",
        json!(email),
        json!(password)
    ))
}

#[actix_web::test]
async fn the_gateway_swagger_page_authorizes_through_login_and_lists_posts_in_chromium() {
    use crate::gateway::{free_port, start_nginx};
    use crate::processes::start_service;
    if !tool_available(CHROMIUM, "Chromium") || !tool_available(crate::gateway::NGINX, "nginx") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let auth = start_service(
        "auth-service",
        &auth_env(dir.path(), format!("sqlite://{d}/auth.db")),
    );
    let posts = start_service(
        "posts-service",
        &posts_env(format!("sqlite://{d}/posts.db"), auth.port()),
    );
    let port = free_port();
    let _nginx = start_nginx(dir.path(), port, &[auth.port()], &[posts.port()]);
    let api = ApiClient::new(format!("http://127.0.0.1:{port}"));
    let mut ready = false;
    for _ in 0..100 {
        let answer = api.request(Method::GET, "/readyz", None).send().await;
        if answer.is_ok_and(|r| r.status() == 200) {
            ready = true;
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(ready, "the gateway's /readyz never answered 200");

    // A real account with a post, made through the gateway.
    let email = "swagger@example.com";
    api.create_user(email, PASSWORD).await;
    let token = api.token(email, PASSWORD).await;
    api.new_post(&token, "seen from swagger", "hi", true).await;

    // The gateway serves its merged document, and the page lists both services' operations.
    let served: Value = api.get("/openapi.json", None).await.json().await.unwrap();
    assert_eq!(served, gateway_openapi());
    assert!(served["paths"].get("/login").is_some() && served["paths"].get("/posts/").is_some());

    // The shared client follows no redirect: the 308 itself is what is checked.
    let redirect = api.get("/docs", None).await;
    assert_eq!(redirect.status(), 308);
    assert!(redirect.headers()["location"]
        .to_str()
        .unwrap()
        .ends_with("/docs/"));
    assert_eq!(api.get("/healthz", None).await.status(), 200);

    let url = api.url("/docs/");
    let shown = actix_web::rt::task::spawn_blocking(move || {
        authorize_and_list_posts(&url, email, PASSWORD)
    })
    .await
    .unwrap();
    assert_eq!(shown["status"], "200", "Swagger UI showed {shown}");
    assert!(
        shown["body"]
            .as_str()
            .unwrap()
            .contains("seen from swagger"),
        "Swagger UI showed {shown}"
    );
}
