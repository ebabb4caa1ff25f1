//! Compressed request bodies are read only where they are expected: pushes
//! (`sync.xml`), which spool them as they came and inflate them under a
//! size limit. Anywhere else a small gzip body would be inflated whole in
//! memory before any limit applied, so it is refused before it is read.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse};

use crate::api::error::eden_json;

pub async fn refuse_compressed_bodies(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let encoded = req
        .headers()
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .is_some_and(|e| !e.is_empty() && !e.eq_ignore_ascii_case("identity"));
    if !encoded || req.path().ends_with("/sync/sync.xml") {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let message = "Compressed request bodies are accepted only for pushes to sync.xml";
    let response = if req.path().contains("/sync/") {
        HttpResponse::UnsupportedMediaType().json(eden_json(false, 415, message))
    } else {
        HttpResponse::UnsupportedMediaType()
            .content_type("text/plain; charset=utf-8")
            .body(message)
    };
    Ok(req.into_response(response))
}
