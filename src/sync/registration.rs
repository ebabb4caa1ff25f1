//! A peer announcing itself (`register.json`): the repository for its uuid
//! is created or updated. A `sync` account may only act as the repositories
//! it is bound to; the repository it registers is bound to it. A new peer's
//! pushes are refused until an administrator accepts them, unless the
//! setting "accept pushes from newly registered peers" is on.

use diesel::Connection;

use super::access;
use crate::db::DbConnection;
use crate::error::ApiError;
use crate::model;
use crate::model::sync_log::NewLogEntry;
use crate::model::users::{Role, User};

pub struct Registration<'a> {
    pub peer_uuid: &'a str,
    pub name: Option<&'a str>,
    pub api_type: Option<&'a str>,
}

/// What Eden answers, by case.
pub enum Registered {
    Created,
    Updated,
}

impl Registered {
    pub fn message(&self) -> &'static str {
        match self {
            Registered::Created => "Registration successful",
            Registered::Updated => "Registration update successful",
        }
    }
}

pub fn register(
    conn: &mut DbConnection,
    account: &User,
    request: &Registration,
) -> Result<Registered, ApiError> {
    let now = model::now();
    let api_type = request.api_type.filter(|a| !a.is_empty()).unwrap_or("eden");
    conn.transaction(|conn| {
        let (repository_id, outcome) =
            match model::repositories::find_by_peer_uuid(conn, request.peer_uuid)? {
                Some(existing) => {
                    access::ensure_acts_as(
                        conn,
                        account,
                        Some(&existing),
                        Some(request.peer_uuid),
                    )?;
                    model::repositories::update_registered(conn, existing.id, api_type, now)?;
                    (existing.id, Registered::Updated)
                }
                None => {
                    let wanted = request
                        .name
                        .filter(|n| !n.trim().is_empty())
                        .unwrap_or(request.peer_uuid);
                    let name = if model::repositories::name_taken(conn, wanted)? {
                        format!("{wanted} ({})", request.peer_uuid)
                    } else {
                        wanted.to_string()
                    };
                    let accept_push = model::sync_config::get(conn)?
                        .is_some_and(|c| c.accept_push_from_new_peers);
                    let created = model::repositories::insert_registered(
                        conn,
                        &name,
                        request.peer_uuid,
                        api_type,
                        accept_push,
                        now,
                    )?;
                    (created.id, Registered::Created)
                }
            };
        if account.role() == Some(Role::Sync) {
            model::repositories::bind_account(conn, repository_id, account.id)?;
        }
        model::sync_log::insert(
            conn,
            &NewLogEntry {
                logged_at: now,
                repository_id: Some(repository_id),
                run_id: None,
                resource_name: Some("none"),
                mode: "register/incoming",
                action: "none",
                result: "success",
                remote: false,
                message: outcome.message(),
            },
        )?;
        Ok(outcome)
    })
}
