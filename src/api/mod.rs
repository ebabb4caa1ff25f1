//! The sync API: the Eden-compatible endpoints peers call (the passive
//! side), answered at `/sync/…` and under any one leading path segment
//! (`/eden/sync/…`), so a URL entered with or without an application name
//! works. One file per endpoint: `register.rs`, `serve_pull.rs`,
//! `receive_push.rs`, `tables.rs`; `access.rs` says who may do what (credentials are
//! checked by `accounts::peer_auth`), `body.rs` reads bodies at a minimum
//! pace, `error.rs` says what went wrong in the protocol's terms. Handlers
//! stay thin: authenticate, parse, call the store, answer as Eden does.

mod access;
pub mod body;
pub mod error;
mod query;
mod receive_push;
pub mod register;
mod serve_pull;
mod tables;

use actix_web::http::{Method, header};
use actix_web::{HttpRequest, HttpResponse, web};

use crate::db::DbConnection;
use crate::model::users::User;
use crate::state::{AppState, client_ip};
use error::ProtocolError;

/// The sync API's routes, with and without an application name in front.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/sync/repository/{file}", web::route().to(repository))
        .route(
            "/{app}/sync/repository/{file}",
            web::route().to(repository_under_app),
        )
        .route("/sync/sync.xml", web::route().to(sync_xml))
        .route("/{app}/sync/sync.xml", web::route().to(sync_xml_under_app));
}

/// `/sync/repository/{file}`: `register.json`, and edensync's
/// `tables.json` (GET).
async fn repository(
    req: HttpRequest,
    state: web::Data<AppState>,
    file: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ProtocolError> {
    repository_file(req, state, file.into_inner(), payload).await
}

async fn repository_file(
    req: HttpRequest,
    state: web::Data<AppState>,
    file: String,
    payload: web::Payload,
) -> Result<HttpResponse, ProtocolError> {
    if file == "tables.json" && req.method() == Method::GET {
        return tables::list(req, state).await;
    }
    register::register(req, state, file, payload).await
}

/// `/{app}/sync/repository/{file}`: the same as without the application name.
async fn repository_under_app(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, ProtocolError> {
    let (_, file) = path.into_inner();
    repository_file(req, state, file, payload).await
}

async fn sync_xml(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ProtocolError> {
    sync_xml_as(req, state, None, payload).await
}

async fn sync_xml_under_app(
    req: HttpRequest,
    state: web::Data<AppState>,
    app: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ProtocolError> {
    sync_xml_as(req, state, Some(app.into_inner()), payload).await
}

/// `sync.xml`: GET pulls, POST and PUT push; nothing else is allowed (an
/// Eden server would soft-delete the whole table on DELETE).
async fn sync_xml_as(
    req: HttpRequest,
    state: web::Data<AppState>,
    app: Option<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ProtocolError> {
    let answer = match *req.method() {
        Method::GET => serve_pull::serve_pull(req, state, app).await,
        Method::POST | Method::PUT => receive_push::receive_push(req, state, payload).await,
        _ => Err(ProtocolError::MethodNotAllowed),
    };
    // Every answer names the server, errors too: a peer testing its
    // connection learns it speaks to edensync (Eden sends no such header).
    let mut response = answer.unwrap_or_else(|e| actix_web::ResponseError::error_response(&e));
    response.headers_mut().insert(
        header::HeaderName::from_static(crate::SERVER_HEADER),
        header::HeaderValue::from_static(crate::SERVER_NAME),
    );
    Ok(response)
}

/// Protocol work with a pooled connection on the blocking pool.
async fn with_conn<T, F>(state: &web::Data<AppState>, work: F) -> Result<T, ProtocolError>
where
    F: FnOnce(&mut DbConnection, &AppState) -> Result<T, ProtocolError> + Send + 'static,
    T: Send + 'static,
{
    let state = state.clone();
    let pool = state.pool.clone();
    crate::db::with_conn(&pool, move |conn| work(conn, &state)).await
}

/// Authenticate the request's Basic credentials against our accounts.
async fn authenticate(
    req: &HttpRequest,
    state: &web::Data<AppState>,
) -> Result<User, ProtocolError> {
    let authorization = header_text(req, header::AUTHORIZATION).map(str::to_string);
    let ip = client_ip(req);
    with_conn(state, move |conn, state| {
        Ok(state
            .peer_auth
            .authenticate(conn, authorization.as_deref(), ip)?)
    })
    .await
}

fn header_text(req: &HttpRequest, name: header::HeaderName) -> Option<&str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}
