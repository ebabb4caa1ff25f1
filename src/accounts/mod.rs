//! Accounts and their rules: adding users, passwords, disabling, lockout,
//! console login. Used by the console and by the command line alike; every
//! change is written to the audit log.

pub mod password;
pub mod peer_auth;
pub mod sessions;
pub mod setup;
pub mod throttle;

use chrono::{Duration, NaiveDateTime};
use diesel::Connection;

use crate::audit::{self, Actor};
use crate::db::{DbConnection, DbError};
use crate::model;
use crate::model::users::{Role, User};

/// Failed logins in a row that lock an account.
pub const MAX_FAILED_LOGINS: i32 = 5;
/// How long a locked account stays locked.
pub const LOCKOUT_MINUTES: i64 = 15;

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{0}")]
    InvalidEmail(String),
    #[error("{0}")]
    WeakPassword(String),
    #[error("An account with the e-mail address {0} already exists.")]
    EmailTaken(String),
    #[error("No account with the e-mail address {0}.")]
    NotFound(String),
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for AccountError {
    fn from(e: diesel::result::Error) -> Self {
        AccountError::Db(e.into())
    }
}

/// Trim and lower-case an e-mail address and check its shape.
pub fn normalize_email(input: &str) -> Result<String, AccountError> {
    let email = input.trim().to_lowercase();
    let invalid = |why: &str| AccountError::InvalidEmail(why.to_string());
    if email.is_empty() {
        return Err(invalid("Enter an e-mail address."));
    }
    if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid("This is not an e-mail address."));
    }
    match email.split_once('@') {
        Some((local, domain))
            if !local.is_empty() && !domain.is_empty() && !domain.contains('@') =>
        {
            Ok(email)
        }
        _ => Err(invalid("An e-mail address looks like name@example.org.")),
    }
}

fn check_password(password: &str) -> Result<(), AccountError> {
    match password::weakness(password) {
        Some(why) => Err(AccountError::WeakPassword(why)),
        None => Ok(()),
    }
}

pub fn find_by_email(conn: &mut DbConnection, email: &str) -> Result<User, AccountError> {
    let email = normalize_email(email)?;
    model::users::find_by_email(conn, &email)?.ok_or(AccountError::NotFound(email))
}

pub fn add_user(
    conn: &mut DbConnection,
    actor: &Actor,
    email: &str,
    password: &str,
    role: Role,
) -> Result<User, AccountError> {
    let email = normalize_email(email)?;
    check_password(password)?;
    let hash = password::hash(password);
    conn.transaction(|conn| {
        if model::users::find_by_email(conn, &email)?.is_some() {
            return Err(AccountError::EmailTaken(email.clone()));
        }
        let user = model::users::insert(conn, &email, &hash, role, model::now())?;
        audit::record(conn, actor, "user.add", Some(&email), Some(role.as_str()))?;
        Ok(user)
    })
}

/// Set a new password. All sessions of that user end, except `keep_session`
/// (someone changing their own password stays logged in where they are).
pub fn set_password(
    conn: &mut DbConnection,
    actor: &Actor,
    user: &User,
    new_password: &str,
    keep_session: Option<i64>,
) -> Result<usize, AccountError> {
    check_password(new_password)?;
    let hash = password::hash(new_password);
    conn.transaction(|conn| {
        model::users::set_password(conn, user.id, &hash, model::now())?;
        let ended = model::sessions::delete_for_user(conn, user.id, keep_session)?;
        let detail = format!("{ended} other session(s) ended");
        audit::record(
            conn,
            actor,
            "user.password",
            Some(&user.email),
            Some(&detail),
        )?;
        Ok(ended)
    })
}

/// Disable or enable an account. Disabling ends its sessions; the last
/// enabled administrator cannot be disabled (nobody could log in any more).
pub fn set_disabled(
    conn: &mut DbConnection,
    actor: &Actor,
    user: &User,
    disabled: bool,
) -> Result<(), AccountError> {
    conn.transaction(|conn| {
        if disabled && user.is_admin() && !user.disabled {
            let others = model::users::list(conn)?
                .into_iter()
                .filter(|u| u.id != user.id && u.is_admin() && !u.disabled)
                .count();
            if others == 0 {
                return Err(AccountError::Refused(
                    "This is the only enabled administrator; add another one first.".into(),
                ));
            }
        }
        model::users::set_disabled(conn, user.id, disabled, model::now())?;
        if disabled {
            model::sessions::delete_for_user(conn, user.id, None)?;
        }
        let action = if disabled {
            "user.disable"
        } else {
            "user.enable"
        };
        audit::record(conn, actor, action, Some(&user.email), None)?;
        Ok(())
    })
}

pub fn unlock(conn: &mut DbConnection, actor: &Actor, user: &User) -> Result<(), AccountError> {
    conn.transaction(|conn| {
        model::users::unlock(conn, user.id, model::now())?;
        audit::record(conn, actor, "user.unlock", Some(&user.email), None)?;
        Ok(())
    })
}

/// Why a console login did not succeed. People see one generic message for
/// the first two, so the form does not reveal which accounts exist or are
/// locked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginRefusal {
    BadCredentials,
    Locked,
    /// The password was right but the account may not use the console.
    NotConsoleAccount,
}

/// Check an e-mail and password for a console login, applying the lockout
/// rules. The password is verified (or a dummy one, at the same cost) in
/// every case, so timing does not tell the cases apart.
pub fn console_login(
    conn: &mut DbConnection,
    email_input: &str,
    password_input: &str,
    ip: Option<String>,
) -> Result<Result<User, LoginRefusal>, AccountError> {
    let now = model::now();
    let email = email_input.trim().to_lowercase();
    let user = match normalize_email(&email) {
        Ok(email) => model::users::find_by_email(conn, &email)?,
        Err(_) => None,
    };
    let Some(user) = user else {
        password::verify_dummy(password_input);
        let actor = Actor {
            user_id: None,
            name: email.clone(),
            ip,
        };
        audit::record(
            conn,
            &actor,
            "login.failed",
            Some(&email),
            Some("unknown account"),
        )?;
        return Ok(Err(LoginRefusal::BadCredentials));
    };
    let actor = Actor::user(user.id, &user.email, ip);

    if user.is_locked(now) {
        password::verify_dummy(password_input);
        audit::record(
            conn,
            &actor,
            "login.refused",
            Some(&user.email),
            Some("account locked"),
        )?;
        return Ok(Err(LoginRefusal::Locked));
    }
    let password_ok = password::verify(password_input, &user.password_hash);
    if user.disabled {
        audit::record(
            conn,
            &actor,
            "login.refused",
            Some(&user.email),
            Some("account disabled"),
        )?;
        return Ok(Err(LoginRefusal::BadCredentials));
    }
    if !password_ok {
        return Ok(Err(record_failed_login(
            conn, &actor, &user, now, "console",
        )?));
    }
    model::users::record_login(conn, user.id, now)?;
    if !user.is_admin() {
        audit::record(
            conn,
            &actor,
            "login.refused",
            Some(&user.email),
            Some("sync account"),
        )?;
        return Ok(Err(LoginRefusal::NotConsoleAccount));
    }
    audit::record(conn, &actor, "login", Some(&user.email), None)?;
    Ok(Ok(user))
}

/// Count a wrong password against the account (on the console, or on the
/// sync API from an address the account has not proved its password from),
/// and lock it after [`MAX_FAILED_LOGINS`].
pub(crate) fn record_failed_login(
    conn: &mut DbConnection,
    actor: &Actor,
    user: &User,
    now: NaiveDateTime,
    place: &str,
) -> diesel::QueryResult<LoginRefusal> {
    let failures = model::users::count_failed_login(conn, user.id)?;
    let wrong = format!("wrong password ({place})");
    audit::record(conn, actor, "login.failed", Some(&user.email), Some(&wrong))?;
    if failures >= MAX_FAILED_LOGINS {
        let until = now + Duration::minutes(LOCKOUT_MINUTES);
        model::users::lock_until(conn, user.id, until)?;
        let detail = format!("{failures} failed logins; locked for {LOCKOUT_MINUTES} minutes");
        audit::record(
            conn,
            actor,
            "user.lockout",
            Some(&user.email),
            Some(&detail),
        )?;
        return Ok(LoginRefusal::Locked);
    }
    Ok(LoginRefusal::BadCredentials)
}
