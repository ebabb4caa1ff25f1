//! The dashboard: this node's identity at a glance.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;

use crate::db;
use crate::error::WebError;
use crate::model;
use crate::model::users::Role;
use crate::web::session::AdminSession;
use crate::web::{AppState, Layout, render};

#[derive(Template, WebTemplate)]
#[template(path = "dashboard/index.html")]
struct DashboardPage {
    layout: Layout,
    site_name: String,
    site_uuid: String,
    version: &'static str,
    backend: &'static str,
    admins: usize,
    sync_accounts: usize,
}

pub async fn index(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: AdminSession,
) -> Result<HttpResponse, WebError> {
    let (config, backend, users) = super::db(&state.pool, |conn| {
        let config = model::sync_config::get(conn)?;
        let users = model::users::list(conn)?;
        Ok::<_, WebError>((config, db::backend_name(conn), users))
    })
    .await?;
    let config = config.ok_or_else(|| WebError::Internal("sync_config row missing".into()))?;
    let count = |role: Role| {
        users
            .iter()
            .filter(|u| u.role() == Some(role) && !u.disabled)
            .count()
    };
    let page = DashboardPage {
        layout: Layout::new(&req, "Dashboard", "dashboard", &who),
        site_name: config.site_name,
        site_uuid: config.site_uuid,
        version: crate::VERSION,
        backend,
        admins: count(Role::Admin),
        sync_accounts: count(Role::Sync),
    };
    Ok(render(&req, page))
}
