//! When runs happen: `ticker.rs` is the in-process scheduler that claims
//! due jobs and retries and starts runs, in the slots of `slots.rs`. A job's run times are computed by
//! `manage::schedule`, where jobs are validated, so the scheduler reads the
//! configuration and the configuration never depends on the scheduler.

mod slots;
pub mod ticker;

pub use ticker::{Scheduler, SchedulerError};
