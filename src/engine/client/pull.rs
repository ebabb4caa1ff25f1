//! `GET sync.xml`: the answer spooled to a temporary file, counting bytes.
//! A pull in time windows gives each answer a budget: an answer that would
//! take much longer than a window should is dropped as soon as that shows
//! (by its Content-Length, or by its first seconds on the wire), so the
//! window is asked again, smaller, before a cut can take it whole.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::header;
use tokio::io::AsyncWriteExt;

use super::resume::{ANSWER_HEADER, Partial};
use super::{Peer, PeerKind, SyncQuery, clock_skew};
use crate::engine::error::SyncError;
use crate::s3xml::{Format, lines};

/// A response body spooled to a file.
pub struct Spooled {
    pub file: std::fs::File,
    pub bytes: u64,
    pub gzip: bool,
    /// What the peer answered in (by its Content-Type).
    pub format: Format,
    /// The page size asked for: one page of a paged pull, not a whole table.
    pub asked: Option<u64>,
    /// How long the transfer took, from the request to the last byte.
    pub took: Duration,
    /// How long the body took, from its first byte to its last (a peer that
    /// builds its answer for a while before sending is not a slow link).
    pub body_took: Duration,
    /// Seconds the peer's clock is ahead of ours (from its `Date` header).
    pub clock_skew: Option<i64>,
}

/// How long one answer may take on the wire.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub time: Duration,
    /// What the link moved in earlier answers, when known: an answer whose
    /// announced length does not fit is dropped before its body comes.
    pub bytes_per_sec: Option<f64>,
}

/// What a budgeted pull got.
pub enum Answer {
    Spooled(Spooled),
    /// The answer would have taken longer than the budget: `length` is what
    /// the peer announced (when it did), `received` what came before it was
    /// dropped.
    TooLarge {
        length: Option<u64>,
        received: u64,
        /// How long what was received took, from the body's first byte.
        body_took: Duration,
        clock_skew: Option<i64>,
    },
    /// The link dropped in the middle of an answer the peer keeps: what
    /// came is kept, the rest can be asked for (`Peer::pull_rest`).
    Cut {
        partial: Partial,
        error: SyncError,
    },
}

/// How long an answer is watched before its pace decides whether it fits:
/// the first second of a slow link is mostly its latency.
const FIRST_LOOK: Duration = Duration::from_secs(2);

impl Peer {
    /// `GET sync.xml`, whatever its size.
    pub async fn pull(
        &self,
        query: &SyncQuery,
        bytes_in: &AtomicI64,
    ) -> Result<Spooled, SyncError> {
        match self.pull_within(query, bytes_in, None).await? {
            Answer::Spooled(spooled) => Ok(spooled),
            Answer::Cut { error, .. } => Err(error),
            // Without a budget nothing is too large.
            Answer::TooLarge { .. } => {
                unreachable!("an answer without a budget is never too large")
            }
        }
    }

    /// `GET sync.xml`: spool the answer, unless it would take longer than
    /// `budget` allows.
    pub async fn pull_within(
        &self,
        query: &SyncQuery,
        bytes_in: &AtomicI64,
        budget: Option<Budget>,
    ) -> Result<Answer, SyncError> {
        let url = self.sync_url(query);
        let started = Instant::now();
        let mut request = self.request(reqwest::Method::GET, &url);
        request = match self.kind {
            PeerKind::Edensync => request.header(header::ACCEPT_ENCODING, "gzip"),
            PeerKind::Eden => request.header(header::ACCEPT_ENCODING, "identity"),
        };
        if self.speaks_lines {
            // What the answer is in, its Content-Type says.
            request = request.header(
                header::ACCEPT,
                format!("{}, text/xml;q=0.5", lines::MEDIA_TYPE),
            );
        }
        let response = request.send().await.map_err(|e| self.transport_error(&e))?;
        let response = self.check(response).await?;
        let clock_skew = clock_skew(response.headers());
        let gzip = response
            .headers()
            .get(header::CONTENT_ENCODING)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
        let format = Format::of_content_type(
            response
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
        );
        let length = response.content_length();
        let token = response
            .headers()
            .get(ANSWER_HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|t| {
                !t.is_empty() && t.len() <= 64 && t.bytes().all(|b| b.is_ascii_alphanumeric())
            })
            .map(str::to_string);
        if let Some(budget) = budget
            && budget.announced_too_large(length)
        {
            return Ok(Answer::TooLarge {
                length,
                received: 0,
                body_took: Duration::ZERO,
                clock_skew,
            });
        }
        let mut spool = tokio::fs::File::from_std(tempfile::tempfile()?);
        let mut bytes: u64 = 0;
        let body_started = Instant::now();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(e) => {
                    let error = self.transport_error(&e);
                    let Some(token) = token.filter(|_| error.link_dropped && bytes > 0) else {
                        return Err(error);
                    };
                    spool.flush().await?;
                    let partial = Partial {
                        token,
                        spool: spool.into_std().await,
                        gzip,
                        format,
                        asked: query.limit,
                        clock_skew,
                    };
                    return Ok(Answer::Cut { partial, error });
                }
            };
            bytes += chunk.len() as u64;
            bytes_in.fetch_add(chunk.len() as i64, Ordering::Relaxed);
            spool.write_all(&chunk).await?;
            if let Some(budget) = budget
                && budget.falls_behind(length, bytes, body_started.elapsed())
            {
                return Ok(Answer::TooLarge {
                    length,
                    received: bytes,
                    body_took: body_started.elapsed(),
                    clock_skew,
                });
            }
        }
        spool.flush().await?;
        Ok(Answer::Spooled(Spooled {
            file: spool.into_std().await,
            bytes,
            gzip,
            format,
            asked: query.limit,
            took: started.elapsed(),
            body_took: body_started.elapsed(),
            clock_skew,
        }))
    }
}

impl Budget {
    /// The announced length cannot arrive in time at the link's known pace.
    fn announced_too_large(&self, length: Option<u64>) -> bool {
        match (length, self.bytes_per_sec) {
            (Some(length), Some(rate)) => length as f64 / rate > self.time.as_secs_f64(),
            _ => false,
        }
    }

    /// After its first look, the body's pace says it will not be done in
    /// time (or, with no length announced, the time is up). The time the
    /// peer took to build its answer before the first byte does not count.
    fn falls_behind(&self, length: Option<u64>, received: u64, body_time: Duration) -> bool {
        match length {
            Some(length) if body_time >= FIRST_LOOK && received < length => {
                let rate = received as f64 / body_time.as_secs_f64();
                let left = (length - received) as f64 / rate;
                body_time.as_secs_f64() + left > self.time.as_secs_f64()
            }
            Some(_) => false,
            None => body_time > self.time,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(rate: Option<f64>) -> Budget {
        Budget {
            time: Duration::from_secs(30),
            bytes_per_sec: rate,
        }
    }

    #[test]
    fn an_announced_length_is_judged_only_at_a_known_pace() {
        assert!(budget(Some(8_000.0)).announced_too_large(Some(300_000)));
        assert!(!budget(Some(8_000.0)).announced_too_large(Some(200_000)));
        assert!(!budget(None).announced_too_large(Some(300_000_000)));
        assert!(!budget(Some(8_000.0)).announced_too_large(None));
    }

    #[test]
    fn an_answer_falls_behind_by_its_pace_after_a_first_look() {
        let b = budget(None);
        let s = Duration::from_secs;
        // 1 s into the body: too early to tell.
        assert!(!b.falls_behind(Some(1_000_000), 8_000, s(1)));
        // 8 KB/s for a megabyte: two minutes.
        assert!(b.falls_behind(Some(1_000_000), 16_000, s(2)));
        // 100 KB/s for a megabyte: ten seconds.
        assert!(!b.falls_behind(Some(1_000_000), 200_000, s(2)));
        // Without a length, only the time counts.
        assert!(!b.falls_behind(None, 16_000, s(20)));
        assert!(b.falls_behind(None, 16_000, s(31)));
    }
}
