//! Every connection has a bounded life, and a process holds a bounded number of them.
//!
//! actix-http closes a connection after an answer sent before its request body was read,
//! except when the body is chunked and the handler has dropped it: then it keeps reading
//! ("draining") the rest of the body to reuse the connection, for as long as the client
//! takes, which for a client that sends one chunk and goes silent is forever (issue 22). No
//! actix setting changes that, so [`connection_guard`] keeps each request's body alive in the
//! connection's own data (until the connection's next request, or its end): when the answer
//! has been written, actix-http sees a body that is neither finished nor dropped and closes
//! the connection (after its `client_disconnect_timeout` linger, 1 s), as it does for a
//! `Content-Length` body, whatever made the answer (a handler, an extractor's refusal, a
//! middleware's error). A body read to its end is unaffected: its connection is kept alive
//! as before.
//!
//! [`ConnectionLimit`] counts the process's open connections (through the server's
//! `on_connect`); a request arriving on a connection opened beyond the limit is answered 503
//! `{"detail": "Too many connections"}` with `Retry-After: 1` and `Connection: close`, so
//! the client learns why and the socket goes at once (one that sends nothing is closed by the
//! 5 s head timeout). Each worker also stops accepting at the limit (actix's
//! `max_connections`), so beyond workers × limit new connections wait in the listen backlog.

use std::any::Any;
use std::cell::RefCell;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Extensions, Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::{header, ConnectionType, StatusCode};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::HttpMessage;
use futures_util::Stream;

/// The `detail` of the answer on a connection beyond the limit.
pub const TOO_MANY_CONNECTIONS_DETAIL: &str = "Too many connections";

/// The open connections of one server (all its workers), and how many it serves.
#[derive(Debug, Clone)]
pub struct ConnectionLimit {
    open: Arc<AtomicUsize>,
    limit: usize,
}

impl ConnectionLimit {
    pub fn new(limit: usize) -> ConnectionLimit {
        ConnectionLimit {
            open: Arc::new(AtomicUsize::new(0)),
            limit,
        }
    }

    /// The connections open now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// For `HttpServer::on_connect`: counts the connection for as long as it lives, and marks
    /// it when it is beyond the limit.
    pub fn on_connect(&self) -> impl Fn(&dyn Any, &mut Extensions) + Send + Sync + 'static {
        let open = Arc::clone(&self.open);
        let limit = self.limit;
        move |_, extensions| {
            let now = open.fetch_add(1, Ordering::Relaxed) + 1;
            extensions.insert(ConnectionSlot {
                open: Arc::clone(&open),
                beyond_limit: now > limit,
                request_body: RefCell::new(None),
            });
        }
    }
}

/// One connection's place in the count, given back when the connection ends (its data are
/// dropped with it), and the body of its latest request.
struct ConnectionSlot {
    open: Arc<AtomicUsize>,
    beyond_limit: bool,
    request_body: RefCell<Option<Rc<RefCell<Payload>>>>,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Middleware (`actix_web::middleware::from_fn(connection_guard)`): answers 503 on a
/// connection beyond the [`ConnectionLimit`], and keeps the request body alive until the
/// answer is written (see the module docs). Without connection data (a test service) it
/// only passes the request on.
pub async fn connection_guard(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let Some(slot) = req.conn_data::<ConnectionSlot>() else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    };
    let beyond_limit = slot.beyond_limit;
    let held = match req.take_payload() {
        Payload::None => None,
        body => {
            let shared = Rc::new(RefCell::new(body));
            let reader: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> =
                Box::pin(SharedPayload(Rc::clone(&shared)));
            req.set_payload(Payload::Stream { payload: reader });
            Some(shared)
        }
    };
    // The previous request's body (if any) was finished, or this request could not have
    // been read: it is let go here.
    if let Some(slot) = req.conn_data::<ConnectionSlot>() {
        *slot.request_body.borrow_mut() = held;
    }
    if beyond_limit {
        let mut refused = crate::error::detail_response(
            StatusCode::SERVICE_UNAVAILABLE,
            TOO_MANY_CONNECTIONS_DETAIL,
        );
        refused
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        refused
            .head_mut()
            .set_connection_type(ConnectionType::Close);
        return Ok(req.into_response(refused).map_into_right_body());
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

/// The request body, read through the handler's payload while this middleware keeps it too.
struct SharedPayload(Rc<RefCell<Payload>>);

impl Stream for SharedPayload {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut *self.0.borrow_mut()).poll_next(cx)
    }
}
