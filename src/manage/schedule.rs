//! When a job runs: every N seconds or on a cron expression (6 fields,
//! seconds first, UTC: tokio-cron-scheduler's dialect), between an optional
//! start and stop time, at most `repeats` times. Pure functions, so the
//! console, the command line and the scheduler agree on every run time.

use chrono::{NaiveDateTime, TimeDelta, TimeZone, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds};

/// The form a cron expression takes, for messages.
pub const CRON_FORM: &str = "SEC MIN HOUR DOM MON DOW, e.g. 0 */10 * * * *";

/// How often a job recurs.
#[derive(Debug, Clone)]
pub enum Recurrence {
    /// Every so many seconds (at least 1).
    Every(i64),
    /// Boxed: a parsed expression is large next to a number of seconds.
    Cron(Box<Cron>),
}

/// A job's schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub recurrence: Recurrence,
    /// No run before this time; periods are counted from it.
    pub start_at: Option<NaiveDateTime>,
    /// No run after this time.
    pub stop_at: Option<NaiveDateTime>,
    /// How many runs in all; 0: unlimited.
    pub repeats: i32,
}

/// Parse a cron expression exactly as tokio-cron-scheduler 0.15 does
/// (seconds required, day of month and day of week must both match), so
/// what is accepted here is what the scheduler runs.
pub fn parse_cron(expr: &str) -> Result<Cron, String> {
    CronParser::builder()
        .seconds(Seconds::Required)
        .dom_and_dow(true)
        .build()
        .parse(expr.trim())
        .map_err(|e| e.to_string())
}

/// The first run time later than `after`, for a job that has already run
/// `times_run` times; `None` when the job will not run again.
pub fn next_run(spec: &Schedule, after: NaiveDateTime, times_run: i32) -> Option<NaiveDateTime> {
    if spec.repeats > 0 && times_run >= spec.repeats {
        return None;
    }
    let next = match &spec.recurrence {
        Recurrence::Every(seconds) => next_every(*seconds, spec.start_at, after)?,
        Recurrence::Cron(cron) => next_cron(cron, spec.start_at, after)?,
    };
    match spec.stop_at {
        Some(stop) if next > stop => None,
        _ => Some(next),
    }
}

/// The next `n` run times from `from`, for a job that has already run
/// `times_run` times (fewer when the schedule ends sooner).
pub fn upcoming(
    spec: &Schedule,
    from: NaiveDateTime,
    times_run: i32,
    n: usize,
) -> Vec<NaiveDateTime> {
    let mut times = Vec::with_capacity(n);
    let mut after = from;
    let mut count = times_run;
    while times.len() < n {
        let Some(next) = next_run(spec, after, count) else {
            break;
        };
        times.push(next);
        after = next;
        count = count.saturating_add(1);
    }
    times
}

/// With a start time, runs fall on start + k periods (a slow run does not
/// shift the later ones); without one, a period after `after`.
fn next_every(
    seconds: i64,
    start: Option<NaiveDateTime>,
    after: NaiveDateTime,
) -> Option<NaiveDateTime> {
    if seconds < 1 {
        return None;
    }
    let period = TimeDelta::try_seconds(seconds)?;
    match start {
        Some(start) if start > after => Some(start),
        Some(start) => {
            let elapsed = (after - start).num_microseconds()?;
            let periods = elapsed / period.num_microseconds()? + 1;
            let offset = TimeDelta::microseconds(periods.checked_mul(period.num_microseconds()?)?);
            start.checked_add_signed(offset)
        }
        None => after.checked_add_signed(period),
    }
}

fn next_cron(
    cron: &Cron,
    start: Option<NaiveDateTime>,
    after: NaiveDateTime,
) -> Option<NaiveDateTime> {
    // A start time in the future may itself be a run time.
    let (from, inclusive) = match start {
        Some(start) if start > after => (start, true),
        _ => (after, false),
    };
    cron.find_next_occurrence(&Utc.from_utc_datetime(&from), inclusive)
        .ok()
        .map(|time| time.naive_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    fn every(seconds: i64) -> Schedule {
        Schedule {
            recurrence: Recurrence::Every(seconds),
            start_at: None,
            stop_at: None,
            repeats: 0,
        }
    }

    fn cron(expr: &str) -> Schedule {
        Schedule {
            recurrence: Recurrence::Cron(Box::new(parse_cron(expr).unwrap())),
            start_at: None,
            stop_at: None,
            repeats: 0,
        }
    }

    #[test]
    fn every_without_start_is_a_period_after_the_last_time() {
        let spec = every(600);
        assert_eq!(
            next_run(&spec, at("2026-11-26 06:00:00"), 0),
            Some(at("2026-11-26 06:10:00"))
        );
        assert_eq!(
            upcoming(&spec, at("2026-11-26 06:00:00"), 0, 3),
            vec![
                at("2026-11-26 06:10:00"),
                at("2026-11-26 06:20:00"),
                at("2026-11-26 06:30:00")
            ]
        );
    }

    #[test]
    fn every_with_a_future_start_runs_first_at_the_start() {
        let spec = Schedule {
            start_at: Some(at("2026-12-01 00:00:00")),
            ..every(3600)
        };
        assert_eq!(
            upcoming(&spec, at("2026-11-26 06:00:00"), 0, 2),
            vec![at("2026-12-01 00:00:00"), at("2026-12-01 01:00:00")]
        );
    }

    #[test]
    fn every_with_a_past_start_stays_on_its_grid() {
        let spec = Schedule {
            start_at: Some(at("2026-11-26 06:00:00")),
            ..every(600)
        };
        // A run that ended at 06:13:27 is followed by the 06:20 slot.
        assert_eq!(
            next_run(&spec, at("2026-11-26 06:13:27"), 1),
            Some(at("2026-11-26 06:20:00"))
        );
        // Exactly on a slot: the next slot, never the same time again.
        assert_eq!(
            next_run(&spec, at("2026-11-26 06:20:00"), 2),
            Some(at("2026-11-26 06:30:00"))
        );
    }

    #[test]
    fn nothing_runs_after_the_stop_time() {
        let spec = Schedule {
            stop_at: Some(at("2026-11-26 06:25:00")),
            ..every(600)
        };
        assert_eq!(
            upcoming(&spec, at("2026-11-26 06:00:00"), 0, 5),
            vec![at("2026-11-26 06:10:00"), at("2026-11-26 06:20:00")]
        );
        assert_eq!(next_run(&spec, at("2026-11-26 06:20:00"), 2), None);
        // A run exactly at the stop time is still allowed.
        let spec = Schedule {
            stop_at: Some(at("2026-11-26 06:10:00")),
            ..every(600)
        };
        assert_eq!(
            next_run(&spec, at("2026-11-26 06:00:00"), 0),
            Some(at("2026-11-26 06:10:00"))
        );
    }

    #[test]
    fn repeats_limit_the_number_of_runs() {
        let spec = Schedule {
            repeats: 2,
            ..every(60)
        };
        assert_eq!(upcoming(&spec, at("2026-11-26 06:00:00"), 0, 5).len(), 2);
        assert_eq!(upcoming(&spec, at("2026-11-26 06:00:00"), 1, 5).len(), 1);
        assert_eq!(next_run(&spec, at("2026-11-26 06:00:00"), 2), None);
        // 0 is unlimited.
        let unlimited = every(60);
        assert_eq!(
            next_run(&unlimited, at("2026-11-26 06:00:00"), 1_000_000),
            Some(at("2026-11-26 06:01:00"))
        );
    }

    #[test]
    fn cron_has_seconds_first_and_is_utc() {
        let spec = cron("0 */10 * * * *");
        assert_eq!(
            upcoming(&spec, at("2026-11-26 06:03:00"), 0, 3),
            vec![
                at("2026-11-26 06:10:00"),
                at("2026-11-26 06:20:00"),
                at("2026-11-26 06:30:00")
            ]
        );
        // Exactly on a match: the next one.
        assert_eq!(
            next_run(&spec, at("2026-11-26 06:10:00"), 0),
            Some(at("2026-11-26 06:20:00"))
        );
        let daily = cron("30 15 2 * * *");
        assert_eq!(
            next_run(&daily, at("2026-11-26 06:00:00"), 0),
            Some(at("2026-11-27 02:15:30"))
        );
    }

    #[test]
    fn cron_with_start_and_stop() {
        let spec = Schedule {
            start_at: Some(at("2026-12-01 00:00:00")),
            stop_at: Some(at("2026-12-01 00:20:00")),
            ..cron("0 */10 * * * *")
        };
        // The start itself matches, so it is the first run.
        assert_eq!(
            upcoming(&spec, at("2026-11-26 06:00:00"), 0, 5),
            vec![
                at("2026-12-01 00:00:00"),
                at("2026-12-01 00:10:00"),
                at("2026-12-01 00:20:00")
            ]
        );
        let spec = Schedule {
            start_at: Some(at("2026-12-01 00:00:01")),
            ..cron("0 */10 * * * *")
        };
        assert_eq!(
            next_run(&spec, at("2026-11-26 06:00:00"), 0),
            Some(at("2026-12-01 00:10:00"))
        );
    }

    #[test]
    fn cron_uses_the_scheduler_dialect() {
        // Five fields (no seconds) are not accepted: the scheduler would refuse them.
        let five = parse_cron("*/10 * * * *").unwrap_err();
        assert!(five.contains("6"), "{five}");
        assert!(parse_cron("0 61 * * * *").is_err());
        assert!(parse_cron("not a schedule").is_err());
        // Day of month and day of week must both match: the 13th, when a Friday.
        let friday_13th = cron("0 0 12 13 * FRI");
        assert_eq!(
            next_run(&friday_13th, at("2026-01-01 00:00:00"), 0),
            Some(at("2026-02-13 12:00:00"))
        );
    }

    #[test]
    fn a_cron_that_never_matches_has_no_next_run() {
        let spec = cron("0 0 0 30 2 *");
        assert_eq!(next_run(&spec, at("2026-01-01 00:00:00"), 0), None);
    }
}
