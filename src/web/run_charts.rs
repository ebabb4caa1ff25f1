//! The charts of runs: records in and out per hour across every repository
//! (the dashboard), and one repository's run history: records and duration
//! per run, with the average run time (its Runs tab).

use chrono::{NaiveDateTime, TimeDelta, Timelike};

use crate::model::runs::Run;
use crate::web::chart::{BarChart, Bucket, Series};
use crate::web::format;

/// Hours the dashboard's chart covers.
pub const HOURS: i64 = 24;

fn in_and_out(records_in: &'static str, records_out: &'static str) -> Vec<Series> {
    vec![
        Series {
            name: records_in,
            class: "series-in",
        },
        Series {
            name: records_out,
            class: "series-out",
        },
    ]
}

/// Records in and out per hour over the last [`HOURS`], oldest first,
/// from the node's hourly counts (`(start of the hour, in, out)`): this
/// node's runs as they finished, and peers' calls here (a push received
/// comes in, a pull served goes out).
pub fn records_per_hour(hours: &[(NaiveDateTime, i64, i64)], now: NaiveDateTime) -> BarChart {
    let this_hour = now
        .with_minute(0)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(now);
    let first = this_hour - TimeDelta::hours(HOURS - 1);
    let mut buckets: Vec<Bucket> = (0..HOURS)
        .map(|h| Bucket {
            label: (first + TimeDelta::hours(h))
                .format("%H:00 UTC")
                .to_string(),
            values: vec![0.0, 0.0],
        })
        .collect();
    for (hour, records_in, records_out) in hours {
        let index = (*hour - first).num_hours();
        if *hour >= first
            && let Some(bucket) = buckets.get_mut(index as usize)
        {
            bucket.values[0] += *records_in as f64;
            bucket.values[1] += *records_out as f64;
        }
    }
    BarChart {
        title: format!(
            "Records in and out per hour, last {HOURS} hours: this node's runs and peers' calls"
        ),
        unit: "records",
        series: in_and_out(
            "in (pulled, or pushed to us)",
            "out (pushed, or pulled from us)",
        ),
        buckets,
        from_label: first.format("%H:00").to_string(),
        to_label: "now (UTC)".into(),
    }
}

/// A repository's run history (runs newest first, as stored): records
/// per run, duration per run, and the average run time in words.
pub struct History {
    pub records: BarChart,
    pub durations: BarChart,
    pub average: String,
}

/// Days a repository's run history covers.
pub const HISTORY_DAYS: i64 = 7;

pub fn history(runs: &[Run], now: NaiveDateTime) -> Option<History> {
    let since = now - TimeDelta::days(HISTORY_DAYS);
    let finished: Vec<(&Run, f64)> = runs
        .iter()
        .rev()
        // A skip did no work: it is not part of the history.
        .filter(|run| run.status != crate::vocabulary::RunStatus::Skipped)
        .filter(|run| run.started_at >= since)
        .filter_map(|run| {
            let end = run.finished_at?;
            Some((
                run,
                (end - run.started_at).num_milliseconds().max(0) as f64 / 1000.0,
            ))
        })
        .collect();
    let (first, last) = (finished.first()?.0, finished.last()?.0);
    let label = |run: &Run| {
        format!(
            "run {} ({} UTC, {})",
            run.id,
            run.started_at.format("%Y-%m-%d %H:%M"),
            run.status
        )
    };
    let (from_label, to_label) = (
        first.started_at.format("%m-%d %H:%M").to_string(),
        last.started_at.format("%m-%d %H:%M").to_string(),
    );
    let average = finished.iter().map(|(_, secs)| secs).sum::<f64>() / finished.len() as f64;
    Some(History {
        records: BarChart {
            title: format!(
                "Records per run, last {} runs ({HISTORY_DAYS} days at most)",
                finished.len()
            ),
            unit: "records",
            series: in_and_out("in (pulled)", "out (pushed)"),
            buckets: finished
                .iter()
                .map(|(run, _)| Bucket {
                    label: label(run),
                    values: vec![
                        run.counts.records_in() as f64,
                        run.counts.records_out() as f64,
                    ],
                })
                .collect(),
            from_label: from_label.clone(),
            to_label: to_label.clone(),
        },
        durations: BarChart {
            title: format!(
                "Duration per run, last {} runs ({HISTORY_DAYS} days at most)",
                finished.len()
            ),
            unit: "s",
            series: vec![Series {
                name: "duration",
                class: "series-time",
            }],
            buckets: finished
                .iter()
                .map(|(run, secs)| Bucket {
                    label: label(run),
                    values: vec![*secs],
                })
                .collect(),
            from_label,
            to_label,
        },
        average: format!(
            "{} over the last {} runs",
            format::seconds(average),
            finished.len()
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn hours_fall_into_their_bucket_and_older_ones_are_left_out() {
        let hours = vec![
            (at("2026-12-03 14:00:00"), 100, 100),
            (at("2026-12-03 15:00:00"), 2, 0),
            (at("2026-12-04 13:00:00"), 0, 7),
            (at("2026-12-04 14:00:00"), 18, 21),
        ];
        let chart = records_per_hour(&hours, at("2026-12-04 14:30:00"));
        assert_eq!(chart.buckets.len(), HOURS as usize);
        let last = chart.buckets.last().unwrap();
        assert_eq!(
            (last.label.as_str(), &last.values[..]),
            ("14:00 UTC", &[18.0, 21.0][..])
        );
        assert_eq!(chart.buckets[22].values, vec![0.0, 7.0]);
        assert_eq!(chart.buckets[0].label, "15:00 UTC");
        assert_eq!(
            chart.buckets[0].values,
            vec![2.0, 0.0],
            "the hour 24 h ago is left out"
        );
    }
}
