//! A run's words: what started it, how it is doing or ended, and the status
//! it leaves its repository in.

use super::words;

words! {
    /// What started a run.
    pub enum Trigger ("trigger") {
        Schedule = "schedule",
        Manual = "manual",
        Cli = "cli",
        Retry = "retry",
    }
}

words! {
    /// Which way a run moves a table's records.
    pub enum Direction ("direction") {
        Pull = "pull",
        Push = "push",
    }
}

words! {
    /// Where a run is: running, or how it ended.
    pub enum RunStatus ("run status") {
        /// Still working (only ever in the run row, never in a report).
        Running = "running",
        Succeeded = "succeeded",
        /// Some tasks failed or some records were rejected.
        Partial = "partial",
        Failed = "failed",
        TimedOut = "timed out",
        Cancelled = "cancelled",
        /// Another run held the repository's lease.
        Skipped = "skipped",
    }
}

words! {
    /// How a repository's last run left it (`repositories.last_status`).
    pub enum RepositoryStatus ("repository status") {
        Ok = "ok",
        /// Stored what it could; some tasks failed or records were refused.
        Partial = "partial",
        /// A transient failure; the next attempt is scheduled.
        Retrying = "retrying",
        /// A permanent failure: waits for an administrator.
        Blocked = "blocked",
    }
}
