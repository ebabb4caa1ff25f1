//! The result column of Eden's log.

use super::words;

words! {
    /// How a step went, in Eden's log.
    pub enum LogResult ("log result") {
        Success = "success",
        Warning = "warning",
        Error = "error",
        Fatal = "fatal",
    }
}
