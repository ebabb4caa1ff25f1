//! Riding out cuts: when the link drops in the middle of an exchange (a
//! page pulled or pushed), the run tries that exchange again itself after a
//! short jittered wait, resuming from what was committed, for as long as
//! the link keeps moving bytes. It gives up when no byte has moved for
//! `Engine::stall_limit`, or after [`MAX_TRIES`] tries of one exchange;
//! then the scheduler's backoff takes over.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::error::SyncError;
use super::run::Run;
use crate::vocabulary::LogResult;

/// The longest wait between two tries within a run.
const MAX_WAIT: Duration = Duration::from_secs(30);
/// Tries of one exchange before the run gives up even though bytes move:
/// a page that never fits between the link's cuts (already as small as
/// pages get) is not sent again every few seconds for ever.
const MAX_TRIES: u32 = 30;

/// One exchange's tries so far.
pub(super) struct Cuts {
    tries: u32,
    /// Tries in a row that moved nothing: the wait grows with these only.
    idle_tries: u32,
    bytes: i64,
    last_moved: Instant,
    /// The answer cut this time goes on from where it stopped (the peer
    /// keeps it), rather than coming again.
    pub(super) goes_on: bool,
}

impl Cuts {
    pub(super) fn new() -> Cuts {
        Cuts {
            tries: 0,
            idle_tries: 0,
            bytes: 0,
            last_moved: Instant::now(),
            goes_on: false,
        }
    }
}

impl Run<'_> {
    /// After `error`: whether to try the exchange again (having waited), or
    /// give up with it.
    pub(super) async fn ride_out(
        &mut self,
        error: &SyncError,
        table: &str,
        direction: &str,
        cuts: &mut Cuts,
    ) -> Result<bool, SyncError> {
        if !error.link_dropped {
            return Ok(false);
        }
        let bytes = self.progress.bytes_in.load(Ordering::Relaxed)
            + self.progress.bytes_out.load(Ordering::Relaxed);
        if bytes > cuts.bytes || cuts.tries == 0 {
            cuts.bytes = bytes;
            cuts.last_moved = Instant::now();
            cuts.idle_tries = 0;
        }
        if cuts.last_moved.elapsed() >= self.engine.stall_limit || cuts.tries >= MAX_TRIES {
            return Ok(false);
        }
        cuts.tries += 1;
        cuts.idle_tries += 1;
        // A link that moved bytes since the last try gets the shortest
        // wait again: it is working, between cuts.
        let step = Duration::from_secs(1 << cuts.idle_tries.min(5)).min(MAX_WAIT);
        let wait = step.mul_f64(0.5 + rand::random::<f64>() * 0.5);
        self.log(
            Some(table),
            if direction == "pull" {
                "pull/outgoing"
            } else {
                "push/outgoing"
            },
            "retry",
            LogResult::Warning,
            false,
            format!(
                "the link dropped during the {direction} of {table}; {}; trying again in {} s, {} (try {})",
                self.committed.kept(direction),
                wait.as_secs().max(1),
                if cuts.goes_on {
                    "going on from where the answer stopped"
                } else {
                    "from there"
                },
                cuts.tries
            ),
        )
        .await;
        self.say(&format!(
            "{table}: the link dropped; trying the {direction} again in {} s",
            wait.as_secs().max(1)
        ));
        self.stop
            .guard(async {
                tokio::time::sleep(wait).await;
                Ok(())
            })
            .await?;
        Ok(true)
    }
}
