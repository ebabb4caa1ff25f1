//! Scripted peers on loopback, written on raw TCP so a test controls every
//! byte: an Eden stand-in answering with recorded traffic or faults (status
//! codes, slow answers), a relay that cuts one connection after N bytes,
//! and a small HTTP forward proxy with optional Basic credentials.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A request as it reached the stand-in.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    /// The request target as sent (origin-form, or absolute-form via a proxy).
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    /// The raw query string (not decoded).
    pub fn query(&self) -> &str {
        self.target.split_once('?').map_or("", |(_, q)| q)
    }
}

/// What the stand-in answers.
pub enum Reply {
    /// A recorded response from `tests/fixtures/eden-vectors/<name>`.
    Recorded(&'static str),
    Status(u16, &'static str, String),
    /// Wait, then answer.
    Slow(Duration, Box<Reply>),
    /// A redirect (status, Location).
    Redirect(u16, String),
}

/// Eden's answer (inside an HTTP 200) to a push holding the nameless
/// organisation `urn:uuid:bad-1` (acronym NONAME00): the push went through,
/// that record was refused and named in the `tree`.
pub fn eden_refuses_nameless() -> Reply {
    Reply::Status(
        200,
        "text/html",
        r#"{"status": "success", "statuscode": "200", "message": "name: value(s) required - invalid items ignored", "records": 0, "tree": {"$_org_organisation":[{"@uuid":"urn:uuid:bad-1","@error":"name: value(s) required"}]}}"#.into(),
    )
}

/// Whether a push holds that nameless organisation.
pub fn holds_nameless(request: &Seen) -> bool {
    request.body.windows(8).any(|w| w == b"NONAME00")
}

type Script = dyn Fn(&Seen, usize) -> Reply + Send + Sync;

pub struct StandIn {
    pub url: String,
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

impl StandIn {
    /// Serve `script(request, index)` for every request, on a fresh port.
    pub async fn start(script: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static) -> StandIn {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let script: Arc<Script> = Arc::new(script);
        let log = seen.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (log, script) = (log.clone(), script.clone());
                tokio::spawn(async move {
                    let _ = serve_connection(stream, log, script).await;
                });
            }
        });
        StandIn { url, seen }
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn serve_connection(
    mut stream: TcpStream,
    log: Arc<Mutex<Vec<Seen>>>,
    script: Arc<Script>,
) -> std::io::Result<()> {
    loop {
        let Some(request) = read_request(&mut stream).await? else {
            return Ok(());
        };
        let index = {
            let mut log = log.lock().unwrap();
            log.push(request.clone());
            log.len() - 1
        };
        let reply = script(&request, index);
        write_reply(&mut stream, reply).await?;
    }
}

/// Read one request (head and Content-Length body); None at end of stream.
pub async fn read_request(stream: &mut TcpStream) -> std::io::Result<Option<Seen>> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await? == 0 {
            return Ok(None);
        }
        head.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut lines = text.split("\r\n");
    let mut first = lines.next().unwrap_or("").split(' ');
    let method = first.next().unwrap_or("").to_string();
    let target = first.next().unwrap_or("").to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let length = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await?;
    Ok(Some(Seen {
        method,
        target,
        headers,
        body,
    }))
}

/// A recorded `.http` response made sendable: HTTP/1.1 status line, CRLF,
/// the real body length.
pub fn recorded(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/eden-vectors/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let raw = std::fs::read(&path).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| (p, 4))
        .or_else(|| raw.windows(2).position(|w| w == b"\n\n").map(|p| (p, 2)))
        .expect("a head and a body");
    let head = String::from_utf8_lossy(&raw[..split.0]).into_owned();
    let body = &raw[split.0 + split.1..];
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .trim()
        .replacen("HTTP ", "HTTP/1.1 ", 1);
    let mut out = format!("{status}\r\n");
    for line in lines {
        let lower = line.to_ascii_lowercase();
        if lower.starts_with("content-length") || lower.starts_with("connection") {
            continue;
        }
        out.push_str(line.trim_end());
        out.push_str("\r\n");
    }
    out.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

pub fn response(code: u16, content_type: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {code} Status\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn render(reply: Reply) -> Vec<u8> {
    match reply {
        Reply::Recorded(name) => recorded(name),
        Reply::Status(code, content_type, body) => response(code, content_type, &body),
        Reply::Slow(_, inner) => render(*inner),
        Reply::Redirect(code, location) => {
            format!("HTTP/1.1 {code} Moved\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n")
                .into_bytes()
        }
    }
}

async fn write_reply(stream: &mut TcpStream, reply: Reply) -> std::io::Result<()> {
    match reply {
        Reply::Slow(wait, inner) => {
            tokio::time::sleep(wait).await;
            Box::pin(write_reply(stream, *inner)).await
        }
        other => stream.write_all(&render(other)).await,
    }
}

/// A forward proxy for plain-HTTP targets: checks `Proxy-Authorization`
/// when credentials are set (407 otherwise), then relays one request per
/// connection to the target named in the absolute-form request line.
pub struct Proxy {
    pub url: String,
    pub requests: Arc<Mutex<Vec<Seen>>>,
}

impl Proxy {
    pub async fn start(credentials: Option<(&str, &str)>) -> Proxy {
        let expected =
            credentials.map(|(u, p)| format!("Basic {}", super::basic_credentials(u, p)));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = requests.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                let (log, expected) = (log.clone(), expected.clone());
                tokio::spawn(async move {
                    let Ok(Some(request)) = read_request(&mut client).await else {
                        return;
                    };
                    log.lock().unwrap().push(request.clone());
                    if let Some(expected) = &expected
                        && request.header("Proxy-Authorization") != Some(expected.as_str())
                    {
                        let refused = "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"test\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
                        let _ = client.write_all(refused.as_bytes()).await;
                        return;
                    }
                    let Some(rest) = request.target.strip_prefix("http://") else {
                        return;
                    };
                    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
                    let Ok(mut upstream) = TcpStream::connect(authority).await else {
                        let _ = client
                            .write_all(&response(502, "text/plain", "bad gateway"))
                            .await;
                        return;
                    };
                    let mut head = format!("{} /{path} HTTP/1.1\r\n", request.method);
                    for (k, v) in &request.headers {
                        let lower = k.to_ascii_lowercase();
                        if lower == "proxy-authorization" || lower == "connection" {
                            continue;
                        }
                        head.push_str(&format!("{k}: {v}\r\n"));
                    }
                    head.push_str("Connection: close\r\n\r\n");
                    let _ = upstream.write_all(head.as_bytes()).await;
                    let _ = upstream.write_all(&request.body).await;
                    let mut answer = Vec::new();
                    let _ = upstream.read_to_end(&mut answer).await;
                    let _ = client.write_all(&answer).await;
                    let _ = client.shutdown().await;
                });
            }
        });
        Proxy { url, requests }
    }
}

/// A relay in front of a real node that cuts the `nth` connection (0-based)
/// after `after` bytes of the answer (or of the request body, for uploads).
pub struct Cutter {
    pub url: String,
}

impl Cutter {
    pub async fn start(
        target: &str,
        nth: usize,
        request_bytes: Option<usize>,
        response_bytes: Option<usize>,
    ) -> Cutter {
        Cutter::start_cutting(target, vec![nth], request_bytes, response_bytes).await
    }

    /// Cut each of the connections numbered in `cuts` (0-based).
    pub async fn start_cutting(
        target: &str,
        cuts: Vec<usize>,
        request_bytes: Option<usize>,
        response_bytes: Option<usize>,
    ) -> Cutter {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let authority = target.trim_start_matches("http://").to_string();
        let count = Arc::new(Mutex::new(0usize));
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                let index = {
                    let mut c = count.lock().unwrap();
                    *c += 1;
                    *c - 1
                };
                let authority = authority.clone();
                let cut_here = cuts.contains(&index);
                tokio::spawn(async move {
                    let Ok(Some(request)) = read_request(&mut client).await else {
                        return;
                    };
                    let Ok(mut upstream) = TcpStream::connect(&authority).await else {
                        return;
                    };
                    let mut head = format!("{} {} HTTP/1.1\r\n", request.method, request.target);
                    for (k, v) in &request.headers {
                        if k.eq_ignore_ascii_case("connection") {
                            continue;
                        }
                        head.push_str(&format!("{k}: {v}\r\n"));
                    }
                    head.push_str("Connection: close\r\n\r\n");
                    let _ = upstream.write_all(head.as_bytes()).await;
                    match request_bytes.filter(|_| cut_here) {
                        Some(n) => {
                            let _ = upstream
                                .write_all(&request.body[..n.min(request.body.len())])
                                .await;
                            // The upload stops half-way: both sides are dropped.
                            tokio::time::sleep(Duration::from_millis(200)).await;
                            return;
                        }
                        None => {
                            let _ = upstream.write_all(&request.body).await;
                        }
                    }
                    let mut answer = Vec::new();
                    let _ = upstream.read_to_end(&mut answer).await;
                    if let Some(n) = response_bytes.filter(|_| cut_here) {
                        answer.truncate(n);
                    }
                    let _ = client.write_all(&answer).await;
                    let _ = client.shutdown().await;
                });
            }
        });
        Cutter { url }
    }
}
