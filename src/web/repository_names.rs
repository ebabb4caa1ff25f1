//! Repository names for pages whose rows carry only a repository id (runs,
//! logs, records, the dashboard).

use crate::db;
use crate::error::WebError;
use crate::model;

/// Repository id → name, for rows that only carry the id.
pub fn names(conn: &mut db::DbConnection) -> Result<Vec<(i64, String)>, WebError> {
    Ok(model::repositories::list(conn)?
        .into_iter()
        .map(|r| (r.id, r.name))
        .collect())
}

pub fn name_of(names: &[(i64, String)], id: Option<i64>) -> String {
    id.and_then(|id| names.iter().find(|(i, _)| *i == id))
        .map_or_else(|| "(no repository)".to_string(), |(_, n)| n.clone())
}
