//! The Eden-compatible endpoints, answered at `/sync/…` and under any one
//! leading path segment (`/eden/sync/…`), so a URL entered with or without
//! an application name works. Handlers stay thin: authenticate, parse, call
//! the protocol functions, answer as Eden does.

use std::io::{Seek, Write};
use std::time::Duration;

use actix_web::http::{Method, StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use serde_json::Value;
use tokio::io::AsyncWriteExt;

use super::pull::{self, PullQuery};
use super::push;
use super::registration::{self, Registration};
use crate::db::DbConnection;
use crate::error::{ApiError, eden_json};
use crate::model::users::User;
use crate::s3xml::Format;
use crate::store;
use crate::web::{AppState, client_ip};

/// Registration bodies are small JSON objects.
const MAX_REGISTRATION_BYTES: usize = 64 * 1024;

/// What edensync peers learn at registration (Eden ignores extra keys):
/// pulls page by `since_seq` + `limit`, answers are gzip-compressed on
/// request, and documents may be JSON lines both ways.
const CAPABILITIES: &[&str] = &["since_seq", "limit", "gzip", "ndjson"];

/// Run protocol work on the blocking pool with a pooled connection.
async fn with_conn<T, F>(state: &web::Data<AppState>, work: F) -> Result<T, ApiError>
where
    F: FnOnce(&mut DbConnection, &AppState) -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    let state = state.clone();
    web::block(move || {
        let mut conn = state.pool.get().map_err(crate::db::DbError::from)?;
        work(&mut conn, &state)
    })
    .await?
}

/// Authenticate the request's Basic credentials against our accounts.
async fn peer(req: &HttpRequest, state: &web::Data<AppState>) -> Result<User, ApiError> {
    let authorization = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let ip = client_ip(req);
    with_conn(state, move |conn, state| {
        state
            .peer_auth
            .authenticate(conn, authorization.as_deref(), ip)
    })
    .await
}

/// `/sync/repository/{file}`: only `register.json` is served.
pub async fn repository(
    req: HttpRequest,
    state: web::Data<AppState>,
    file: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let account = peer(&req, &state).await?;
    let file = file.into_inner();
    let (name, extension) = file.rsplit_once('.').unwrap_or((file.as_str(), ""));
    if name != "register" {
        return Err(ApiError::failed(StatusCode::NOT_FOUND, "Not found"));
    }
    if extension != "json" {
        return Err(ApiError::failed(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Unsupported data format!",
        ));
    }
    if req.method() != Method::POST && req.method() != Method::PUT {
        return Err(ApiError::failed(
            StatusCode::METHOD_NOT_ALLOWED,
            "Unsupported method!",
        ));
    }
    let body = read_small_body(payload, MAX_REGISTRATION_BYTES).await?;
    let registration::RegistrationBody {
        uuid,
        name,
        api_type,
    } = registration::parse_body(&body)
        .map_err(|message| ApiError::failed(StatusCode::BAD_REQUEST, message))?;
    let site_uuid = state.site_uuid.clone();
    let Some(peer_uuid) = uuid else {
        // Eden answers this with HTTP 200 and a failure inside.
        let mut answer = eden_json(
            false,
            StatusCode::BAD_REQUEST,
            "No repository identifier specified",
        );
        answer.insert("sender".into(), site_uuid.into());
        return Ok(HttpResponse::Ok().json(answer));
    };
    let outcome = with_conn(&state, move |conn, _| {
        let request = Registration {
            peer_uuid: &peer_uuid,
            name: name.as_deref(),
            api_type: api_type.as_deref(),
        };
        registration::register(conn, &account, &request)
    })
    .await?;
    let mut answer = eden_json(true, StatusCode::OK, outcome.message());
    answer.insert("sender".into(), site_uuid.into());
    answer.insert(
        "server".into(),
        format!("edensync/{}", crate::VERSION).into(),
    );
    answer.insert("capabilities".into(), CAPABILITIES.to_vec().into());
    Ok(HttpResponse::Ok().json(answer))
}

/// `sync.xml`: GET pulls, POST and PUT push; nothing else is allowed (an
/// Eden server would soft-delete the whole table on DELETE).
pub async fn sync_xml(
    req: HttpRequest,
    state: web::Data<AppState>,
    app: Option<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    match *req.method() {
        Method::GET => pull(req, state, app).await,
        Method::POST | Method::PUT => push(req, state, payload).await,
        _ => Err(ApiError::failed(
            StatusCode::METHOD_NOT_ALLOWED,
            "Unsupported method!",
        )),
    }
}

/// `POST|PUT sync.xml`: a peer pushes a table. The body is read whatever its
/// Content-Type says, spooled to a temporary file as it arrives, parsed
/// completely and only then imported: a document broken at its end changes
/// nothing.
async fn push(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let account = peer(&req, &state).await?;
    let query = PullQuery::parse(req.query_string());
    let limit = state.max_push_bytes;
    let too_large = || {
        ApiError::failed(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("The document is larger than the limit of {limit} bytes"),
        )
    };
    let declared = header_text(&req, header::CONTENT_LENGTH).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(too_large());
    }
    let format = Format::of_content_type(header_text(&req, header::CONTENT_TYPE));
    // Who may push is settled before the body is read.
    let (repository, table) = {
        let query = query.clone();
        with_conn(&state, move |conn, _| {
            push::authorize(conn, &account, &query)
        })
        .await?
    };

    // edensync peers send gzip; the limit counts the decompressed bytes.
    let mut body = PacedBody::new(actix_web::dev::Decompress::from_headers(
        payload,
        req.headers(),
    ));
    let mut spool = tokio::fs::File::from_std(tempfile::tempfile()?);
    let mut received: u64 = 0;
    while let Some(chunk) = body.next().await? {
        received += chunk.len() as u64;
        if received > limit {
            return Err(too_large());
        }
        spool.write_all(&chunk).await?;
    }
    spool.flush().await?;
    let body = spool.into_std().await;

    let summary = with_conn(&state, move |conn, _| {
        let options = push::options(conn, &repository, &table, query.msince.as_deref())?;
        let summary = push::receive(conn, body, format, limit, &options)?;
        push::log_push(conn, &repository, &table, &summary)?;
        Ok((summary, repository.name))
    })
    .await?;
    let (summary, peer_name) = summary;
    state
        .engine
        .metrics
        .observe_received_push(&peer_name, &summary);
    Ok(HttpResponse::Ok().json(push::answer(&summary)))
}

/// A small body (registration) read whole, at most `limit` bytes, at the
/// pace every body must keep.
async fn read_small_body(payload: web::Payload, limit: usize) -> Result<Vec<u8>, ApiError> {
    let mut body = Vec::new();
    let mut paced = PacedBody::new(payload);
    while let Some(chunk) = paced.next().await? {
        if body.len() + chunk.len() > limit {
            return Err(ApiError::failed(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Registration body too large",
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A push body must keep moving: at least `MIN_BYTES_PER_WINDOW` in every
/// `BODY_WINDOW`. Generous for the worst field links (a 2G link moves that
/// in about a second), fatal for a client trickling a byte a second to hold
/// the connection.
const BODY_WINDOW: Duration = Duration::from_secs(30);
const MIN_BYTES_PER_WINDOW: usize = 1024;

/// A request body read chunk by chunk at the pace above.
struct PacedBody<S> {
    stream: S,
    window_start: tokio::time::Instant,
    bytes: usize,
}

impl<S, E> PacedBody<S>
where
    S: futures_util::Stream<Item = Result<web::Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    fn new(stream: S) -> PacedBody<S> {
        PacedBody {
            stream,
            window_start: tokio::time::Instant::now(),
            bytes: 0,
        }
    }

    /// The next chunk, `None` at the end; 408 when the body stalls, 400
    /// when it cannot be read.
    async fn next(&mut self) -> Result<Option<web::Bytes>, ApiError> {
        loop {
            let window_end = self.window_start + BODY_WINDOW;
            match tokio::time::timeout_at(window_end, self.stream.next()).await {
                Err(_elapsed) => self.window_over()?,
                Ok(None) => return Ok(None),
                Ok(Some(Err(e))) => {
                    return Err(ApiError::failed(
                        StatusCode::BAD_REQUEST,
                        format!("The body could not be read: {e}"),
                    ));
                }
                Ok(Some(Ok(chunk))) => {
                    self.bytes += chunk.len();
                    if tokio::time::Instant::now() >= window_end {
                        self.window_over()?;
                    }
                    return Ok(Some(chunk));
                }
            }
        }
    }

    /// A window ended: enough arrived, or the client is too slow.
    fn window_over(&mut self) -> Result<(), ApiError> {
        if self.bytes < MIN_BYTES_PER_WINDOW {
            return Err(ApiError::failed(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "The body arrived too slowly (less than {MIN_BYTES_PER_WINDOW} bytes in {} s)",
                    BODY_WINDOW.as_secs()
                ),
            ));
        }
        self.window_start = tokio::time::Instant::now();
        self.bytes = 0;
        Ok(())
    }
}

/// `GET sync.xml`: a peer pulls a table. The answer is written to a
/// temporary file first, so a slow peer on a poor link never holds a
/// database snapshot open, and errors still get a proper status.
pub async fn pull(
    req: HttpRequest,
    state: web::Data<AppState>,
    app: Option<String>,
) -> Result<HttpResponse, ApiError> {
    let account = peer(&req, &state).await?;
    let query = PullQuery::parse(req.query_string());
    if matches!(query.resource.as_deref(), None | Some("mixed")) {
        // Eden answers this with HTTP 200 and a failure inside.
        let answer = eden_json(
            false,
            StatusCode::BAD_REQUEST,
            "Mixed resource synchronization not supported",
        );
        return Ok(HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body(Value::Object(answer).to_string()));
    }
    let root = root_attributes(&req, state.public_url.as_deref(), app.as_deref());
    let format = Format::accepted(header_text(&req, header::ACCEPT));
    let spool = with_conn(&state, move |conn, _| {
        let mut plan = pull::plan(conn, &account, &query)?;
        plan.request.root_attributes = root;
        plan.request.format = format;
        let peer = plan.repository.as_ref().map(|r| r.id);
        let out = std::io::BufWriter::with_capacity(64 * 1024, tempfile::tempfile()?);
        let (outcome, out) = store::serve_pull(conn, &plan.request, peer, out)?;
        let mut file = out.into_inner().map_err(|e| e.into_error())?;
        file.flush()?;
        file.rewind()?;
        pull::log_pull(conn, &plan, &outcome)?;
        let peer_name = plan.repository.map(|r| r.name);
        Ok((file, peer_name, outcome.results))
    })
    .await?;
    let (spool, peer_name, results) = spool;
    if let Some(name) = peer_name {
        state.engine.metrics.observe_served_pull(&name, results);
    }
    // Large chunks: each is a trip to the blocking pool and, for gzip, a
    // flushed deflate block.
    let body =
        tokio_util::io::ReaderStream::with_capacity(tokio::fs::File::from_std(spool), 64 * 1024);
    Ok(HttpResponse::Ok()
        .content_type(format.media_type())
        .streaming(body))
}

fn header_text(req: &HttpRequest, name: header::HeaderName) -> Option<&str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Eden's root attributes: `domain` (the host name) and `url` (the base URL
/// peers reach us at, with the application name they used).
fn root_attributes(
    req: &HttpRequest,
    public_url: Option<&str>,
    app: Option<&str>,
) -> Vec<(String, String)> {
    let info = req.connection_info();
    let host = info.host().to_string();
    let domain = host
        .rsplit_once(':')
        .map_or(host.as_str(), |(h, _)| h)
        .to_string();
    let base = public_url
        .map(|u| u.trim_end_matches('/').to_string())
        .unwrap_or_else(|| format!("{}://{host}", info.scheme()));
    let url = match app {
        Some(app) => format!("{base}/{app}"),
        None => base,
    };
    vec![("domain".into(), domain), ("url".into(), url)]
}
