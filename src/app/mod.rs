//! Building a node from its settings: open the database, migrate, load the
//! secret key (here), start the HTTP server (`server.rs`) and the background
//! work (`background.rs`). Used by the CLI and by the tests, which start
//! real servers on port 0.

mod background;
mod connections;
mod request_bodies;
mod server;

pub use background::Background;
pub use server::{Running, start};

use crate::accounts::AccountError;
use crate::config::{ConfigError, DatabaseUrl, Settings};
use crate::db::{self, DbConnection, DbError, Pool};
use crate::engine::Engine;
use crate::model;
use crate::secrets::{self, SecretKey, SecretsError};

/// Why the node could not start; each message is one line for the operator.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    #[error("{0}")]
    Account(#[from] AccountError),
}

impl From<diesel::result::Error> for StartError {
    fn from(e: diesel::result::Error) -> Self {
        StartError::Db(e.into())
    }
}

/// An opened store: migrated database, site identity, secret key.
#[derive(Clone)]
pub struct Node {
    pub settings: Settings,
    pub pool: Pool,
    pub key: SecretKey,
    pub site_uuid: String,
}

/// Open (and on first start, create) the node's data directory, database,
/// site identity and secret key.
pub fn open(settings: Settings) -> Result<Node, StartError> {
    settings.prepare_data_dir()?;
    if let DatabaseUrl::Sqlite(path) = &settings.database
        && let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent).map_err(|e| {
            ConfigError::new(
                "database_url (EDENSYNC_DATABASE_URL)",
                format!("cannot create {}: {e}", parent.display()),
            )
        })?;
    }
    let pool = db::open_pool(&settings.database)?;
    let mut conn = pool.get().map_err(DbError::from)?;
    db::run_migrations(&mut conn)?;
    let site_uuid = ensure_site_identity(&mut conn)?;
    let key = secrets::load_or_create(&settings.key_location(), &mut conn)?;
    drop(conn);
    Ok(Node {
        settings,
        pool,
        key,
        site_uuid,
    })
}

/// `secrets adopt`: make this data directory's key the database's key (the
/// database's own was lost before anything was encrypted with it). The node
/// cannot be opened until then, so this works on the database directly.
pub fn adopt_key(settings: &Settings) -> Result<(), StartError> {
    settings.prepare_data_dir()?;
    if serve_is_running(settings) {
        return Err(SecretsError::Key(
            "edensync serve is running on this data directory: stop it first (it holds the key \
             in memory), then adopt"
                .into(),
        )
        .into());
    }
    let pool = db::open_pool(&settings.database)?;
    let mut conn = pool.get().map_err(DbError::from)?;
    db::run_migrations(&mut conn)?;
    ensure_site_identity(&mut conn)?;
    secrets::adopt(&settings.key_location(), &mut conn)?;
    Ok(())
}

/// The site uuid peers know us by, created once as `urn:uuid:<v4>`.
fn ensure_site_identity(conn: &mut DbConnection) -> Result<String, StartError> {
    if let Some(config) = model::sync_config::get(conn)? {
        return Ok(config.site_uuid);
    }
    let site_uuid = format!("urn:uuid:{}", uuid::Uuid::new_v4());
    model::sync_config::insert_initial(conn, &site_uuid, "edensync", model::now())?;
    tracing::info!(%site_uuid, "created the site identity");
    Ok(site_uuid)
}

/// The lock `serve` holds on its data directory for as long as it runs, so
/// that a second server or `secrets rotate` (which would leave the running
/// server with a stale key) is refused while it runs.
pub fn lock_data_dir(settings: &Settings) -> Result<std::fs::File, StartError> {
    let path = settings.data_dir.join(SERVE_LOCK);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| {
            ConfigError::new(
                "data_dir (EDENSYNC_DATA_DIR)",
                format!("cannot open {}: {e}", path.display()),
            )
        })?;
    if !try_lock(&file) {
        return Err(ConfigError::new(
            "data_dir (EDENSYNC_DATA_DIR)",
            format!(
                "another edensync serve is running on {} (it holds {SERVE_LOCK})",
                settings.data_dir.display()
            ),
        )
        .into());
    }
    Ok(file)
}

/// Whether a `serve` holds the data directory's lock now.
pub fn serve_is_running(settings: &Settings) -> bool {
    match std::fs::File::open(settings.data_dir.join(SERVE_LOCK)) {
        // Closing the file releases the lock if we got it.
        Ok(file) => !try_lock(&file),
        Err(_) => false,
    }
}

const SERVE_LOCK: &str = "serve.lock";

fn try_lock(file: &std::fs::File) -> bool {
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a descriptor we own; released when it is closed.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

/// The run engine of a node. Peers reach us at the configured public URL,
/// else at `listen_url` (a server's own address), else we have no URL to
/// tell them.
pub fn engine(node: &Node, listen_url: Option<&str>) -> Engine {
    let public_url = node
        .settings
        .public_url
        .as_ref()
        .map(|u| u.as_str().trim_end_matches('/').to_string())
        .or_else(|| listen_url.map(str::to_string));
    let mut engine = Engine::new(
        node.pool.clone(),
        node.key.clone(),
        node.site_uuid.clone(),
        public_url,
    );
    engine.max_record_bytes = node.settings.max_record_bytes;
    engine.runs_at_once = node.settings.max_runs_at_once;
    engine
}
