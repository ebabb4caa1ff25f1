//! The Schedules screen: every job of every repository, with its status,
//! last run, average run, next run, and Run now / Pause / Resume / Edit.

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use chrono::NaiveDateTime;

use crate::error::WebError;
use crate::manage;
use crate::model;
use crate::model::jobs::Job;
use crate::web::format::{self, span};
use crate::web::repository_names::name_of;
use crate::web::session::AdminSession;
use crate::web::{AppState, Layout, render};

/// How many of a job's newest runs its average is taken over.
const RUNS_AVERAGED: usize = 20;

/// One schedule as the screen shows it.
pub struct JobLine {
    pub job: Job,
    pub repository: String,
    pub described: String,
    /// "active", "paused", "finished" (no run left), or "broken".
    pub status: &'static str,
    pub badge: &'static str,
    /// "2 min ago", with the run's status; "never".
    pub last_run: String,
    pub last_status: Option<String>,
    /// "1 min 20 s over 12 runs"; "-" without a finished run.
    pub average: String,
    /// "in 3 min (14:05:00 UTC)"; "-" when none.
    pub next_run: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "jobs/index.html")]
struct JobsPage {
    layout: Layout,
    lines: Vec<JobLine>,
}

pub async fn index(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: AdminSession,
) -> Result<HttpResponse, WebError> {
    let (jobs, names, runs) = super::db(&state.pool, |conn| {
        let jobs = model::jobs::list(conn)?;
        let names: Vec<(i64, String)> = model::repositories::list(conn)?
            .into_iter()
            .map(|r| (r.id, r.name))
            .collect();
        let runs = model::runs::recent_job_runs(conn, 5_000)?;
        Ok::<_, WebError>((jobs, names, runs))
    })
    .await?;
    let history = history(&runs);
    let now = model::now();
    let lines = jobs
        .into_iter()
        .map(|job| line(job, &names, &history, now))
        .collect();
    let page = JobsPage {
        layout: Layout::new(&req, "Schedules", "jobs", &who),
        lines,
    };
    Ok(render(&req, page))
}

/// What a job's newest runs say: the last one and the average duration.
#[derive(Debug, PartialEq)]
struct History {
    last_started: NaiveDateTime,
    last_status: String,
    average_secs: f64,
    runs: usize,
}

/// Each job's history from its newest runs (newest first).
fn history(runs: &[(i64, NaiveDateTime, NaiveDateTime, String)]) -> HashMap<i64, History> {
    let mut per_job: HashMap<i64, (NaiveDateTime, String, Vec<f64>)> = HashMap::new();
    for (job, started, finished, status) in runs {
        let (_, _, secs) = per_job
            .entry(*job)
            .or_insert_with(|| (*started, status.clone(), Vec::new()));
        if secs.len() < RUNS_AVERAGED {
            secs.push((*finished - *started).num_milliseconds().max(0) as f64 / 1000.0);
        }
    }
    per_job
        .into_iter()
        .map(|(job, (last_started, last_status, secs))| {
            let history = History {
                last_started,
                last_status,
                average_secs: secs.iter().sum::<f64>() / secs.len() as f64,
                runs: secs.len(),
            };
            (job, history)
        })
        .collect()
}

fn line(
    job: Job,
    names: &[(i64, String)],
    history: &HashMap<i64, History>,
    now: NaiveDateTime,
) -> JobLine {
    let past = history.get(&job.id);
    let (status, badge) = match (
        job.enabled,
        manage::jobs::schedule_of(&job),
        job.next_run_at,
    ) {
        (_, Err(_), _) => ("broken", "badge-error"),
        (false, _, _) => ("paused", "badge-off"),
        (true, _, Some(_)) => ("active", "badge-ok"),
        (true, _, None) => ("finished", "badge-off"),
    };
    let average = match past {
        Some(h) => {
            let runs = if h.runs == 1 { "run" } else { "runs" };
            format!("{} over {} {runs}", format::seconds(h.average_secs), h.runs)
        }
        None => "-".into(),
    };
    // The newest of the scheduler's claim and the runs kept.
    let last = match (past, job.last_run_at) {
        (Some(h), at) if at.is_none_or(|at| at <= h.last_started) => {
            Some((h.last_started, Some(h.last_status.clone())))
        }
        (_, Some(at)) => Some((at, job.last_status.clone())),
        (_, None) => None,
    };
    JobLine {
        repository: name_of(names, Some(job.repository_id)),
        described: manage::jobs::describe(&job),
        status,
        badge,
        last_run: last.as_ref().map_or_else(
            || "never".into(),
            |(at, _)| format!("{} ago", span(*at, now)),
        ),
        last_status: last.and_then(|(_, status)| status),
        average,
        next_run: job.next_run_at.filter(|_| job.enabled).map_or_else(
            || "-".into(),
            |at| {
                let when = if at <= now {
                    "due now".to_string()
                } else {
                    format!("in {}", span(now, at))
                };
                format!("{when} ({} UTC)", at.format("%H:%M:%S"))
            },
        ),
        job,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_average_is_over_each_jobs_newest_runs() {
        let at = |s: i64| chrono::DateTime::from_timestamp(s, 0).unwrap().naive_utc();
        let run = |job, from, to, status: &str| (job, at(from), at(to), status.to_string());
        let mut runs = vec![
            run(1, 10, 12, "failed"),
            run(1, 0, 4, "succeeded"),
            run(2, 0, 90, "succeeded"),
        ];
        runs.extend((0..30).map(|_| run(3, 0, 1, "succeeded")));
        runs.push(run(3, 0, 1000, "succeeded"));
        let history = history(&runs);
        let first = &history[&1];
        assert_eq!((first.average_secs, first.runs), (3.0, 2));
        assert_eq!(
            (first.last_started, first.last_status.as_str()),
            (at(10), "failed")
        );
        assert_eq!((history[&2].average_secs, history[&2].runs), (90.0, 1));
        // Only the newest 20 count: the slow run 31st in line does not.
        assert_eq!(
            (history[&3].average_secs, history[&3].runs),
            (1.0, RUNS_AVERAGED)
        );
    }
}
