//! Server-side console sessions: the browser holds a random token, the
//! database its hash. Sessions end on logout, on password change, after
//! 30 minutes idle and after 12 hours in any case.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{Duration, NaiveDateTime};
use sha2::{Digest, Sha256};

use crate::audit::{self, Actor};
use crate::db::DbConnection;
use crate::model;
use crate::model::sessions::{NewSession, Session};
use crate::model::users::User;

use super::AccountError;

pub const IDLE_TIMEOUT_MINUTES: i64 = 30;
pub const ABSOLUTE_TIMEOUT_HOURS: i64 = 12;
/// `last_seen_at` is written at most this often, not on every page view.
const TOUCH_INTERVAL_SECONDS: i64 = 60;

/// A fresh random token (256 bits), safe in cookies and URLs.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Compare secrets without an early exit that would leak their prefix.
pub fn tokens_equal(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Start a session for a user who just logged in; returns the cookie token.
pub fn start(
    conn: &mut DbConnection,
    user: &User,
    ip: Option<&str>,
    user_agent: Option<&str>,
) -> Result<(String, Session), AccountError> {
    let now = model::now();
    let token = random_token();
    let csrf = random_token();
    let user_agent = user_agent.map(|ua| truncate(ua, 200));
    let session = model::sessions::insert(
        conn,
        &NewSession {
            token_hash: &hash_token(&token),
            user_id: user.id,
            csrf_token: &csrf,
            created_at: now,
            last_seen_at: now,
            expires_at: now + Duration::hours(ABSOLUTE_TIMEOUT_HOURS),
            ip,
            user_agent: user_agent.as_deref(),
        },
    )?;
    Ok((token, session))
}

/// The live session and its user for a cookie token, or `None` when the
/// session is unknown, expired, idle too long, or its user may no longer use
/// the console. Expired sessions are removed on the way.
pub fn resolve(
    conn: &mut DbConnection,
    token: &str,
) -> Result<Option<(Session, User)>, AccountError> {
    let now = model::now();
    let Some((session, user)) = model::sessions::find_with_user(conn, &hash_token(token))? else {
        return Ok(None);
    };
    if !is_live(&session, now) || user.disabled || !user.is_admin() {
        model::sessions::delete(conn, session.id)?;
        return Ok(None);
    }
    if now - session.last_seen_at > Duration::seconds(TOUCH_INTERVAL_SECONDS) {
        model::sessions::touch(conn, session.id, now)?;
    }
    Ok(Some((session, user)))
}

pub fn is_live(session: &Session, now: NaiveDateTime) -> bool {
    now < session.expires_at && now - session.last_seen_at < Duration::minutes(IDLE_TIMEOUT_MINUTES)
}

/// Log out: the session is deleted, its token is worthless from now on.
pub fn end(conn: &mut DbConnection, actor: &Actor, session_id: i64) -> Result<(), AccountError> {
    model::sessions::delete(conn, session_id)?;
    audit::record(conn, actor, "logout", Some(&actor.name), None)?;
    Ok(())
}

/// An administrator ends one of a user's sessions.
pub fn revoke(
    conn: &mut DbConnection,
    actor: &Actor,
    user: &User,
    session_id: i64,
) -> Result<bool, AccountError> {
    let owned = model::sessions::list_for_user(conn, user.id)?
        .iter()
        .any(|s| s.id == session_id);
    if !owned {
        return Ok(false);
    }
    model::sessions::delete(conn, session_id)?;
    let detail = format!("session {session_id}");
    audit::record(
        conn,
        actor,
        "session.revoke",
        Some(&user.email),
        Some(&detail),
    )?;
    Ok(true)
}

/// Remove sessions that can no longer be used.
pub fn sweep(conn: &mut DbConnection) -> Result<usize, AccountError> {
    let now = model::now();
    Ok(model::sessions::delete_stale(
        conn,
        now,
        now - Duration::minutes(IDLE_TIMEOUT_MINUTES),
    )?)
}

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}
