//! The last push from each peer and table that changed nothing here. Eden
//! peers re-push their whole table on every run (they never move their
//! push watermark): when the same body comes again with the same policies,
//! and nothing was stored since, importing it again would change nothing
//! again, so its answer is given without reading it.

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
    /// The node's seq when the push changed nothing: any record stored
    /// since could make the same push do something.
    seq: i64,
    summary: ImportSummary,
}

/// At most one entry per repository and table.
#[derive(Default)]
pub struct SeenPushes {
    kept: Mutex<HashMap<(i64, String), Seen>>,
}

impl SeenPushes {
    /// The summary to answer with, when this push is the last one that
    /// changed nothing and nothing was stored since.
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

    /// Remember a push that changed nothing (nothing written, skipped or
    /// refused); forget the entry when it did.
    pub fn note(
        &self,
        repository: i64,
        table: &str,
        key: PushKey,
        seq: i64,
        summary: &ImportSummary,
    ) {
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        let slot = (repository, table.to_string());
        if summary.written == 0 && summary.skipped == 0 && summary.rejected.is_empty() {
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
    fn only_the_same_body_with_nothing_stored_since_is_answered_again() {
        let seen = SeenPushes::default();
        let nothing = ImportSummary {
            records: 5,
            unchanged: 5,
            ..ImportSummary::default()
        };
        seen.note(1, "org_organisation", key(1), 40, &nothing);
        assert!(seen.unchanged(1, "org_organisation", &key(1), 40).is_some());
        assert!(
            seen.unchanged(1, "org_organisation", &key(2), 40).is_none(),
            "another body"
        );
        assert!(
            seen.unchanged(1, "org_organisation", &key(1), 41).is_none(),
            "stored since"
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
        seen.note(1, "org_organisation", key(1), 41, &wrote);
        assert!(
            seen.unchanged(1, "org_organisation", &key(1), 41).is_none(),
            "it changed something"
        );
    }
}
