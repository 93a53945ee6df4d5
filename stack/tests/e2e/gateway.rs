//! The gateway's own routing config (deploy/gateway) in Debian's nginx, on loopback, in front
//! of two auth and two posts processes sharing one PostgreSQL: the course flow through one
//! base URL, and a posts replica stopped mid-run without a GET failing.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::Method;
use serde_json::Value;
use service_kit::testing::TestDatabase;
use service_kit::Backend;
use test_support::ApiClient;

use crate::helpers::{assert_succeeded, auth_env, posts_env, PASSWORD};
use crate::processes::{start_service, tool_available};

pub const NGINX: &str = "/usr/sbin/nginx";

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct Nginx(std::process::Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Debian's nginx on loopback `port` with the gateway's routing (deploy/gateway) in front of
/// the given auth and posts ports.
pub fn start_nginx(dir: &Path, port: u16, auth: &[u16], posts: &[u16]) -> Nginx {
    let deploy = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy/gateway")
        .canonicalize()
        .unwrap();
    let upstream = |name: &str, ports: &[u16]| {
        let servers: String = ports
            .iter()
            .map(|p| format!("    server 127.0.0.1:{p} max_fails=1 fail_timeout=5s;\n"))
            .collect();
        format!("upstream {name} {{\n{servers}    keepalive 8;\n}}\n")
    };
    let d = dir.display();
    let conf = format!(
        "daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
         events {{}}\nhttp {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
         include {http};\n{auth}{posts}  server {{\n    listen 127.0.0.1:{port};\n    set $auth_upstream auth;\n    set $posts_upstream posts;\n    set $gateway_docs {docs};\n    include {routes};\n  }}\n}}\n",
        docs = deploy.join("docs").display(),
        http = deploy.join("http.conf").display(),
        routes = deploy.join("routes.conf").display(),
        auth = upstream("auth", auth),
        posts = upstream("posts", posts),
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf).unwrap();
    let check = Command::new(NGINX)
        .args(["-t", "-q", "-c"])
        .arg(&path)
        .output()
        .unwrap();
    assert_succeeded(&check, "nginx -t");
    let child = Command::new(NGINX)
        .arg("-c")
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Nginx(child)
}

#[actix_web::test]
async fn the_gateway_serves_the_course_flow_and_survives_a_posts_replica_stopping() {
    if !tool_available(NGINX, "nginx") || !service_kit::testing::postgres_tests_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let auth_db = TestDatabase::create(Backend::Postgres, "gw_auth");
    let posts_db = TestDatabase::create(Backend::Postgres, "gw_posts");

    // Two auth replicas start together on the empty database (the migration lock serialises them).
    let auth_env = auth_env(dir.path(), auth_db.url.clone());
    let (a1, a2) = std::thread::scope(|s| {
        let a = s.spawn(|| start_service("auth-service", &auth_env));
        let b = s.spawn(|| start_service("auth-service", &auth_env));
        (a.join().unwrap(), b.join().unwrap())
    });
    let mut posts_env = posts_env(posts_db.url.clone(), a1.port());
    posts_env.push(("SHUTDOWN_GRACE_SECONDS", "10".to_string()));
    let (p1, p2) = std::thread::scope(|s| {
        let a = s.spawn(|| start_service("posts-service", &posts_env));
        let b = s.spawn(|| start_service("posts-service", &posts_env));
        (a.join().unwrap(), b.join().unwrap())
    });
    let port = free_port();
    let _nginx = start_nginx(
        dir.path(),
        port,
        &[a1.port(), a2.port()],
        &[p1.port(), p2.port()],
    );
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    // Wait for nginx and both posts replicas' keys.
    for _ in 0..100 {
        let ready =
            futures_util::future::join_all([&p1, &p2].map(|p| client.get(p.url("/readyz")).send()))
                .await
                .iter()
                .all(|r| r.as_ref().is_ok_and(|r| r.status() == 200));
        if ready && client.get(format!("{base}/")).send().await.is_ok() {
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }

    // The course flow through one base URL.
    let api = ApiClient::with_client(&base, client.clone());
    api.create_user("gw@example.com", PASSWORD).await;
    let token = api.token("gw@example.com", PASSWORD).await;
    let post = api
        .new_post(&token, "through the gateway", "hi", true)
        .await;
    let id = post["id"].as_i64().unwrap();
    assert_eq!(api.vote(&token, id, 1).await.status(), 201);
    let jwks: Value = api
        .get("/.well-known/jwks.json", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
    let resp = api.get(&format!("/posts/{id}"), Some(&token)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap()["votes"], 1);
    assert!(api
        .get("/users/1", Some(&token))
        .await
        .status()
        .is_success());

    // GETs keep flowing while one posts replica is stopped mid-run.
    let reader = {
        let (api, token) = (api.clone(), token.clone());
        actix_web::rt::spawn(async move {
            let mut statuses = Vec::new();
            for _ in 0..300 {
                let batch = futures_util::future::join_all((0..4).map(|_| {
                    api.request(Method::GET, "/posts/?limit=5", Some(&token))
                        .send()
                }))
                .await;
                statuses.extend(
                    batch
                        .into_iter()
                        .map(|r| r.map(|r| r.status().as_u16()).unwrap_or(0)),
                );
                actix_web::rt::time::sleep(Duration::from_millis(5)).await;
            }
            statuses
        })
    };
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    p1.terminate();
    let statuses = reader.await.unwrap();
    assert_eq!(statuses.len(), 1200);
    let failed: Vec<_> = statuses.iter().filter(|s| **s != 200).collect();
    assert!(
        failed.is_empty(),
        "{} of 1200 GETs failed: {:?}",
        failed.len(),
        &failed[..failed.len().min(10)]
    );
    // The stopped replica finished its requests and exited cleanly.
    let mut p1 = p1;
    assert_eq!(p1.wait().code(), Some(0), "posts exit status after SIGTERM");
    drop(p2);
    drop((a1, a2));
}
