//! A peer pulling a table (`GET sync.xml`): Eden's query parameters, who may
//! pull what, the export, and the log row.

use actix_web::http::StatusCode;
use chrono::NaiveDateTime;

use super::access;
use crate::db::DbConnection;
use crate::error::ApiError;
use crate::model;
use crate::model::repositories::Repository;
use crate::model::sync_log::NewLogEntry;
use crate::model::users::User;
use crate::s3xml::{Format, time};
use crate::store::{ExportOutcome, ExportRequest, Filter};

/// A pull (or push) as the query string asks for it.
#[derive(Debug, Clone, Default)]
pub struct PullQuery {
    pub resource: Option<String>,
    pub repository: Option<String>,
    /// The raw `msince`: Eden's strict format only, anything else ignored.
    pub msince: Option<String>,
    pub filters: Vec<(String, String)>,
    pub since_seq: Option<i64>,
    pub limit: Option<u64>,
}

impl PullQuery {
    /// Read the parameters Eden's sync controller reads: `resource`,
    /// `repository`, `msince` and every `[…]…` filter; plus `since_seq` and
    /// `limit` for edensync peers. Everything else is ignored, as in Eden.
    pub fn parse(query: &str) -> PullQuery {
        let mut pull = PullQuery::default();
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            match key.as_ref() {
                "resource" => pull.resource = Some(value.into_owned()),
                "repository" => pull.repository = Some(value.into_owned()),
                "msince" => pull.msince = Some(value.into_owned()),
                "since_seq" => pull.since_seq = value.parse().ok(),
                "limit" => pull.limit = value.parse().ok().filter(|l| *l > 0),
                k if k.starts_with('[') => pull.filters.push((k.to_string(), value.into_owned())),
                _ => {}
            }
        }
        pull
    }
}

/// What the handler needs to answer a pull.
pub struct PullPlan {
    pub request: ExportRequest,
    pub repository: Option<Repository>,
    /// The `msince` was given but not in Eden's strict format (ignored).
    pub ignored_msince: Option<String>,
}

/// Check who may pull what and build the export; Eden's answers for a
/// missing, mixed or invalid resource.
pub fn plan(
    conn: &mut DbConnection,
    account: &User,
    query: &PullQuery,
) -> Result<PullPlan, ApiError> {
    let table = access::table(query.resource.as_deref())?;
    let repository = access::repository(conn, query.repository.as_deref())?;
    access::ensure_acts_as(
        conn,
        account,
        repository.as_ref(),
        query.repository.as_deref(),
    )?;
    if let Some(r) = &repository {
        access::ensure_table_allowed(r, &table)?;
    }
    let filters = query
        .filters
        .iter()
        .map(|(k, v)| {
            Filter::from_query(k, v).map_err(|e| {
                ApiError::failed(StatusCode::BAD_REQUEST, format!("Invalid filter {k}: {e}"))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let msince: Option<NaiveDateTime> = query.msince.as_deref().and_then(time::parse_strict);
    let ignored_msince = query.msince.clone().filter(|_| msince.is_none());
    Ok(PullPlan {
        request: ExportRequest {
            table,
            msince,
            since_seq: query.since_seq,
            limit: query.limit,
            filters,
            // An edensync peer (paging by seq) never gets its own changes
            // back; Eden peers get what Eden would send them.
            exclude_changed_by: query.since_seq.and(repository.as_ref().map(|r| r.id)),
            components: true,
            root_attributes: Vec::new(),
            format: Format::Xml,
        },
        repository,
        ignored_msince,
    })
}

/// Note the pull in Eden's log and the repository's last contact.
pub fn log_pull(
    conn: &mut DbConnection,
    plan: &PullPlan,
    outcome: &ExportOutcome,
) -> Result<(), ApiError> {
    let now = model::now();
    let mut message = format!("Data sent to peer ({} records)", outcome.results);
    if let Some(raw) = &plan.ignored_msince {
        message.push_str(&format!(
            "; msince '{raw}' is not in Eden's format YYYY-MM-DDTHH:MM:SS and was ignored, as Eden does"
        ));
    }
    if outcome.not_exportable > 0 {
        message.push_str(&format!(
            "; {} record(s) held only as components were not sent (their link to the master is unknown)",
            outcome.not_exportable
        ));
    }
    let repository_id = plan.repository.as_ref().map(|r| r.id);
    if let Some(id) = repository_id {
        model::repositories::touch_connected(conn, id, now)?;
    }
    model::sync_log::insert(
        conn,
        &NewLogEntry {
            logged_at: now,
            repository_id,
            run_id: None,
            resource_name: Some(&plan.request.table),
            mode: "pull/incoming",
            action: "send",
            result: if plan.ignored_msince.is_some() {
                "warning"
            } else {
                "success"
            },
            remote: false,
            message: &message,
        },
    )?;
    Ok(())
}
