//! The console session in HTTP terms: the session cookie, the extractor that
//! admits only logged-in administrators, and CSRF checking of every form.

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::accounts::sessions::{self, tokens_equal};
use crate::error::WebError;
use crate::model::users::User;
use crate::web::{AppState, client_ip, db};

pub const SESSION_COOKIE: &str = "edensync_session";
/// The double-submit token of forms shown before login (login page).
pub const LOGIN_CSRF_COOKIE: &str = "edensync_login_csrf";

/// A cookie for the console: HttpOnly, SameSite=Strict, Secure over https.
pub fn console_cookie(name: &'static str, value: String, secure: bool) -> Cookie<'static> {
    Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .finish()
}

pub fn removal_cookie(name: &'static str) -> Cookie<'static> {
    let mut cookie = Cookie::build(name, "").path("/").finish();
    cookie.make_removal();
    cookie
}

/// A logged-in administrator. Taking this as a handler argument is what makes
/// a page require login.
pub struct AdminSession {
    pub session_id: i64,
    pub user: User,
    pub csrf_token: String,
    pub ip: Option<String>,
    /// Items waiting in the review queue (counted every few seconds): the
    /// navigation's badge.
    pub review_waiting: i64,
}

impl AdminSession {
    pub fn verify_csrf(&self, submitted: &str) -> Result<(), WebError> {
        if tokens_equal(submitted, &self.csrf_token) {
            Ok(())
        } else {
            Err(WebError::Csrf)
        }
    }

    pub fn actor(&self) -> crate::audit::Actor {
        crate::audit::Actor::user(self.user.id, &self.user.email, self.ip.clone())
    }
}

fn state(req: &HttpRequest) -> Result<web::Data<AppState>, WebError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| WebError::Internal("application state missing".into()))
}

impl FromRequest for AdminSession {
    type Error = WebError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, WebError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = req.cookie(SESSION_COOKIE).map(|c| c.value().to_string());
        let state = state(req);
        let ip = client_ip(req).map(|ip| ip.to_string());
        // Only GET pages are worth coming back to after logging in.
        let next = (req.method() == actix_web::http::Method::GET)
            .then(|| req.uri().path_and_query().map(|p| p.to_string()))
            .flatten();
        Box::pin(async move {
            let state = state?;
            let login_required = || WebError::LoginRequired { next: next.clone() };
            let token = token.ok_or_else(login_required)?;
            let found = db(&state.pool, move |conn| sessions::resolve(conn, &token)).await?;
            let (session, user) = found.ok_or_else(login_required)?;
            let review_waiting = super::review::waiting_counts(&state)
                .await?
                .iter()
                .map(|w| w.count)
                .sum();
            Ok(AdminSession {
                session_id: session.id,
                user,
                csrf_token: session.csrf_token,
                ip,
                review_waiting,
            })
        })
    }
}

#[derive(Deserialize)]
struct WithCsrf<T> {
    #[serde(default)]
    csrf: String,
    #[serde(flatten)]
    form: T,
}

/// A form posted by a logged-in administrator whose CSRF token matched.
/// Every state-changing console handler takes one. The form's own fields
/// must be strings (or optional strings): that is how forms arrive.
pub struct Protected<T> {
    pub session: AdminSession,
    pub form: T,
}

impl<T: DeserializeOwned + 'static> FromRequest for Protected<T> {
    type Error = WebError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, WebError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let session = AdminSession::from_request(req, payload);
        let form = web::Form::<WithCsrf<T>>::from_request(req, payload);
        Box::pin(async move {
            let session = session.await?;
            let form = form
                .await
                .map_err(|e| WebError::BadRequest(format!("The form could not be read: {e}")))?
                .into_inner();
            session.verify_csrf(&form.csrf)?;
            Ok(Protected {
                session,
                form: form.form,
            })
        })
    }
}

/// A form without fields of its own (buttons such as "log out").
#[derive(Deserialize)]
pub struct NoFields {}
