//! Test a connection without syncing: one pull that selects nothing (its
//! `msince` lies in the next century), with the repository's credentials,
//! proxy and TLS. It shows whether the peer is reached, accepts the
//! credentials, answers as a sync endpoint, what it is, and its clock.

use std::time::{Duration, Instant};

use reqwest::header;

use super::messages::read_limited;
use super::{Peer, PeerKind, SyncQuery, clock_skew};
use crate::engine::error::SyncError;

/// What a connection test learned.
#[derive(Debug, Clone)]
pub struct Probed {
    /// Eden, or edensync with its version ("edensync/0.1.0").
    pub server: String,
    pub kind: PeerKind,
    /// Seconds the peer's clock is ahead of ours (negative: behind).
    pub clock_skew: Option<i64>,
    pub took: Duration,
}

/// A `msince` no record reaches: the answer is empty on Eden and edensync.
const NOTHING_SINCE: &str = "2100-01-01T00:00:00";

impl Peer {
    /// Ask for `table`'s records since 2100: nothing, but every check a
    /// pull makes on the way (connection, proxy, TLS, credentials, table).
    pub async fn probe(&self, table: &str) -> Result<Probed, SyncError> {
        let query = SyncQuery {
            resource: table.to_string(),
            include_deleted: true,
            msince: chrono::NaiveDateTime::parse_from_str(NOTHING_SINCE, "%Y-%m-%dT%H:%M:%S").ok(),
            ..SyncQuery::default()
        };
        let started = Instant::now();
        let response = self
            .request(reqwest::Method::GET, &self.sync_url(&query))
            .send()
            .await
            .map_err(|e| self.transport_error(&e))?;
        let server = response
            .headers()
            .get(crate::SERVER_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let clock_skew = clock_skew(response.headers());
        let xml = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.contains("xml"));
        let response = self.check(response).await?;
        let body = read_limited(response, 4 * 1024).await;
        if !xml || !body.contains("<s3xml") {
            return Err(SyncError::permanent(format!(
                "{} answered, but not as a sync endpoint (no S3XML document): check that {} is the peer's base URL, such as https://host/eden",
                self.name, self.base
            )));
        }
        let kind = match &server {
            Some(s) if s.starts_with("edensync/") => PeerKind::Edensync,
            _ => PeerKind::Eden,
        };
        Ok(Probed {
            server: server.unwrap_or_else(|| "Sahana Eden".to_string()),
            kind,
            clock_skew,
            took: started.elapsed(),
        })
    }
}
