//! The end of a run: its status, the run row's counts, the repository's
//! health and next retry, and the lease released.

use std::sync::atomic::Ordering;

use super::Engine;
use super::error::{FailureKind, SyncError};
use super::run::{Run, RunReport};
use crate::model;
use crate::vocabulary::{RepositoryStatus, RunStatus};

impl Engine {
    /// Close the run: status, counts, the repository's health and retry
    /// time, and the lease.
    pub(super) async fn finish(
        &self,
        run: Run<'_>,
        outcome: Result<(), SyncError>,
        holder: &str,
        started: std::time::Instant,
    ) -> RunReport {
        let mut failures = run.failures.clone();
        if let Err(e) = &outcome {
            failures.push(e.clone());
        }
        let steps_done = run.progress.steps_ok.load(Ordering::Relaxed);
        let counts = run.progress.counts();
        // Records committed (a page pulled or pushed): the link moves, so
        // the next try comes soon, not after a growing wait.
        let progressed = counts.records_moved();
        let cancelled = failures.iter().find(|f| f.kind == FailureKind::Cancelled);
        let skipped = run.nothing_to_do && failures.is_empty();
        let status = match cancelled {
            None if skipped => RunStatus::Skipped,
            Some(_) if run.stop.timed_out() => RunStatus::TimedOut,
            Some(_) => RunStatus::Cancelled,
            None if failures.is_empty() && run.rejected == 0 => RunStatus::Succeeded,
            None if failures.is_empty() || steps_done > 0 => RunStatus::Partial,
            None => RunStatus::Failed,
        };
        let error = (!failures.is_empty()).then(|| {
            failures
                .iter()
                .map(SyncError::full_text)
                .collect::<Vec<_>>()
                .join(". ")
        });
        let permanent = failures.iter().any(|f| f.kind == FailureKind::Permanent);
        let transient = failures.iter().any(|f| f.kind != FailureKind::Permanent);
        let repository_id = run.repository_id;
        let run_id = run.run_id;
        let holder = holder.to_string();
        let contacted = run.contacted;
        let unrecorded = error.clone();
        run.progress.end_table();
        let tables = run.progress.tables();
        let finished = self
            .db(move |conn| {
                let now = model::now();
                let repository = model::repositories::find(conn, repository_id)?;
                let name = repository.as_ref().map(|r| r.name.clone());
                let config = model::sync_config::get(conn)?;
                let (repo_status, next_retry_at) = if permanent {
                    (RepositoryStatus::Blocked, None)
                } else if transient {
                    let failures = if progressed {
                        0
                    } else {
                        repository.map_or(0, |r| r.consecutive_failures)
                    };
                    let delay = config.map_or(60, |c| {
                        backoff_secs(c.backoff_base_secs, c.backoff_cap_secs, failures)
                    });
                    (
                        RepositoryStatus::Retrying,
                        Some(now + chrono::Duration::seconds(delay)),
                    )
                } else if status == RunStatus::Partial {
                    (RepositoryStatus::Partial, None)
                } else {
                    (RepositoryStatus::Ok, None)
                };
                // What happens next, last: the administrator's next question.
                let error = error.map(|e| match (permanent, next_retry_at) {
                    (true, _) => format!(
                        "{e}. Scheduled runs wait until the repository is edited or retried by hand (Retry now)"
                    ),
                    (false, Some(at)) => format!(
                        "{e}. Next try at {} UTC (in {} s)",
                        at.format("%H:%M:%S"),
                        (at - now).num_seconds().max(1)
                    ),
                    (false, None) => e,
                });
                model::runs::finish(
                    conn,
                    run_id,
                    status,
                    &counts,
                    error.as_deref(),
                    &tables,
                    now,
                )?;
                // A skip leaves the repository's health as it was.
                if !skipped {
                    model::repositories::record_outcome(
                    conn,
                    repository_id,
                    &model::repositories::RunOutcome {
                        status: repo_status,
                        succeeded: !permanent && !transient,
                        progressed,
                        error: error.as_deref(),
                        next_retry_at,
                        contacted,
                    },
                    now,
                )?;
                }
                model::repositories::release_lease(conn, repository_id, &holder)?;
                Ok((name, error))
            })
            .await;
        let error = match finished {
            Ok((name, error)) => {
                // A repository deleted during its run has no name left to report.
                if let Some(name) = name {
                    self.metrics
                        .observe_run(&name, status, started.elapsed(), &counts);
                }
                error
            }
            Err(e) => {
                tracing::error!(run_id, error = %e, "could not record the end of the run");
                unrecorded
            }
        };
        RunReport {
            run_id,
            status,
            counts,
            error,
            tasks: run.progress.task_reports(),
        }
    }
}

/// Capped exponential backoff with jitter: base · 2^failures, at most cap,
/// then a random half to full of it (so many nodes do not retry in step).
pub fn backoff_secs(base: i32, cap: i32, failures: i32) -> i64 {
    let base = i64::from(base.max(1));
    let cap = i64::from(cap.max(1)).max(base);
    let exponent = failures.clamp(0, 30) as u32;
    let full = base.saturating_mul(1_i64 << exponent).min(cap);
    let fraction = 0.5 + rand::random::<f64>() * 0.5;
    ((full as f64) * fraction).round().max(1.0) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_the_cap_with_jitter() {
        for _ in 0..100 {
            let first = backoff_secs(60, 3600, 0);
            assert!((30..=60).contains(&first), "{first}");
            let third = backoff_secs(60, 3600, 2);
            assert!((120..=240).contains(&third), "{third}");
            let late = backoff_secs(60, 3600, 20);
            assert!((1800..=3600).contains(&late), "{late}");
        }
    }
}
