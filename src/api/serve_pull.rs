//! A peer pulling a table (`GET sync.xml`): Eden's query parameters, who may
//! pull what, the export (spooled to a file first), and the log row.

use std::io::{Seek, Write};

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::NaiveDateTime;
use serde_json::Value;

use super::error::{ProtocolError, eden_json};
use super::query::PeerQuery;
use super::{access, authenticate, header_text, with_conn};
use crate::db::DbConnection;
use crate::model;
use crate::model::repositories::Repository;
use crate::model::sync_log::NewLogEntry;
use crate::model::users::User;
use crate::s3xml::{Format, time};
use crate::state::AppState;
use crate::store;
use crate::store::{ExportOutcome, ExportRequest, Filter};
use crate::vocabulary::LogResult;

/// `GET sync.xml`: a peer pulls a table. The answer is written to a
/// temporary file first, so a slow peer on a poor link never holds a
/// database snapshot open, and errors still get a proper status.
pub(super) async fn serve_pull(
    req: HttpRequest,
    state: web::Data<AppState>,
    app: Option<String>,
) -> Result<HttpResponse, ProtocolError> {
    let account = authenticate(&req, &state).await?;
    let query = PeerQuery::parse(req.query_string());
    if matches!(query.resource.as_deref(), None | Some("mixed")) {
        // Eden answers this with HTTP 200 and a failure inside.
        let answer = eden_json(false, 400, "Mixed resource synchronization not supported");
        return Ok(HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body(Value::Object(answer).to_string()));
    }
    if let Some((token, offset)) = query.resume.clone() {
        return resume(&state, account.id, &token, offset).await;
    }
    let account_id = account.id;
    let paged = query.since_seq.is_some();
    let root = root_attributes(&req, state.public_url.as_deref(), app.as_deref());
    let format = Format::accepted(header_text(&req, header::ACCEPT));
    let spool = with_conn(&state, move |conn, _| {
        let mut plan = plan(conn, &account, &query)?;
        plan.request.root_attributes = root;
        plan.request.format = format;
        let peer = plan.repository.as_ref().map(|r| r.id);
        let out = std::io::BufWriter::with_capacity(64 * 1024, tempfile::tempfile()?);
        let (outcome, out) = store::serve_pull(conn, &plan.request, peer, out)?;
        let mut file = out.into_inner().map_err(|e| e.into_error())?;
        file.flush()?;
        let length = file.stream_position()?;
        file.rewind()?;
        let logged_at = log_pull(conn, &plan, &outcome)?;
        let delivery = Delivery {
            logged_at,
            table: plan.request.table.clone(),
            records: outcome.results,
            total: length,
        };
        let peer_name = plan.repository.map(|r| r.name);
        Ok((file, peer_name, delivery))
    })
    .await?;
    let (spool, peer_name, delivery) = spool;
    if let Some(name) = peer_name {
        state
            .engine
            .metrics
            .observe_served_pull(&name, delivery.records);
    }
    // A page for an edensync peer is kept until it asks for the next, so a
    // peer whose link dropped asks for the rest only.
    let token = if paged {
        Some(state.answers.keep(account_id, &spool, delivery.total)?)
    } else {
        None
    };
    // Large chunks: each is a trip to the blocking pool and, for gzip, a
    // flushed deflate block.
    let body =
        tokio_util::io::ReaderStream::with_capacity(tokio::fs::File::from_std(spool), 64 * 1024);
    let mut response = HttpResponse::Ok();
    response.content_type(format.media_type());
    if let Some(token) = &token {
        response.insert_header((ANSWER_HEADER, token.as_str()));
    }
    Ok(response.streaming(Tracked {
        body,
        sent: 0,
        delivery: Some(delivery),
        pool: state.pool.clone(),
    }))
}

/// The token of a kept answer, on the answer.
const ANSWER_HEADER: &str = "X-Edensync-Answer";
/// Where the rest of a kept answer starts, on the rest.
const OFFSET_HEADER: &str = "X-Edensync-Offset";

/// The rest of a kept answer, from `offset`.
async fn resume(
    state: &web::Data<AppState>,
    account_id: i64,
    token: &str,
    offset: u64,
) -> Result<HttpResponse, ProtocolError> {
    let answers = state.answers.clone();
    let token_owned = token.to_string();
    let rest = web::block(move || answers.rest(account_id, &token_owned, offset))
        .await
        .map_err(|e| ProtocolError::Internal(e.to_string()))??;
    let Some((file, length)) = rest else {
        return Err(ProtocolError::NotFound(
            "that answer is no longer kept: ask for the page again".into(),
        ));
    };
    let body =
        tokio_util::io::ReaderStream::with_capacity(tokio::fs::File::from_std(file), 64 * 1024);
    Ok(HttpResponse::Ok()
        .insert_header((OFFSET_HEADER, offset.to_string()))
        .insert_header((header::CONTENT_LENGTH, length.to_string()))
        .streaming(body))
}

/// What a pull's log row says was sent, to correct it if the answer is cut.
struct Delivery {
    logged_at: NaiveDateTime,
    table: String,
    records: u64,
    total: u64,
}

/// The answer's bytes as they go out: dropped before its end (the peer or
/// the link went away), the pull's log row is corrected to say so, with
/// how far it got. (Bytes handed to the connection may still be lost on the
/// way; an answer cut before its end is never logged as delivered.)
struct Tracked<S> {
    body: S,
    sent: u64,
    delivery: Option<Delivery>,
    pool: crate::db::Pool,
}

impl<S> futures_util::Stream for Tracked<S>
where
    S: futures_util::Stream<Item = std::io::Result<web::Bytes>> + Unpin,
{
    type Item = std::io::Result<web::Bytes>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        let polled = std::pin::Pin::new(&mut self.body).poll_next(cx);
        match &polled {
            std::task::Poll::Ready(Some(Ok(chunk))) => self.sent += chunk.len() as u64,
            std::task::Poll::Ready(None) => {
                // Delivered whole: the log row stands.
                self.delivery = None;
            }
            _ => {}
        }
        polled
    }
}

impl<S> Drop for Tracked<S> {
    fn drop(&mut self) {
        let Some(delivery) = self.delivery.take() else {
            return;
        };
        let sent = self.sent;
        let pool = self.pool.clone();
        let message = format!(
            "Answer cut after {sent} of {} bytes: the peer did not receive the {} records in full",
            delivery.total, delivery.records
        );
        tokio::task::spawn_blocking(move || {
            let Ok(mut conn) = pool.get() else { return };
            if let Err(error) = model::sync_log::amend(
                &mut conn,
                delivery.logged_at,
                "pull/incoming",
                &delivery.table,
                LogResult::Warning,
                &message,
            ) {
                tracing::warn!(%error, "could not note a cut answer in the log");
            }
        });
    }
}

/// What the handler needs to answer a pull.
struct PullPlan {
    pub request: ExportRequest,
    pub repository: Option<Repository>,
    /// The `msince` was given but not in Eden's strict format (ignored).
    pub ignored_msince: Option<String>,
}

/// Check who may pull what and build the export; Eden's answers for a
/// missing, mixed or invalid resource.
fn plan(
    conn: &mut DbConnection,
    account: &User,
    query: &PeerQuery,
) -> Result<PullPlan, ProtocolError> {
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
            Filter::from_query(k, v)
                .map_err(|e| ProtocolError::BadRequest(format!("Invalid filter {k}: {e}")))
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
            paged_reader: query.limit.is_some(),
            count_remaining: query.limit.is_some() && query.count_remaining,
            filters,
            // An edensync peer (paging by seq) never gets its own changes
            // back; Eden peers get what Eden would send them.
            exclude_changed_by: query.since_seq.and(repository.as_ref().map(|r| r.id)),
            components: true,
            table_scope: repository.as_ref().and_then(|r| r.table_scope()),
            root_attributes: Vec::new(),
            format: Format::Xml,
        },
        repository,
        ignored_msince,
    })
}

/// Note the pull in Eden's log and the repository's last contact; when the
/// row was logged (it is corrected if the answer is cut).
fn log_pull(
    conn: &mut DbConnection,
    plan: &PullPlan,
    outcome: &ExportOutcome,
) -> Result<NaiveDateTime, ProtocolError> {
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
    model::sync_log::insert_counted(
        conn,
        &NewLogEntry {
            logged_at: now,
            repository_id,
            run_id: None,
            resource_name: Some(&plan.request.table),
            mode: "pull/incoming",
            action: "send",
            result: if plan.ignored_msince.is_some() {
                LogResult::Warning
            } else {
                LogResult::Success
            },
            remote: false,
            message: &message,
        },
        Some(outcome.results as i64),
    )?;
    Ok(now)
}

/// Eden's root attributes: `domain` (the host name) and `url` (the base URL
/// peers reach us at, with the application name they used).
fn root_attributes(
    req: &HttpRequest,
    public_url: Option<&str>,
    app: Option<&str>,
) -> Vec<(String, String)> {
    let info = req.connection_info();
    let host = info.host().to_string();
    let domain = host
        .rsplit_once(':')
        .map_or(host.as_str(), |(h, _)| h)
        .to_string();
    let base = public_url
        .map(|u| u.trim_end_matches('/').to_string())
        .unwrap_or_else(|| format!("{}://{host}", info.scheme()));
    let url = match app {
        Some(app) => format!("{base}/{app}"),
        None => base,
    };
    vec![("domain".into(), domain), ("url".into(), url)]
}
