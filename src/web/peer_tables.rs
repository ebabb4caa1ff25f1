//! The tables an edensync peer holds, offered on a repository's Resources
//! tab to pick from (with their counts), and the warning for a task whose
//! table the peer holds only as components of another.

use std::time::Duration;

use crate::model::repositories::Repository;
use crate::model::table_counts::TableCount;
use crate::state::AppState;

/// How long the page waits for the peer's list before it goes without.
const WAIT: Duration = Duration::from_secs(3);

/// What the Resources tab shows of the peer's tables.
pub enum PeerTables {
    /// An Eden peer or a folder: they cannot list their tables.
    Unknown,
    Listed(Vec<PeerTable>),
    /// The peer was asked and did not answer: why.
    Failed(String),
}

pub struct PeerTable {
    pub count: TableCount,
    /// A task syncs it already.
    pub synced: bool,
}

impl PeerTables {
    /// Ask the repository's peer, if it is an edensync server (its answer
    /// is kept a few minutes).
    /// `synced`: the tables its tasks sync already.
    pub async fn load(state: &AppState, repository: &Repository, synced: &[&str]) -> PeerTables {
        let listed = match state.peer_tables.get(repository.id) {
            Some(listed) => listed,
            None => {
                let asked = tokio::time::timeout(WAIT, state.engine.peer_tables(repository)).await;
                let listed = match asked {
                    Ok(Ok(Some(listed))) => Ok(listed),
                    Ok(Ok(None)) => return PeerTables::Unknown,
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(_) => Err(format!(
                        "{} did not list its tables within {} s",
                        repository.name,
                        WAIT.as_secs()
                    )),
                };
                state.peer_tables.keep(repository.id, listed.clone());
                listed
            }
        };
        match listed {
            Err(why) => PeerTables::Failed(why),
            Ok(listed) => PeerTables::Listed(
                listed
                    .into_iter()
                    .map(|count| PeerTable {
                        synced: synced.contains(&count.table.as_str()),
                        count,
                    })
                    .collect(),
            ),
        }
    }

    /// The master table the peer holds `table` as components of, when it
    /// holds it only that way.
    pub fn component_of(&self, table: &str) -> Option<&str> {
        match self {
            PeerTables::Listed(tables) => tables
                .iter()
                .find(|t| t.count.table == table)
                .and_then(|t| t.count.component_of.as_deref()),
            _ => None,
        }
    }
}
