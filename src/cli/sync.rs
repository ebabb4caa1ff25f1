//! `sync REPOSITORY`: one run now, as the scheduler would run it.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use serde_json::json;

use super::output::print_json;
use super::{CliError, runtime};
use crate::app::{self, Node};
use crate::db::DbError;
use crate::engine::{ProgressSink, RunRequest, RunStatus, Stop, Trigger};
use crate::manage;

pub(super) fn run(
    node: Node,
    repository: &str,
    task: Option<String>,
    as_json: bool,
    timeout: Duration,
) -> Result<(), CliError> {
    let found = {
        let mut conn = node.pool.get().map_err(DbError::from)?;
        manage::repositories::find(&mut conn, repository)?
    };
    let engine = app::engine(&node, None);
    let report = runtime()?.block_on(async move {
        let stop = Stop::with_timeout(CancellationToken::new(), timeout);
        let token = stop.token.clone();
        tokio::spawn(async move {
            stop_signal().await;
            eprintln!("edensync: stopping after the current page …");
            token.cancel();
        });
        let progress: ProgressSink = Arc::new(|line: &str| eprintln!("edensync: {line}"));
        engine
            .run(RunRequest {
                repository_id: found.id,
                trigger: Trigger::Cli,
                job_id: None,
                only_table: task,
                stop,
                progress: Some(progress),
            })
            .await
    });
    let report = report.map_err(|e| CliError::Failed(e.to_string()))?;
    let c = &report.counts;
    if as_json {
        let tasks: Vec<_> = report
            .tasks
            .iter()
            .map(|t| {
                let side = |r: &Option<Result<u64, String>>| match r {
                    None => json!(null),
                    Some(Ok(n)) => json!({"records": n}),
                    Some(Err(e)) => json!({"error": e}),
                };
                json!({"table": t.table, "pull": side(&t.pulled), "push": side(&t.pushed)})
            })
            .collect();
        let mut summary = serde_json::Map::new();
        summary.insert("repository".into(), json!(found.name));
        summary.insert("run_id".into(), json!(report.run_id));
        summary.insert("status".into(), json!(report.status.as_str()));
        // Every counter, under the run row's name for it.
        if let serde_json::Value::Object(counts) = json!(c) {
            summary.extend(counts);
        }
        summary.insert("error".into(), json!(report.error));
        summary.insert("tasks".into(), json!(tasks));
        print_json(&summary.into());
    } else {
        println!(
            "run {} of {}: {}",
            report.run_id,
            found.name,
            report.status.as_str()
        );
        println!(
            "pulled: {} created, {} updated, {} deleted, {} unchanged, {} skipped, {} rejected ({} bytes)",
            c.pulled_created,
            c.pulled_updated,
            c.pulled_deleted,
            c.pulled_unchanged,
            c.pulled_skipped,
            c.pulled_rejected,
            c.bytes_in
        );
        println!(
            "pushed: {} created, {} updated, {} deleted, {} rejected ({} bytes)",
            c.pushed_created, c.pushed_updated, c.pushed_deleted, c.pushed_rejected, c.bytes_out
        );
        if let Some(error) = &report.error {
            println!("error: {error}");
        }
    }
    let what = format!("run {} {}", report.run_id, report.status.as_str());
    match report.status {
        RunStatus::Succeeded => Ok(()),
        RunStatus::Partial => Err(CliError::Partial(what)),
        RunStatus::Skipped => Err(CliError::Skipped(format!(
            "{what}: {}",
            report
                .error
                .clone()
                .unwrap_or_else(|| format!("another run of {} is in progress", found.name))
        ))),
        // A report is written when the run has ended: never `Running`.
        RunStatus::Failed | RunStatus::TimedOut | RunStatus::Cancelled | RunStatus::Running => {
            Err(CliError::Failed(format!(
                "{what}: {}",
                report.error.as_deref().unwrap_or("see the log")
            )))
        }
    }
}

/// Ctrl-C, or SIGTERM (what systemd and `kill` send).
async fn stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut terminate) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
