//! `/healthz`: whether this node can do its job: the database answers,
//! the scheduler ticks (when this process runs one), and which runs are in
//! progress. Anything unhealthy answers 503, for load balancers and
//! service monitors.

use actix_web::{HttpResponse, web};
use diesel::connection::SimpleConnection;
use serde_json::json;

use crate::db::{self, DbError};
use crate::model;
use crate::web::AppState;

/// A scheduler silent for longer than this is stuck (it ticks every second).
pub const SCHEDULER_STALE_SECS: i64 = 30;

/// A write that failed for want of space this recently makes the node
/// unhealthy: an administrator must free space.
pub const DISK_FULL_RECENT_SECS: i64 = 600;

pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    let database = db::with_conn(&state.pool, |conn| {
        conn.batch_execute("SELECT 1")?;
        let running = model::runs::in_progress(conn)?;
        Ok::<_, DbError>((db::backend_name(conn), running.len()))
    })
    .await;
    let metrics = &state.engine.metrics;
    let age = metrics.scheduler_heartbeat_age(chrono::Utc::now().timestamp());
    let scheduler = match age {
        None => json!({"status": "disabled"}),
        Some(age) if age > SCHEDULER_STALE_SECS => {
            json!({"status": "stale", "heartbeat_age_secs": age})
        }
        Some(age) => json!({"status": "ok", "heartbeat_age_secs": age}),
    };
    let scheduler_ok = age.is_none_or(|age| age <= SCHEDULER_STALE_SECS);
    let full_age = metrics.disk_full_age(chrono::Utc::now().timestamp());
    let disk_ok = full_age.is_none_or(|age| age > DISK_FULL_RECENT_SECS);
    let disk = match full_age {
        Some(age) if !disk_ok => json!({"status": "full", "last_failed_write_secs_ago": age}),
        _ => json!({"status": "ok"}),
    };
    let this_process = state.engine.runs_in_progress();
    let (database, runs, healthy) = match database {
        Ok((backend, running)) => (
            json!({"status": "ok", "backend": backend}),
            json!({"in_progress": running, "in_this_process": this_process}),
            scheduler_ok && disk_ok,
        ),
        Err(error) => (
            {
                // The detail (host, user) is for the operator's log, not for
                // whoever asks.
                tracing::error!(%error, "health check: the database is unreachable");
                json!({"status": "unreachable"})
            },
            json!({"in_this_process": this_process}),
            false,
        ),
    };
    let body = json!({
        "status": if healthy { "ok" } else { "unhealthy" },
        "version": crate::VERSION,
        "database": database,
        "scheduler": scheduler,
        "disk": disk,
        "runs": runs,
    });
    if healthy {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
