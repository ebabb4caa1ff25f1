//! Every request: a request id (the client's `X-Request-Id` when it is a
//! sane token, else a new one) carried by the log lines written while the
//! request is handled (not by work it hands to other threads), and
//! returned in the response; one access-log line; the HTTP metrics.
//!
//! The access log never carries credentials: no headers are logged, and
//! query parameters that may hold a secret (the setup token) are masked.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, web};
use tracing::Instrument;

use crate::web::AppState;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Query parameters whose values never reach the log.
const SECRET_PARAMETERS: [&str; 4] = ["token", "password", "secret", "key"];

pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let id = request_id(&req);
    let method = req.method().to_string();
    let target = loggable_target(req.path(), req.query_string());
    let client = super::client_ip(req.request())
        .map(|ip| ip.to_string())
        .unwrap_or_default();
    let metrics = req
        .app_data::<web::Data<AppState>>()
        .map(|state| state.engine.metrics.clone());
    let span = tracing::info_span!("request", id = %id);
    let result = next.call(req).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let (status, route) = match &result {
        Ok(res) => (res.status(), res.request().match_pattern()),
        Err(e) => (e.as_response_error().status_code(), None),
    };
    let route = route.unwrap_or_else(|| "unmatched".into());
    if let Some(metrics) = metrics {
        metrics.observe_http(&route, &method, status.as_u16(), elapsed);
    }
    span.in_scope(|| {
        tracing::info!(
            target: "edensync::http",
            %client,
            %method,
            %target,
            status = status.as_u16(),
            ms = elapsed.as_millis() as u64,
            "request"
        )
    });
    let mut res = result?;
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID, value);
    }
    Ok(res)
}

/// The client's id when it is short and plain (so it cannot forge log
/// lines), else a fresh one.
fn request_id(req: &ServiceRequest) -> String {
    req.headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        })
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string())
}

/// Path and query as logged: secret-bearing parameters masked.
pub fn loggable_target(path: &str, query: &str) -> String {
    if query.is_empty() {
        return path.to_string();
    }
    let masked: Vec<String> = query
        .split('&')
        .map(|pair| {
            let name = pair.split('=').next().unwrap_or_default();
            let lower = name.to_ascii_lowercase();
            if SECRET_PARAMETERS.iter().any(|s| lower.contains(s)) {
                format!("{name}=****")
            } else {
                pair.to_string()
            }
        })
        .collect();
    format!("{path}?{}", masked.join("&"))
}

#[cfg(test)]
mod tests {
    use super::loggable_target;

    #[test]
    fn secrets_in_the_query_are_masked() {
        assert_eq!(
            loggable_target("/setup", "token=abc123&next=/"),
            "/setup?token=****&next=/"
        );
        assert_eq!(
            loggable_target("/sync/sync.xml", "resource=org_organisation&msince=2024"),
            "/sync/sync.xml?resource=org_organisation&msince=2024"
        );
        assert_eq!(loggable_target("/", ""), "/");
    }
}
