//! The audit trail: who changed which account or setting, when, from where.

use diesel::QueryResult;

use crate::db::DbConnection;
use crate::model;
use crate::model::audit_log::NewAuditEntry;

/// Who did something: a console user, the command line, or the server itself.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: Option<i64>,
    pub name: String,
    pub ip: Option<String>,
}

impl Actor {
    pub fn user(user_id: i64, email: &str, ip: Option<String>) -> Actor {
        Actor {
            user_id: Some(user_id),
            name: email.to_string(),
            ip,
        }
    }

    /// Someone at the command line of this machine.
    pub fn cli() -> Actor {
        let who = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
        Actor {
            user_id: None,
            name: format!("cli:{who}"),
            ip: None,
        }
    }

    /// The server acting on its own (bootstrap from the environment).
    pub fn system() -> Actor {
        Actor {
            user_id: None,
            name: "system".into(),
            ip: None,
        }
    }
}

pub fn record(
    conn: &mut DbConnection,
    actor: &Actor,
    action: &str,
    target: Option<&str>,
    detail: Option<&str>,
) -> QueryResult<usize> {
    model::audit_log::insert(
        conn,
        &NewAuditEntry {
            at: model::now(),
            actor_user_id: actor.user_id,
            actor: &actor.name,
            action,
            target,
            detail,
            ip: actor.ip.as_deref(),
        },
    )
}
