//! `user ...`: administrators (console) and sync accounts (peers).

use clap::Subcommand;
use serde_json::json;

use super::CliError;
use super::password::{PasswordSource, read_password};
use crate::accounts;
use crate::app::Node;
use crate::audit::Actor;
use crate::db::DbError;
use crate::model;
use crate::model::users::Role;

#[derive(Subcommand)]
pub(super) enum UserCommand {
    /// Add an account.
    Add {
        email: String,
        /// admin: console and sync API; sync: sync API only (for peers).
        #[arg(long, value_parser = ["admin", "sync"])]
        role: String,
        #[command(flatten)]
        password: PasswordSource,
    },
    /// Set a new password (ends the account's console sessions).
    Passwd {
        email: String,
        #[command(flatten)]
        password: PasswordSource,
    },
    /// List accounts.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Disable an account (ends its sessions).
    Disable { email: String },
    /// Enable a disabled account.
    Enable { email: String },
    /// Lift a lockout after failed logins.
    Unlock { email: String },
}

pub(super) fn run(command: UserCommand, node: Node) -> Result<(), CliError> {
    let mut conn = node.pool.get().map_err(DbError::from)?;
    let conn = &mut *conn;
    let actor = Actor::cli();
    match command {
        UserCommand::Add {
            email,
            role,
            password,
        } => {
            let role = Role::parse(&role)
                .ok_or_else(|| CliError::Usage(format!("unknown role {role}")))?;
            let password = read_password(&password)?;
            let user = accounts::add_user(conn, &actor, &email, &password, role)?;
            println!("added {} ({})", user.email, user.role);
        }
        UserCommand::Passwd { email, password } => {
            let user = accounts::find_by_email(conn, &email)?;
            let password = read_password(&password)?;
            let ended = accounts::set_password(conn, &actor, &user, &password, None)?;
            println!(
                "password of {} changed; {ended} session(s) ended",
                user.email
            );
        }
        UserCommand::List { json } => {
            let now = model::now();
            let users = model::users::list(conn)?;
            if json {
                let rows: Vec<_> = users
                    .iter()
                    .map(|u| {
                        json!({
                            "email": u.email,
                            "role": u.role,
                            "disabled": u.disabled,
                            "locked_until": u.locked_until.filter(|_| u.is_locked(now)),
                            "last_login_at": u.last_login_at,
                            "created_at": u.created_at,
                        })
                    })
                    .collect();
                println!(
                    "{}",
                    serde_json::to_string_pretty(&rows).unwrap_or_default()
                );
            } else {
                println!("{:<40} {:<6} {:<24} LAST LOGIN", "EMAIL", "ROLE", "STATUS");
                for u in &users {
                    let status = if u.disabled {
                        "disabled".to_string()
                    } else if let Some(until) = u.locked_until.filter(|_| u.is_locked(now)) {
                        format!("locked until {}", until.format("%H:%M:%S"))
                    } else {
                        "active".to_string()
                    };
                    let last = u
                        .last_login_at
                        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                        .unwrap_or_else(|| "never".into());
                    println!("{:<40} {:<6} {:<24} {last}", u.email, u.role, status);
                }
            }
        }
        UserCommand::Disable { email } => {
            let user = accounts::find_by_email(conn, &email)?;
            accounts::set_disabled(conn, &actor, &user, true)?;
            println!("disabled {}", user.email);
        }
        UserCommand::Enable { email } => {
            let user = accounts::find_by_email(conn, &email)?;
            accounts::set_disabled(conn, &actor, &user, false)?;
            println!("enabled {}", user.email);
        }
        UserCommand::Unlock { email } => {
            let user = accounts::find_by_email(conn, &email)?;
            accounts::unlock(conn, &actor, &user)?;
            println!("unlocked {}", user.email);
        }
    }
    Ok(())
}
