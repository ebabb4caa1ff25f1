//! The mapping of errors to HTTP, in one place: the console's error type,
//! and the sync API's `ProtocolError`. Lower layers have their own error
//! types (`DbError`, `AccountError`, ...); expected problems such as a bad
//! form value are shown next to the field by the handler and never reach
//! `WebError`.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use crate::accounts::AccountError;
use crate::api::error::{ProtocolError, eden_json};
use crate::db::DbError;

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("This page does not exist.")]
    NotFound,
    /// No live console session: send the browser to the login page.
    #[error("Please log in.")]
    LoginRequired { next: Option<String> },
    #[error("{0}")]
    Forbidden(String),
    #[error(
        "This form has expired or did not come from this console. Go back, reload the page and try again."
    )]
    Csrf,
    #[error("{0}")]
    BadRequest(String),
    #[error("{message}")]
    TooManyRequests {
        message: String,
        retry_after_secs: u64,
    },
    /// Details go to the server log, not to the browser.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<DbError> for WebError {
    fn from(e: DbError) -> Self {
        WebError::Internal(e.to_string())
    }
}

impl From<diesel::result::Error> for WebError {
    fn from(e: diesel::result::Error) -> Self {
        WebError::Internal(e.to_string())
    }
}

impl From<askama::Error> for WebError {
    fn from(e: askama::Error) -> Self {
        WebError::Internal(format!("template: {e}"))
    }
}

/// Account rule violations that a handler did not turn into a field message.
impl From<AccountError> for WebError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::Db(e) => e.into(),
            AccountError::NotFound(_) => WebError::NotFound,
            other => WebError::BadRequest(other.to_string()),
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    title: &'a str,
    message: String,
    /// The navigation's review badge is not counted on error pages.
    no_badge: i64,
}

impl ResponseError for WebError {
    fn status_code(&self) -> StatusCode {
        match self {
            WebError::NotFound => StatusCode::NOT_FOUND,
            WebError::LoginRequired { .. } => StatusCode::SEE_OTHER,
            WebError::Forbidden(_) | WebError::Csrf => StatusCode::FORBIDDEN,
            WebError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WebError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            WebError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if let WebError::LoginRequired { next } = self {
            let location = match next {
                Some(next) => format!("/login?next={}", url_encode(next)),
                None => "/login".to_string(),
            };
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, location))
                .finish();
        }
        let message = match self {
            WebError::Internal(detail) => {
                tracing::error!(error = %detail, "request failed");
                "Something went wrong on the server. The error was logged; please try again."
                    .to_string()
            }
            other => other.to_string(),
        };
        let page = ErrorPage {
            status: status.as_u16(),
            title: status.canonical_reason().unwrap_or("Error"),
            message,
            no_badge: 0,
        };
        let body = page
            .render()
            .unwrap_or_else(|_| "An error occurred.".to_string());
        let mut response = HttpResponse::build(status);
        if let WebError::TooManyRequests {
            retry_after_secs, ..
        } = self
        {
            response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
        }
        response.content_type(ContentType::html()).body(body)
    }
}

/// Percent-encode a query value (for `?next=`).
pub fn url_encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// The sync API's errors, answered the way Eden answers them: JSON
/// `{"status": "failed", "statuscode": "<code>", "message": …}`, except a
/// missing or wrong login, which is Eden's plain 401 with a Basic challenge.
impl ResponseError for ProtocolError {
    fn status_code(&self) -> StatusCode {
        match self {
            ProtocolError::Unauthorized => StatusCode::UNAUTHORIZED,
            ProtocolError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            ProtocolError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ProtocolError::Forbidden(_) => StatusCode::FORBIDDEN,
            ProtocolError::NotFound(_) => StatusCode::NOT_FOUND,
            ProtocolError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ProtocolError::UnsupportedFormat | ProtocolError::UnsupportedEncoding(_) => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            ProtocolError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ProtocolError::TooSlow(_) => StatusCode::REQUEST_TIMEOUT,
            ProtocolError::InsufficientStorage(_) => StatusCode::INSUFFICIENT_STORAGE,
            ProtocolError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let json = |message: &str| eden_json(false, status.as_u16(), message);
        match self {
            ProtocolError::Unauthorized => HttpResponse::Unauthorized()
                .insert_header((header::WWW_AUTHENTICATE, "Basic realm=\"edensync\""))
                .content_type(ContentType::plaintext())
                .body("Authentication Required"),
            ProtocolError::Internal(detail) => {
                tracing::error!(error = %detail, "sync request failed");
                HttpResponse::build(status).json(json("Internal error; the server logged it"))
            }
            ProtocolError::Throttled {
                message,
                retry_after_secs,
            } => HttpResponse::build(status)
                .insert_header((header::RETRY_AFTER, retry_after_secs.to_string()))
                .json(json(message)),
            other => HttpResponse::build(status).json(json(&other.to_string())),
        }
    }
}
