use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{record_refs, record_seq, records};
use crate::db::{DbConnection, on_each_backend};

/// A stored record: identity, Eden's meta fields, the body (fields and
/// unmodelled attributes as JSON), and where it came from.
///
/// A `None` is inserted as NULL (every such column's default): with
/// defaults to fill in, diesel inserts on SQLite one row at a time, its
/// statement built anew for each (half of a large pull's import).
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = records, treat_none_as_default_value = false)]
pub struct StoredRecord {
    pub id: i64,
    pub table_name: String,
    pub uuid: String,
    pub mci: i32,
    pub created_on: Option<NaiveDateTime>,
    pub modified_on: Option<NaiveDateTime>,
    pub deleted: bool,
    pub replaced_by: Option<String>,
    pub parent_id: Option<i64>,
    pub alias: Option<String>,
    pub body: String,
    pub seq: i64,
    pub stored_at: NaiveDateTime,
    pub origin_repository_id: Option<i64>,
    pub changed_by_repository_id: Option<i64>,
}

/// One entry of the reference index.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = record_refs)]
pub struct NewRecordRef {
    pub record_id: i64,
    pub field: String,
    pub ref_table: String,
    pub ref_uuid: String,
}

/// The columns an import changes on an existing record.
#[derive(Debug, AsChangeset)]
#[diesel(table_name = records, treat_none_as_null = true)]
pub struct RecordChange<'a> {
    pub modified_on: Option<NaiveDateTime>,
    pub deleted: bool,
    pub replaced_by: Option<&'a str>,
    pub parent_id: Option<i64>,
    pub alias: Option<&'a str>,
    pub body: &'a str,
    pub seq: i64,
    pub stored_at: NaiveDateTime,
    pub changed_by_repository_id: Option<i64>,
}

pub fn find(conn: &mut DbConnection, table: &str, uuid: &str) -> QueryResult<Option<StoredRecord>> {
    records::table
        .filter(records::table_name.eq(table))
        .filter(records::uuid.eq(uuid))
        .select(StoredRecord::as_select())
        .first(conn)
        .optional()
}

pub fn find_by_id(conn: &mut DbConnection, id: i64) -> QueryResult<Option<StoredRecord>> {
    records::table
        .find(id)
        .select(StoredRecord::as_select())
        .first(conn)
        .optional()
}

/// Records of one table with any of these uuids.
pub fn find_many(
    conn: &mut DbConnection,
    table: &str,
    uuids: &[&str],
) -> QueryResult<Vec<StoredRecord>> {
    let mut found = Vec::with_capacity(uuids.len());
    // Stay well below the bind-parameter limits of both backends.
    for chunk in uuids.chunks(500) {
        found.extend(on_each_backend!(conn, |c| records::table
            .filter(records::table_name.eq(table))
            .filter(records::uuid.eq_any(chunk))
            .select(StoredRecord::as_select())
            .load(c)?));
    }
    Ok(found)
}

/// The highest record id. New records get their ids from the importer,
/// which holds the seq lock, so a batch can be inserted in few statements.
pub fn max_id(conn: &mut DbConnection) -> QueryResult<i64> {
    records::table
        .select(diesel::dsl::max(records::id))
        .first::<Option<i64>>(conn)
        .map(|id| id.unwrap_or(0))
}

/// Insert records (with their ids) and reference index entries, many rows
/// per statement. Multi-row inserts are not portable through the
/// multi-backend connection, so they run on each backend's own connection.
/// Rows go in groups of a few fixed sizes, so that each statement is
/// prepared once and kept (a statement of any other length is built and
/// parsed anew), and a batch of any size takes few statements.
pub fn insert_many(
    conn: &mut DbConnection,
    rows: &[StoredRecord],
    refs: &[NewRecordRef],
) -> QueryResult<()> {
    // 15 columns a row, 4 a reference: below both backends' bind limits.
    let rows = insert_records::<100>(conn, rows)?;
    let rows = insert_records::<10>(conn, rows)?;
    insert_records::<1>(conn, rows)?;
    let refs = insert_refs::<400>(conn, refs)?;
    let refs = insert_refs::<20>(conn, refs)?;
    insert_refs::<1>(conn, refs)?;
    Ok(())
}

/// Insert `rows` in groups of `N`; returns the rest (fewer than `N`).
fn insert_records<'a, const N: usize>(
    conn: &mut DbConnection,
    rows: &'a [StoredRecord],
) -> QueryResult<&'a [StoredRecord]> {
    let groups = rows.chunks_exact(N);
    let rest = groups.remainder();
    for group in groups {
        let group: &[StoredRecord; N] = group.try_into().expect("chunks_exact gives N rows");
        on_each_backend!(conn, |c| diesel::insert_into(records::table)
            .values(group)
            .execute(c))?;
    }
    Ok(rest)
}

/// Insert reference index entries in groups of `N`; returns the rest.
fn insert_refs<'a, const N: usize>(
    conn: &mut DbConnection,
    refs: &'a [NewRecordRef],
) -> QueryResult<&'a [NewRecordRef]> {
    let groups = refs.chunks_exact(N);
    let rest = groups.remainder();
    for group in groups {
        let group: &[NewRecordRef; N] = group.try_into().expect("chunks_exact gives N rows");
        on_each_backend!(conn, |c| diesel::insert_into(record_refs::table)
            .values(group)
            .execute(c))?;
    }
    Ok(rest)
}

pub fn update(conn: &mut DbConnection, id: i64, change: &RecordChange) -> QueryResult<usize> {
    diesel::update(records::table.find(id))
        .set(change)
        .execute(conn)
}

/// Take the seq counter's lock for this transaction: writers then commit in
/// seq order, so a reader paging by seq never skips a record.
pub fn lock_seq(conn: &mut DbConnection) -> QueryResult<()> {
    diesel::update(record_seq::table.find(1))
        .set(record_seq::value.eq(record_seq::value))
        .execute(conn)?;
    Ok(())
}

/// Reserve `n` seq values; returns the first.
pub fn reserve_seqs(conn: &mut DbConnection, n: i64) -> QueryResult<i64> {
    diesel::update(record_seq::table.find(1))
        .set(record_seq::value.eq(record_seq::value + n))
        .execute(conn)?;
    let last: i64 = record_seq::table
        .find(1)
        .select(record_seq::value)
        .first(conn)?;
    Ok(last - n + 1)
}

pub fn current_seq(conn: &mut DbConnection) -> QueryResult<i64> {
    record_seq::table
        .find(1)
        .select(record_seq::value)
        .first(conn)
}

/// The latest seq among the records `ids` and their components: what
/// changes when any of them is stored again (0 when there are none).
pub fn latest_seq_of(conn: &mut DbConnection, ids: &[i64]) -> QueryResult<i64> {
    let mut latest = 0;
    // Bounded batches: both backends cap the parameters of a statement.
    for chunk in ids.chunks(5_000) {
        let found: Option<i64> = records::table
            .filter(
                records::id
                    .eq_any(chunk)
                    .or(records::parent_id.eq_any(chunk)),
            )
            .select(diesel::dsl::max(records::seq))
            .first(conn)?;
        latest = latest.max(found.unwrap_or(0));
    }
    Ok(latest)
}

/// Replace a record's reference index.
pub fn replace_refs(
    conn: &mut DbConnection,
    record_id: i64,
    refs: &[NewRecordRef],
) -> QueryResult<()> {
    diesel::delete(record_refs::table.filter(record_refs::record_id.eq(record_id)))
        .execute(conn)?;
    insert_many(conn, &[], refs)
}

/// Records whose references point at (table, uuid).
pub fn referencing(conn: &mut DbConnection, table: &str, uuid: &str) -> QueryResult<Vec<i64>> {
    record_refs::table
        .filter(record_refs::ref_table.eq(table))
        .filter(record_refs::ref_uuid.eq(uuid))
        .select(record_refs::record_id)
        .distinct()
        .load(conn)
}

/// The (field, table, uuid) references of a record.
pub fn refs_of(
    conn: &mut DbConnection,
    record_id: i64,
) -> QueryResult<Vec<(String, String, String)>> {
    record_refs::table
        .filter(record_refs::record_id.eq(record_id))
        .order(record_refs::id)
        .select((
            record_refs::field,
            record_refs::ref_table,
            record_refs::ref_uuid,
        ))
        .load(conn)
}

/// Records of a table with seq above `after_seq` (and at most `until_seq`),
/// optionally only those modified or stored at or after `msince` and those
/// whose current version did not come from `not_changed_by`, in seq order.
pub fn page_of_table(
    conn: &mut DbConnection,
    table: &str,
    after_seq: i64,
    msince: Option<NaiveDateTime>,
    until_seq: Option<i64>,
    not_changed_by: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<StoredRecord>> {
    let mut query = records::table
        .filter(records::table_name.eq(table))
        .filter(records::seq.gt(after_seq))
        .order(records::seq.asc())
        .limit(limit)
        .select(StoredRecord::as_select())
        .into_boxed();
    if let Some(until) = until_seq {
        query = query.filter(records::seq.le(until));
    }
    if let Some(peer) = not_changed_by {
        query = query.filter(
            records::changed_by_repository_id
                .is_null()
                .or(records::changed_by_repository_id.ne(peer)),
        );
    }
    if let Some(since) = msince {
        query = query.filter(
            records::modified_on
                .ge(since)
                .or(records::stored_at.ge(since)),
        );
    }
    query.load(conn)
}

/// Records dated after `after` (a peer's clock or data is wrong): how many,
/// and the latest date among them.
pub fn future_dated(
    conn: &mut DbConnection,
    after: NaiveDateTime,
) -> QueryResult<(i64, Option<NaiveDateTime>)> {
    let count = records::table
        .filter(records::modified_on.gt(after))
        .count()
        .get_result(conn)?;
    let latest = records::table
        .filter(records::modified_on.gt(after))
        .select(diesel::dsl::max(records::modified_on))
        .first(conn)?;
    Ok((count, latest))
}

/// A record's components. Asked once per exported record: on the backend's
/// own connection the statement is prepared once and kept.
pub fn components_of(conn: &mut DbConnection, parent_id: i64) -> QueryResult<Vec<StoredRecord>> {
    on_each_backend!(conn, |c| records::table
        .filter(records::parent_id.eq(parent_id))
        .order(records::id)
        .select(StoredRecord::as_select())
        .load(c))
}

/// Every table held, with its number of records (deleted ones included).
pub fn table_counts(conn: &mut DbConnection) -> QueryResult<Vec<(String, i64)>> {
    records::table
        .group_by(records::table_name)
        .select((records::table_name, diesel::dsl::count_star()))
        .order(records::table_name.asc())
        .load(conn)
}

/// Records of a table, newest change first (by seq, below `before_seq`):
/// deleted ones only when asked, and, with `text`, those whose uuid or
/// stored fields contain it.
pub fn browse(
    conn: &mut DbConnection,
    table: &str,
    text: Option<&str>,
    with_deleted: bool,
    before_seq: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<StoredRecord>> {
    let mut query = records::table
        .filter(records::table_name.eq(table.to_string()))
        .order(records::seq.desc())
        .limit(limit)
        .select(StoredRecord::as_select())
        .into_boxed();
    if !with_deleted {
        query = query.filter(records::deleted.eq(false));
    }
    if let Some(before) = before_seq {
        query = query.filter(records::seq.lt(before));
    }
    if let Some(text) = text {
        let escaped = text
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        let pattern = format!("%{escaped}%");
        query = query.filter(
            records::uuid
                .like(pattern.clone())
                .escape('\\')
                .or(records::body.like(pattern).escape('\\')),
        );
    }
    query.load(conn)
}

/// Give a record the next seq, unchanged otherwise: pushes send it again
/// (a record a peer refused, fixed here or to be tried again). Takes the
/// seq lock, so call it inside a transaction.
pub fn bump_seq(conn: &mut DbConnection, id: i64) -> QueryResult<usize> {
    lock_seq(conn)?;
    let seq = reserve_seqs(conn, 1)?;
    diesel::update(records::table.find(id))
        .set(records::seq.eq(seq))
        .execute(conn)
}
