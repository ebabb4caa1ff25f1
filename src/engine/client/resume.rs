//! Going on with a pull answer the link cut. An edensync peer keeps the
//! last page it sent us until we ask for the next, and names it in
//! `X-Edensync-Answer`; after a cut the rest is asked for from the byte
//! where the answer stopped (`answer=TOKEN&offset=N`, N counted in the
//! answer as the peer wrote it, before its compression on the wire). What
//! came before is kept, so on a link that drops every minute a cut costs
//! the bytes in flight, not the page.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Instant;

use futures_util::StreamExt;
use reqwest::header;

use super::pull::{Answer, Spooled};
use super::{Peer, SyncQuery, clock_skew};
use crate::engine::error::SyncError;
use crate::s3xml::Format;

/// The token of a kept answer, on the answer.
pub(super) const ANSWER_HEADER: &str = "X-Edensync-Answer";
/// Where the rest of a kept answer starts, on the rest.
const OFFSET_HEADER: &str = "X-Edensync-Offset";

/// What came of an answer before the link dropped.
pub struct Partial {
    pub(super) token: String,
    /// The bytes as they came (gzip when the answer was).
    pub(super) spool: File,
    pub(super) gzip: bool,
    pub(super) format: Format,
    pub(super) asked: Option<u64>,
    pub(super) clock_skew: Option<i64>,
}

impl Partial {
    /// What came, as the peer wrote it (inflated when it came as gzip; a
    /// cut gzip stream yields what its complete blocks hold).
    fn plain(mut self) -> std::io::Result<(File, u64, Partial)> {
        self.spool.rewind()?;
        let mut plain = tempfile::tempfile()?;
        let length = if self.gzip {
            copy_inflated(&mut self.spool, &mut plain)?
        } else {
            std::io::copy(&mut self.spool, &mut plain)?
        };
        plain.flush()?;
        let rest = Partial {
            spool: tempfile::tempfile()?,
            gzip: false,
            ..self
        };
        Ok((plain, length, rest))
    }
}

/// Inflate `gzip` into `out` as far as it goes; the bytes written.
fn copy_inflated(gzip: &mut File, out: &mut File) -> std::io::Result<u64> {
    let mut decoder = flate2::read::GzDecoder::new(std::io::BufReader::new(gzip));
    let mut buffer = vec![0u8; 64 * 1024];
    let mut written = 0;
    loop {
        match decoder.read(&mut buffer) {
            Ok(0) => return Ok(written),
            Ok(n) => {
                out.write_all(&buffer[..n])?;
                written += n as u64;
            }
            // The cut: what came before it is all there is.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(written),
            Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => return Ok(written),
            Err(e) => return Err(e),
        }
    }
}

impl Peer {
    /// The rest of a cut answer. The peer no longer keeping it is an error
    /// that is not a dropped link: the caller asks for the page again.
    pub async fn pull_rest(
        &self,
        query: &SyncQuery,
        bytes_in: &AtomicI64,
        partial: Partial,
    ) -> Result<Answer, SyncError> {
        let started = Instant::now();
        let (mut plain, offset, partial) = partial.plain()?;
        let url = format!(
            "{}&answer={}&offset={offset}",
            self.sync_url(query),
            partial.token
        );
        let request = self
            .request(reqwest::Method::GET, &url)
            .header(header::ACCEPT_ENCODING, "gzip");
        let sent = match request.send().await {
            Ok(response) => self.check(response).await,
            Err(e) => Err(self.transport_error(&e)),
        };
        let response = match sent {
            Ok(response) => response,
            // Dropped again before the rest began: what came stays.
            Err(error) if error.link_dropped => {
                plain.flush()?;
                let partial = Partial {
                    spool: plain,
                    gzip: false,
                    ..partial
                };
                return Ok(Answer::Cut { partial, error });
            }
            Err(error) => return Err(error),
        };
        let from = response
            .headers()
            .get(OFFSET_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if from != Some(offset) {
            return Err(SyncError::transient(format!(
                "{} did not answer with the rest of its answer from byte {offset}",
                self.name
            )));
        }
        let gzip = response
            .headers()
            .get(header::CONTENT_ENCODING)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
        let skew = clock_skew(response.headers()).or(partial.clock_skew);
        let mut rest = tempfile::tempfile()?;
        let body_started = Instant::now();
        let mut stream = response.bytes_stream();
        let mut cut = None;
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(chunk) => {
                    bytes_in.fetch_add(chunk.len() as i64, Ordering::Relaxed);
                    rest.write_all(&chunk)?;
                }
                Err(e) => {
                    cut = Some(self.transport_error(&e));
                    break;
                }
            }
        }
        // What came of the rest joins what came before.
        rest.rewind()?;
        plain.seek(std::io::SeekFrom::End(0))?;
        if gzip {
            copy_inflated(&mut rest, &mut plain)?;
        } else {
            std::io::copy(&mut rest, &mut plain)?;
        }
        plain.flush()?;
        if let Some(error) = cut {
            if !error.link_dropped {
                return Err(error);
            }
            let partial = Partial {
                spool: plain,
                gzip: false,
                clock_skew: skew,
                ..partial
            };
            return Ok(Answer::Cut { partial, error });
        }
        let bytes = plain.stream_position()?;
        plain.rewind()?;
        Ok(Answer::Spooled(Spooled {
            file: plain,
            bytes,
            gzip: false,
            format: partial.format,
            asked: partial.asked,
            took: started.elapsed(),
            body_took: body_started.elapsed(),
            clock_skew: skew,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_gzip_stream_yields_what_came_whole() {
        let text: String = (0..20_000).map(|i| format!("record {i}\n")).collect();
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(text.as_bytes()).unwrap();
        let gz = encoder.finish().unwrap();
        let mut cut = tempfile::tempfile().unwrap();
        cut.write_all(&gz[..gz.len() / 2]).unwrap();
        cut.rewind().unwrap();
        let mut out = tempfile::tempfile().unwrap();
        let n = copy_inflated(&mut cut, &mut out).unwrap() as usize;
        assert!(n > 0 && n < text.len(), "{n}");
        out.rewind().unwrap();
        let mut got = String::new();
        out.read_to_string(&mut got).unwrap();
        assert_eq!(got, text[..n], "a prefix, exactly");
    }
}
