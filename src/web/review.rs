//! The review queue in the console: what waits, per repository, table and
//! kind; one item with both versions side by side, differences marked; and
//! the decisions (accept, retry, dismiss) on one item or on all selected.

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use crate::error::WebError;
use crate::manage;
use crate::model;
use crate::model::review_items::{ReviewItem, ReviewQuery, Waiting};
use crate::store;
use crate::vocabulary::{ConflictWinner, ReviewAction, ReviewKind};
use crate::web::format::{shortened, span};
use crate::web::query::{QueryNumber, problems};
use crate::web::repository_names::{name_of, names};
use crate::web::review_versions::{FieldRow, side_by_side};
use crate::web::session::{AdminSession, Protected};
use crate::web::{AppState, Layout, redirect_with_error, redirect_with_flash, render};

const PAGE: i64 = 100;
pub const KINDS: [ReviewKind; 3] = [
    ReviewKind::Conflict,
    ReviewKind::RefusedHere,
    ReviewKind::RefusedByPeer,
];

#[derive(Deserialize, Default, Clone)]
pub struct ReviewFilters {
    #[serde(default)]
    repository: QueryNumber,
    #[serde(default)]
    table: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    text: String,
    /// Only older than this many days.
    #[serde(default)]
    older_than_days: QueryNumber,
    /// "all": resolved items too.
    #[serde(default)]
    status: String,
    #[serde(default)]
    before: QueryNumber,
}

impl ReviewFilters {
    fn query(&self) -> ReviewQuery {
        let text = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        ReviewQuery {
            repository_id: self.repository.value(),
            table: text(&self.table),
            kind: ReviewKind::parse(&self.kind).ok(),
            text: text(&self.text),
            // At most a century back: any more would overflow the clock.
            before: self
                .older_than_days
                .value()
                .map(|d| model::now() - chrono::Duration::days(d.clamp(0, 36_500))),
            with_resolved: self.status == "all",
            before_id: self.before.value(),
        }
    }

    /// The query string of these filters, for the next page.
    fn link(&self, before: i64) -> String {
        let mut parts = vec![format!("before={before}")];
        for (key, value) in [
            ("repository", self.repository.value().map(|v| v.to_string())),
            (
                "older_than_days",
                self.older_than_days.value().map(|v| v.to_string()),
            ),
        ] {
            if let Some(value) = value {
                parts.push(format!("{key}={value}"));
            }
        }
        for (key, value) in [
            ("table", &self.table),
            ("kind", &self.kind),
            ("text", &self.text),
            ("status", &self.status),
        ] {
            if !value.trim().is_empty() {
                parts.push(format!("{key}={}", crate::error::url_encode(value.trim())));
            }
        }
        parts.join("&")
    }
}

/// One row of the list.
struct Row {
    item: ReviewItem,
    repository: String,
    age: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "review/index.html")]
struct ReviewPage {
    layout: Layout,
    filters: ReviewFilters,
    /// (id, name, selected) for the repository filter.
    repositories: Vec<(i64, String, bool)>,
    kinds: [ReviewKind; 3],
    /// (repository name, counts) of what waits.
    waiting: Vec<(String, Waiting)>,
    rows: Vec<Row>,
    older: Option<String>,
}

pub async fn index(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: AdminSession,
    filters: web::Query<ReviewFilters>,
) -> Result<HttpResponse, WebError> {
    let filters = filters.into_inner();
    let query = filters.query();
    let (repositories, items) = super::db(&state.pool, move |conn| {
        Ok::<_, WebError>((
            names(conn)?,
            model::review_items::search(conn, &query, PAGE)?,
        ))
    })
    .await?;
    let waiting = waiting_by_name(&state, &repositories).await?;
    let older = (items.len() as i64 == PAGE)
        .then(|| items.last().map(|i| filters.link(i.id)))
        .flatten();
    let now = model::now();
    let rows = items
        .into_iter()
        .map(|item| Row {
            repository: name_of(&repositories, item.repository_id),
            age: span(item.created_at, now),
            item,
        })
        .collect();
    let selected = filters.repository.value();
    let mut layout = Layout::new(&req, "Review", "review", &who);
    layout.flash = problems(&[
        ("Repository", &filters.repository),
        ("Older than", &filters.older_than_days),
        ("Page", &filters.before),
    ])
    .or(layout.flash);
    let page = ReviewPage {
        layout,
        filters,
        repositories: repositories
            .into_iter()
            .map(|(id, name)| (id, name, selected == Some(id)))
            .collect(),
        kinds: KINDS,
        waiting,
        rows,
        older,
    };
    Ok(render(&req, page))
}

#[derive(Template, WebTemplate)]
#[template(path = "review/show.html")]
struct ItemPage {
    layout: Layout,
    item: ReviewItem,
    repository: String,
    /// The two versions field by field; empty when the item holds no
    /// readable record (then the raw text is shown).
    fields: Vec<FieldRow>,
    /// Column headings: the stored version, and the other one.
    stored_label: &'static str,
    other_label: &'static str,
    /// The decisions this kind allows: (action, button label).
    actions: Vec<(&'static str, &'static str)>,
    raw: String,
    /// The record is held here (its page exists).
    held: bool,
}

pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: AdminSession,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    let id = id.into_inner();
    let (item, repositories, stored) = super::db(&state.pool, move |conn| {
        let item = model::review_items::find(conn, id)?.ok_or(WebError::NotFound)?;
        let stored = match &item.uuid {
            Some(uuid) => model::records::find(conn, &item.table_name, uuid)?,
            None => None,
        };
        Ok::<_, WebError>((item, names(conn)?, stored))
    })
    .await?;
    let stored_body = stored
        .as_ref()
        .and_then(|s| store::body::Body::from_json(&s.body).ok());
    let (other, other_label) = match (item.kind, item.winner()) {
        (ReviewKind::Conflict, Some(ConflictWinner::Peer)) => (
            store::review::stored_body(&item)
                .ok()
                .flatten()
                .map(|b| b.fields),
            "Ours as it stood (replaced)",
        ),
        (ReviewKind::Conflict, _) => (
            store::review::item_record(&item).ok().map(|r| r.fields),
            "The peer's version (not taken)",
        ),
        (ReviewKind::RefusedHere, _) => (
            store::review::item_record(&item).ok().map(|r| r.fields),
            "As it came (refused)",
        ),
        (ReviewKind::RefusedByPeer, _) => (None, "The peer's answer"),
    };
    let fields = other
        .map(|other| side_by_side(stored_body.as_ref(), &other))
        .unwrap_or_default();
    let actions = match item.kind {
        _ if item.resolved_at.is_some() => Vec::new(),
        ReviewKind::Conflict => vec![
            ("accept", "Accept the other version"),
            ("dismiss", "Keep the stored one (dismiss)"),
        ],
        ReviewKind::RefusedHere => vec![("retry", "Import again"), ("dismiss", "Dismiss")],
        ReviewKind::RefusedByPeer => vec![("retry", "Send again"), ("dismiss", "Dismiss")],
    };
    let page = ItemPage {
        layout: Layout::new(&req, &format!("Review item {id}"), "review", &who),
        repository: name_of(&repositories, item.repository_id),
        raw: shortened(&item.raw_element),
        fields,
        stored_label: if stored.is_some() {
            "Stored here now"
        } else {
            "Stored here now (not held)"
        },
        other_label,
        actions,
        held: stored.is_some(),
        item,
    };
    Ok(render(&req, page))
}

/// What waits per repository, table and kind, counted at most every few
/// seconds (see `ReviewCounts`).
pub async fn waiting_counts(state: &AppState) -> Result<Arc<Vec<Waiting>>, WebError> {
    if let Some(counts) = state.review_counts.get() {
        return Ok(counts);
    }
    let counted = super::db(&state.pool, model::review_items::waiting_counts).await;
    match counted {
        Ok(counts) => Ok(state.review_counts.keep(counts)),
        Err(e) => {
            state.review_counts.forget();
            Err(e)
        }
    }
}

/// What waits per repository (by name), table and kind, the largest first:
/// the Review page's and the dashboard's table.
pub async fn waiting_by_name(
    state: &AppState,
    names: &[(i64, String)],
) -> Result<Vec<(String, Waiting)>, WebError> {
    let mut rows: Vec<_> = waiting_counts(state)
        .await?
        .iter()
        .map(|w| (name_of(names, w.repository_id), w.clone()))
        .collect();
    rows.sort_by_key(|(_, w)| std::cmp::Reverse(w.count));
    Ok(rows)
}

/// The decision form: `action`, and `item-N` for each item chosen; `back`
/// is where to return.
#[derive(Deserialize)]
pub struct DecideForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    back: String,
    #[serde(flatten)]
    items: HashMap<String, String>,
}

pub async fn decide(
    state: web::Data<AppState>,
    posted: Protected<DecideForm>,
) -> Result<HttpResponse, WebError> {
    let Protected { session: who, form } = posted;
    // Back to the review pages only, never elsewhere.
    let back = if form.back.starts_with("/review") && !form.back.starts_with("//") {
        form.back.clone()
    } else {
        "/review".to_string()
    };
    let Ok(action) = ReviewAction::parse(&form.action) else {
        return Ok(redirect_with_error(
            &back,
            "Choose what to do: accept, retry or dismiss.",
        ));
    };
    let mut ids: Vec<i64> = form
        .items
        .keys()
        .filter_map(|k| k.strip_prefix("item-")?.parse().ok())
        .collect();
    ids.sort_unstable();
    if ids.is_empty() {
        return Ok(redirect_with_error(&back, "Select at least one item."));
    }
    let actor = who.actor();
    let limit = state.max_record_bytes;
    let outcomes = super::db(&state.pool, move |conn| {
        let outcomes: Vec<String> = ids
            .iter()
            .map(
                |&id| match manage::review::decide(conn, &actor, id, action, limit) {
                    Ok(done) => format!("item {id}: {}", done.message),
                    Err(e) => format!("item {id}: {e}"),
                },
            )
            .collect();
        Ok::<_, WebError>(outcomes)
    })
    .await?;
    state.review_counts.forget();
    Ok(redirect_with_flash(&back, &outcomes.join("; ")))
}
