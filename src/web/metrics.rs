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
    // The token first: a caller without it costs one small query.
    let expected = super::db(&state.pool, |conn| {
        Ok::<_, WebError>(model::sync_config::get(conn)?.and_then(|c| c.metrics_token_hash))
    })
    .await?;
    if let Some(expected) = expected {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| metrics_token_hash(token));
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
    let (repositories, running, review) = super::db(&state.pool, |conn| {
        let repositories = model::repositories::list(conn)?;
        let running = model::runs::in_progress(conn)?.len() as i64;
        let review = model::review_items::waiting_counts(conn)?;
        Ok::<_, WebError>((repositories, running, review))
    })
    .await?;
    let text = state.engine.metrics.render(&repositories, running, &review);
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text))
}
