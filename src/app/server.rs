//! The HTTP server of a node: the sync API and the console on one listener.

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::{App, HttpServer, middleware};

use super::{Node, StartError, engine};
use crate::accounts::{self, throttle::LoginThrottle};
use crate::config::ConfigError;
use crate::db::DbError;
use crate::engine::Engine;
use crate::state::{AppState, imports_at_once};
use crate::{api, web};

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
    let limits = super::connections::ConnectionLimits::for_this_process(
        settings.max_connections,
        settings.trusted_proxies.clone(),
    );
    let state = actix_web::web::Data::new(app_state(node.clone(), engine.clone()));
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(web::form_config())
            .wrap(web::security_headers())
            // Compressed only when the client asks (edensync peers, browsers);
            // Eden sends `Accept-Encoding: identity` and gets plain bytes.
            .wrap(middleware::Compress::default())
            .wrap(middleware::from_fn(super::request_bodies::pace_bodies))
            .wrap(middleware::from_fn(super::connections::keep_reserve))
            .wrap(middleware::from_fn(
                super::request_bodies::refuse_compressed_bodies,
            ))
            .wrap(middleware::from_fn(web::observe::observe))
            .configure(api::routes)
            .configure(web::routes)
    })
    // Small responses must not wait for the client's delayed ACK (Nagle):
    // that costs 40 ms per page otherwise. A connection over the limits
    // (per address, in total) is shut at once; an admitted one keeps its
    // place until it ends (the place lives in the connection's data).
    .on_connect(move |connection, data| {
        if let Some(tcp) = connection.downcast_ref::<actix_web::rt::net::TcpStream>() {
            let _ = tcp.set_nodelay(true);
            match tcp
                .peer_addr()
                .ok()
                .and_then(|peer| limits.admit(peer.ip()))
            {
                Some(admitted) => {
                    data.insert(admitted);
                }
                None => {
                    let _ = socket2::SockRef::from(tcp).shutdown(std::net::Shutdown::Both);
                }
            }
        }
    })
    .workers(worker_count())
    // Peers on poor links: allow 30 s for a request's head, and keep idle
    // connections longer than clients usually wait before reusing them.
    .client_request_timeout(Duration::from_secs(30))
    // A connection we closed (refused, or answered 503 on the reserve) frees
    // its place within a second, whatever the client does.
    .client_disconnect_timeout(Duration::from_secs(1))
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

/// The state request handlers share.
fn app_state(node: Node, engine: Engine) -> AppState {
    let postgres = node.settings.database.is_postgres();
    AppState {
        answers: Default::default(),
        engine,
        secure_cookies: node.settings.secure_cookies(),
        public_url: node.settings.public_url.as_ref().map(|u| u.to_string()),
        max_push_bytes: node.settings.max_push_bytes,
        max_record_bytes: node.settings.max_record_bytes,
        spool_dir: node.settings.data_dir.clone(),
        trusted_proxies: node.settings.trusted_proxies.clone(),
        pool: node.pool,
        key: node.key,
        site_uuid: node.site_uuid,
        login_throttle: LoginThrottle::default(),
        peer_auth: Default::default(),
        review_counts: Default::default(),
        peer_tables: Default::default(),
        seen_pushes: Default::default(),
        imports: std::sync::Arc::new(tokio::sync::Semaphore::new(imports_at_once(postgres))),
    }
}

fn worker_count() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get().clamp(2, 8))
        .unwrap_or(2)
}
