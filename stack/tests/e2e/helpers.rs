//! The e2e tests drive the stack through [`stack::TestStack`], the harness other projects
//! use, so the harness is exercised by every test here. Requests and answers go through the
//! shared client of the services' suites (`test_support`), which `TestStack` hands out.

use service_kit::Backend;
use stack::TestStack;

pub use test_support::{detail, PASSWORD};

/// Both services on free ports, on fresh databases of `backend`.
pub async fn spawn_stack(backend: Backend) -> TestStack {
    TestStack::builder().backend(backend).start().await
}
