//! "Test connection": reach a repository's peer as a run would, without
//! saving anything or moving a record, and say what was found in words.

use super::Engine;
use super::client::{PeerKind, Probed};
use super::error::SyncError;
use crate::model;
use crate::model::repositories::Repository;
use crate::model::table_counts::TableCount;

/// The table a test asks for when the repository has no task yet: one
/// every Eden instance has.
const ANY_TABLE: &str = "org_organisation";

impl Engine {
    /// Test `repository` as entered (saved or not): its URL, proxy, TLS
    /// settings and credentials, with one pull that selects nothing. What
    /// was found, in one sentence.
    pub async fn test_connection(&self, repository: &Repository) -> Result<String, SyncError> {
        let repository_id = repository.id;
        let (config, table) = self
            .db(move |conn| {
                let config = model::sync_config::get(conn)?
                    .ok_or_else(|| SyncError::permanent("the sync_config row is missing"))?;
                let table = model::tasks::list_for_repository(conn, repository_id)?
                    .into_iter()
                    .next()
                    .map(|t| t.resource_name);
                Ok((config, table))
            })
            .await?;
        let peer = self.peer(repository, &config)?;
        let probed = peer.probe(table.as_deref().unwrap_or(ANY_TABLE)).await?;
        let margin = i64::from(config.clock_skew_warn_secs);
        Ok(describe(&repository.name, &probed, margin))
    }
}

impl Engine {
    /// The tables an edensync peer holds that we may pull, with counts;
    /// `None` for an Eden peer or a folder (they cannot say).
    pub async fn peer_tables(
        &self,
        repository: &Repository,
    ) -> Result<Option<Vec<TableCount>>, SyncError> {
        if repository.peer_kind.as_deref() != Some(PeerKind::Edensync.as_str()) {
            return Ok(None);
        }
        let config = self
            .db(|conn| {
                model::sync_config::get(conn)?
                    .ok_or_else(|| SyncError::permanent("the sync_config row is missing"))
            })
            .await?;
        let peer = self.peer(repository, &config)?;
        Ok(Some(peer.tables().await?))
    }
}

/// What a successful test found, in one sentence.
fn describe(name: &str, probed: &Probed, margin_secs: i64) -> String {
    let what = match probed.kind {
        PeerKind::Edensync => format!("an edensync server ({})", probed.server),
        PeerKind::Eden => "a Sahana Eden server".to_string(),
    };
    let clock = match probed.clock_skew {
        Some(s) if s.abs() > margin_secs.max(1) => format!(
            "its clock is {} s {} ours, more than the {margin_secs} s this node allows: records may be skipped until the clocks agree",
            s.abs(),
            if s > 0 { "ahead of" } else { "behind" }
        ),
        Some(s) if s != 0 => format!(
            "its clock is {} s {} ours (within the margin)",
            s.abs(),
            if s > 0 { "ahead of" } else { "behind" }
        ),
        Some(_) => "its clock agrees with ours".to_string(),
        None => "it did not say its time".to_string(),
    };
    format!(
        "Connection to {name} works: {what} answered in {} ms and accepted the credentials; {clock}.",
        probed.took.as_millis()
    )
}
