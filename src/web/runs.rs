//! Runs: the list across repositories (filterable by status and
//! repository), one run with its log lines and refused records (live while
//! it runs), and "Sync now" / "Retry now".

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use crate::engine::{RunStatus, Trigger};
use crate::error::WebError;
use crate::model;
use crate::model::review_items::ReviewItem;
use crate::model::runs::Run;
use crate::web::format::span;
use crate::web::log_groups::{self, LogGroup};
use crate::web::query::{QueryNumber, problems};
use crate::web::repository_names::{name_of, names};
use crate::web::run_charts;
use crate::web::run_link::LinkView;
use crate::web::run_tables::TableRow;
use crate::web::session::{AdminSession, NoFields, Protected};
use crate::web::{AppState, Layout, redirect_with_error, redirect_with_flash, render};

const PAGE: i64 = 50;
/// How many of a repository's newest runs its history charts.
const CHARTED_RUNS: i64 = 60;
/// A run started from the console may take this long.
const MANUAL_RUN_TIMEOUT: Duration = Duration::from_secs(3600);
pub const STATUSES: [&str; 7] = [
    RunStatus::Running.as_str(),
    RunStatus::Succeeded.as_str(),
    RunStatus::Partial.as_str(),
    RunStatus::Failed.as_str(),
    RunStatus::TimedOut.as_str(),
    RunStatus::Cancelled.as_str(),
    RunStatus::Skipped.as_str(),
];

/// A run as the pages show it.
pub struct RunRow {
    pub run: Run,
    pub repository: String,
    pub started: String,
    pub duration: String,
    pub badge: &'static str,
}

impl RunRow {
    pub fn new(run: Run, names: &[(i64, String)]) -> RunRow {
        let now = model::now();
        let duration = span(run.started_at, run.finished_at.unwrap_or(now));
        RunRow {
            repository: name_of(names, Some(run.repository_id)),
            started: run.started_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            duration,
            badge: match run.status {
                RunStatus::Succeeded => "badge-ok",
                RunStatus::Running => "badge-running",
                RunStatus::Partial => "badge-warn",
                RunStatus::Skipped => "badge-skipped",
                RunStatus::Failed | RunStatus::TimedOut => "badge-error",
                RunStatus::Cancelled => "badge-off",
            },
            run,
        }
    }
}

#[derive(Deserialize)]
pub struct RunsQuery {
    status: Option<String>,
    #[serde(default)]
    repository: QueryNumber,
    #[serde(default)]
    before: QueryNumber,
}

#[derive(Template, WebTemplate)]
#[template(path = "runs/list.html")]
struct RunsPage {
    layout: Layout,
    runs: Vec<RunRow>,
    statuses: [&'static str; 7],
    status: String,
    repository: Option<(i64, String)>,
    /// Every repository, for the filter: (id, name, selected).
    repositories: Vec<(i64, String, bool)>,
    older: Option<String>,
    live: bool,
    /// One repository's charts of its recent runs.
    history: Option<run_charts::History>,
}

pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: AdminSession,
    query: web::Query<RunsQuery>,
) -> Result<HttpResponse, WebError> {
    let query = query.into_inner();
    let status = query
        .status
        .filter(|s| STATUSES.contains(&s.as_str()))
        .unwrap_or_default();
    let wanted = RunStatus::parse(&status).ok();
    let (repository, before) = (query.repository.value(), query.before.value());
    let (runs, names, history) = super::db(&state.pool, move |conn| {
        let names = names(conn)?;
        let runs = model::runs::list(conn, wanted, repository, before, PAGE)?;
        // One repository's Runs tab charts its recent runs, all statuses.
        let history = match repository {
            Some(id) => run_charts::history(
                &model::runs::for_repository(conn, id, CHARTED_RUNS)?,
                model::now(),
            ),
            None => None,
        };
        Ok::<_, WebError>((runs, names, history))
    })
    .await?;
    let older = (runs.len() as i64 == PAGE).then(|| {
        let mut link = format!("before={}", runs.last().map_or(0, |r| r.id));
        if !status.is_empty() {
            link.push_str(&format!("&status={}", crate::error::url_encode(&status)));
        }
        if let Some(id) = repository {
            link.push_str(&format!("&repository={id}"));
        }
        link
    });
    let live = runs.iter().any(|r| r.status == RunStatus::Running);
    let mut layout = Layout::new(&req, "Runs", "runs", &who);
    layout.flash =
        problems(&[("Repository", &query.repository), ("Page", &query.before)]).or(layout.flash);
    let page = RunsPage {
        layout,
        repository: repository.map(|id| (id, name_of(&names, Some(id)))),
        runs: runs.into_iter().map(|r| RunRow::new(r, &names)).collect(),
        repositories: names
            .iter()
            .map(|(id, name)| (*id, name.clone(), repository == Some(*id)))
            .collect(),
        statuses: STATUSES,
        status,
        older,
        live,
        history,
    };
    Ok(render(&req, page))
}

#[derive(Template, WebTemplate)]
#[template(path = "runs/show.html")]
struct RunPage {
    layout: Layout,
    row: RunRow,
    /// What the link did, when it dropped or cost bytes twice.
    link: Option<LinkView>,
    /// Each table's pull and push, with the time left while it goes on.
    tables: Vec<TableRow>,
    /// The run's log, repeated rows of one step as one line.
    log: Vec<LogGroup>,
    rejected: Vec<ReviewItem>,
}

pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: AdminSession,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    let id = id.into_inner();
    let (run, names, log, rejected) = super::db(&state.pool, move |conn| {
        let run = model::runs::find(conn, id)?.ok_or(WebError::NotFound)?;
        Ok::<_, WebError>((
            run,
            names(conn)?,
            model::sync_log::for_run(conn, id)?,
            model::review_items::for_run(conn, id)?,
        ))
    })
    .await?;
    let link = LinkView::of(&run, &log);
    let tables = TableRow::of(&run, model::now());
    let row = RunRow::new(run, &names);
    let log = log_groups::collapse(
        log.into_iter()
            .map(|e| (row.repository.clone(), e))
            .collect(),
    );
    let page = RunPage {
        layout: Layout::new(&req, &format!("Run {id}"), "runs", &who),
        row,
        link,
        tables,
        log,
        rejected,
    };
    Ok(render(&req, page))
}

/// "Sync now": a manual run in the background; its progress shows on the
/// repository's runs.
pub async fn sync_now(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    posted: Protected<NoFields>,
) -> Result<HttpResponse, WebError> {
    start(&state, id.into_inner(), None, posted, Trigger::Manual).await
}

/// "Retry now": forget the backoff (and a block), then run.
pub async fn retry_now(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    posted: Protected<NoFields>,
) -> Result<HttpResponse, WebError> {
    let id = id.into_inner();
    super::db(&state.pool, move |conn| {
        model::repositories::clear_retry(conn, id).map_err(WebError::from)
    })
    .await?;
    start(&state, id, None, posted, Trigger::Retry).await
}

/// Start a run by hand (for the schedule `job`, from its Run now), unless
/// one is going, the repository has no tables, or it is passive.
pub(super) async fn start(
    state: &web::Data<AppState>,
    id: i64,
    job: Option<i64>,
    posted: Protected<NoFields>,
    trigger: Trigger,
) -> Result<HttpResponse, WebError> {
    let who = posted.session;
    let (repository, tasks) = super::db(&state.pool, move |conn| {
        let repository = model::repositories::find(conn, id)?.ok_or(WebError::NotFound)?;
        let tasks = model::tasks::list_for_repository(conn, id)?.len();
        Ok::<_, WebError>((repository, tasks))
    })
    .await?;
    // A race with a run starting meanwhile is harmless: that run is skipped.
    let busy = state
        .engine
        .run_in_progress(id)
        .await
        .map_err(|e| WebError::Internal(e.to_string()))?;
    let runs = format!("/runs?repository={id}");
    if busy {
        return Ok(redirect_with_flash(
            &runs,
            &format!(
                "A run of {} is already in progress, so no second one was started; this page follows it.",
                repository.name
            ),
        ));
    }
    if tasks == 0 && repository.is_active() {
        return Ok(redirect_with_error(
            &format!("/repositories/{id}/resources"),
            &format!(
                "{} has no tables to sync yet, so no run was started: choose them here first.",
                repository.name
            ),
        ));
    }
    if !repository.is_active() {
        return Ok(redirect_with_error(
            &runs,
            &format!(
                "{} has no URL: it is a passive-only peer that calls us.",
                repository.name
            ),
        ));
    }
    state
        .engine
        .start_manual_run(repository.id, trigger, job, MANUAL_RUN_TIMEOUT);
    let detail = trigger.as_str().to_string();
    let (actor, target) = (who.actor(), repository.name.clone());
    super::db(&state.pool, move |conn| {
        crate::audit::record(
            conn,
            &actor,
            "repository.sync",
            Some(&target),
            Some(&detail),
        )
    })
    .await?;
    Ok(redirect_with_flash(
        &runs,
        &format!(
            "A run of {} started; this page follows it.",
            repository.name
        ),
    ))
}
