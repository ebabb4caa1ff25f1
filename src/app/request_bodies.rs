//! Request bodies on every route: they must keep a minimum pace (408
//! otherwise: a client trickling bytes cannot hold a connection for as long
//! as it likes), and they are compressed only where that is expected:
//! pushes (`sync.xml`), which spool them as they came and inflate them under
//! a size limit. Anywhere else a small gzip body would be inflated whole in
//! memory before any limit applied, so it is refused before it is read.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::{StatusCode, header};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{Error, HttpMessage, HttpResponse};
use futures_util::Stream;

use crate::api::body::{BODY_WINDOW, MIN_BYTES_PER_WINDOW};
use crate::api::error::eden_json;

pub async fn refuse_compressed_bodies(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let encoded = req
        .headers()
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .is_some_and(|e| !e.is_empty() && !e.eq_ignore_ascii_case("identity"));
    if !encoded || req.path().ends_with("/sync/sync.xml") {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let response = refusal(
        req.path(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "Compressed request bodies are accepted only for pushes to sync.xml",
    );
    Ok(req.into_response(response))
}

/// A refusal in the words of the route: Eden's JSON on the sync API, plain
/// text on the console.
pub fn refusal(path: &str, status: StatusCode, message: &str) -> HttpResponse {
    if path.contains("/sync/") {
        HttpResponse::build(status).json(eden_json(false, status.as_u16(), message))
    } else {
        HttpResponse::build(status)
            .content_type("text/plain; charset=utf-8")
            .body(message.to_string())
    }
}

/// Every request body keeps the minimum pace, whatever reads it: a body
/// that stalls ends the request with 408.
pub async fn pace_bodies(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let stalled = Rc::new(Cell::new(false));
    let paced = Paced {
        inner: req.take_payload(),
        window: Box::pin(tokio::time::sleep(BODY_WINDOW)),
        bytes: 0,
        stalled: Rc::clone(&stalled),
    };
    req.set_payload(Payload::from(
        Box::pin(paced) as Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>>
    ));
    let response = next.call(req).await?.map_into_boxed_body();
    if !stalled.get() {
        return Ok(response);
    }
    let message = format!(
        "The body arrived too slowly (less than {MIN_BYTES_PER_WINDOW} bytes in {} s)",
        BODY_WINDOW.as_secs()
    );
    let (request, _) = response.into_parts();
    let slow = refusal(request.path(), StatusCode::REQUEST_TIMEOUT, &message);
    Ok(ServiceResponse::new(request, slow))
}

/// A body stream that fails when a window passes with too few bytes.
struct Paced {
    inner: Payload,
    window: Pin<Box<tokio::time::Sleep>>,
    bytes: usize,
    stalled: Rc<Cell<bool>>,
}

impl Stream for Paced {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Poll::Ready(item) = Pin::new(&mut this.inner).poll_next(cx) {
            if let Some(Ok(chunk)) = &item {
                this.bytes += chunk.len();
            }
            return Poll::Ready(item);
        }
        if this.window.as_mut().poll(cx).is_ready() {
            if this.bytes < MIN_BYTES_PER_WINDOW {
                this.stalled.set(true);
                return Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "the body arrived too slowly",
                )))));
            }
            this.bytes = 0;
            let next = tokio::time::Instant::now() + BODY_WINDOW;
            this.window.as_mut().reset(next);
            // Registers the new deadline with the waker.
            let _ = this.window.as_mut().poll(cx);
        }
        Poll::Pending
    }
}
