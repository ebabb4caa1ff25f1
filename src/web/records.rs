//! The records browser: every table held with its count, a table's records
//! (search by uuid or field text, deleted ones on request), and one record
//! with its fields, references as links, components, mci, times, seq and
//! where it came from. Everything here came from peers: it is escaped like
//! any other text (askama does it for every value).

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use crate::web::format::{head, shortened};
use crate::web::query::{QueryNumber, problems};

use crate::error::WebError;
use crate::model;
use crate::model::records::StoredRecord;
use crate::s3xml::Field;
use crate::store::body::Body;
use crate::web::repository_names::{name_of, names};
use crate::web::session::AdminSession;
use crate::web::{AppState, Layout, render};

const PAGE: i64 = 50;

#[derive(Template, WebTemplate)]
#[template(path = "records/tables.html")]
struct TablesPage {
    layout: Layout,
    tables: Vec<(String, i64)>,
}

pub async fn tables(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: AdminSession,
) -> Result<HttpResponse, WebError> {
    let tables = super::db(&state.pool, model::records::table_counts).await?;
    let page = TablesPage {
        layout: Layout::new(&req, "Records", "records", &who),
        tables,
    };
    Ok(render(&req, page))
}

#[derive(Deserialize, Default)]
pub struct BrowseQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    deleted: Option<String>,
    #[serde(default)]
    before: QueryNumber,
}

/// A record's line in a table's list.
pub struct RecordRow {
    pub record: StoredRecord,
    /// Its `name` field, or the first text field, to recognise it by.
    pub label: String,
}

fn label_of(record: &StoredRecord) -> String {
    let Ok(body) = Body::from_json(&record.body) else {
        return String::new();
    };
    let text = |name: Option<&str>| {
        body.fields.iter().find_map(|f| match f {
            Field::Data(d) if name.is_none_or(|n| d.field == n) && !d.text.is_empty() => {
                Some(d.text.clone())
            }
            _ => None,
        })
    };
    let label = text(Some("name"))
        .or_else(|| text(None))
        .unwrap_or_default();
    // A label, not the value: one line's worth.
    match head(&label, 120) {
        Some(head) => format!("{head}…"),
        None => label,
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "records/list.html")]
struct ListPage {
    layout: Layout,
    table: String,
    q: String,
    with_deleted: bool,
    rows: Vec<RecordRow>,
    older: Option<String>,
}

pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: AdminSession,
    table: web::Path<String>,
    query: web::Query<BrowseQuery>,
) -> Result<HttpResponse, WebError> {
    let table = table.into_inner();
    if !crate::store::is_valid_table_name(&table) {
        return Err(WebError::NotFound);
    }
    let query = query.into_inner();
    let q = query.q.trim().to_string();
    let with_deleted = query.deleted.is_some();
    let (t, text, before) = (table.clone(), q.clone(), query.before.value());
    let records = super::db(&state.pool, move |conn| {
        let text = Some(text.as_str()).filter(|t| !t.is_empty());
        model::records::browse(conn, &t, text, with_deleted, before, PAGE)
    })
    .await?;
    let older = (records.len() as i64 == PAGE)
        .then(|| records.last())
        .flatten()
        .map(|last| {
            let mut link = format!("before={}", last.seq);
            if !q.is_empty() {
                link.push_str(&format!("&q={}", crate::error::url_encode(&q)));
            }
            if with_deleted {
                link.push_str("&deleted=on");
            }
            link
        });
    let mut layout = Layout::new(&req, &table, "records", &who);
    layout.flash = problems(&[("Page", &query.before)]).or(layout.flash);
    let page = ListPage {
        layout,
        rows: records
            .into_iter()
            .map(|record| RecordRow {
                label: label_of(&record),
                record,
            })
            .collect(),
        table,
        q,
        with_deleted,
        older,
    };
    Ok(render(&req, page))
}

/// A field of a record as the record page shows it.
pub struct FieldRow {
    pub name: String,
    pub text: String,
    /// The JSON `value` Eden sent, when it differs from the text.
    pub value: Option<String>,
    /// A reference: (table, uuid) of each record it points to.
    pub links: Vec<(String, String)>,
}

#[derive(Template, WebTemplate)]
#[template(path = "records/show.html")]
struct RecordPage {
    layout: Layout,
    record: StoredRecord,
    fields: Vec<FieldRow>,
    attributes: Vec<(String, String)>,
    components: Vec<RecordRow>,
    parent: Option<StoredRecord>,
    origin: String,
    changed_by: String,
}

pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: AdminSession,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, WebError> {
    let (table, uuid) = path.into_inner();
    let (record, components, parent, names) = super::db(&state.pool, move |conn| {
        let record = model::records::find(conn, &table, &uuid)?.ok_or(WebError::NotFound)?;
        let components = model::records::components_of(conn, record.id)?;
        let parent = match record.parent_id {
            Some(id) => model::records::find_by_id(conn, id)?,
            None => None,
        };
        Ok::<_, WebError>((record, components, parent, names(conn)?))
    })
    .await?;
    let body = Body::from_json(&record.body)
        .map_err(|e| WebError::Internal(format!("record body: {e}")))?;
    let fields = body
        .fields
        .iter()
        .map(|f| match f {
            Field::Data(d) => FieldRow {
                name: d.field.clone(),
                text: shortened(&d.text),
                value: d
                    .value
                    .as_deref()
                    .filter(|v| v.trim_matches('"') != d.text)
                    .map(shortened),
                links: Vec::new(),
            },
            Field::Reference(r) => FieldRow {
                name: r.field.clone(),
                text: shortened(&r.text),
                value: None,
                links: r
                    .resource
                    .iter()
                    .flat_map(|t| r.uuids().into_iter().map(move |u| (t.clone(), u)))
                    .collect(),
            },
        })
        .collect();
    let page = RecordPage {
        layout: Layout::new(&req, &record.uuid, "records", &who),
        origin: name_of(&names, record.origin_repository_id),
        changed_by: name_of(&names, record.changed_by_repository_id),
        fields,
        attributes: body.attributes,
        components: components
            .into_iter()
            .map(|record| RecordRow {
                label: label_of(&record),
                record,
            })
            .collect(),
        parent,
        record,
    };
    Ok(render(&req, page))
}
