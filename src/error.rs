//! The console's error type and its mapping to HTTP, in one place. Lower
//! layers have their own error types (`DbError`, `AccountError`, ...);
//! expected problems such as a bad form value are shown next to the field by
//! the handler and never reach this type.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use crate::accounts::AccountError;
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

impl From<actix_web::error::BlockingError> for WebError {
    fn from(e: actix_web::error::BlockingError) -> Self {
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
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("Authentication Required")]
    Unauthorized,
    #[error("{message}")]
    Failed { status: StatusCode, message: String },
    #[error("{message}")]
    Throttled {
        message: String,
        retry_after_secs: u64,
    },
    /// Details go to the server log, not to the peer.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn failed(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError::Failed {
            status,
            message: message.into(),
        }
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        ApiError::Internal(e.to_string())
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        ApiError::Internal(e.to_string())
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        ApiError::Internal(e.to_string())
    }
}

/// Eden's JSON message: status, statuscode as a string, then the rest.
pub fn eden_json(
    success: bool,
    status: StatusCode,
    message: &str,
) -> serde_json::Map<String, serde_json::Value> {
    let mut body = serde_json::Map::new();
    body.insert(
        "status".into(),
        (if success { "success" } else { "failed" }).into(),
    );
    body.insert("statuscode".into(), status.as_u16().to_string().into());
    body.insert("message".into(), message.into());
    body
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Failed { status, .. } => *status,
            ApiError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        match self {
            ApiError::Unauthorized => HttpResponse::Unauthorized()
                .insert_header((header::WWW_AUTHENTICATE, "Basic realm=\"edensync\""))
                .content_type(ContentType::plaintext())
                .body("Authentication Required"),
            ApiError::Internal(detail) => {
                tracing::error!(error = %detail, "sync request failed");
                HttpResponse::build(status).json(eden_json(
                    false,
                    status,
                    "Internal error; the server logged it",
                ))
            }
            ApiError::Throttled {
                message,
                retry_after_secs,
            } => HttpResponse::build(status)
                .insert_header((header::RETRY_AFTER, retry_after_secs.to_string()))
                .json(eden_json(false, status, message)),
            ApiError::Failed { message, .. } => {
                HttpResponse::build(status).json(eden_json(false, status, message))
            }
        }
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            crate::store::StoreError::Filter(message) => {
                ApiError::failed(StatusCode::BAD_REQUEST, message)
            }
            crate::store::StoreError::Read(e) => {
                ApiError::failed(StatusCode::BAD_REQUEST, format!("XML Parse error: {e}"))
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<std::io::Error> for ApiError {
    fn from(e: std::io::Error) -> Self {
        ApiError::Internal(format!("spool file: {e}"))
    }
}
