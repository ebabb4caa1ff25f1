//! The HTTP client of the active side: registration, pulls and pushes to a
//! peer, Eden or edensync. One pooled reqwest client per distinct transport
//! configuration (proxy, TLS, timeouts), shared by every run.
//!
//! Bodies never sit in memory: pull answers are spooled to a temporary file
//! as they arrive (then imported from it), push bodies are streamed from the
//! file the export was written to.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::NaiveDateTime;
use futures_util::StreamExt;
use reqwest::header::{self, HeaderMap};
use reqwest::{Response, StatusCode};
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use url::Url;

use super::error::SyncError;
use crate::s3xml::{Format, lines};

/// What kind of server the peer is, learned at registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerKind {
    Eden,
    /// Pages by seq, gzip bodies.
    Edensync,
}

impl PeerKind {
    pub fn parse(text: Option<&str>) -> PeerKind {
        match text {
            Some("edensync") => PeerKind::Edensync,
            _ => PeerKind::Eden,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PeerKind::Eden => "eden",
            PeerKind::Edensync => "edensync",
        }
    }
}

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
        .pool_idle_timeout(Duration::from_secs(60));
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

/// One peer as a run talks to it.
#[derive(Clone)]
pub struct Peer {
    pub http: reqwest::Client,
    /// The base URL without a trailing slash (`https://host/eden`).
    pub base: String,
    /// The repository's name, for messages.
    pub name: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub kind: PeerKind,
    /// The peer listed JSON lines at registration: pulls ask for them,
    /// pushes send them.
    pub speaks_lines: bool,
    pub site_uuid: String,
    /// The peer rejected `text/xml` pushes with a 500 once: use Eden's own
    /// form-urlencoded content type from then on.
    pub form_pushes: bool,
}

/// What the peer answered at registration.
#[derive(Debug, Clone)]
pub struct Registered {
    pub peer_uuid: Option<String>,
    pub kind: PeerKind,
    /// What an edensync peer said it can do (`since_seq`, `gzip`, `ndjson`, …).
    pub capabilities: Vec<String>,
    pub message: String,
}

/// A response body spooled to a file.
pub struct Spooled {
    pub file: std::fs::File,
    pub bytes: u64,
    pub gzip: bool,
    /// What the peer answered in (by its Content-Type).
    pub format: Format,
    /// One page of a paged pull (bounded by `limit`), not a whole table.
    pub page: bool,
    /// Seconds the peer's clock is ahead of ours (from its `Date` header).
    pub clock_skew: Option<i64>,
}

/// The peer's reply to a push.
#[derive(Debug, Clone, Default)]
pub struct PushReply {
    pub records: u64,
    pub created: u64,
    pub updated: u64,
    pub deleted: u64,
    /// (table, uuid, reason, the raw entry) for each record the peer refused.
    pub rejected: Vec<(String, Option<String>, String, String)>,
    pub message: Option<String>,
    pub clock_skew: Option<i64>,
}

/// The query parameters of a pull or push, in Eden's order.
#[derive(Debug, Clone, Default)]
pub struct SyncQuery {
    pub resource: String,
    pub msince: Option<NaiveDateTime>,
    /// Pull: `mcomponents=None` when components are off.
    pub no_components: bool,
    /// Pull: Eden always sends `include_deleted=True`.
    pub include_deleted: bool,
    /// Push: strategy, update and conflict policy (Eden's client sends them).
    pub policies: Option<(String, String, String)>,
    /// (prefix, url variable, value): `[~]~.acronym__like=RO*`.
    pub filters: Vec<(String, String, String)>,
    /// edensync peers: paging by seq.
    pub since_seq: Option<i64>,
    pub limit: Option<u64>,
}

impl Peer {
    fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.base)
    }

    fn sync_url(&self, query: &SyncQuery) -> String {
        let mut url = format!(
            "{}?resource={}&repository={}",
            self.url("sync/sync.xml"),
            quote(&query.resource),
            quote(&self.site_uuid)
        );
        if let Some((strategy, update, conflict)) = &query.policies {
            url.push_str(&format!(
                "&strategy={strategy}&update_policy={update}&conflict_policy={conflict}"
            ));
        }
        if let Some(msince) = query.msince {
            url.push_str(&format!("&msince={}", msince.format("%Y-%m-%dT%H:%M:%S")));
        }
        if query.no_components {
            url.push_str("&mcomponents=None");
        }
        if query.include_deleted {
            url.push_str("&include_deleted=True");
        }
        for (prefix, var, value) in &query.filters {
            // Eden sends the key as is and percent-encodes the value.
            url.push_str(&format!("&[{prefix}]{var}={}", quote(value)));
        }
        if let Some(since) = query.since_seq {
            url.push_str(&format!("&since_seq={since}"));
        }
        if let Some(limit) = query.limit {
            url.push_str(&format!("&limit={limit}"));
        }
        url
    }

    fn request(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        let mut request = self.http.request(method, url);
        // Pre-emptive, as Eden's client does: no round trip for a challenge.
        if let Some(username) = &self.username {
            request = request.basic_auth(username, self.password.as_deref());
        }
        request
    }

    /// `register.json`: announce our uuid; the answer's `sender` is the peer's.
    pub async fn register(&self, own_name: &str) -> Result<Registered, SyncError> {
        let body = serde_json::json!({
            "uuid": self.site_uuid,
            "name": own_name,
            "apitype": "eden",
        });
        let url = self.url("sync/repository/register.json");
        let response = self
            .request(reqwest::Method::POST, &url)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| self.transport_error(&e))?;
        let response = self.check(response).await?;
        let text = response
            .text()
            .await
            .map_err(|e| self.transport_error(&e))?;
        let reply: Value = serde_json::from_str(&text).map_err(|_| {
            SyncError::permanent(format!(
                "{} did not answer the registration with JSON: is {} the base URL of an Eden or edensync server?",
                self.name, self.base
            ))
        })?;
        let message = reply
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if reply.get("status").and_then(Value::as_str) == Some("failed") {
            return Err(SyncError::permanent(format!(
                "{} refused the registration: {message}",
                self.name
            ))
            .from_peer());
        }
        let kind = match reply.get("server").and_then(Value::as_str) {
            Some(server) if server.starts_with("edensync/") => PeerKind::Edensync,
            _ => PeerKind::Eden,
        };
        let capabilities = match kind {
            PeerKind::Edensync => reply
                .get("capabilities")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .filter(|c| !c.is_empty() && c.len() <= 32 && !c.contains(char::is_whitespace))
                .take(32)
                .map(str::to_string)
                .collect(),
            PeerKind::Eden => Vec::new(),
        };
        Ok(Registered {
            capabilities,
            peer_uuid: reply
                .get("sender")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            kind,
            message,
        })
    }

    /// `GET sync.xml`: spool the answer to a temporary file, counting bytes.
    pub async fn pull(
        &self,
        query: &SyncQuery,
        bytes_in: &AtomicI64,
    ) -> Result<Spooled, SyncError> {
        let url = self.sync_url(query);
        let mut request = self.request(reqwest::Method::GET, &url);
        request = match self.kind {
            PeerKind::Edensync => request.header(header::ACCEPT_ENCODING, "gzip"),
            PeerKind::Eden => request.header(header::ACCEPT_ENCODING, "identity"),
        };
        if self.speaks_lines {
            // What the answer is in, its Content-Type says.
            request = request.header(
                header::ACCEPT,
                format!("{}, text/xml;q=0.5", lines::MEDIA_TYPE),
            );
        }
        let response = request.send().await.map_err(|e| self.transport_error(&e))?;
        let response = self.check(response).await?;
        let clock_skew = clock_skew(response.headers());
        let gzip = response
            .headers()
            .get(header::CONTENT_ENCODING)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
        let format = Format::of_content_type(
            response
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
        );
        let mut spool = tokio::fs::File::from_std(tempfile::tempfile()?);
        let mut bytes: u64 = 0;
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.transport_error(&e))?;
            bytes += chunk.len() as u64;
            bytes_in.fetch_add(chunk.len() as i64, Ordering::Relaxed);
            spool.write_all(&chunk).await?;
        }
        spool.flush().await?;
        Ok(Spooled {
            file: spool.into_std().await,
            bytes,
            gzip,
            format,
            page: query.limit.is_some(),
            clock_skew,
        })
    }

    /// `POST sync.xml` with the document in `body` (`length` bytes, gzip
    /// for edensync peers, in `format`). Eden gets `text/xml` with a file
    /// name, which its server parses fast; a server that answers 500 to that
    /// gets Eden's own form-urlencoded content type instead.
    pub async fn push(
        &mut self,
        query: &SyncQuery,
        body: &std::fs::File,
        length: u64,
        gzip: bool,
        format: Format,
        bytes_out: &AtomicI64,
    ) -> Result<PushReply, SyncError> {
        let url = self.sync_url(query);
        loop {
            let file = tokio::fs::File::from_std(body.try_clone()?);
            let mut file = file;
            use tokio::io::AsyncSeekExt;
            file.seek(std::io::SeekFrom::Start(0)).await?;
            let stream = tokio_util::io::ReaderStream::with_capacity(file, 64 * 1024);
            let mut request = self
                .request(reqwest::Method::POST, &url)
                .header(header::CONTENT_LENGTH, length)
                .body(reqwest::Body::wrap_stream(stream));
            if gzip {
                request = request
                    .header(header::CONTENT_ENCODING, "gzip")
                    .header(header::ACCEPT_ENCODING, "identity");
            }
            request = if format == Format::Lines {
                request.header(header::CONTENT_TYPE, format.media_type())
            } else if self.form_pushes {
                request.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            } else {
                request.header(header::CONTENT_TYPE, "text/xml").header(
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"push.xml\"",
                )
            };
            let response = request.send().await.map_err(|e| self.transport_error(&e))?;
            if response.status() == StatusCode::INTERNAL_SERVER_ERROR
                && self.kind == PeerKind::Eden
                && !self.form_pushes
            {
                // Eden under Python 3 crashes on some text/xml bodies.
                tracing::info!(peer = %self.name, "push answered 500; trying again form-urlencoded");
                self.form_pushes = true;
                continue;
            }
            bytes_out.fetch_add(length as i64, Ordering::Relaxed);
            let response = self.check(response).await?;
            let clock_skew = clock_skew(response.headers());
            let text = response
                .text()
                .await
                .map_err(|e| self.transport_error(&e))?;
            let mut reply = self.push_reply(&text)?;
            reply.clock_skew = clock_skew;
            return Ok(reply);
        }
    }

    /// Read Eden's push answer: a `"status": "failed"` inside a 200 is a
    /// failure; refused records come in `tree`.
    fn push_reply(&self, text: &str) -> Result<PushReply, SyncError> {
        let reply: Value = serde_json::from_str(text).map_err(|_| {
            SyncError::transient(format!(
                "{} answered the push with something that is not Eden's JSON reply: {}",
                self.name,
                excerpt(text)
            ))
            .from_peer()
        })?;
        let message = reply
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_string);
        if reply.get("status").and_then(Value::as_str) == Some("failed") {
            let code = reply
                .get("statuscode")
                .and_then(Value::as_str)
                .unwrap_or("");
            return Err(SyncError::permanent(format!(
                "{} refused the push (status {code}): {}",
                self.name,
                message.as_deref().unwrap_or("no message")
            ))
            .from_peer());
        }
        let count = |key: &str| {
            reply
                .get(key)
                .and_then(Value::as_array)
                .map_or(0, |a| a.len() as u64)
        };
        let mut rejected = Vec::new();
        if let Some(tree) = reply.get("tree").and_then(Value::as_object) {
            for (key, items) in tree {
                let table = key.trim_start_matches("$_").to_string();
                for item in items.as_array().into_iter().flatten() {
                    let uuid = item
                        .get("@uuid")
                        .and_then(Value::as_str)
                        .map(str::to_string);
                    let reason = item
                        .get("@error")
                        .and_then(Value::as_str)
                        .or(message.as_deref())
                        .unwrap_or("refused by the peer")
                        .to_string();
                    rejected.push((table.clone(), uuid, reason, item.to_string()));
                }
            }
        }
        Ok(PushReply {
            records: reply.get("records").and_then(Value::as_u64).unwrap_or(0),
            created: count("created"),
            updated: count("updated"),
            deleted: count("deleted"),
            rejected,
            message,
            clock_skew: None,
        })
    }

    /// A non-2xx answer as an error an administrator can act on.
    async fn check(&self, response: Response) -> Result<Response, SyncError> {
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let text = read_limited(response, 16 * 1024).await;
        let said = peer_message(&text);
        let name = &self.name;
        let error = match status.as_u16() {
            401 => SyncError::permanent(format!(
                "{name} refused our credentials (HTTP 401{}): check the repository's username and password, and that the account exists on the peer",
                suffix(&said)
            ))
            .stopping_the_run(),
            403 => SyncError::permanent(format!(
                "{name} refused access (HTTP 403{}): the account needs sync rights on the peer, and the peer must know our site uuid {} (register the repository or enter it on the peer)",
                suffix(&said),
                self.site_uuid
            )),
            407 => SyncError::permanent(format!(
                "proxy authentication required (HTTP 407) on the way to {name}: check the proxy username and password"
            ))
            .stopping_the_run(),
            404 => SyncError::permanent(format!(
                "{name} has no sync endpoint at {} (HTTP 404): check the repository URL, it is the peer's base URL such as https://host/eden",
                self.base
            )),
            408 | 429 => SyncError::transient(format!(
                "{name} is busy (HTTP {}{})",
                status.as_u16(),
                suffix(&said)
            )),
            code if code >= 500 => {
                SyncError::transient(format!("{name} failed (HTTP {code}{})", suffix(&said)))
            }
            code => SyncError::permanent(format!(
                "{name} rejected the request (HTTP {code}{})",
                suffix(&said)
            )),
        };
        Err(error.from_peer())
    }

    fn transport_error(&self, e: &reqwest::Error) -> SyncError {
        transport_error(&self.name, &self.base, e)
    }
}

/// A transport failure in words: connect errors, timeouts and cut
/// connections are transient; a URL reqwest cannot use is permanent.
pub fn transport_error(name: &str, base: &str, e: &reqwest::Error) -> SyncError {
    let detail = error_chain(e);
    if e.is_builder() {
        return SyncError::permanent(format!(
            "the URL of {name} ({base}) is not usable: {detail}"
        ));
    }
    // rustls says "invalid peer certificate: UnknownIssuer" and the like:
    // waiting will not fix that, the repository's settings must.
    if detail.contains("invalid peer certificate") {
        return SyncError::permanent(format!(
            "the certificate of {name} ({base}) is not trusted ({detail}); if the peer's \
             certificate comes from its own CA, add that CA certificate to the repository; \
             check the URL's host name otherwise"
        ))
        .stopping_the_run();
    }
    let what = if e.is_timeout() {
        "did not answer in time"
    } else if e.is_connect() {
        "cannot be reached"
    } else if e.is_body() || e.is_decode() {
        "cut the connection during the transfer"
    } else if e.is_request() {
        "closed the connection before the exchange was complete"
    } else {
        "is unavailable"
    };
    let error = SyncError::transient(format!(
        "Peer repository unavailable: {name} {what} ({detail})"
    ));
    // Nobody answers at that address: the other tasks would only wait too.
    if e.is_connect() {
        error.stopping_the_run()
    } else {
        error
    }
}

/// reqwest's error with its causes ("error sending request: connection refused").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

fn suffix(said: &str) -> String {
    if said.is_empty() {
        String::new()
    } else {
        format!(": {said}")
    }
}

async fn read_limited(mut response: Response, limit: usize) -> String {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        body.extend_from_slice(&chunk);
        if body.len() >= limit {
            body.truncate(limit);
            break;
        }
    }
    String::from_utf8_lossy(&body).into_owned()
}

/// The peer's own words: the `message` of Eden's JSON, else the text
/// without markup, shortened.
pub fn peer_message(text: &str) -> String {
    if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(text)
        && let Some(message) = map.get("message").and_then(Value::as_str)
    {
        return excerpt(message);
    }
    let mut plain = String::with_capacity(text.len());
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => plain.push(c),
            _ => {}
        }
    }
    excerpt(&plain.split_whitespace().collect::<Vec<_>>().join(" "))
}

fn excerpt(text: &str) -> String {
    const MAX: usize = 300;
    let text = text.trim();
    if text.chars().count() <= MAX {
        return text.to_string();
    }
    let cut: String = text.chars().take(MAX).collect();
    format!("{cut}…")
}

/// Seconds the peer's clock is ahead of ours, from its `Date` header.
fn clock_skew(headers: &HeaderMap) -> Option<i64> {
    let date = headers.get(header::DATE)?.to_str().ok()?;
    let theirs = chrono::DateTime::parse_from_rfc2822(date).ok()?;
    Some((theirs.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_seconds())
}

/// Percent-encode like Python's `urllib.quote` (what Eden's client uses):
/// letters, digits and `_.-~/:` stay, everything else becomes `%XX`.
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' | b'/' | b':' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_matches_edens_filter_encoding() {
        assert_eq!(quote("RO*"), "RO%2A");
        assert_eq!(quote("a b&c"), "a%20b%26c");
        assert_eq!(quote("urn:uuid:5513e238-de56"), "urn:uuid:5513e238-de56");
    }

    #[test]
    fn peer_message_prefers_edens_json_and_strips_markup() {
        assert_eq!(
            peer_message(
                r#"{"status": "failed", "statuscode": "403", "message": "Registration required"}"#
            ),
            "Registration required"
        );
        assert_eq!(
            peer_message("<html><body><h1>Internal error</h1> Ticket issued</body></html>"),
            "Internal error Ticket issued"
        );
    }

    #[test]
    fn eden_pull_url_has_edens_parameter_order() {
        let peer = Peer {
            http: reqwest::Client::new(),
            base: "http://127.0.0.1:8766/edenb".into(),
            name: "B".into(),
            username: None,
            password: None,
            kind: PeerKind::Eden,
            speaks_lines: false,
            site_uuid: "urn:uuid:5513e238-de56-4c16-ab02-54b2b8ba64cb".into(),
            form_pushes: false,
        };
        let query = SyncQuery {
            resource: "org_organisation".into(),
            no_components: true,
            include_deleted: true,
            filters: vec![
                ("~".into(), "~.acronym__like".into(), "RO*".into()),
                ("~".into(), "~.deleted".into(), "False".into()),
            ],
            ..SyncQuery::default()
        };
        // The request line Eden's client sent (vector 06).
        assert_eq!(
            peer.sync_url(&query),
            "http://127.0.0.1:8766/edenb/sync/sync.xml?resource=org_organisation&repository=urn:uuid:5513e238-de56-4c16-ab02-54b2b8ba64cb&mcomponents=None&include_deleted=True&[~]~.acronym__like=RO%2A&[~]~.deleted=False"
        );
    }
}
