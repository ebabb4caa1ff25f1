//! Request bodies read at a minimum pace, so a client trickling bytes
//! cannot hold a connection (and a worker's memory) for as long as it likes.

use std::time::Duration;

use actix_web::web;
use futures_util::StreamExt;

use super::error::ProtocolError;

/// A small body (registration) read whole, at most `limit` bytes, at the
/// pace every body must keep.
pub(super) async fn read_small_body(
    payload: web::Payload,
    limit: usize,
) -> Result<Vec<u8>, ProtocolError> {
    let mut body = Vec::new();
    let mut paced = PacedBody::new(payload);
    while let Some(chunk) = paced.next().await? {
        if body.len() + chunk.len() > limit {
            return Err(ProtocolError::TooLarge(
                "Registration body too large".into(),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A push body must keep moving: at least `MIN_BYTES_PER_WINDOW` in every
/// `BODY_WINDOW`. Generous for the worst field links (a 2G link moves that
/// in about a second), fatal for a client trickling a byte a second to hold
/// the connection.
pub const BODY_WINDOW: Duration = Duration::from_secs(30);
pub const MIN_BYTES_PER_WINDOW: usize = 1024;

/// A request body read chunk by chunk at the pace above.
pub(super) struct PacedBody<S> {
    stream: S,
    window_start: tokio::time::Instant,
    bytes: usize,
}

impl<S, E> PacedBody<S>
where
    S: futures_util::Stream<Item = Result<web::Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    pub(super) fn new(stream: S) -> PacedBody<S> {
        PacedBody {
            stream,
            window_start: tokio::time::Instant::now(),
            bytes: 0,
        }
    }

    /// The next chunk, `None` at the end; 408 when the body stalls, 400
    /// when it cannot be read.
    pub(super) async fn next(&mut self) -> Result<Option<web::Bytes>, ProtocolError> {
        loop {
            let window_end = self.window_start + BODY_WINDOW;
            match tokio::time::timeout_at(window_end, self.stream.next()).await {
                Err(_elapsed) => self.window_over()?,
                Ok(None) => return Ok(None),
                Ok(Some(Err(e))) => {
                    return Err(ProtocolError::BadRequest(format!(
                        "The body could not be read: {e}"
                    )));
                }
                Ok(Some(Ok(chunk))) => {
                    self.bytes += chunk.len();
                    if tokio::time::Instant::now() >= window_end {
                        self.window_over()?;
                    }
                    return Ok(Some(chunk));
                }
            }
        }
    }

    /// A window ended: enough arrived, or the client is too slow.
    fn window_over(&mut self) -> Result<(), ProtocolError> {
        if self.bytes < MIN_BYTES_PER_WINDOW {
            return Err(ProtocolError::TooSlow(format!(
                "The body arrived too slowly (less than {MIN_BYTES_PER_WINDOW} bytes in {} s)",
                BODY_WINDOW.as_secs()
            )));
        }
        self.window_start = tokio::time::Instant::now();
        self.bytes = 0;
        Ok(())
    }
}
