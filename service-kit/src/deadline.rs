//! A deadline on reading a request body.
//!
//! actix-web bounds the time to receive a request head (`client_request_timeout`, 5 s), and
//! its keep-alive and disconnect timeouts bound idle connections, but nothing bounds how long
//! a declared body may take to arrive: a client trickling a `Content-Length: 1000` body at a
//! byte a second holds its connection (and the handler reading it) for the whole 1000 s.
//! [`body_read_deadline`] gives each body [`BodyReadTimeout`] from the moment the handler
//! starts reading it; past that the read fails, the answer is 408 `{"detail": ...}` and the
//! connection is closed.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::HttpMessage;
use futures_util::Stream;

/// How long a handler may take to read a request body (app data; see the module docs).
#[derive(Debug, Clone, Copy)]
pub struct BodyReadTimeout(pub Duration);

/// The `detail` of the 408 answer.
pub const BODY_TIMEOUT_DETAIL: &str = "Request body not received in time";

/// Middleware (`actix_web::middleware::from_fn(body_read_deadline)`): applies the
/// [`BodyReadTimeout`] in the app data to the request's body (if it has one), and answers 408
/// `{"detail": ...}` with `Connection: close` when it ran out, whatever the handler made of
/// the failed read.
pub async fn body_read_deadline(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let timeout = req.app_data::<BodyReadTimeout>().map(|t| t.0);
    let expired = Rc::new(Cell::new(false));
    if let Some(timeout) = timeout {
        let payload = req.take_payload();
        let payload = match payload {
            Payload::None => Payload::None,
            body => {
                let deadline: BoxedBody = Box::pin(Deadline {
                    inner: body,
                    timeout,
                    timer: None,
                    expired: Rc::clone(&expired),
                    done: false,
                });
                Payload::Stream { payload: deadline }
            }
        };
        req.set_payload(payload);
    }
    let res = next.call(req).await?;
    if !expired.get() {
        return Ok(res.map_into_left_body());
    }
    let (req, _) = res.into_parts();
    let mut timed_out =
        crate::error::detail_response(StatusCode::REQUEST_TIMEOUT, BODY_TIMEOUT_DETAIL);
    // The rest of the body may still be on its way: the connection cannot carry another
    // request, so it is closed once the answer is sent.
    timed_out
        .head_mut()
        .set_connection_type(actix_web::http::ConnectionType::Close);
    Ok(ServiceResponse::new(req, timed_out).map_into_right_body())
}

/// The stream type of [`Payload::Stream`].
type BoxedBody = Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>>;

/// A body stream that fails once its time is up.
struct Deadline {
    inner: Payload,
    timeout: Duration,
    /// Started at the first read.
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    expired: Rc<Cell<bool>>,
    done: bool,
}

impl Stream for Deadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        let timeout = this.timeout;
        let timer = this
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(None) => {
                this.done = true;
                Poll::Ready(None)
            }
            Poll::Ready(Some(chunk)) => Poll::Ready(Some(chunk)),
            Poll::Pending => match timer.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    this.done = true;
                    this.expired.set(true);
                    Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "the request body was not received in time",
                    )))))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use actix_web::http::Method;
    use actix_web::{test, web, App, HttpResponse};
    use futures_util::StreamExt;

    use super::*;

    async fn read_all(mut body: web::Payload) -> HttpResponse {
        let mut n = 0;
        while let Some(chunk) = body.next().await {
            match chunk {
                Ok(chunk) => n += chunk.len(),
                Err(e) => return HttpResponse::UnprocessableEntity().body(e.to_string()),
            }
        }
        HttpResponse::Ok().body(n.to_string())
    }

    /// A POST whose body is `first` and then, when `stall`, nothing more, ever.
    fn post(first: &'static [u8], stall: bool) -> actix_http::Request {
        let first =
            futures_util::stream::once(
                async move { Ok::<_, PayloadError>(Bytes::from_static(first)) },
            );
        let payload: BoxedBody = if stall {
            Box::pin(first.chain(futures_util::stream::pending()))
        } else {
            Box::pin(first)
        };
        let mut req = actix_http::Request::with_payload(Payload::Stream { payload });
        req.head_mut().method = Method::POST;
        req.head_mut().uri = "/".parse().unwrap();
        req
    }

    #[actix_web::test]
    async fn a_body_that_stops_arriving_is_answered_408_with_detail_and_close() {
        let app = test::init_service(
            App::new()
                .app_data(BodyReadTimeout(Duration::from_millis(200)))
                .wrap(actix_web::middleware::from_fn(body_read_deadline))
                .route("/", web::post().to(read_all)),
        )
        .await;
        let started = std::time::Instant::now();
        let resp = test::call_service(&app, post(b"{\"partial\":", true)).await;
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(200) && took < Duration::from_secs(2),
            "{took:?}"
        );
        assert_eq!(resp.status(), StatusCode::REQUEST_TIMEOUT);
        assert_eq!(
            resp.response().head().connection_type(),
            actix_web::http::ConnectionType::Close
        );
        let body = test::read_body(resp).await;
        assert_eq!(
            &body[..],
            br#"{"detail":"Request body not received in time"}"#
        );

        // A body that arrives in time is read as usual.
        let resp = test::call_service(&app, post(b"{}", false)).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(&test::read_body(resp).await[..], b"2");
    }
}
