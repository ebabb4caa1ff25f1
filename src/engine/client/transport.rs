//! The transport to peers: one pooled reqwest client per distinct
//! configuration (proxy, TLS, timeouts), shared by every run.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use url::Url;

use crate::engine::error::SyncError;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProxyConfig {
    pub url: String,
    pub username: Option<String>,
    pub password: Option<String>,
}

/// Everything that shapes the transport; equal configurations share a pool.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Transport {
    pub proxy: Option<ProxyConfig>,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub total_timeout: Duration,
    pub extra_ca_pem: Option<String>,
    pub accept_invalid_certs: bool,
}

/// The pooled clients, one per transport configuration.
#[derive(Default, Clone)]
pub struct Clients {
    pool: Arc<Mutex<HashMap<Transport, reqwest::Client>>>,
}

impl Clients {
    pub fn get(&self, transport: &Transport) -> Result<reqwest::Client, SyncError> {
        let mut pool = self.pool.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(client) = pool.get(transport) {
            return Ok(client.clone());
        }
        let client = build(transport)?;
        pool.insert(transport.clone(), client.clone());
        Ok(client)
    }
}

fn build(transport: &Transport) -> Result<reqwest::Client, SyncError> {
    let mut builder = reqwest::Client::builder()
        .user_agent(format!("edensync/{}", crate::VERSION))
        // Compression is negotiated by hand (only with edensync peers), so
        // the bytes counted are the bytes on the wire.
        .gzip(false)
        // Only the proxy configured here: nothing from the environment.
        .no_proxy()
        .connect_timeout(transport.connect_timeout)
        .read_timeout(transport.read_timeout)
        .timeout(transport.total_timeout)
        .pool_idle_timeout(Duration::from_secs(60))
        // A redirect would send our credentials and take records from
        // wherever it points: never followed, reported (see `check`).
        .redirect(reqwest::redirect::Policy::none());
    // The HTTP stack's default gives up on a connection whose sent bytes
    // wait 30 s for an acknowledgement: a slow link that is still moving (a
    // satellite fade, a full 2G buffer) is not a dead one. Dead links are
    // found by the read timeout and the run's stall limit (cuts.rs). (The
    // option exists where the kernel has it.)
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "fuchsia"))]
    {
        builder = builder.tcp_user_timeout(None);
    }
    if let Some(proxy) = &transport.proxy {
        let mut p = reqwest::Proxy::all(proxy.url.as_str()).map_err(|e| {
            SyncError::permanent(format!("the proxy URL {} is not usable: {e}", proxy.url))
        })?;
        if let Some(username) = &proxy.username {
            p = p.basic_auth(username, proxy.password.as_deref().unwrap_or(""));
        }
        builder = builder.proxy(p);
    }
    if let Some(pem) = &transport.extra_ca_pem {
        let certs = reqwest::Certificate::from_pem_bundle(pem.as_bytes()).map_err(|e| {
            SyncError::permanent(format!(
                "the repository's CA certificate is not valid PEM: {e}"
            ))
        })?;
        builder = builder.tls_certs_merge(certs);
    }
    if transport.accept_invalid_certs {
        builder = builder.tls_danger_accept_invalid_certs(true);
    }
    builder
        .build()
        .map_err(|e| SyncError::permanent(format!("cannot set up the HTTP client: {e}")))
}

/// The base URL as stored, checked: http or https, no query.
pub fn base_url(url: &str) -> Result<String, SyncError> {
    let parsed = Url::parse(url)
        .map_err(|e| SyncError::permanent(format!("the repository URL {url} is not valid: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(SyncError::permanent(format!(
            "the repository URL {url} must start with http:// or https://"
        )));
    }
    Ok(url.trim_end_matches('/').to_string())
}
