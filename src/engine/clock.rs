//! Clock checks: Eden compares `modified_on` times across sites, so a
//! peer whose clock is off is worth a warning, once per run.

use super::run::Run;
use crate::model;
use crate::vocabulary::LogResult;

impl Run<'_> {
    fn watch_clock(&mut self, skew: Option<i64>, margin: i64) -> Option<String> {
        let skew = skew?;
        if skew.abs() <= margin || self.skew_warned {
            return None;
        }
        self.skew_warned = true;
        Some(format!(
            "the peer's clock is {} s {} ours (warning margin {margin} s): modified_on times are compared across sites, check the time synchronization (NTP) of both",
            skew.abs(),
            if skew > 0 { "ahead of" } else { "behind" }
        ))
    }

    pub(super) async fn note_clock(&mut self, table: &str, skew: Option<i64>, margin: i64) {
        if let Some(s) = skew {
            let repository_id = self.repository_id;
            let _ = self
                .engine
                .db(move |conn| {
                    Ok(model::repositories::set_clock_skew(
                        conn,
                        repository_id,
                        Some(s),
                    )?)
                })
                .await;
        }
        if let Some(warning) = self.watch_clock(skew, margin) {
            tracing::warn!(repository = self.repository_id, "{warning}");
            self.log(
                Some(table),
                "none/none",
                "check clock",
                LogResult::Warning,
                false,
                warning,
            )
            .await;
        }
    }
}
