//! The dashboard: this node's identity, how every repository is doing, the
//! runs in progress and the latest errors.

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;

use crate::db;
use crate::error::WebError;
use crate::model;
use crate::model::runs::Run;
use crate::model::sync_log::LogEntry;
use crate::model::users::Role;
use crate::vocabulary::RepositoryStatus;
use crate::web::failure_cause::Failure;
use crate::web::format::span;
use crate::web::peer_contacts;
use crate::web::query::{QueryNumber, problems};
use crate::web::repository_health::Health;
use crate::web::repository_names::name_of;
use crate::web::run_charts;
use crate::web::runs::RunRow;
use crate::web::session::AdminSession;
use crate::web::{AppState, Layout, render};

/// One repository's line on the dashboard, ready to show.
pub struct RepositoryRow {
    pub id: i64,
    pub name: String,
    pub health: Health,
    pub last_success: String,
    pub last_run: Option<RunRow>,
    pub next_run: String,
    pub failures: i32,
    /// How old the newest change pulled is, by its origin's `modified_on`
    /// (the pull watermark), for the task that lags most: not when the
    /// last pull ran, which "Last run" shows.
    pub watermark_age: String,
    pub warnings: Vec<String>,
    /// The last failure, with its cause and fix, while not recovered.
    pub failure: Option<Failure>,
    pub can_sync: bool,
}

/// Repositories shown on one page of the dashboard: a hub has hundreds,
/// and a page of all of them is slow to read and to serve.
const ROWS: usize = 50;

#[derive(serde::Deserialize, Default)]
pub struct DashboardQuery {
    #[serde(default)]
    page: QueryNumber,
}

/// Which repositories one page of the dashboard shows.
pub struct RepositoryPage {
    /// Shown: first and last, counting from 1, and of how many.
    pub first: usize,
    pub last: usize,
    pub of: usize,
    pub previous: Option<usize>,
    pub next: Option<usize>,
}

impl RepositoryPage {
    fn new(asked: Option<i64>, of: usize) -> RepositoryPage {
        let pages = of.div_ceil(ROWS).max(1);
        let number = asked.map_or(1, |n| n.clamp(1, pages as i64) as usize);
        let first = (number - 1) * ROWS;
        RepositoryPage {
            first: (first + 1).min(of),
            last: (first + ROWS).min(of),
            of,
            previous: (number > 1).then(|| number - 1),
            next: (number < pages).then(|| number + 1),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "dashboard/index.html")]
struct DashboardPage {
    layout: Layout,
    site_name: String,
    site_uuid: String,
    version: &'static str,
    backend: &'static str,
    admins: usize,
    sync_accounts: usize,
    /// One page of the repositories, those needing attention first.
    repositories: Vec<RepositoryRow>,
    repository_page: RepositoryPage,
    running: Vec<RunRow>,
    failures: Vec<(String, LogEntry)>,
    /// Records dated in the future, and the latest such date.
    future_dated: (i64, Option<String>),
    /// What waits for review: (repository name, counts), the ten largest.
    waiting: Vec<(String, crate::model::review_items::Waiting)>,
    /// Peers whose pushes were refused, waiting for Accept.
    peers_waiting: Vec<peer_contacts::Waiting>,
    /// Records in and out per hour, as an SVG figure.
    chart: String,
    /// Every repository's name, by id.
    names: Vec<(i64, String)>,
}

pub async fn index(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: AdminSession,
    query: web::Query<DashboardQuery>,
) -> Result<HttpResponse, WebError> {
    let mut layout = Layout::new(&req, "Dashboard", "dashboard", &who);
    layout.flash = problems(&[("Page", &query.page)]).or(layout.flash);
    let asked = query.page.value();
    let mut page = super::db(&state.pool, move |conn| {
        let config = model::sync_config::get(conn)?
            .ok_or_else(|| WebError::Internal("sync_config row missing".into()))?;
        let users = model::users::list(conn)?;
        let count = |role: Role| {
            users
                .iter()
                .filter(|u| u.role() == Some(role) && !u.disabled)
                .count()
        };
        let listed = model::repositories::list(conn)?;
        let names: Vec<(i64, String)> = listed.iter().map(|r| (r.id, r.name.clone())).collect();
        let contacts = peer_contacts::load(conn)?;
        let since = model::now() - chrono::TimeDelta::hours(run_charts::HOURS);
        let hours = model::hourly_records::since(conn, since)?;
        let margin = chrono::Duration::seconds(i64::from(config.clock_skew_warn_secs));
        let (future, latest) = model::records::future_dated(conn, model::now() + margin)?;
        Ok::<_, WebError>(DashboardPage {
            layout,
            version: crate::VERSION,
            backend: db::backend_name(conn),
            admins: count(Role::Admin),
            sync_accounts: count(Role::Sync),
            peers_waiting: peer_contacts::waiting(&listed, &contacts, model::now()),
            chart: run_charts::records_per_hour(&hours, model::now()).html(),
            repository_page: RepositoryPage::new(asked, listed.len()),
            repositories: repository_rows(conn, &config, listed, &names, asked)?,
            running: model::runs::in_progress(conn)?
                .into_iter()
                .map(|r| RunRow::new(r, &names))
                .collect(),
            failures: model::sync_log::recent_failures(conn, 10)?
                .into_iter()
                .map(|e| (name_of(&names, e.repository_id), e))
                .collect(),
            future_dated: (
                future,
                latest.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string()),
            ),
            // Read from the review queue's own counts, below.
            waiting: Vec::new(),
            site_name: config.site_name,
            site_uuid: config.site_uuid,
            names,
        })
    })
    .await?;
    let names = page.names.clone();
    page.waiting = super::review::waiting_by_name(&state, &names).await?;
    page.waiting.truncate(10);
    Ok(render(&req, page))
}

fn repository_rows(
    conn: &mut db::DbConnection,
    config: &model::sync_config::SyncConfig,
    repositories: Vec<model::repositories::Repository>,
    names: &[(i64, String)],
    asked_page: Option<i64>,
) -> Result<Vec<RepositoryRow>, WebError> {
    let now = model::now();
    let ago = |t: Option<chrono::NaiveDateTime>| {
        t.map_or_else(|| "never".to_string(), |t| format!("{} ago", span(t, now)))
    };
    // A few queries for the whole page, however many repositories there are.
    // Each repository's next job and pulling tasks, looked up by id.
    let mut next_job: HashMap<i64, chrono::NaiveDateTime> = HashMap::new();
    for job in model::jobs::list(conn)?.into_iter().filter(|j| j.enabled) {
        if let Some(at) = job.next_run_at {
            let next = next_job.entry(job.repository_id).or_insert(at);
            *next = (*next).min(at);
        }
    }
    let mut pulling_tasks: HashMap<i64, Vec<model::tasks::Task>> = HashMap::new();
    for task in model::tasks::list_all(conn)?
        .into_iter()
        .filter(|t| t.mode.pulls())
    {
        pulling_tasks
            .entry(task.repository_id)
            .or_default()
            .push(task);
    }
    let mut latest: HashMap<i64, Run> = model::runs::latest_per_repository(conn)?
        .into_iter()
        .map(|r| (r.repository_id, r))
        .collect();
    // Those needing attention first (in list order within each health),
    // then only this page's.
    let mut repositories: Vec<(Health, model::repositories::Repository)> = repositories
        .into_iter()
        .map(|r| (Health::of(&r, latest.contains_key(&r.id)), r))
        .collect();
    repositories.sort_by_key(|(health, _)| health.attention());
    let shown = RepositoryPage::new(asked_page, repositories.len());
    let mut rows = Vec::new();
    for (health, repository) in repositories
        .into_iter()
        .skip(shown.first.saturating_sub(1))
        .take(ROWS)
    {
        let last = latest.remove(&repository.id);
        let next = next_job.get(&repository.id).copied();
        let next_run = match (repository.next_retry_at, next) {
            (Some(retry), _) if repository.status() == Some(RepositoryStatus::Retrying) => {
                format!("retry in {}", span(now, retry))
            }
            (_, Some(next)) if next > now => format!("in {}", span(now, next)),
            (_, Some(_)) => "due now".to_string(),
            (_, None) if repository.url.is_none() && repository.folder().is_none() => {
                "when it calls".to_string()
            }
            (_, None) => "not scheduled".to_string(),
        };
        let pulling = pulling_tasks.remove(&repository.id).unwrap_or_default();
        let watermark_age = if pulling.is_empty() {
            "-".to_string()
        } else if pulling
            .iter()
            .any(|t| t.last_pull.is_none() && t.last_pull_seq.is_none())
        {
            "never pulled".to_string()
        } else {
            ago(pulling.iter().filter_map(|t| t.last_pull).min())
        };
        let mut warnings: Vec<String> = repository
            .clock_skew_secs
            .filter(|s| s.abs() > i64::from(config.clock_skew_warn_secs))
            .map(|s| {
                format!(
                    "clock {} s {} ours",
                    s.abs(),
                    if s > 0 { "ahead of" } else { "behind" }
                )
            })
            .into_iter()
            .collect();
        if repository.tls_accept_invalid {
            warnings.push("accepts invalid certificates".into());
        }
        // A success before the current failure is not the current state.
        let last_success = match (health, repository.last_success_at) {
            (Health::Failing | Health::Retrying, Some(at)) => {
                format!("{}, before this failure", ago(Some(at)))
            }
            // A peer that calls us: when it last did, not a run of ours.
            (Health::Passive, _) => match repository.last_connected_at {
                Some(at) => format!("it called {}", ago(Some(at))),
                None => "it has not called yet".to_string(),
            },
            (_, at) => ago(at),
        };
        rows.push(RepositoryRow {
            id: repository.id,
            health,
            last_success,
            last_run: last.map(|r| RunRow::new(r, names)),
            next_run,
            failures: repository.consecutive_failures,
            watermark_age,
            warnings,
            failure: repository
                .last_error
                .as_deref()
                .filter(|_| repository.status() != Some(RepositoryStatus::Ok))
                .map(Failure::of),
            can_sync: repository.is_active(),
            name: repository.name,
        });
    }
    Ok(rows)
}
