//! The HTTP surface: the console (server-rendered, works without JavaScript)
//! and the operational endpoints. One file per page group; handlers stay
//! thin and call `accounts`/`model` for the work.

mod account;
mod assets;
mod auth;
mod chart;
pub mod dashboard;
mod failure_cause;
mod format;
mod health;
mod jobs;
mod log_groups;
mod logs;
mod metrics;
pub mod observe;
mod peer_contacts;
mod peer_tables;
mod query;
mod records;
mod repositories;
mod repository_health;
mod repository_names;
mod repository_test;
mod resources;
mod review;
mod review_versions;
mod run_charts;
mod run_link;
mod run_tables;
pub mod runs;
mod schedule;
pub mod session;
mod settings;
mod users;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header;
use actix_web::middleware::DefaultHeaders;
use actix_web::{HttpRequest, HttpResponse, Responder, web};

use crate::db::{DbConnection, Pool};
use crate::error::WebError;
pub use crate::state::{AppState, client_ip};

/// The console's routes (the sync API's are `api::routes`).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(health::healthz))
        .route("/metrics", web::get().to(metrics::metrics))
        .route("/static/{file}", web::get().to(assets::file))
        .route("/login", web::get().to(auth::login_form))
        .route("/login", web::post().to(auth::login))
        .route("/logout", web::post().to(auth::logout))
        .route("/setup", web::get().to(auth::setup_form))
        .route("/setup", web::post().to(auth::setup))
        .route("/", web::get().to(dashboard::index))
        .route("/account/password", web::get().to(account::password_form))
        .route(
            "/account/password",
            web::post().to(account::change_password),
        )
        .route("/users", web::get().to(users::list))
        .route("/users", web::post().to(users::create))
        .route("/users/{id}", web::get().to(users::show))
        .route(
            "/users/{id}/password",
            web::post().to(users::reset_password),
        )
        .route("/users/{id}/disable", web::post().to(users::disable))
        .route("/users/{id}/enable", web::post().to(users::enable))
        .route("/users/{id}/unlock", web::post().to(users::unlock))
        .route(
            "/users/{id}/sessions/{session_id}/revoke",
            web::post().to(users::revoke_session),
        )
        .route("/audit", web::get().to(users::audit))
        .route("/repositories", web::get().to(repositories::list))
        .route("/repositories", web::post().to(repositories::create))
        .route("/repositories/new", web::get().to(repositories::new))
        .route(
            "/repositories/test",
            web::post().to(repository_test::test_new),
        )
        .route(
            "/repositories/{id}/test",
            web::post().to(repository_test::test_saved),
        )
        .route(
            "/repositories/{id}/test-entered",
            web::post().to(repository_test::test_edited),
        )
        .route("/repositories/{id}", web::get().to(repositories::show))
        .route("/repositories/{id}", web::post().to(repositories::update))
        .route(
            "/repositories/{id}/register",
            web::post().to(repositories::register),
        )
        .route(
            "/repositories/{id}/accept-pushes",
            web::post().to(repositories::accept_pushes),
        )
        .route(
            "/repositories/{id}/delete",
            web::post().to(repositories::delete),
        )
        .route(
            "/repositories/{id}/resources",
            web::get().to(resources::resources),
        )
        .route(
            "/repositories/{id}/resources",
            web::post().to(resources::add_task),
        )
        .route(
            "/repositories/{id}/resources/{table}",
            web::post().to(resources::update_task),
        )
        .route(
            "/repositories/{id}/resources/{table}/{action}",
            web::post().to(resources::task_action),
        )
        .route(
            "/repositories/{id}/schedule",
            web::get().to(schedule::schedule),
        )
        .route(
            "/repositories/{id}/schedule",
            web::post().to(schedule::add_job),
        )
        .route(
            "/repositories/{id}/schedule/{job}",
            web::post().to(schedule::update_job),
        )
        .route(
            "/repositories/{id}/schedule/{job}/run",
            web::post().to(schedule::run_job),
        )
        .route(
            "/repositories/{id}/schedule/{job}/pause",
            web::post().to(schedule::pause_job),
        )
        .route(
            "/repositories/{id}/schedule/{job}/resume",
            web::post().to(schedule::resume_job),
        )
        .route("/jobs", web::get().to(jobs::index))
        .route(
            "/repositories/{id}/schedule/{job}/remove",
            web::post().to(schedule::remove_job),
        )
        .route("/settings", web::get().to(settings::show))
        .route("/settings", web::post().to(settings::save))
        .route("/logs", web::get().to(logs::index))
        .route("/logs/purge", web::post().to(logs::purge))
        .route("/review", web::get().to(review::index))
        .route("/review/decide", web::post().to(review::decide))
        .route("/review/{id}", web::get().to(review::show))
        .route("/records", web::get().to(records::tables))
        .route("/records/{table}", web::get().to(records::list))
        .route("/records/{table}/{uuid}", web::get().to(records::show))
        .route("/runs", web::get().to(runs::list))
        .route("/runs/{id}", web::get().to(runs::show))
        .route("/repositories/{id}/sync", web::post().to(runs::sync_now))
        .route("/repositories/{id}/retry", web::post().to(runs::retry_now))
        .default_service(web::to(not_found));
}

async fn not_found() -> Result<HttpResponse, WebError> {
    Err(WebError::NotFound)
}

/// Form bodies are small; anything larger is refused before parsing.
pub fn form_config() -> web::FormConfig {
    web::FormConfig::default().limit(64 * 1024)
}

/// Headers that keep console pages from being framed, sniffed or leaking
/// their URLs; only our own scripts and styles may run.
pub fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::REFERRER_POLICY, "same-origin"))
        // Console pages show peers' data and settings: never from a cache.
        .add((header::CACHE_CONTROL, "no-store"))
}

/// Run database work on the blocking pool with a pooled connection.
pub async fn db<F, T, E>(pool: &Pool, work: F) -> Result<T, WebError>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: Into<WebError> + Send + 'static,
{
    crate::db::with_conn(pool, move |conn| work(conn).map_err(Into::into)).await
}

pub const FLASH_COOKIE: &str = "edensync_flash";

/// A redirect after a successful POST, with a message for the next page.
pub fn redirect_with_flash(location: &str, message: &str) -> HttpResponse {
    flash_redirect(location, "ok", message)
}

/// A redirect after a refused action, with the reason for the next page.
pub fn redirect_with_error(location: &str, message: &str) -> HttpResponse {
    flash_redirect(location, "error", message)
}

fn flash_redirect(location: &str, kind: &str, message: &str) -> HttpResponse {
    let value = crate::error::url_encode(&format!("{kind}:{message}"));
    let cookie = Cookie::build(FLASH_COOKIE, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .max_age(actix_web::cookie::time::Duration::seconds(60))
        .finish();
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .cookie(cookie)
        .finish()
}

pub fn redirect(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// A one-time message shown on the page after a redirect.
pub struct Flash {
    pub is_error: bool,
    pub text: String,
}

/// The pending flash message of this request, if any.
pub fn flash_message(req: &HttpRequest) -> Option<Flash> {
    let cookie = req.cookie(FLASH_COOKIE)?;
    let query = format!("m={}", cookie.value());
    let (_, decoded) = url::form_urlencoded::parse(query.as_bytes()).next()?;
    let (kind, text) = decoded.split_once(':')?;
    (!text.is_empty()).then(|| Flash {
        is_error: kind == "error",
        text: text.to_string(),
    })
}

/// Render a page; a flash message shown on it is cleared.
pub fn render(req: &HttpRequest, page: impl Responder) -> HttpResponse {
    let mut response = page.respond_to(req).map_into_boxed_body();
    if req.cookie(FLASH_COOKIE).is_some() {
        let mut gone = Cookie::build(FLASH_COOKIE, "").path("/").finish();
        gone.make_removal();
        let _ = response.add_cookie(&gone);
    }
    response
}

/// Render a page with a status other than 200 (a form with errors, say).
pub fn render_status(
    req: &HttpRequest,
    page: impl Responder,
    status: actix_web::http::StatusCode,
) -> HttpResponse {
    let mut response = render(req, page);
    *response.status_mut() = status;
    response
}

/// The errors of a submitted form, looked up by field in the templates
/// (`templates/field_error.html` shows one next to its field).
#[derive(Default)]
pub struct FormErrors(pub Vec<crate::manage::FieldError>);

impl FormErrors {
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// What the layout template needs on every console page.
pub struct Layout {
    pub title: String,
    /// Which navigation entry is current.
    pub section: &'static str,
    /// The logged-in administrator; `None` on the login and setup pages.
    pub user_email: Option<String>,
    pub csrf: String,
    pub flash: Option<Flash>,
    /// Items waiting in the review queue (the navigation's badge).
    pub review_waiting: i64,
}

impl Layout {
    pub fn new(
        req: &HttpRequest,
        title: &str,
        section: &'static str,
        who: &session::AdminSession,
    ) -> Self {
        Layout {
            title: title.to_string(),
            section,
            user_email: Some(who.user.email.clone()),
            csrf: who.csrf_token.clone(),
            flash: flash_message(req),
            review_waiting: who.review_waiting,
        }
    }

    /// For pages outside a session (login, setup).
    pub fn public(req: &HttpRequest, title: &str) -> Self {
        Layout {
            title: title.to_string(),
            section: "",
            user_email: None,
            csrf: String::new(),
            flash: flash_message(req),
            review_waiting: 0,
        }
    }
}
