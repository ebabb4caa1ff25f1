//! What an import did, in Eden's terms (the ids its reply lists) and in
//! ours (what really changed).

use chrono::NaiveDateTime;
use serde::Serialize;

/// A record refused here, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Rejection {
    pub table: String,
    pub uuid: Option<String>,
    pub reason: String,
}

/// What an import did, shaped like Eden's import result: `created`,
/// `updated` and `deleted` hold local record ids of master records
/// (`updated` also lists masters left unchanged or kept by policy, as Eden
/// does). `masters` counts what really changed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportSummary {
    pub records: u64,
    /// Top-level records of the resource table read, whatever became of
    /// them (refused, skipped, unchanged): what a page delivered.
    pub masters_read: u64,
    pub created: Vec<i64>,
    pub updated: Vec<i64>,
    pub deleted: Vec<i64>,
    pub masters: MasterCounts,
    /// Items (of any table) not written because the strategy does not
    /// allow their method or a conflict kept the local copy.
    pub skipped: u64,
    /// Items (of any table) that changed nothing.
    pub unchanged: u64,
    /// Items (of any table) that were written.
    pub written: u64,
    pub rejected: Vec<Rejection>,
    /// The youngest `modified_on` among committed master records: the next
    /// pull's watermark.
    #[serde(skip)]
    pub youngest_master_mtime: Option<NaiveDateTime>,
    /// The oldest and the youngest `modified_on` among the master records
    /// read, whatever became of them: whether the peer kept to a time window.
    #[serde(skip)]
    pub master_mtimes: Option<(NaiveDateTime, NaiveDateTime)>,
    /// The highest seq written.
    #[serde(skip)]
    pub max_seq: Option<i64>,
}

impl ImportSummary {
    /// A master record read, modified at `mtime`.
    pub fn read_master(&mut self, mtime: Option<NaiveDateTime>) {
        self.masters_read += 1;
        if let Some(t) = mtime {
            let (oldest, youngest) = self.master_mtimes.unwrap_or((t, t));
            self.master_mtimes = Some((oldest.min(t), youngest.max(t)));
        }
    }

    /// The rejected records as Eden lists invalid items in its log and
    /// messages: `(UID: <uuid>) <table>: <reason>, …`.
    pub fn rejection_text(&self) -> String {
        self.rejected
            .iter()
            .map(|r| {
                format!(
                    "(UID: {}) {}: {}",
                    r.uuid.as_deref().unwrap_or("-"),
                    r.table,
                    r.reason
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Master records by what the import did to them: only real changes count
/// as created, updated or deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct MasterCounts {
    pub created: u64,
    pub updated: u64,
    pub deleted: u64,
    /// Received as the version we hold (from a relay, perhaps shown its own
    /// way), or as an older copy of the same values.
    pub unchanged: u64,
}

impl MasterCounts {
    pub fn changed(&self) -> u64 {
        self.created + self.updated + self.deleted
    }
}
