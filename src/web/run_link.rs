//! What the link did during a run, for the run page: its pace, how often
//! it dropped, and what had to move again. Shown when the link dropped or
//! cost bytes twice, so an administrator on a bad link sees why a run
//! takes long and that it still moves.

use crate::model;
use crate::model::runs::Run;
use crate::model::sync_log::LogEntry;
use crate::web::format::bytes;

pub struct LinkView {
    /// Bytes both ways per second of the run so far ("8.1 KB/s").
    pub pace: String,
    /// Times the link dropped and the run tried again.
    pub retries: usize,
    /// What moved twice, and its share of all that moved.
    pub resent: String,
    /// While the run goes on: when the last byte moved.
    pub last_retry: Option<String>,
}

impl LinkView {
    pub fn of(run: &Run, log: &[LogEntry]) -> Option<LinkView> {
        let retries: Vec<&LogEntry> = log.iter().filter(|l| l.action == "retry").collect();
        let counts = &run.counts;
        if retries.is_empty() && counts.bytes_lost == 0 {
            return None;
        }
        let moved = counts.bytes_in + counts.bytes_out;
        let seconds = (run.finished_at.unwrap_or_else(model::now) - run.started_at)
            .num_milliseconds()
            .max(1) as f64
            / 1000.0;
        let share = if moved > 0 {
            format!(
                " ({} % of what moved)",
                (counts.bytes_lost as f64 * 100.0 / moved as f64).round()
            )
        } else {
            String::new()
        };
        Some(LinkView {
            pace: format!("{}/s", bytes(moved as f64 / seconds)),
            retries: retries.len(),
            resent: format!("{}{share}", bytes(counts.bytes_lost as f64)),
            last_retry: retries
                .iter()
                .map(|l| l.logged_at)
                .max()
                .map(|t| t.format("%H:%M:%S").to_string()),
        })
    }
}
