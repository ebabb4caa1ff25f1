use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::sync_config;

/// The single row describing this node: its identity towards peers and the
/// settings administrators change in the console.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sync_config)]
pub struct SyncConfig {
    pub id: i32,
    pub site_uuid: String,
    pub site_name: String,
    pub proxy_url: Option<String>,
    pub proxy_username: Option<String>,
    pub proxy_password_enc: Option<String>,
    pub connect_timeout_secs: i32,
    pub request_timeout_secs: i32,
    pub backoff_base_secs: i32,
    pub backoff_cap_secs: i32,
    pub log_retention_days: i32,
    pub accept_push_from_new_peers: bool,
    pub metrics_token_hash: Option<String>,
    pub key_check: Option<String>,
    pub updated_at: NaiveDateTime,
    pub read_timeout_secs: i32,
    pub clock_skew_warn_secs: i32,
}

const ROW_ID: i32 = 1;

pub fn get(conn: &mut DbConnection) -> QueryResult<Option<SyncConfig>> {
    sync_config::table
        .find(ROW_ID)
        .select(SyncConfig::as_select())
        .first(conn)
        .optional()
}

/// Create the row on first start; the defaults of the other columns come
/// from the migration.
pub fn insert_initial(
    conn: &mut DbConnection,
    site_uuid: &str,
    site_name: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::insert_into(sync_config::table)
        .values((
            sync_config::id.eq(ROW_ID),
            sync_config::site_uuid.eq(site_uuid),
            sync_config::site_name.eq(site_name),
            sync_config::updated_at.eq(now),
        ))
        .execute(conn)
}

/// Set the key check only if none is set yet: of two processes starting
/// together on a new database, one sets it; returns whether this one did.
pub fn claim_key_check(conn: &mut DbConnection, key_check: &str) -> QueryResult<bool> {
    let claimed = diesel::update(
        sync_config::table
            .find(ROW_ID)
            .filter(sync_config::key_check.is_null()),
    )
    .set(sync_config::key_check.eq(Some(key_check)))
    .execute(conn)?;
    Ok(claimed == 1)
}

pub fn set_key_check(conn: &mut DbConnection, key_check: &str) -> QueryResult<usize> {
    diesel::update(sync_config::table.find(ROW_ID))
        .set(sync_config::key_check.eq(Some(key_check)))
        .execute(conn)
}

/// A change to the settings administrators set; `None` leaves a column as
/// it is (`Some(None)` clears a nullable one).
#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = sync_config)]
pub struct ConfigChange {
    pub site_name: Option<String>,
    pub proxy_url: Option<Option<String>>,
    pub proxy_username: Option<Option<String>>,
    pub proxy_password_enc: Option<Option<String>>,
    pub connect_timeout_secs: Option<i32>,
    pub read_timeout_secs: Option<i32>,
    pub request_timeout_secs: Option<i32>,
    pub backoff_base_secs: Option<i32>,
    pub backoff_cap_secs: Option<i32>,
    pub log_retention_days: Option<i32>,
    pub accept_push_from_new_peers: Option<bool>,
    pub clock_skew_warn_secs: Option<i32>,
    pub metrics_token_hash: Option<Option<String>>,
    pub updated_at: NaiveDateTime,
}

impl ConfigChange {
    /// No change yet, stamped with the time it is made.
    pub fn at(now: NaiveDateTime) -> ConfigChange {
        ConfigChange {
            site_name: None,
            proxy_url: None,
            proxy_username: None,
            proxy_password_enc: None,
            connect_timeout_secs: None,
            read_timeout_secs: None,
            request_timeout_secs: None,
            backoff_base_secs: None,
            backoff_cap_secs: None,
            log_retention_days: None,
            accept_push_from_new_peers: None,
            clock_skew_warn_secs: None,
            metrics_token_hash: None,
            updated_at: now,
        }
    }
}

pub fn update(conn: &mut DbConnection, change: &ConfigChange) -> QueryResult<usize> {
    diesel::update(sync_config::table.find(ROW_ID))
        .set(change)
        .execute(conn)
}

/// The default proxy's password, re-encrypted under a new key.
pub fn set_proxy_password_enc(conn: &mut DbConnection, sealed: Option<&str>) -> QueryResult<usize> {
    diesel::update(sync_config::table.find(ROW_ID))
        .set(sync_config::proxy_password_enc.eq(sealed))
        .execute(conn)
}
