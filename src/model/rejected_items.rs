//! Records a peer sent that could not be stored, or that a peer refused,
//! kept with the reason and the raw element for review.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::rejected_items;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = rejected_items)]
pub struct RejectedItem {
    pub id: i64,
    pub run_id: Option<i64>,
    pub repository_id: Option<i64>,
    pub table_name: String,
    pub uuid: Option<String>,
    pub reason: String,
    pub raw_element: String,
    pub created_at: NaiveDateTime,
    pub resolved_at: Option<NaiveDateTime>,
}

pub fn for_run(conn: &mut DbConnection, run_id: i64) -> QueryResult<Vec<RejectedItem>> {
    rejected_items::table
        .filter(rejected_items::run_id.eq(Some(run_id)))
        .order(rejected_items::id.asc())
        .limit(1000)
        .select(RejectedItem::as_select())
        .load(conn)
}
