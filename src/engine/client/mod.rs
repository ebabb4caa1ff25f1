//! The HTTP client of the active side: registration, pulls and pushes to a
//! peer, Eden or edensync. One pooled reqwest client per distinct transport
//! configuration (proxy, TLS, timeouts), shared by every run.
//!
//! Bodies never sit in memory: pull answers are spooled to a temporary file
//! as they arrive (then imported from it), push bodies are streamed from the
//! file the export was written to.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::NaiveDateTime;
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap};
use serde_json::Value;

mod messages;
mod probe;
mod pull;
mod resume;
mod transport;

use messages::transport_error;
pub use probe::Probed;
pub use pull::{Answer, Budget, Spooled};
pub use resume::Partial;
pub use transport::{Clients, ProxyConfig, Transport, base_url};

/// The slowest rate at which Eden imports a pushed document, in bytes per
/// second: 5 000 organisations (4.7 MB) form-encoded took it 229 s on two
/// idle cores. A push waits for Eden's answer at least as long as that
/// rate says, and at least the read timeout.
pub const EDEN_IMPORT_BYTES_PER_SEC: u64 = 20_000;

use super::error::SyncError;
use crate::s3xml::Format;
use crate::vocabulary::{Policy, Strategy};
use messages::excerpt;

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
    /// The pooled clients and this peer's transport settings: a push gets a
    /// client that waits as long as the peer may need to import it.
    pub clients: Clients,
    pub transport: Transport,
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
    pub policies: Option<(Strategy, Policy, Policy)>,
    /// (prefix, url variable, value): `[~]~.acronym__like=RO*`.
    pub filters: Vec<(String, String, String)>,
    /// Eden peers: the end of a time window, `[~]~.modified_on__lt=…`
    /// (the window's start is `msince`, which keeps references to older
    /// records of the same table).
    pub before: Option<NaiveDateTime>,
    /// edensync peers: paging by seq.
    pub since_seq: Option<i64>,
    pub limit: Option<u64>,
    /// edensync peers: ask how many masters follow the page (the first
    /// page of a pull asks, for the run's progress).
    pub count_remaining: bool,
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
        if let Some(before) = query.before {
            // With its zone: a value without one is the server's local time.
            let value = before.format("%Y-%m-%dT%H:%M:%SZ").to_string();
            url.push_str(&format!("&[~]~.modified_on__lt={}", quote(&value)));
        }
        if let Some(since) = query.since_seq {
            url.push_str(&format!("&since_seq={since}"));
        }
        if let Some(limit) = query.limit {
            url.push_str(&format!("&limit={limit}"));
        }
        if query.count_remaining {
            url.push_str("&count=1");
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

    /// `POST sync.xml` with the document in `body` (`length` bytes, gzip
    /// for edensync peers, in `format`). Eden gets `text/xml` with a file
    /// name, which its server parses fast; a server that cannot read that
    /// content type gets Eden's own form-urlencoded one instead.
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
            let http = self.push_client(length)?;
            let mut request = self
                .push_request(&http, &url, format)
                .header(header::CONTENT_LENGTH, length)
                .body(reqwest::Body::wrap_stream(stream));
            if gzip {
                request = request
                    .header(header::CONTENT_ENCODING, "gzip")
                    .header(header::ACCEPT_ENCODING, "identity");
            }
            let response = request
                .send()
                .await
                .map_err(|e| self.push_transport_error(&e))?;
            if response.status() == StatusCode::INTERNAL_SERVER_ERROR
                && self.kind == PeerKind::Eden
                && format == Format::Xml
                && !self.form_pushes
            {
                if self.refuses_text_xml(&url).await {
                    tracing::info!(peer = %self.name, "Eden cannot read text/xml pushes; sending form-urlencoded");
                    self.form_pushes = true;
                    continue;
                }
                // Eden reads text/xml: the 500 is something else, most often
                // its database still locked by an earlier push.
                return Err(self.eden_push_failed(response).await);
            }
            bytes_out.fetch_add(length as i64, Ordering::Relaxed);
            let response = self.check(response).await?;
            let clock_skew = clock_skew(response.headers());
            let text = response
                .text()
                .await
                .map_err(|e| self.push_transport_error(&e))?;
            let mut reply = self.push_reply(&text)?;
            reply.clock_skew = clock_skew;
            return Ok(reply);
        }
    }

    /// A client that waits for the answer to a push of `length` bytes as
    /// long as the peer may need to import it: Eden answers only when its
    /// import is done, silent until then, at worst
    /// [`EDEN_IMPORT_BYTES_PER_SEC`]. Rounded up to half minutes, so that
    /// pushes of similar size share a client.
    fn push_client(&self, length: u64) -> Result<reqwest::Client, SyncError> {
        let import = length / EDEN_IMPORT_BYTES_PER_SEC;
        let silence =
            Duration::from_secs(import.div_ceil(30) * 30).max(self.transport.read_timeout);
        self.clients.get(&Transport {
            read_timeout: silence,
            total_timeout: self
                .transport
                .total_timeout
                .max(silence + self.transport.read_timeout),
            ..self.transport.clone()
        })
    }

    /// A push request with the content type the peer reads.
    fn push_request(
        &self,
        http: &reqwest::Client,
        url: &str,
        format: Format,
    ) -> reqwest::RequestBuilder {
        let mut request = http.post(url);
        if let Some(username) = &self.username {
            request = request.basic_auth(username, self.password.as_deref());
        }
        if format == Format::Lines {
            request.header(header::CONTENT_TYPE, format.media_type())
        } else if self.form_pushes {
            request.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        } else {
            request.header(header::CONTENT_TYPE, "text/xml").header(
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"push.xml\"",
            )
        }
    }

    /// Whether Eden's 500 came from the content type (web2py under Python 3
    /// cannot parse some `text/xml` bodies, PROTOCOL.md §7 item 9): a
    /// broken document sent the same way gets Eden's "XML Parse error" 400
    /// when the content type is read, and the same 500 when it is not.
    /// Nothing is imported either way.
    async fn refuses_text_xml(&self, url: &str) -> bool {
        let probe = self
            .push_request(&self.http, url, Format::Xml)
            .body("<s3xml><resource")
            .send()
            .await;
        matches!(probe, Ok(r) if r.status() == StatusCode::INTERNAL_SERVER_ERROR)
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

    fn transport_error(&self, e: &reqwest::Error) -> SyncError {
        transport_error(&self.name, &self.base, e)
    }
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

#[cfg(test)]
mod tests {
    use super::messages::peer_message;
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
            clients: Clients::default(),
            transport: Transport {
                proxy: None,
                connect_timeout: Duration::from_secs(1),
                read_timeout: Duration::from_secs(1),
                total_timeout: Duration::from_secs(1),
                extra_ca_pem: None,
                accept_invalid_certs: false,
            },
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
