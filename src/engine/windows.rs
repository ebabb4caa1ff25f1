//! Time windows for pulls from Eden. Eden answers a whole table in one
//! document, which a slow link that drops every minute never delivers. Its
//! sync filters take a condition on the master table, so a pull asks for
//! the records modified in `[from, before)`: `msince=from` (inclusive, and
//! it keeps references to older records of the same table, which a
//! `[~]~.modified_on__ge` filter would drop) and
//! `[~]~.modified_on__lt=before` (exclusive), whole seconds as Eden stores
//! them, so consecutive windows neither overlap nor leave a gap. Each
//! window is imported and committed with its watermark; one whose answer
//! would not fit the link is asked again at half the width, one that came
//! fast is followed by a wider one. The first window is the whole rest of
//! the table: a good link gets one document, as from Eden's own client.

use std::time::Duration;

use chrono::{NaiveDate, NaiveDateTime, TimeDelta};

use super::client::Budget;

/// The earliest time a window's width is counted from when the pull starts
/// at the table's beginning (the first window has no lower bound, so older
/// records still come).
fn earliest() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2005, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .expect("a valid date")
}

/// Answers smaller than this say little about the link's pace (latency
/// and headers dominate).
const PACE_SAMPLE: u64 = 16 * 1024;

/// One window: masters modified in `[from, before)`; no `before`: to the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Window {
    pub from: Option<NaiveDateTime>,
    pub before: Option<NaiveDateTime>,
}

impl Window {
    /// Whether an answer whose records of the table were modified between
    /// `mtimes` (oldest, youngest) kept to this window. Only its end tells:
    /// records of the table older than its start come as dependencies of
    /// the records in it (`msince` filters the masters only).
    pub fn kept_to(&self, mtimes: Option<(NaiveDateTime, NaiveDateTime)>) -> bool {
        match (self.before, mtimes) {
            (Some(before), Some((_, youngest))) => youngest < before,
            _ => true,
        }
    }

    /// "from 2026-12-02 10:00:00 to 11:00:00 UTC", for the log.
    pub fn describe(&self) -> String {
        let time = |t: NaiveDateTime| t.format("%Y-%m-%d %H:%M:%S").to_string();
        match (self.from, self.before) {
            (Some(from), Some(before)) => {
                format!("modified from {} to {} UTC", time(from), time(before))
            }
            (None, Some(before)) => format!("modified before {} UTC", time(before)),
            (Some(from), None) => format!("modified since {} UTC", time(from)),
            (None, None) => "the whole table".to_string(),
        }
    }
}

/// Eden stores whole seconds.
fn whole_seconds(t: NaiveDateTime) -> NaiveDateTime {
    chrono::Timelike::with_nanosecond(&t, 0).unwrap_or(t)
}

/// The windows of one task's pull.
#[derive(Debug, Clone)]
pub(super) struct Windows {
    from: Option<NaiveDateTime>,
    /// The next window's width in seconds; None: the whole rest.
    width: Option<i64>,
    /// Bytes per second the link moved in earlier answers.
    rate: Option<f64>,
    /// How long one window should take on the wire.
    target: Duration,
    /// The rest of the table is too recent to be split (half of it would
    /// still reach where windows stop, short of the peer's clock): it
    /// comes whole.
    unsplittable: bool,
}

impl Windows {
    pub fn new(from: Option<NaiveDateTime>, target: Duration) -> Windows {
        Windows {
            from: from.map(whole_seconds),
            width: None,
            rate: None,
            target,
            unsplittable: false,
        }
    }

    /// The next window; it ends before `peer_now` (the peer's clock, less a
    /// margin), or it is open: a record the peer changes while the pull runs
    /// must land in a window still to come.
    pub fn next(&self, peer_now: NaiveDateTime) -> Window {
        let start = self.from.unwrap_or_else(earliest);
        let before = self
            .width
            .map(|w| start + TimeDelta::seconds(w))
            .filter(|before| *before < whole_seconds(peer_now));
        Window {
            from: self.from,
            before,
        }
    }

    /// How long the window's answer may take: four times the target, so a
    /// window sized at the link's pace is not dropped for a slower moment,
    /// and a table a good link moves in a minute still comes as one
    /// document. A window of one second cannot be split: it comes whatever
    /// it takes.
    pub fn budget(&self, window: &Window) -> Option<Budget> {
        if self.unsplittable && window.before.is_none() {
            return None;
        }
        let start = window.from.unwrap_or_else(earliest);
        let one_second = window
            .before
            .is_some_and(|before| before - start <= TimeDelta::seconds(1));
        (!one_second).then_some(Budget {
            time: self.target * 4,
            bytes_per_sec: self.rate,
        })
    }

    /// The window's answer was too large or slow, or the link dropped
    /// during it: ask for half of it.
    pub fn halve(&mut self, window: &Window, peer_now: NaiveDateTime) {
        let start = window.from.unwrap_or_else(earliest);
        let end = window.before.unwrap_or(peer_now);
        let width = (end - start).num_seconds();
        self.width = Some((width / 2).max(1));
        // Half of it would still reach the peer's clock: asking again
        // would only bring the same answer.
        self.unsplittable = window.before.is_none() && self.next(peer_now).before.is_none();
    }

    /// What a transfer (whole or not) showed of the link's pace.
    pub fn paced(&mut self, bytes: u64, took: Duration) {
        if bytes >= PACE_SAMPLE && !took.is_zero() {
            self.rate = Some(bytes as f64 / took.as_secs_f64());
        }
    }

    /// The window is committed: the next one starts where it ended, wider
    /// when it came faster than the target (twice at most), narrower when
    /// slower. Returns whether the table has more windows.
    pub fn done(&mut self, window: &Window, took: Duration) -> bool {
        let Some(before) = window.before else {
            return false;
        };
        self.from = Some(before);
        self.unsplittable = false;
        if let Some(width) = self.width {
            let factor =
                (self.target.as_secs_f64() / took.as_secs_f64().max(0.001)).clamp(0.5, 2.0);
            self.width = Some(((width as f64 * factor) as i64).max(1));
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn the_first_window_is_the_whole_rest() {
        let w = Windows::new(Some(at("2026-12-02 04:00:00")), Duration::from_secs(15));
        let window = w.next(at("2026-12-03 00:00:00"));
        assert_eq!(window.from, Some(at("2026-12-02 04:00:00")));
        assert_eq!(window.before, None);
        assert!(w.budget(&window).is_some());
    }

    #[test]
    fn halving_then_walking_covers_the_table_without_gap_or_overlap() {
        let now = at("2026-12-03 00:00:00");
        let mut w = Windows::new(Some(at("2026-12-02 00:00:00")), Duration::from_secs(15));
        let first = w.next(now);
        w.halve(&first, now);
        let second = w.next(now);
        assert_eq!(second.before, Some(at("2026-12-02 12:00:00")));
        assert!(w.done(&second, Duration::from_secs(15)));
        let third = w.next(now);
        assert_eq!(third.from, second.before, "the next starts where one ended");
        // Twelve more hours end at `now`: that window is open.
        assert_eq!(third.before, None);
        assert!(!w.done(&third, Duration::from_secs(1)));
    }

    #[test]
    fn widths_follow_the_pace() {
        let now = at("2026-12-03 00:00:00");
        let mut w = Windows::new(Some(at("2026-12-01 00:00:00")), Duration::from_secs(10));
        let open = w.next(now);
        w.halve(&open, now); // one day
        let day = w.next(now);
        assert_eq!(day.before, Some(at("2026-12-02 00:00:00")));
        w.done(&day, Duration::from_secs(40)); // four times too slow: half
        assert_eq!(w.next(now).before, Some(at("2026-12-02 12:00:00")));
    }

    #[test]
    fn a_window_of_one_second_is_never_split() {
        let now = at("2026-12-03 00:00:00");
        let mut w = Windows::new(Some(at("2026-12-02 10:00:00")), Duration::from_secs(15));
        for _ in 0..40 {
            let window = w.next(now);
            w.halve(&window, now);
        }
        let window = w.next(now);
        assert_eq!(window.before, Some(at("2026-12-02 10:00:01")));
        assert!(w.budget(&window).is_none());
    }

    #[test]
    fn without_a_start_the_first_bounded_window_has_no_lower_bound() {
        let now = at("2026-12-03 00:00:00");
        let mut w = Windows::new(None, Duration::from_secs(15));
        let open = w.next(now);
        w.halve(&open, now);
        let window = w.next(now);
        assert_eq!(window.from, None);
        assert!(window.before.is_some());
    }

    #[test]
    fn the_most_recent_rest_comes_whole_instead_of_being_asked_for_again() {
        let now = at("2026-12-03 00:00:00");
        let mut w = Windows::new(Some(at("2026-12-02 23:59:59")), Duration::from_secs(15));
        let open = w.next(now);
        assert!(w.budget(&open).is_some());
        w.halve(&open, now);
        let again = w.next(now);
        assert_eq!(again.before, None);
        assert!(w.budget(&again).is_none(), "no budget: it cannot be split");
    }

    #[test]
    fn a_window_is_kept_to_when_nothing_reaches_its_end() {
        let window = Window {
            from: Some(at("2026-12-02 10:00:00")),
            before: Some(at("2026-12-02 11:00:00")),
        };
        let older = at("2026-12-01 00:00:00");
        assert!(window.kept_to(Some((older, at("2026-12-02 10:59:59")))));
        assert!(!window.kept_to(Some((older, at("2026-12-02 11:00:00")))));
        assert!(window.kept_to(None));
        let open = Window {
            before: None,
            ..window
        };
        assert!(open.kept_to(Some((older, at("2099-01-01 00:00:00")))));
    }
}
