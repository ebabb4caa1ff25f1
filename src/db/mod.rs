//! The database: one connection type over SQLite and PostgreSQL, a pool, and
//! the embedded migrations of both backends.

pub mod schema;
mod url;

pub use url::{DatabaseUrl, mask_url_password};

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2::{self, ManageConnection};
use diesel::{Connection, PgConnection, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

/// One connection to whichever backend the database URL names.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Sqlite(SqliteConnection),
    Pg(PgConnection),
}

/// Run a statement on the concrete connection of each backend, for what
/// the multi-backend connection cannot express (`RETURNING`, multi-row
/// inserts). The body is compiled once per backend.
macro_rules! on_each_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConnection::Sqlite($c) => $body,
            $crate::db::DbConnection::Pg($c) => $body,
        }
    };
}
pub(crate) use on_each_backend;

pub type Pool = r2d2::Pool<ConnectionManager>;
pub type PooledConnection = r2d2::PooledConnection<ConnectionManager>;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot open the database {url}: {message}")]
    Connect { url: String, message: String },
    #[error("no database connection available: {0}")]
    Pool(#[from] r2d2::PoolError),
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("database migration failed: {0}")]
    Migration(String),
    #[error("{0}")]
    Unsupported(&'static str),
    /// The blocking task running database work panicked or was cancelled.
    #[error("database task failed: {0}")]
    Task(String),
}

impl DbError {
    /// The database could not write for want of space (SQLite's "database
    /// or disk is full", PostgreSQL's "No space left on device").
    pub fn is_disk_full(&self) -> bool {
        let text = self.to_string();
        text.contains("database or disk is full")
            || text.contains("No space left on device")
            || text.contains("could not extend file")
    }
}

/// Run `work` with a pooled connection on the blocking pool: the one way
/// async code (console, sync API, engine) reaches the database.
pub async fn with_conn<T, E, F>(pool: &Pool, work: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: From<DbError> + Send + 'static,
{
    let pool = pool.clone();
    let task = tokio::task::spawn_blocking(move || {
        let mut conn = pool.get().map_err(DbError::from)?;
        work(&mut conn)
    });
    match task.await {
        Ok(result) => result,
        Err(e) => Err(DbError::Task(e.to_string()).into()),
    }
}

/// How long a writer waits for SQLite's lock before giving up.
const SQLITE_BUSY_TIMEOUT_MS: u32 = 10_000;

/// Opens connections for the pool, choosing the backend by URL scheme, so a
/// PostgreSQL URL is never mistaken for an SQLite file name and the real
/// connection error reaches the operator.
#[derive(Debug, Clone)]
pub struct ConnectionManager {
    url: DatabaseUrl,
}

impl ConnectionManager {
    pub fn new(url: DatabaseUrl) -> Self {
        ConnectionManager { url }
    }

    pub fn connect_now(&self) -> Result<DbConnection, DbError> {
        let connect_error = |message: String| DbError::Connect {
            url: self.url.display(),
            message,
        };
        match &self.url {
            DatabaseUrl::Sqlite(path) => {
                let path = path
                    .to_str()
                    .ok_or_else(|| connect_error("path is not UTF-8".into()))?;
                let mut conn =
                    SqliteConnection::establish(path).map_err(|e| connect_error(e.to_string()))?;
                // 8 KiB pages for a new store (an existing one keeps its
                // own): an import writes the same bytes in half as many page
                // writes, and runs 15 % faster than with 4 KiB (BENCHMARKS.md). WAL lets readers run while
                // one writer commits; the busy timeout makes concurrent
                // writers wait instead of failing. Statement journals and
                // temporary tables stay in memory.
                conn.batch_execute(&format!(
                    "PRAGMA page_size = 8192; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = NORMAL; \
                     PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}; PRAGMA foreign_keys = ON; \
                     PRAGMA cache_size = -16384; PRAGMA temp_store = MEMORY;"
                ))
                .map_err(|e| connect_error(e.to_string()))?;
                Ok(DbConnection::Sqlite(conn))
            }
            DatabaseUrl::Postgres(url) => PgConnection::establish(url)
                .map(DbConnection::Pg)
                .map_err(|e| connect_error(e.to_string().trim().replace('\n', " "))),
        }
    }
}

impl ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = DbError;

    fn connect(&self) -> Result<DbConnection, DbError> {
        self.connect_now()
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), DbError> {
        conn.batch_execute("SELECT 1").map_err(DbError::from)
    }

    fn has_broken(&self, _conn: &mut DbConnection) -> bool {
        false
    }
}

/// Open the pool. One connection is made first, outside the pool, so that an
/// unreachable server is reported with its real error rather than a timeout.
pub fn open_pool(url: &DatabaseUrl) -> Result<Pool, DbError> {
    let manager = ConnectionManager::new(url.clone());
    drop(manager.connect_now()?);
    let max_size = if url.is_postgres() { 16 } else { 8 };
    r2d2::Pool::builder()
        .max_size(max_size)
        .min_idle(Some(1))
        .connection_timeout(Duration::from_secs(30))
        .build(manager)
        .map_err(|e| DbError::Connect {
            url: url.display(),
            message: e.to_string(),
        })
}

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Apply pending migrations; returns the versions applied (empty when the
/// schema is current, so running it twice is harmless).
pub fn run_migrations(conn: &mut DbConnection) -> Result<Vec<String>, DbError> {
    let migration_error =
        |e: Box<dyn std::error::Error + Send + Sync>| DbError::Migration(e.to_string());
    let applied = match conn {
        DbConnection::Sqlite(c) => c
            .run_pending_migrations(SQLITE_MIGRATIONS)
            .map_err(migration_error)?
            .iter()
            .map(|v| v.to_string())
            .collect(),
        DbConnection::Pg(c) => {
            // Several processes may share one PostgreSQL database: let one
            // migrate while the others wait.
            c.batch_execute("SELECT pg_advisory_lock(7262611)")?;
            let result = c
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(|versions| versions.iter().map(|v| v.to_string()).collect::<Vec<_>>());
            c.batch_execute("SELECT pg_advisory_unlock(7262611)")?;
            result.map_err(migration_error)?
        }
    };
    Ok(applied)
}

/// Whether a transaction is open on this connection (the caller's: work
/// done now becomes part of it).
pub fn in_transaction(conn: &mut DbConnection) -> bool {
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    let status = match conn {
        DbConnection::Sqlite(c) => AnsiTransactionManager::transaction_manager_status_mut(c),
        DbConnection::Pg(c) => AnsiTransactionManager::transaction_manager_status_mut(c),
    };
    status
        .transaction_depth()
        .is_ok_and(|depth| depth.is_some())
}

/// Run `f` in a transaction whose reads all see one snapshot of the
/// database. PostgreSQL's default (READ COMMITTED) would let each statement
/// see what others commit meanwhile; SQLite's transactions are serializable
/// already.
pub fn snapshot_transaction<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    conn.transaction(|conn| {
        // Must come before the transaction's first query.
        if let DbConnection::Pg(c) = conn {
            c.batch_execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")?;
        }
        f(conn)
    })
}

/// The backend's name, for `config show` and `/healthz`.
pub fn backend_name(conn: &DbConnection) -> &'static str {
    match conn {
        DbConnection::Sqlite(_) => "sqlite",
        DbConnection::Pg(_) => "postgres",
    }
}

/// A consistent copy of a live SQLite store in `target` (`VACUUM INTO`:
/// one read transaction, so writers carry on and the copy is a single point
/// in time, compacted). PostgreSQL has its own tools.
pub fn backup_sqlite(conn: &mut DbConnection, target: &std::path::Path) -> Result<(), DbError> {
    use diesel::RunQueryDsl;
    match conn {
        DbConnection::Sqlite(conn) => {
            diesel::sql_query("VACUUM INTO ?")
                .bind::<diesel::sql_types::Text, _>(target.to_string_lossy().into_owned())
                .execute(conn)?;
            Ok(())
        }
        DbConnection::Pg(_) => Err(DbError::Unsupported(
            "edensync backup copies SQLite stores; back up PostgreSQL with pg_dump",
        )),
    }
}
