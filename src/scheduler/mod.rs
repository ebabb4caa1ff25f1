//! When runs happen: `schedule.rs` computes a job's run times (every N
//! seconds or a cron expression, start, stop, repeats); `ticker.rs` is the
//! in-process scheduler that claims due jobs and retries and starts runs.

pub mod schedule;
pub mod ticker;

pub use ticker::{Scheduler, SchedulerError};
