//! `/healthz`: whether this node can serve (database reachable).

use actix_web::{HttpResponse, web};
use diesel::connection::SimpleConnection;
use serde_json::json;

use crate::web::AppState;

pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    let pool = state.pool.clone();
    let database = web::block(move || {
        let mut conn = pool.get().map_err(|e| e.to_string())?;
        conn.batch_execute("SELECT 1").map_err(|e| e.to_string())?;
        Ok::<_, String>(crate::db::backend_name(&conn))
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|r| r);
    match database {
        Ok(backend) => HttpResponse::Ok().json(json!({
            "status": "ok",
            "version": crate::VERSION,
            "database": {"status": "ok", "backend": backend},
        })),
        Err(error) => HttpResponse::ServiceUnavailable().json(json!({
            "status": "unhealthy",
            "version": crate::VERSION,
            "database": {"status": "unreachable", "error": error},
        })),
    }
}
