//! Everything a serving process does in the background, started and
//! stopped in one place.
//!
//! Every process does the housekeeping: it removes expired console sessions
//! and applies the log retention. Both are idempotent, so several processes
//! on one PostgreSQL may do them at once. Only a process with the scheduler
//! (`serve` without `--no-scheduler`) starts runs: due jobs and retries.
//! Stopping lets runs in progress finish their current page.

use std::time::Duration;

use tokio_util::task::AbortOnDropHandle;

use crate::accounts::{self, AccountError};
use crate::db::{self, Pool};
use crate::engine::Engine;
use crate::model;
use crate::scheduler::{Scheduler, SchedulerError};

/// How often the housekeeping looks at the log retention.
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(60);
/// Expired sessions are removed every this many housekeeping rounds.
const SESSION_SWEEP_ROUNDS: u32 = 10;

/// The background work of a serving process.
pub struct Background {
    engine: Engine,
    scheduler: Option<Scheduler>,
    _housekeeping: AbortOnDropHandle<()>,
}

impl Background {
    /// Start the housekeeping, and the scheduler when `with_scheduler`.
    pub async fn start(engine: Engine, with_scheduler: bool) -> Result<Background, SchedulerError> {
        let scheduler = if with_scheduler {
            Some(Scheduler::start(engine.clone()).await?)
        } else {
            None
        };
        let housekeeping = AbortOnDropHandle::new(tokio::spawn(housekeeping(engine.pool.clone())));
        Ok(Background {
            engine,
            scheduler,
            _housekeeping: housekeeping,
        })
    }

    /// Stop starting runs, let those in progress finish their current page
    /// (at most a minute), and stop the housekeeping.
    pub async fn stop(self) {
        if let Some(scheduler) = &self.scheduler {
            scheduler.shutdown().await;
        }
        self.engine.shutdown().await;
    }
}

/// Log and run retention once a minute, expired sessions every ten.
async fn housekeeping(pool: Pool) {
    let mut ticker = tokio::time::interval(HOUSEKEEPING_EVERY);
    let mut round: u32 = 0;
    loop {
        ticker.tick().await;
        let sweep_sessions = round.is_multiple_of(SESSION_SWEEP_ROUNDS);
        round = round.wrapping_add(1);
        let done = db::with_conn(&pool, move |conn| {
            if let Some(config) = model::sync_config::get(conn)? {
                let days = i64::from(config.log_retention_days.max(1));
                let cutoff = model::now() - chrono::Duration::days(days);
                model::sync_log::purge_before(conn, cutoff)?;
                // Runs go with their log, in rounds of at most 10 000: the
                // runs table stays bounded on a hub that runs all day.
                model::runs::purge_before(conn, cutoff)?;
                model::hourly_records::purge_before(conn, cutoff)?;
            }
            // The console counts a peer's calls over 30 days, whatever the
            // log keeps.
            model::peer_calls::purge_before(conn, model::now() - chrono::Duration::days(31))?;
            if sweep_sessions {
                accounts::sessions::sweep(conn)?;
            }
            Ok::<_, AccountError>(())
        })
        .await;
        if let Err(e) = done {
            tracing::warn!(error = %e, "housekeeping failed (log retention, expired sessions)");
        }
    }
}
