//! The e2e tests drive the stack through [`stack::TestStack`], the harness other projects
//! use, so the harness is exercised by every test here.

use reqwest::Response;
use serde_json::Value;
use service_kit::Backend;
use stack::TestStack;

pub const PASSWORD: &str = "password123";

/// Both services on free ports, on fresh databases of `backend`.
pub async fn spawn_stack(backend: Backend) -> TestStack {
    TestStack::builder().backend(backend).start().await
}

/// The `detail` of an error response.
pub async fn detail(resp: Response) -> Value {
    resp.json::<Value>().await.unwrap()["detail"].clone()
}
