//! The tables each edensync peer said it holds, kept for a few minutes:
//! the Resources tab shows them without asking the peer on every view (a
//! peer that is down would slow each view, and one with a wrong password
//! would count each view as a failed login against this node).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::model::table_counts::TableCount;

/// How long an answer (or a failure) is kept.
const KEEP: Duration = Duration::from_secs(300);

/// A peer's answer: its tables, or why it could not say.
pub type Listed = Result<Vec<TableCount>, String>;

#[derive(Default)]
pub struct PeerTablesCache {
    kept: Mutex<HashMap<i64, (Instant, Listed)>>,
}

impl PeerTablesCache {
    /// What repository `id`'s peer said less than [`KEEP`] ago.
    pub fn get(&self, id: i64) -> Option<Listed> {
        let kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        kept.get(&id)
            .filter(|(at, _)| at.elapsed() < KEEP)
            .map(|(_, listed)| listed.clone())
    }

    pub fn keep(&self, id: i64, listed: Listed) {
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        kept.retain(|_, (at, _)| at.elapsed() < KEEP);
        kept.insert(id, (Instant::now(), listed));
    }

    /// Ask again next time (the repository's settings or tasks changed).
    pub fn forget(&self, id: i64) {
        self.kept
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
    }
}
