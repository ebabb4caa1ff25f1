//! Test a connection without syncing: one pull that selects nothing (its
//! `msince` lies in the next century), with the repository's credentials,
//! proxy and TLS. It shows whether the peer is reached, accepts the
//! credentials, answers as a sync endpoint, what it is, and its clock.

use std::time::{Duration, Instant};

use reqwest::header;
use serde_json::Value;

use super::messages::read_limited;
use super::{Peer, PeerKind, SyncQuery, clock_skew};
use crate::engine::error::SyncError;
use crate::model::table_counts::TableCount;

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

/// The most tables a peer's list is read for.
const MAX_TABLES: usize = 1_000;

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

impl Peer {
    /// An edensync peer's tables that we may pull, with their counts.
    pub async fn tables(&self) -> Result<Vec<TableCount>, SyncError> {
        let url = format!(
            "{}?repository={}",
            self.url("sync/repository/tables.json"),
            super::quote(&self.site_uuid)
        );
        let response = self
            .request(reqwest::Method::GET, &url)
            .send()
            .await
            .map_err(|e| self.transport_error(&e))?;
        let response = self.check(response).await?;
        let body = read_limited(response, 1024 * 1024).await;
        let listed: Value = serde_json::from_str(&body).map_err(|_| {
            SyncError::permanent(format!("{} did not list its tables as JSON", self.name))
        })?;
        let tables = listed
            .get("tables")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .take(MAX_TABLES)
            .filter_map(|t| serde_json::from_value::<TableCount>(t.clone()).ok())
            .filter(|t| crate::store::is_valid_table_name(&t.table))
            .collect();
        Ok(tables)
    }
}
