//! A run's progress table by table, for the run page: records done of the
//! total the peer announced, the pace, and the time left while it goes on.

use chrono::NaiveDateTime;

use crate::model::runs::{Run, TableProgress};
use crate::vocabulary::Direction;
use crate::web::format::{bytes, seconds};

pub struct TableRow {
    pub table: String,
    pub direction: Direction,
    /// "1 200 of 20 000", or "1 200" when the total is not known.
    pub done: String,
    /// Percent done (0–100), for the bar, when the total is known.
    pub percent: Option<u32>,
    /// "340 records/s".
    pub rate: Option<String>,
    pub bytes: String,
    pub elapsed: String,
    /// "about 3 min 10 s", "done", "stopped" or "not known yet".
    pub left: String,
}

impl TableRow {
    pub fn of(run: &Run, now: NaiveDateTime) -> Vec<TableRow> {
        let running = run.finished_at.is_none();
        run.tables()
            .iter()
            .map(|p| TableRow::new(p, running, now))
            .collect()
    }

    fn new(p: &TableProgress, running: bool, now: NaiveDateTime) -> TableRow {
        let total = p.total.map(|t| t.max(p.done));
        let done = match total {
            Some(total) => format!("{} of {}", grouped(p.done), grouped(total)),
            None => grouped(p.done),
        };
        let percent = total.map(|t| match t {
            0 => 100,
            t => (p.done.saturating_mul(100) / t).min(100) as u32,
        });
        let left = match (p.finished_at, p.secs_left(now)) {
            (Some(_), _) if total.is_none_or(|t| p.done >= t) => "done".to_string(),
            (Some(_), _) => "stopped".to_string(),
            (None, _) if !running => "stopped".to_string(),
            (None, Some(left)) => format!("about {}", seconds(left)),
            (None, None) => "not known yet".to_string(),
        };
        TableRow {
            table: p.table.clone(),
            direction: p.direction,
            done,
            percent,
            rate: p
                .records_per_sec(now)
                .map(|r| format!("{} records/s", grouped(r.round() as u64))),
            bytes: bytes(p.bytes as f64),
            elapsed: seconds(p.elapsed_secs(now)),
            left,
        }
    }
}

/// The time left of the table in progress, for the run's header.
pub fn time_left(rows: &[TableRow]) -> Option<&str> {
    rows.iter()
        .map(|r| r.left.as_str())
        .find(|l| l.starts_with("about"))
}

/// "20 000": thousands apart, as people read counts.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{202f}');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> NaiveDateTime {
        chrono::DateTime::from_timestamp(1_800_000_000 + secs, 0)
            .unwrap()
            .naive_utc()
    }

    fn progress(done: u64, total: Option<u64>, finished: Option<i64>) -> TableProgress {
        TableProgress {
            table: "org_organisation".into(),
            direction: Direction::Pull,
            done,
            total,
            total_bytes: None,
            bytes: 2_000_000,
            started_at: at(0),
            finished_at: finished.map(at),
        }
    }

    #[test]
    fn a_table_in_progress_shows_its_share_pace_and_time_left() {
        let row = TableRow::new(&progress(5_000, Some(20_000), None), true, at(100));
        assert_eq!(row.done, "5\u{202f}000 of 20\u{202f}000");
        assert_eq!(row.percent, Some(25));
        assert_eq!(row.rate.as_deref(), Some("50 records/s"));
        assert_eq!(row.left, "about 5 min 0 s");
        assert_eq!(row.bytes, "2.0 MB");
    }

    #[test]
    fn a_finished_or_cut_short_table_says_so() {
        let done = TableRow::new(&progress(20_000, Some(20_000), Some(300)), false, at(400));
        assert_eq!(done.left, "done");
        assert_eq!(done.elapsed, "5 min 0 s");
        let stopped = TableRow::new(&progress(5_000, Some(20_000), Some(100)), false, at(400));
        assert_eq!(stopped.left, "stopped");
        let unknown = TableRow::new(&progress(0, None, None), true, at(0));
        assert_eq!(unknown.left, "not known yet");
        assert_eq!(unknown.percent, None);
    }

    #[test]
    fn eden_windows_are_estimated_by_bytes() {
        let mut p = progress(3_000, None, None);
        p.total_bytes = Some(8_000_000);
        let row = TableRow::new(&p, true, at(100));
        assert_eq!(row.left, "about 5 min 0 s");
    }
}
