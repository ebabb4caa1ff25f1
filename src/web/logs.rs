//! The log viewer: Eden's sync log across repositories, newest first,
//! filtered by repository, table, mode, result, time range and text, paged
//! by id; purging old rows by hand (retention also runs on its own).

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use crate::error::WebError;
use crate::model;
use crate::model::sync_log::LogQuery;
use crate::s3xml::time;
use crate::vocabulary::LogResult;
use crate::web::log_groups::{self, LogGroup};
use crate::web::query::{QueryNumber, problems};
use crate::web::repository_names::{name_of, names};
use crate::web::session::{AdminSession, Protected};
use crate::web::{AppState, Layout, redirect_with_error, redirect_with_flash, render};

const PAGE: i64 = 100;
pub const MODES: [&str; 7] = [
    "pull/outgoing",
    "push/outgoing",
    "pull/incoming",
    "push/incoming",
    "register/incoming",
    "none/none",
    "none",
];
pub const RESULTS: [&str; 4] = [
    LogResult::Success.as_str(),
    LogResult::Warning.as_str(),
    LogResult::Error.as_str(),
    LogResult::Fatal.as_str(),
];

#[derive(Deserialize, Default, Clone)]
pub struct LogFilters {
    #[serde(default)]
    repository: QueryNumber,
    #[serde(default)]
    table: String,
    #[serde(default)]
    mode: String,
    #[serde(default)]
    result: String,
    /// `YYYY-MM-DDTHH:MM[:SS]` (UTC), as a datetime-local field sends it.
    #[serde(default)]
    from: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    before: QueryNumber,
}

impl LogFilters {
    fn query(&self) -> LogQuery {
        let text = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        LogQuery {
            repository_id: self.repository.value(),
            table: text(&self.table),
            mode: text(&self.mode).filter(|m| MODES.contains(&m.as_str())),
            result: LogResult::parse(&self.result).ok(),
            from: time::parse(&self.from),
            until: time::parse(&self.until),
            text: text(&self.text),
            before_id: self.before.value(),
        }
    }

    /// The query string of these filters, for the next page.
    fn link(&self, before: i64) -> String {
        let mut parts = vec![format!("before={before}")];
        if let Some(id) = self.repository.value() {
            parts.push(format!("repository={id}"));
        }
        for (key, value) in [
            ("table", &self.table),
            ("mode", &self.mode),
            ("result", &self.result),
            ("from", &self.from),
            ("until", &self.until),
            ("text", &self.text),
        ] {
            if !value.trim().is_empty() {
                parts.push(format!("{key}={}", crate::error::url_encode(value.trim())));
            }
        }
        parts.join("&")
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "logs/index.html")]
struct LogsPage {
    layout: Layout,
    filters: LogFilters,
    /// (id, name, selected) for the repository filter.
    repositories: Vec<(i64, String, bool)>,
    /// The repository the log is filtered by: the page shows its tabs.
    repository: Option<(i64, String)>,
    /// Rows, repeated ones of one step as one line.
    rows: Vec<LogGroup>,
    modes: [&'static str; 7],
    results: [&'static str; 4],
    older: Option<String>,
    retention_days: i32,
}

pub async fn index(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: AdminSession,
    filters: web::Query<LogFilters>,
) -> Result<HttpResponse, WebError> {
    let filters = filters.into_inner();
    let query = filters.query();
    let (repositories, entries, retention_days) = super::db(&state.pool, move |conn| {
        let retention = model::sync_config::get(conn)?.map_or(90, |c| c.log_retention_days);
        Ok::<_, WebError>((
            names(conn)?,
            model::sync_log::search(conn, &query, PAGE)?,
            retention,
        ))
    })
    .await?;
    let older = (entries.len() as i64 == PAGE)
        .then(|| entries.last().map(|e| filters.link(e.id)))
        .flatten();
    let rows = log_groups::collapse(
        entries
            .into_iter()
            .map(|e| (name_of(&repositories, e.repository_id), e))
            .collect(),
    );
    let selected = filters.repository.value();
    let mut layout = Layout::new(&req, "Log", "logs", &who);
    layout.flash = problems(&[
        ("Repository", &filters.repository),
        ("Page", &filters.before),
    ])
    .or(layout.flash);
    let page = LogsPage {
        layout,
        filters,
        repository: repositories
            .iter()
            .find(|(id, _)| selected == Some(*id))
            .cloned(),
        repositories: repositories
            .into_iter()
            .map(|(id, name)| (id, name, selected == Some(id)))
            .collect(),
        rows,
        modes: MODES,
        results: RESULTS,
        older,
        retention_days,
    };
    Ok(render(&req, page))
}

#[derive(Deserialize)]
pub struct PurgeForm {
    #[serde(default)]
    days: String,
}

pub async fn purge(
    state: web::Data<AppState>,
    posted: Protected<PurgeForm>,
) -> Result<HttpResponse, WebError> {
    let Protected { session: who, form } = posted;
    let Some(days) = form.days.trim().parse::<i64>().ok().filter(|d| *d >= 0) else {
        return Ok(redirect_with_error(
            "/logs",
            "Purge: the number of days must be a whole number, 0 or more.",
        ));
    };
    let actor = who.actor();
    let removed = super::db(&state.pool, move |conn| {
        let cutoff = model::now() - chrono::Duration::days(days);
        let removed = model::sync_log::purge_before(conn, cutoff)?;
        crate::audit::record(
            conn,
            &actor,
            "log.purge",
            None,
            Some(&format!("older than {days} days: {removed} row(s)")),
        )?;
        Ok::<_, WebError>(removed)
    })
    .await?;
    Ok(redirect_with_flash(
        "/logs",
        &format!("{removed} log row(s) older than {days} days removed."),
    ))
}
