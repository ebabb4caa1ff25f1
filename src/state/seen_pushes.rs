//! The last push from each peer and table that changed nothing here. Eden
//! peers re-push their whole table on every run (they never move their
//! push watermark): when the same body comes again with the same policies,
//! and none of its records (nor their components) was stored since,
//! importing it again would change nothing again, so its answer is given
//! without reading it. Records other peers change meanwhile do not count.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::store::ImportSummary;

/// A push as it must match to be answered without import: the body's
/// digest with everything that decides what an import does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushKey {
    pub body: [u8; 32],
    /// The content type, encoding and import options, written out.
    pub how: String,
}

struct Seen {
    key: PushKey,
    /// The latest seq among the push's records and their components when
    /// it changed nothing: any of them stored since could make the same
    /// push do something.
    seq: i64,
    summary: ImportSummary,
}

/// At most one entry per repository and table.
#[derive(Default)]
pub struct SeenPushes {
    kept: Mutex<HashMap<(i64, String), Seen>>,
}

impl SeenPushes {
    /// The stored records (masters) of the last push from this peer and
    /// table, if it changed nothing and this push is the same.
    pub fn records_of(&self, repository: i64, table: &str, key: &PushKey) -> Option<Vec<i64>> {
        let kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        kept.get(&(repository, table.to_string()))
            .filter(|seen| seen.key == *key)
            .map(|seen| masters_of(&seen.summary))
    }

    /// The summary to answer with, when this push is the last one that
    /// changed nothing and `seq` (the latest seq among its records, see
    /// [`SeenPushes::records_of`]) is as it was.
    pub fn unchanged(
        &self,
        repository: i64,
        table: &str,
        key: &PushKey,
        seq: i64,
    ) -> Option<ImportSummary> {
        let kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        kept.get(&(repository, table.to_string()))
            .filter(|seen| seen.key == *key && seen.seq == seq)
            .map(|seen| seen.summary.clone())
    }

    /// Remember a push that changed nothing (see [`changed_nothing`]) with
    /// the latest seq among its records; forget the entry when it changed
    /// something (`seq` is `None` then).
    pub fn note(
        &self,
        repository: i64,
        table: &str,
        key: PushKey,
        seq: Option<i64>,
        summary: &ImportSummary,
    ) {
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        let slot = (repository, table.to_string());
        if let Some(seq) = seq.filter(|_| changed_nothing(summary)) {
            kept.insert(
                slot,
                Seen {
                    key,
                    seq,
                    summary: summary.clone(),
                },
            );
        } else {
            kept.remove(&slot);
        }
    }
}

/// Whether an import changed nothing: nothing written, skipped or refused.
pub fn changed_nothing(summary: &ImportSummary) -> bool {
    summary.written == 0 && summary.skipped == 0 && summary.rejected.is_empty()
}

/// The stored records a push listed: its masters, whatever their method.
pub fn masters_of(summary: &ImportSummary) -> Vec<i64> {
    let lists = [&summary.created, &summary.updated, &summary.deleted];
    lists.into_iter().flatten().copied().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> PushKey {
        PushKey {
            body: [byte; 32],
            how: "xml".into(),
        }
    }

    #[test]
    fn only_the_same_body_with_its_records_as_they_were_is_answered_again() {
        let seen = SeenPushes::default();
        let nothing = ImportSummary {
            records: 5,
            unchanged: 5,
            ..ImportSummary::default()
        };
        seen.note(1, "org_organisation", key(1), Some(40), &nothing);
        assert!(seen.unchanged(1, "org_organisation", &key(1), 40).is_some());
        assert!(
            seen.unchanged(1, "org_organisation", &key(2), 40).is_none(),
            "another body"
        );
        assert!(
            seen.unchanged(1, "org_organisation", &key(1), 41).is_none(),
            "one of its records stored since"
        );
        assert!(
            seen.unchanged(2, "org_organisation", &key(1), 40).is_none(),
            "another peer"
        );
        assert!(
            seen.unchanged(1, "org_office", &key(1), 40).is_none(),
            "another table"
        );
        let wrote = ImportSummary {
            written: 1,
            ..nothing.clone()
        };
        seen.note(1, "org_organisation", key(1), Some(41), &wrote);
        assert!(
            seen.unchanged(1, "org_organisation", &key(1), 41).is_none(),
            "it changed something"
        );
    }
}
