//! The first administrator: chosen through a one-time `/setup` link printed
//! at start-up, or bootstrapped from `EDENSYNC_ADMIN_EMAIL` and
//! `EDENSYNC_ADMIN_PASSWORD`.

use chrono::Duration;
use diesel::Connection;

use crate::audit::{self, Actor};
use crate::db::DbConnection;
use crate::model;
use crate::model::users::{Role, User};

use super::sessions::{hash_token, random_token};
use super::{AccountError, add_user};

/// How long a printed setup link stays valid.
pub const SETUP_TOKEN_HOURS: i64 = 24;

/// Issue a new setup token (older unused ones stop working); `None` when an
/// administrator already exists and setup is over.
pub fn issue_token(conn: &mut DbConnection) -> Result<Option<String>, AccountError> {
    conn.transaction(|conn| {
        if model::users::admin_exists(conn)? {
            return Ok(None);
        }
        let now = model::now();
        model::setup_tokens::expire_unused(conn, now)?;
        let token = random_token();
        model::setup_tokens::insert(
            conn,
            &hash_token(&token),
            now,
            now + Duration::hours(SETUP_TOKEN_HOURS),
        )?;
        Ok(Some(token))
    })
}

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(
        "This setup link is invalid, already used or expired. Restart edensync to print a new one."
    )]
    BadToken,
    #[error("Setup is complete: an administrator exists. Log in instead.")]
    AlreadyDone,
    #[error(transparent)]
    Account(#[from] AccountError),
}

/// Why the link cannot be used (for showing the form), if it cannot.
pub fn check_token(
    conn: &mut DbConnection,
    token: &str,
) -> Result<Option<SetupError>, AccountError> {
    if model::users::admin_exists(conn)? {
        Ok(Some(SetupError::AlreadyDone))
    } else if model::setup_tokens::is_valid(conn, &hash_token(token), model::now())? {
        Ok(None)
    } else {
        Ok(Some(SetupError::BadToken))
    }
}

impl From<diesel::result::Error> for SetupError {
    fn from(e: diesel::result::Error) -> Self {
        SetupError::Account(e.into())
    }
}

/// Create the first administrator with a setup token. The token is spent in
/// the same transaction, so it works exactly once; invalid input leaves it
/// usable.
pub fn complete(
    conn: &mut DbConnection,
    token: &str,
    email: &str,
    password: &str,
    ip: Option<String>,
) -> Result<User, SetupError> {
    conn.transaction(|conn| {
        if model::users::admin_exists(conn)? {
            return Err(SetupError::AlreadyDone);
        }
        let email = super::normalize_email(email)?;
        let actor = Actor {
            user_id: None,
            name: format!("setup:{email}"),
            ip,
        };
        if !model::setup_tokens::consume(conn, &hash_token(token), model::now())? {
            return Err(SetupError::BadToken);
        }
        let user = add_user(conn, &actor, &email, password, Role::Admin)?;
        // Setup logs the new administrator in: that is their first login.
        model::users::record_login(conn, user.id, model::now())?;
        audit::record(
            conn,
            &actor,
            "setup",
            Some(&email),
            Some("first administrator created"),
        )?;
        Ok(user)
    })
}

/// Create the administrator named in the environment unless an account with
/// that address exists already. Returns whether one was created.
pub fn bootstrap_admin(
    conn: &mut DbConnection,
    email: &str,
    password: &str,
) -> Result<bool, AccountError> {
    let email = super::normalize_email(email)?;
    if model::users::find_by_email(conn, &email)?.is_some() {
        return Ok(false);
    }
    add_user(conn, &Actor::system(), &email, password, Role::Admin)?;
    Ok(true)
}
