//! Swagger UI at `/docs` works offline: served from the binaries, rendered by Debian's
//! headless Chromium, listing every operation of each service's OpenAPI document.

use std::process::Command;

use serde_json::Value;

use crate::helpers::spawn_stack;
use crate::processes::tool_available;

const CHROMIUM: &str = "/usr/bin/chromium";

/// The rendered DOM of `url`, after its scripts ran.
fn render(url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=15000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "chromium: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[actix_web::test]
async fn swagger_ui_lists_every_operation_of_both_services_in_headless_chromium() {
    if !tool_available(CHROMIUM, "Chromium") {
        return;
    }
    let stack = spawn_stack(service_kit::Backend::Sqlite).await;
    for base in [stack.auth_url().to_owned(), stack.posts_url().to_owned()] {
        // Nothing is loaded from elsewhere: the page and its scripts come from the binary.
        let page = stack
            .client()
            .get(format!("{base}/docs/"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            !page.contains("https://") && !page.contains("http://"),
            "docs page loads nothing remote"
        );

        let spec: Value = stack
            .client()
            .get(format!("{base}/openapi.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let url = format!("{base}/docs/");
        let dom = actix_web::rt::task::spawn_blocking(move || render(&url))
            .await
            .unwrap();
        let mut operations = 0;
        for (path, item) in spec["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                operations += 1;
                assert!(
                    dom.contains(&format!("data-path=\"{path}\"")),
                    "{base}/docs does not list {method} {path}"
                );
                assert!(
                    dom.contains(&format!("opblock-{method}")),
                    "{base}/docs lacks a {method} operation"
                );
            }
        }
        assert!(operations >= 4, "{base} documents {operations} operations");
    }
}
