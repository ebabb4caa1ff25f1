//! Building a node from its settings: open the database, migrate, load the
//! secret key, and start the HTTP server. Used by `main` and by the tests,
//! which start real servers on port 0.

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::{App, HttpServer, middleware};

use crate::accounts::{self, AccountError};
use crate::config::{ConfigError, DatabaseUrl, Settings};
use crate::db::{self, DbConnection, DbError, Pool};
use crate::model;
use crate::secrets::{self, SecretKey, SecretsError};
use crate::sync::engine::Engine;
use crate::web;

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
    let key = secrets::load_or_create(&settings, &mut conn)?;
    drop(conn);
    Ok(Node {
        settings,
        pool,
        key,
        site_uuid,
    })
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
    Engine::new(
        node.pool.clone(),
        node.key.clone(),
        node.site_uuid.clone(),
        public_url,
    )
}

/// A node serving HTTP.
pub struct Running {
    pub addr: SocketAddr,
    /// `http://ADDR:PORT` as bound (the real port, also for port 0).
    pub listen_url: String,
    /// Where the first administrator finishes setup, while none exists.
    pub setup_url: Option<String>,
    pub handle: ServerHandle,
    pub server: Server,
    /// Runs this node: the console's "Sync now" and the scheduler use it;
    /// `Engine::shutdown` waits for its runs.
    pub engine: Engine,
}

/// Bind the listener, create the first administrator from the environment or
/// issue a setup link, and build the server (not yet polled: spawn or await
/// `server`).
pub fn start(node: Node) -> Result<Running, StartError> {
    let settings = &node.settings;
    let listener = TcpListener::bind(settings.bind).map_err(|e| {
        ConfigError::new(
            "bind (EDENSYNC_BIND)",
            format!("cannot listen on {}: {e}", settings.bind),
        )
    })?;
    let addr = listener
        .local_addr()
        .map_err(|e| ConfigError::new("bind (EDENSYNC_BIND)", format!("no local address: {e}")))?;
    let listen_url = format!("http://{addr}");

    let setup_url = {
        let mut conn = node.pool.get().map_err(DbError::from)?;
        if let (Some(email), Some(password)) = (&settings.admin_email, &settings.admin_password)
            && accounts::setup::bootstrap_admin(&mut conn, email, password)?
        {
            tracing::info!(%email, "created the administrator from EDENSYNC_ADMIN_EMAIL");
        }
        accounts::setup::issue_token(&mut conn)?.map(|token| {
            let base = settings
                .public_url
                .as_ref()
                .map(|u| u.as_str().trim_end_matches('/').to_string())
                .unwrap_or_else(|| listen_url.clone());
            format!("{base}/setup?token={token}")
        })
    };

    let engine = engine(&node, Some(&listen_url));
    let state = actix_web::web::Data::new(web::AppState::new(node.clone(), engine.clone()));
    spawn_session_sweeper(node.pool.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(web::form_config())
            .wrap(web::security_headers())
            // Compressed only when the client asks (edensync peers, browsers);
            // Eden sends `Accept-Encoding: identity` and gets plain bytes.
            .wrap(middleware::Compress::default())
            .wrap(middleware::from_fn(web::observe::observe))
            .configure(web::routes)
    })
    // Small responses must not wait for the client's delayed ACK (Nagle):
    // that costs 40 ms per page otherwise.
    .on_connect(|connection, _| {
        if let Some(tcp) = connection.downcast_ref::<actix_web::rt::net::TcpStream>() {
            let _ = tcp.set_nodelay(true);
        }
    })
    .workers(worker_count())
    // Peers on poor links: allow 30 s for a request's head, and keep idle
    // connections longer than clients usually wait before reusing them.
    .client_request_timeout(Duration::from_secs(30))
    .keep_alive(Duration::from_secs(75))
    .shutdown_timeout(10)
    .listen(listener)
    .map_err(|e| {
        ConfigError::new(
            "bind (EDENSYNC_BIND)",
            format!("cannot serve on {addr}: {e}"),
        )
    })?
    .run();

    Ok(Running {
        addr,
        listen_url,
        setup_url,
        handle: server.handle(),
        server,
        engine,
    })
}

fn worker_count() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get().clamp(2, 8))
        .unwrap_or(2)
}

/// Remove expired sessions every ten minutes, so the table does not grow.
fn spawn_session_sweeper(pool: Pool) {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(Duration::from_secs(600));
        loop {
            ticker.tick().await;
            let pool = pool.clone();
            let swept = tokio::task::spawn_blocking(move || {
                let mut conn = pool.get().map_err(|e| e.to_string())?;
                accounts::sessions::sweep(&mut conn).map_err(|e| e.to_string())
            })
            .await;
            if let Ok(Err(e)) = swept {
                tracing::warn!(error = %e, "could not remove expired sessions");
            }
        }
    });
}
