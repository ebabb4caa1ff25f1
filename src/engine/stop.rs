//! How a run is asked to stop: a deadline (the job's timeout) or a token
//! (shutdown, an administrator). Checked between steps, so a run stops
//! after its current page, never in the middle of a commit.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::error::SyncError;

/// Asks a run to stop at its next step: a deadline (the job's timeout) or a
/// token (shutdown, an administrator).
#[derive(Clone)]
pub struct Stop {
    pub token: CancellationToken,
    pub deadline: Option<tokio::time::Instant>,
}

impl Stop {
    pub fn never() -> Stop {
        Stop {
            token: CancellationToken::new(),
            deadline: None,
        }
    }

    pub fn with_timeout(token: CancellationToken, timeout: Duration) -> Stop {
        Stop {
            token,
            deadline: Some(tokio::time::Instant::now() + timeout),
        }
    }

    pub(super) fn timed_out(&self) -> bool {
        self.deadline
            .is_some_and(|d| tokio::time::Instant::now() >= d)
    }

    fn requested(&self) -> Option<SyncError> {
        if self.timed_out() {
            Some(SyncError::cancelled("the run exceeded its timeout"))
        } else if self.token.is_cancelled() {
            Some(SyncError::cancelled("the run was cancelled"))
        } else {
            None
        }
    }

    async fn wait(&self) {
        match self.deadline {
            Some(deadline) => tokio::select! {
                _ = self.token.cancelled() => {}
                _ = tokio::time::sleep_until(deadline) => {}
            },
            None => self.token.cancelled().await,
        }
    }

    /// Run `work` unless or until a stop is requested.
    pub(super) async fn guard<T>(
        &self,
        work: impl Future<Output = Result<T, SyncError>>,
    ) -> Result<T, SyncError> {
        if let Some(stop) = self.requested() {
            return Err(stop);
        }
        tokio::select! {
            result = work => result,
            _ = self.wait() => Err(self.requested().unwrap_or_else(|| SyncError::cancelled("the run was cancelled"))),
        }
    }
}
