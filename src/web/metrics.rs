//! `/metrics`: the node's metrics in the Prometheus text format, behind
//! the optional bearer token set in the settings.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::error::WebError;
use crate::manage::settings::metrics_token_hash;
use crate::model;
use crate::web::AppState;

pub async fn metrics(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let (config, repositories, running) = super::db(&state.pool, |conn| {
        let config = model::sync_config::get(conn)?;
        let repositories = model::repositories::list(conn)?;
        let running = model::runs::in_progress(conn)?.len() as i64;
        Ok::<_, WebError>((config, repositories, running))
    })
    .await?;
    if let Some(expected) = config.and_then(|c| c.metrics_token_hash) {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(metrics_token_hash);
        if given.as_deref() != Some(expected.as_str()) {
            return Ok(HttpResponse::Unauthorized()
                .insert_header((
                    header::WWW_AUTHENTICATE,
                    "Bearer realm=\"edensync metrics\"",
                ))
                .content_type("text/plain; charset=utf-8")
                .body("a valid bearer token is required for /metrics\n"));
        }
    }
    let text = state.engine.metrics.render(&repositories, running);
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text))
}
