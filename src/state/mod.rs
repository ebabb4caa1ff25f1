//! What every request handler, console and sync API alike, may use: the
//! shared state, and who the client is.

pub mod answers;
pub mod peer_tables;
pub mod seen_pushes;

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{HttpRequest, web};

use crate::accounts::peer_auth::PeerAuth;
use crate::accounts::throttle::LoginThrottle;
use crate::db::Pool;
use crate::engine::Engine;
use crate::model::review_items::Waiting;
use crate::secrets::SecretKey;

/// What every request handler may use.
pub struct AppState {
    pub pool: Pool,
    pub key: SecretKey,
    pub site_uuid: String,
    /// Cookies carry `Secure` when the public URL is https.
    pub secure_cookies: bool,
    pub login_throttle: LoginThrottle,
    /// Basic authentication of peers on the sync API.
    pub peer_auth: PeerAuth,
    /// `EDENSYNC_PUBLIC_URL`, for the `url` of exported documents.
    pub public_url: Option<String>,
    /// The largest push body accepted (413 beyond).
    pub max_push_bytes: u64,
    pub max_record_bytes: u64,
    /// Where push bodies are spooled: the data directory, on disk (a
    /// temporary directory may be memory).
    pub spool_dir: std::path::PathBuf,
    /// Starts runs ("Sync now").
    pub engine: Engine,
    /// Reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub review_counts: ReviewCounts,
    /// Pull answers kept so that a peer whose link dropped gets the rest.
    pub answers: std::sync::Arc<answers::Answers>,
    /// The tables edensync peers said they hold, kept a few minutes.
    pub peer_tables: peer_tables::PeerTablesCache,
    /// The last push from each peer and table that changed nothing.
    pub seen_pushes: seen_pushes::SeenPushes,
    /// Pushes being imported at once. Others wait with their body spooled
    /// to disk, holding no memory: with hundreds of peers pushing together
    /// each import's buffers would otherwise add up to gigabytes, while the
    /// database takes one writer (SQLite) or a few (PostgreSQL) at a time.
    pub imports: Arc<tokio::sync::Semaphore>,
}

/// Pushes imported at once (see [`AppState::imports`]): SQLite writes one
/// at a time, so two keep it busy (one writing while the next reads);
/// PostgreSQL writes several.
pub fn imports_at_once(postgres: bool) -> usize {
    if postgres { 4 } else { 2 }
}

/// The review queue's counts per repository, table and kind, read again at
/// most every few seconds (and after a decision): with a hundred thousand
/// items waiting counting them takes tens of milliseconds, too much for
/// every page (the navigation's badge). One request counts; others meanwhile
/// take the previous counts.
#[derive(Default)]
pub struct ReviewCounts(Mutex<CachedCounts>);

#[derive(Default)]
struct CachedCounts {
    counts: Arc<Vec<Waiting>>,
    /// When they were read; `None`: never, or a decision changed them.
    at: Option<Instant>,
    /// A request is counting again, since then.
    counting_since: Option<Instant>,
}

impl ReviewCounts {
    const FRESH: Duration = Duration::from_secs(10);
    /// A count that takes longer than this has failed: another may start.
    const GIVE_UP: Duration = Duration::from_secs(30);

    /// The counts, fresh or being counted again by another request; `None`:
    /// the caller counts them now and hands them to [`ReviewCounts::keep`].
    pub fn get(&self) -> Option<Arc<Vec<Waiting>>> {
        let mut cached = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let fresh = cached.at.is_some_and(|at| at.elapsed() < Self::FRESH);
        let counting = cached
            .counting_since
            .is_some_and(|since| since.elapsed() < Self::GIVE_UP);
        if fresh || (counting && cached.at.is_some()) {
            return Some(cached.counts.clone());
        }
        cached.counting_since = Some(Instant::now());
        None
    }

    pub fn keep(&self, counts: Vec<Waiting>) -> Arc<Vec<Waiting>> {
        let counts = Arc::new(counts);
        let mut cached = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *cached = CachedCounts {
            counts: counts.clone(),
            at: Some(Instant::now()),
            counting_since: None,
        };
        counts
    }

    /// A decision changed them.
    pub fn forget(&self) {
        let mut cached = self.0.lock().unwrap_or_else(|e| e.into_inner());
        cached.at = None;
        cached.counting_since = None;
    }
}

/// The client's address: the socket's, or, when the socket is a trusted
/// reverse proxy, the last address in `X-Forwarded-For` that is not itself
/// a trusted proxy (what comes before it anyone could have written).
pub fn client_ip(req: &HttpRequest) -> Option<IpAddr> {
    let socket = req.peer_addr()?.ip();
    let Some(state) = req.app_data::<web::Data<AppState>>() else {
        return Some(socket);
    };
    let trusted = |ip: &IpAddr| state.trusted_proxies.iter().any(|net| net.contains(ip));
    if !trusted(&socket) {
        return Some(socket);
    }
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    for hop in forwarded.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(ip) if trusted(&ip) => continue,
            Ok(ip) => return Some(ip),
            // Garbage from before the trusted proxies: stop believing.
            Err(_) => break,
        }
    }
    Some(socket)
}
