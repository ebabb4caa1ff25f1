//! The scheduler's slots: how many runs this process makes at once, and
//! how slow and failing peers are kept from holding up the others.
//!
//! A run starts in one of `runs_at_once` slots. Runs of a repository whose
//! last run failed (retrying), and runs that have lasted [`LONG_RUN`], use
//! a second allowance, [`SLOW_SHARE`] times as large, instead: a peer that
//! is down or never answers waits in that one (waiting costs a socket, not
//! the CPU or the database), so the quick runs of everyone else always find
//! a slot.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A run this long moves to the second allowance when it has room.
pub const LONG_RUN: Duration = Duration::from_secs(5);
/// The second allowance, in multiples of `runs_at_once`.
pub const SLOW_SHARE: usize = 4;
/// How often a long run looks again for room in the second allowance.
const LOOK_AGAIN: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub struct Slots {
    quick: Arc<Semaphore>,
    slow: Arc<Semaphore>,
}

/// The slots free at one tick: for runs of repositories doing well, and
/// for runs of failing ones.
pub struct Free {
    pub quick: Vec<OwnedSemaphorePermit>,
    pub slow: Vec<OwnedSemaphorePermit>,
}

fn take_all(semaphore: &Arc<Semaphore>) -> Vec<OwnedSemaphorePermit> {
    let mut permits = Vec::new();
    while let Ok(permit) = semaphore.clone().try_acquire_owned() {
        permits.push(permit);
    }
    permits
}

impl Slots {
    pub fn new(runs_at_once: usize) -> Slots {
        Slots {
            quick: Arc::new(Semaphore::new(runs_at_once.max(1))),
            slow: Arc::new(Semaphore::new(runs_at_once.max(1) * SLOW_SHARE)),
        }
    }

    /// Every free slot, held until given to a run or dropped.
    pub fn take_free(&self) -> Free {
        Free {
            quick: take_all(&self.quick),
            slow: take_all(&self.slow),
        }
    }

    /// Run `run` in `slot`. A run started in a quick slot that lasts
    /// [`LONG_RUN`] moves to a slow one as soon as one is free, giving its
    /// quick slot back.
    pub async fn hold<T>(
        &self,
        slot: OwnedSemaphorePermit,
        in_slow: bool,
        run: impl Future<Output = T>,
    ) -> T {
        let mut slot = slot;
        let mut moved = in_slow;
        let mut wait = LONG_RUN;
        tokio::pin!(run);
        let done = loop {
            tokio::select! {
                done = &mut run => break done,
                _ = tokio::time::sleep(wait), if !moved => {
                    if let Ok(slow) = self.slow.clone().try_acquire_owned() {
                        drop(std::mem::replace(&mut slot, slow));
                        moved = true;
                    }
                    wait = LOOK_AGAIN;
                }
            }
        };
        drop(slot);
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_long_run_gives_its_quick_slot_back_when_a_slow_one_is_free() {
        let slots = Slots::new(1);
        let free = slots.take_free();
        assert_eq!((free.quick.len(), free.slow.len()), (1, SLOW_SHARE));
        let slot = free.quick.into_iter().next().unwrap();
        drop(free.slow);
        let running = {
            let slots = slots.clone();
            tokio::spawn(async move {
                slots
                    .hold(slot, false, tokio::time::sleep(Duration::from_secs(60)))
                    .await
            })
        };
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = slots.take_free();
        assert_eq!(
            (now.quick.len(), now.slow.len()),
            (0, SLOW_SHARE),
            "a young run holds its slot"
        );
        // Every slow slot taken: the long run keeps its quick one.
        tokio::time::sleep(LONG_RUN).await;
        assert_eq!(slots.take_free().quick.len(), 0);
        drop(now);
        tokio::time::sleep(LOOK_AGAIN).await;
        let later = slots.take_free();
        assert_eq!(
            (later.quick.len(), later.slow.len()),
            (1, SLOW_SHARE - 1),
            "it moved to a slow slot once one was free"
        );
        drop(later);
        running.await.unwrap();
        let after = slots.take_free();
        assert_eq!(
            (after.quick.len(), after.slow.len()),
            (1, SLOW_SHARE),
            "all free at the end"
        );
    }
}
