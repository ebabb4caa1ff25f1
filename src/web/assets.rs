//! The console's own CSS and JavaScript, compiled into the binary so an
//! installed edensync needs no files beside it and no CDN.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use crate::error::WebError;

const STYLE_CSS: &str = include_str!("../../static/style.css");
const APP_JS: &str = include_str!("../../static/app.js");

pub async fn file(name: web::Path<String>) -> Result<HttpResponse, WebError> {
    let (body, content_type) = match name.as_str() {
        "style.css" => (STYLE_CSS, "text/css; charset=utf-8"),
        "app.js" => (APP_JS, "text/javascript; charset=utf-8"),
        _ => return Err(WebError::NotFound),
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(body))
}
