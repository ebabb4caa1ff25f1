//! The review queue: records a peer sent that could not be stored, records
//! a peer refused, and conflicts a policy decided, each kept until an
//! administrator resolves it (or a later version supersedes it).

use chrono::NaiveDateTime;
use diesel::dsl::count_star;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::review_items;
use crate::vocabulary::{ConflictWinner, Resolution, ReviewKind};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = review_items)]
pub struct ReviewItem {
    pub id: i64,
    pub run_id: Option<i64>,
    pub repository_id: Option<i64>,
    pub table_name: String,
    pub uuid: Option<String>,
    pub reason: String,
    /// The version that came from the peer (refused here, conflicts) or
    /// that we sent (refused by the peer), as S3XML.
    pub raw_element: String,
    pub created_at: NaiveDateTime,
    pub resolved_at: Option<NaiveDateTime>,
    #[diesel(deserialize_as = String)]
    pub kind: ReviewKind,
    /// Conflicts: 'local' or 'peer' (see `winner()`).
    pub winner: Option<String>,
    pub policy: Option<String>,
    /// Conflicts: our version as it stood before the decision (body JSON).
    pub stored_version: Option<String>,
    /// See `resolution()`.
    pub resolution: Option<String>,
    pub resolved_by: Option<String>,
}

impl ReviewItem {
    /// Conflicts: which version the policy kept.
    pub fn winner(&self) -> Option<ConflictWinner> {
        self.winner
            .as_deref()
            .and_then(|w| ConflictWinner::parse(w).ok())
    }

    pub fn resolution(&self) -> Option<Resolution> {
        self.resolution
            .as_deref()
            .and_then(|r| Resolution::parse(r).ok())
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = review_items)]
pub struct NewReviewItem<'a> {
    pub run_id: Option<i64>,
    pub repository_id: Option<i64>,
    pub table_name: &'a str,
    pub uuid: Option<&'a str>,
    pub reason: &'a str,
    pub raw_element: &'a str,
    pub created_at: NaiveDateTime,
    pub kind: &'static str,
    pub winner: Option<&'static str>,
    pub policy: Option<&'a str>,
    pub stored_version: Option<&'a str>,
}

/// Queue an item; one that waits already for the same record (same kind
/// and repository) is brought up to date instead, keeping when it first
/// came: a peer re-pushing a record it cannot fix leaves one item, not one
/// per push, and it grows old.
pub fn queue(conn: &mut DbConnection, item: &NewReviewItem) -> QueryResult<usize> {
    if let Some(uuid) = item.uuid {
        let mut same = review_items::table
            .filter(review_items::resolved_at.is_null())
            .filter(review_items::kind.eq(item.kind))
            .filter(review_items::table_name.eq(item.table_name))
            .filter(review_items::uuid.eq(uuid))
            .into_boxed();
        same = match item.repository_id {
            Some(id) => same.filter(review_items::repository_id.eq(id)),
            None => same.filter(review_items::repository_id.is_null()),
        };
        let waiting: Option<i64> = same.select(review_items::id).first(conn).optional()?;
        if let Some(id) = waiting {
            return diesel::update(review_items::table.find(id))
                .set((
                    review_items::run_id.eq(item.run_id),
                    review_items::reason.eq(item.reason),
                    review_items::raw_element.eq(item.raw_element),
                    review_items::winner.eq(item.winner),
                    review_items::policy.eq(item.policy),
                    review_items::stored_version.eq(item.stored_version),
                ))
                .execute(conn);
        }
    }
    diesel::insert_into(review_items::table)
        .values(item)
        .execute(conn)
}

pub fn find(conn: &mut DbConnection, id: i64) -> QueryResult<Option<ReviewItem>> {
    review_items::table
        .find(id)
        .select(ReviewItem::as_select())
        .first(conn)
        .optional()
}

/// The items a run produced.
pub fn for_run(conn: &mut DbConnection, run_id: i64) -> QueryResult<Vec<ReviewItem>> {
    review_items::table
        .filter(review_items::run_id.eq(Some(run_id)))
        .order(review_items::id.asc())
        .limit(1000)
        .select(ReviewItem::as_select())
        .load(conn)
}

/// What the list shows: every part optional.
#[derive(Debug, Clone, Default)]
pub struct ReviewQuery {
    pub repository_id: Option<i64>,
    pub table: Option<String>,
    pub kind: Option<ReviewKind>,
    /// Part of the uuid or the reason.
    pub text: Option<String>,
    /// Created before this (older items).
    pub before: Option<NaiveDateTime>,
    /// Resolved items too (the history), not only those waiting.
    pub with_resolved: bool,
    /// Items older than this id (keyset pagination).
    pub before_id: Option<i64>,
}

/// Items matching the query, newest first.
pub fn search(
    conn: &mut DbConnection,
    q: &ReviewQuery,
    limit: i64,
) -> QueryResult<Vec<ReviewItem>> {
    let mut query = review_items::table
        .order(review_items::id.desc())
        .limit(limit)
        .select(ReviewItem::as_select())
        .into_boxed();
    if !q.with_resolved {
        query = query.filter(review_items::resolved_at.is_null());
    }
    if let Some(id) = q.repository_id {
        query = query.filter(review_items::repository_id.eq(id));
    }
    if let Some(table) = &q.table {
        query = query.filter(review_items::table_name.eq(table.clone()));
    }
    if let Some(kind) = q.kind {
        query = query.filter(review_items::kind.eq(kind.as_str()));
    }
    if let Some(before) = q.before {
        query = query.filter(review_items::created_at.lt(before));
    }
    if let Some(text) = &q.text {
        let pattern = super::like_pattern(text);
        query = query.filter(
            review_items::uuid
                .like(pattern.clone())
                .escape('\\')
                .or(review_items::reason.like(pattern).escape('\\')),
        );
    }
    if let Some(before) = q.before_id {
        query = query.filter(review_items::id.lt(before));
    }
    query.load(conn)
}

/// How many items of one kind wait for one repository's table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    pub repository_id: Option<i64>,
    pub table: String,
    pub kind: ReviewKind,
    pub count: i64,
}

/// Items waiting, per (repository, table, kind).
pub fn waiting_counts(conn: &mut DbConnection) -> QueryResult<Vec<Waiting>> {
    let rows: Vec<(Option<i64>, String, String, i64)> = review_items::table
        .filter(review_items::resolved_at.is_null())
        .group_by((
            review_items::repository_id,
            review_items::table_name,
            review_items::kind,
        ))
        .select((
            review_items::repository_id,
            review_items::table_name,
            review_items::kind,
            count_star(),
        ))
        .order((review_items::repository_id, review_items::table_name))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(repository_id, table, kind, count)| {
            Some(Waiting {
                repository_id,
                table,
                kind: ReviewKind::parse(&kind).ok()?,
                count,
            })
        })
        .collect())
}

/// Whether anything waits for a record of `table`: an import looks only
/// then for items a new version supersedes.
pub fn any_waiting_in(conn: &mut DbConnection, table: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        review_items::table
            .filter(review_items::resolved_at.is_null())
            .filter(review_items::table_name.eq(table)),
    ))
    .get_result(conn)
}

/// How a claimed item was resolved in the end.
pub fn set_resolution(
    conn: &mut DbConnection,
    id: i64,
    resolution: Resolution,
) -> QueryResult<usize> {
    diesel::update(review_items::table.find(id))
        .set(review_items::resolution.eq(Some(resolution.as_str())))
        .execute(conn)
}

/// Put a claimed item back in the queue (a decision that did not resolve
/// it), with why.
pub fn reopen(conn: &mut DbConnection, id: i64, reason: Option<&str>) -> QueryResult<usize> {
    let item = review_items::table.find(id);
    let reopened = diesel::update(item)
        .set((
            review_items::resolved_at.eq(None::<NaiveDateTime>),
            review_items::resolution.eq(None::<String>),
            review_items::resolved_by.eq(None::<String>),
        ))
        .execute(conn)?;
    if let Some(reason) = reason {
        diesel::update(item)
            .set(review_items::reason.eq(reason))
            .execute(conn)?;
    }
    Ok(reopened)
}

/// Resolve an item; false when it was resolved already (the update takes
/// the row, so of two decisions at once only one goes on).
pub fn resolve(
    conn: &mut DbConnection,
    id: i64,
    resolution: Resolution,
    by: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let changed = diesel::update(
        review_items::table
            .find(id)
            .filter(review_items::resolved_at.is_null()),
    )
    .set((
        review_items::resolved_at.eq(Some(now)),
        review_items::resolution.eq(Some(resolution.as_str())),
        review_items::resolved_by.eq(Some(by)),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}

/// A later version of (table, uuid) was stored, or the record deleted: its
/// waiting conflicts and refusals are resolved by it.
pub fn supersede(
    conn: &mut DbConnection,
    table: &str,
    uuid: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        review_items::table
            .filter(review_items::resolved_at.is_null())
            .filter(review_items::table_name.eq(table))
            .filter(review_items::uuid.eq(uuid))
            .filter(review_items::kind.ne(ReviewKind::RefusedByPeer.as_str())),
    )
    .set((
        review_items::resolved_at.eq(Some(now)),
        review_items::resolution.eq(Some(Resolution::Superseded.as_str())),
        review_items::resolved_by.eq(Some("a later version")),
    ))
    .execute(conn)
}
