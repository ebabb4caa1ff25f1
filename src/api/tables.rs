//! `GET /sync/repository/tables.json` (edensync only): the tables this
//! node holds that the caller may pull, with their record counts, and the
//! ones held only as components of another table. A node choosing what to
//! sync with us offers them to its administrator.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;

use super::error::{ProtocolError, eden_json};
use super::query::PeerQuery;
use super::{access, authenticate, with_conn};
use crate::model;
use crate::state::AppState;

pub(super) async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ProtocolError> {
    let account = authenticate(&req, &state).await?;
    let query = PeerQuery::parse(req.query_string());
    let tables = with_conn(&state, move |conn, _| {
        let repository = access::repository(conn, query.repository.as_deref())?;
        access::ensure_acts_as(
            conn,
            &account,
            repository.as_ref(),
            query.repository.as_deref(),
        )?;
        let mut tables = model::table_counts::all(conn)?;
        // Only what the repository may pull is shown to it.
        if let Some(r) = &repository {
            tables.retain(|t| r.may_touch(&t.table));
            // Nor is a table it may not pull named as a master.
            for t in &mut tables {
                if t.component_of.as_deref().is_some_and(|m| !r.may_touch(m)) {
                    t.component_of = None;
                }
            }
        }
        Ok(tables)
    })
    .await?;
    let mut body = eden_json(true, 200, &format!("{} table(s)", tables.len()));
    body.insert(
        "tables".into(),
        serde_json::to_value(&tables).unwrap_or(Value::Null),
    );
    Ok(HttpResponse::Ok().json(Value::Object(body)))
}
