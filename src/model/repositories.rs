use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{repositories, repository_accounts, sync_config, users};
use crate::vocabulary::RepositoryStatus;

/// How many stored passwords are encrypted under the node's secret key
/// (peer passwords, proxy passwords): a key may only be replaced when none is.
pub fn count_encrypted_secrets(conn: &mut DbConnection) -> QueryResult<i64> {
    let peer: i64 = repositories::table
        .filter(repositories::password_enc.is_not_null())
        .count()
        .get_result(conn)?;
    let peer_proxy: i64 = repositories::table
        .filter(repositories::proxy_password_enc.is_not_null())
        .count()
        .get_result(conn)?;
    let default_proxy: i64 = sync_config::table
        .filter(sync_config::proxy_password_enc.is_not_null())
        .count()
        .get_result(conn)?;
    Ok(peer + peer_proxy + default_proxy)
}

/// A peer: an Eden or edensync instance we sync with, or that calls us.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = repositories)]
pub struct Repository {
    pub id: i64,
    pub name: String,
    pub url: Option<String>,
    pub peer_uuid: Option<String>,
    pub api_type: String,
    pub username: Option<String>,
    pub password_enc: Option<String>,
    pub proxy_url: Option<String>,
    pub proxy_username: Option<String>,
    pub proxy_password_enc: Option<String>,
    pub tls_ca_pem: Option<String>,
    pub tls_accept_invalid: bool,
    pub enabled: bool,
    pub accept_push: bool,
    pub allowed_tables: Option<String>,
    pub peer_kind: Option<String>,
    pub last_connected_at: Option<NaiveDateTime>,
    pub last_success_at: Option<NaiveDateTime>,
    /// Read it typed with `status()`.
    pub last_status: Option<String>,
    pub consecutive_failures: i32,
    pub next_retry_at: Option<NaiveDateTime>,
    pub lease_holder: Option<String>,
    pub lease_expires_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub last_error: Option<String>,
    /// Seconds the peer's clock was ahead of ours at the last contact.
    pub clock_skew_secs: Option<i64>,
    /// What an edensync peer said it can do at registration (space-separated).
    pub peer_capabilities: Option<String>,
    /// A folder repository (sneakernet): files instead of HTTP.
    pub folder_path: Option<String>,
}

impl Repository {
    /// How the last run left the repository (none before the first run, or
    /// after "retry now"). Only `record_outcome` writes the column, from a
    /// `RepositoryStatus`; a word it does not know reads as none. (A field
    /// cannot be read typed: diesel's `deserialize_as` would need
    /// `TryFrom<Option<String>>` for an `Option`, which the orphan rule
    /// forbids.)
    pub fn status(&self) -> Option<RepositoryStatus> {
        self.last_status
            .as_deref()
            .and_then(|text| RepositoryStatus::parse(text).ok())
    }

    /// The tables this peer may pull, push and receive at any depth
    /// (components, dependencies); `None`: all.
    pub fn table_scope(&self) -> Option<Vec<String>> {
        let list = self.allowed_tables.as_deref()?.trim();
        if list.is_empty() {
            return None;
        }
        Some(list.split(',').map(|t| t.trim().to_string()).collect())
    }

    /// Whether the peer may touch records of `table`.
    pub fn may_touch(&self, table: &str) -> bool {
        self.table_scope()
            .is_none_or(|tables| tables.iter().any(|t| t == table))
    }

    /// Whether this node runs syncs for the repository: it has a URL to
    /// call, or a folder to read and write. Otherwise the peer calls us.
    pub fn is_active(&self) -> bool {
        self.url.is_some() || self.folder().is_some()
    }

    /// The folder this repository reads and writes files in, when it is a
    /// folder repository (Eden's `filesync`).
    pub fn folder(&self) -> Option<&str> {
        self.folder_path.as_deref().filter(|p| !p.trim().is_empty())
    }

    /// Whether the peer listed this capability when it registered.
    pub fn peer_can(&self, capability: &str) -> bool {
        self.peer_capabilities
            .as_deref()
            .is_some_and(|c| c.split_whitespace().any(|c| c == capability))
    }
}

pub fn find_by_peer_uuid(
    conn: &mut DbConnection,
    peer_uuid: &str,
) -> QueryResult<Option<Repository>> {
    repositories::table
        .filter(repositories::peer_uuid.eq(peer_uuid))
        .select(Repository::as_select())
        .first(conn)
        .optional()
}

pub fn name_taken(conn: &mut DbConnection, name: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        repositories::table.filter(repositories::name.eq(name)),
    ))
    .get_result(conn)
}

/// A repository created by a peer registering itself: no URL (it calls us).
pub fn insert_registered(
    conn: &mut DbConnection,
    name: &str,
    peer_uuid: &str,
    api_type: &str,
    accept_push: bool,
    now: NaiveDateTime,
) -> QueryResult<Repository> {
    diesel::insert_into(repositories::table)
        .values((
            repositories::name.eq(name),
            repositories::peer_uuid.eq(peer_uuid),
            repositories::api_type.eq(api_type),
            repositories::accept_push.eq(accept_push),
            repositories::last_connected_at.eq(Some(now)),
            repositories::created_at.eq(now),
            repositories::updated_at.eq(now),
        ))
        .execute(conn)?;
    repositories::table
        .filter(repositories::peer_uuid.eq(peer_uuid))
        .select(Repository::as_select())
        .first(conn)
}

/// A known peer registering again: its api type may change; we note the contact.
pub fn update_registered(
    conn: &mut DbConnection,
    id: i64,
    api_type: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(repositories::table.find(id))
        .set((
            repositories::api_type.eq(api_type),
            repositories::last_connected_at.eq(Some(now)),
            repositories::updated_at.eq(now),
        ))
        .execute(conn)
}

pub fn bind_account(conn: &mut DbConnection, repository_id: i64, user_id: i64) -> QueryResult<()> {
    let bound: bool = diesel::select(diesel::dsl::exists(
        repository_accounts::table
            .filter(repository_accounts::repository_id.eq(repository_id))
            .filter(repository_accounts::user_id.eq(user_id)),
    ))
    .get_result(conn)?;
    if !bound {
        diesel::insert_into(repository_accounts::table)
            .values((
                repository_accounts::repository_id.eq(repository_id),
                repository_accounts::user_id.eq(user_id),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// The repositories an account is bound to.
pub fn bound_to(conn: &mut DbConnection, user_id: i64) -> QueryResult<Vec<Repository>> {
    repositories::table
        .inner_join(repository_accounts::table)
        .filter(repository_accounts::user_id.eq(user_id))
        .select(Repository::as_select())
        .load(conn)
}

/// Give a repository created without one the uuid its peer registered.
pub fn set_peer_uuid(conn: &mut DbConnection, id: i64, peer_uuid: &str) -> QueryResult<usize> {
    diesel::update(repositories::table.find(id))
        .set(repositories::peer_uuid.eq(Some(peer_uuid)))
        .execute(conn)
}

pub fn is_bound(conn: &mut DbConnection, repository_id: i64, user_id: i64) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        repository_accounts::table
            .filter(repository_accounts::repository_id.eq(repository_id))
            .filter(repository_accounts::user_id.eq(user_id)),
    ))
    .get_result(conn)
}

/// Accept (or stop accepting) pushes from the repository's peer.
pub fn set_accept_push(conn: &mut DbConnection, id: i64, accept: bool) -> QueryResult<usize> {
    diesel::update(repositories::table.find(id))
        .set((
            repositories::accept_push.eq(accept),
            repositories::updated_at.eq(crate::model::now()),
        ))
        .execute(conn)
}

pub fn touch_connected(conn: &mut DbConnection, id: i64, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(repositories::table.find(id))
        .set(repositories::last_connected_at.eq(Some(now)))
        .execute(conn)
}

// --- Configuration by administrators (console and command line) ---

/// The columns an administrator sets. Saved whole: `None` stores NULL.
#[derive(Debug, Clone, Insertable, AsChangeset)]
#[diesel(table_name = repositories, treat_none_as_null = true, treat_none_as_default_value = false)]
pub struct RepositoryConfig {
    pub name: String,
    pub url: Option<String>,
    pub peer_uuid: Option<String>,
    pub username: Option<String>,
    pub password_enc: Option<String>,
    pub proxy_url: Option<String>,
    pub proxy_username: Option<String>,
    pub proxy_password_enc: Option<String>,
    pub enabled: bool,
    pub accept_push: bool,
    /// Comma-separated table names; `None`: every table.
    pub allowed_tables: Option<String>,
    /// Extra CA certificates (PEM) trusted for this peer only.
    pub tls_ca_pem: Option<String>,
    pub tls_accept_invalid: bool,
    /// A folder repository's folder (then no URL).
    pub folder_path: Option<String>,
    pub updated_at: NaiveDateTime,
}

pub fn find(conn: &mut DbConnection, id: i64) -> QueryResult<Option<Repository>> {
    repositories::table
        .find(id)
        .select(Repository::as_select())
        .first(conn)
        .optional()
}

pub fn find_by_name(conn: &mut DbConnection, name: &str) -> QueryResult<Option<Repository>> {
    repositories::table
        .filter(repositories::name.eq(name))
        .select(Repository::as_select())
        .first(conn)
        .optional()
}

pub fn find_by_url(conn: &mut DbConnection, url: &str) -> QueryResult<Option<Repository>> {
    repositories::table
        .filter(repositories::url.eq(url))
        .select(Repository::as_select())
        .first(conn)
        .optional()
}

/// Every repository, by name.
pub fn list(conn: &mut DbConnection) -> QueryResult<Vec<Repository>> {
    repositories::table
        .order(repositories::name.asc())
        .select(Repository::as_select())
        .load(conn)
}

/// Insert a repository (its name is unique, so it is read back by name).
pub fn insert(
    conn: &mut DbConnection,
    config: &RepositoryConfig,
    now: NaiveDateTime,
) -> QueryResult<Repository> {
    diesel::insert_into(repositories::table)
        .values((config, repositories::created_at.eq(now)))
        .execute(conn)?;
    repositories::table
        .filter(repositories::name.eq(&config.name))
        .select(Repository::as_select())
        .first(conn)
}

pub fn update_config(
    conn: &mut DbConnection,
    id: i64,
    config: &RepositoryConfig,
) -> QueryResult<usize> {
    diesel::update(repositories::table.find(id))
        .set(config)
        .execute(conn)
}

/// Delete a repository; the database removes its tasks (and their
/// filters), jobs, runs, log rows and account bindings with it.
pub fn delete(conn: &mut DbConnection, id: i64) -> QueryResult<usize> {
    diesel::delete(repositories::table.find(id)).execute(conn)
}

/// E-mail addresses of the sync accounts that may act as this repository.
pub fn bound_account_emails(
    conn: &mut DbConnection,
    repository_id: i64,
) -> QueryResult<Vec<String>> {
    repository_accounts::table
        .inner_join(users::table)
        .filter(repository_accounts::repository_id.eq(repository_id))
        .order(users::email.asc())
        .select(users::email)
        .load(conn)
}

/// Bind exactly these accounts to the repository (others are unbound).
pub fn set_accounts(
    conn: &mut DbConnection,
    repository_id: i64,
    user_ids: &[i64],
) -> QueryResult<()> {
    diesel::delete(
        repository_accounts::table.filter(repository_accounts::repository_id.eq(repository_id)),
    )
    .execute(conn)?;
    for user_id in user_ids {
        bind_account(conn, repository_id, *user_id)?;
    }
    Ok(())
}

// ---- The active side: lease, outcome of runs, what registration learned.

/// Take the repository's lease if nobody holds it or the holder's lease
/// expired (its process died): true when this `holder` got it. One
/// conditional UPDATE, so two processes can never both succeed.
pub fn take_lease(
    conn: &mut DbConnection,
    id: i64,
    holder: &str,
    now: NaiveDateTime,
    expires: NaiveDateTime,
) -> QueryResult<bool> {
    let changed = diesel::update(
        repositories::table.find(id).filter(
            repositories::lease_holder
                .is_null()
                .or(repositories::lease_expires_at.is_null())
                .or(repositories::lease_expires_at.lt(now)),
        ),
    )
    .set((
        repositories::lease_holder.eq(Some(holder)),
        repositories::lease_expires_at.eq(Some(expires)),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}

/// Who holds the repository's lease now and until when, if anyone.
pub fn lease(conn: &mut DbConnection, id: i64) -> QueryResult<Option<(String, NaiveDateTime)>> {
    let found = repositories::table
        .find(id)
        .select((repositories::lease_holder, repositories::lease_expires_at))
        .first::<(Option<String>, Option<NaiveDateTime>)>(conn)
        .optional()?;
    Ok(match found {
        Some((Some(holder), Some(expires))) => Some((holder, expires)),
        _ => None,
    })
}

/// Extend the lease; false when it is no longer ours.
pub fn renew_lease(
    conn: &mut DbConnection,
    id: i64,
    holder: &str,
    expires: NaiveDateTime,
) -> QueryResult<bool> {
    let changed = diesel::update(
        repositories::table
            .find(id)
            .filter(repositories::lease_holder.eq(holder)),
    )
    .set(repositories::lease_expires_at.eq(Some(expires)))
    .execute(conn)?;
    Ok(changed == 1)
}

pub fn release_lease(conn: &mut DbConnection, id: i64, holder: &str) -> QueryResult<usize> {
    diesel::update(
        repositories::table
            .find(id)
            .filter(repositories::lease_holder.eq(holder)),
    )
    .set((
        repositories::lease_holder.eq(None::<String>),
        repositories::lease_expires_at.eq(None::<NaiveDateTime>),
    ))
    .execute(conn)
}

/// How a run ended, for the dashboard and the retry logic.
pub struct RunOutcome<'a> {
    pub status: RepositoryStatus,
    pub succeeded: bool,
    /// The run committed something: a failure after progress does not
    /// lengthen a failure streak.
    pub progressed: bool,
    pub error: Option<&'a str>,
    pub next_retry_at: Option<NaiveDateTime>,
    pub contacted: bool,
}

pub fn record_outcome(
    conn: &mut DbConnection,
    id: i64,
    outcome: &RunOutcome,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(repositories::table.find(id))
        .set((
            repositories::last_status.eq(Some(outcome.status.as_str())),
            repositories::last_error.eq(outcome.error),
            repositories::next_retry_at.eq(outcome.next_retry_at),
        ))
        .execute(conn)?;
    if outcome.succeeded || outcome.progressed {
        diesel::update(repositories::table.find(id))
            .set(repositories::consecutive_failures.eq(0))
            .execute(conn)?;
    } else {
        diesel::update(repositories::table.find(id))
            .set(repositories::consecutive_failures.eq(repositories::consecutive_failures + 1))
            .execute(conn)?;
    }
    if outcome.succeeded {
        diesel::update(repositories::table.find(id))
            .set(repositories::last_success_at.eq(Some(now)))
            .execute(conn)?;
    }
    if outcome.contacted {
        touch_connected(conn, id, now)?;
    }
    Ok(1)
}

/// "Retry now": forget the backoff and a permanent failure's block.
pub fn clear_retry(conn: &mut DbConnection, id: i64) -> QueryResult<usize> {
    diesel::update(repositories::table.find(id))
        .set((
            repositories::next_retry_at.eq(None::<NaiveDateTime>),
            repositories::last_status.eq(None::<String>),
        ))
        .execute(conn)
}

/// Repositories whose transient failure's backoff has run out.
pub fn due_for_retry(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<(i64, NaiveDateTime)>> {
    let due: Vec<(i64, Option<NaiveDateTime>)> = repositories::table
        .filter(repositories::next_retry_at.le(now))
        .filter(repositories::enabled.eq(true))
        .filter(repositories::last_status.eq(RepositoryStatus::Retrying.as_str()))
        .order(repositories::next_retry_at.asc())
        .limit(limit)
        .select((repositories::id, repositories::next_retry_at))
        .load(conn)?;
    Ok(due
        .into_iter()
        .filter_map(|(id, at)| Some((id, at?)))
        .collect())
}

/// Claim a due retry: only the process whose UPDATE changed the row runs it.
pub fn claim_retry(conn: &mut DbConnection, id: i64, now: NaiveDateTime) -> QueryResult<bool> {
    let changed = diesel::update(
        repositories::table
            .find(id)
            .filter(repositories::next_retry_at.le(now))
            .filter(repositories::last_status.eq(RepositoryStatus::Retrying.as_str())),
    )
    .set(repositories::next_retry_at.eq(None::<NaiveDateTime>))
    .execute(conn)?;
    Ok(changed == 1)
}

/// What the peer said at registration: its uuid, whether it is Eden or
/// edensync, and what it can do.
pub fn set_registered(
    conn: &mut DbConnection,
    id: i64,
    peer_uuid: Option<&str>,
    peer_kind: &str,
    capabilities: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    if let Some(peer_uuid) = peer_uuid {
        diesel::update(repositories::table.find(id))
            .set(repositories::peer_uuid.eq(Some(peer_uuid)))
            .execute(conn)?;
    }
    diesel::update(repositories::table.find(id))
        .set((
            repositories::peer_kind.eq(Some(peer_kind)),
            repositories::peer_capabilities.eq(Some(capabilities)),
            repositories::last_connected_at.eq(Some(now)),
        ))
        .execute(conn)
}

pub fn set_clock_skew(conn: &mut DbConnection, id: i64, skew: Option<i64>) -> QueryResult<usize> {
    diesel::update(repositories::table.find(id))
        .set(repositories::clock_skew_secs.eq(skew))
        .execute(conn)
}

/// A repository's stored ciphertexts: (id, peer password, proxy password).
pub type SealedPasswords = (i64, Option<String>, Option<String>);

/// Every stored ciphertext of the repositories, for re-encryption under a
/// new key.
pub fn encrypted_secrets(conn: &mut DbConnection) -> QueryResult<Vec<SealedPasswords>> {
    repositories::table
        .filter(
            repositories::password_enc
                .is_not_null()
                .or(repositories::proxy_password_enc.is_not_null()),
        )
        .select((
            repositories::id,
            repositories::password_enc,
            repositories::proxy_password_enc,
        ))
        .load(conn)
}

pub fn set_encrypted_secrets(
    conn: &mut DbConnection,
    id: i64,
    password_enc: Option<&str>,
    proxy_password_enc: Option<&str>,
) -> QueryResult<usize> {
    diesel::update(repositories::table.find(id))
        .set((
            repositories::password_enc.eq(password_enc),
            repositories::proxy_password_enc.eq(proxy_password_enc),
        ))
        .execute(conn)
}
