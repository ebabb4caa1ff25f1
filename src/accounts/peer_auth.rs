//! HTTP Basic authentication of peers on the sync API. Any enabled account
//! may authenticate (`admin` or `sync`). A verified password is remembered
//! for a few minutes, because argon2 costs tens of milliseconds per check and
//! a peer sends many requests; the memory is tied to the account's current
//! password hash, so a password change ends it at once. Failures are
//! throttled per client address; failures from addresses the account has
//! not proved its password from also count towards the account's lockout,
//! shared with the console. A locked account still lets in the addresses it
//! proved its password from (a peer syncing from its usual address is not
//! locked out by someone else's guessing); a stale password at such an
//! address slows that address only.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use super::password;
use super::throttle::LoginThrottle;
use crate::audit::Actor;
use crate::db::{DbConnection, DbError};
use crate::model;
use crate::model::users::User;

/// Why a peer's request is not authenticated.
#[derive(Debug, thiserror::Error)]
pub enum PeerAuthError {
    /// No credentials, or wrong ones.
    #[error("Authentication Required")]
    Unauthorized,
    /// This address failed too often; it may try again after `wait`.
    #[error("too many failed logins")]
    Throttled { wait: Duration },
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for PeerAuthError {
    fn from(e: diesel::result::Error) -> Self {
        PeerAuthError::Db(e.into())
    }
}

/// How long an address stays trusted after the account proved its password
/// from it.
const TRUSTED_FOR_DAYS: i64 = 30;

/// How long a verified password is trusted without running argon2 again.
const REMEMBER_FOR: Duration = Duration::from_secs(300);

struct Verified {
    /// SHA-256 of the password that was verified (never the password).
    secret: [u8; 32],
    /// The account's hash at the time: a new password invalidates this.
    password_hash: String,
    at: Instant,
}

pub struct PeerAuth {
    verified: Mutex<HashMap<String, Verified>>,
    throttle: LoginThrottle,
}

impl Default for PeerAuth {
    fn default() -> Self {
        PeerAuth {
            verified: Mutex::new(HashMap::new()),
            throttle: LoginThrottle::default(),
        }
    }
}

/// The e-mail and password of an `Authorization: Basic …` header.
pub fn parse_basic(header: &str) -> Option<(String, String)> {
    let encoded = header
        .strip_prefix("Basic ")
        .or_else(|| header.strip_prefix("basic "))?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (email, password) = decoded.split_once(':')?;
    Some((email.trim().to_lowercase(), password.to_string()))
}

impl PeerAuth {
    /// The account a request authenticates as, or 401 (429 when this
    /// address failed too often).
    pub fn authenticate(
        &self,
        conn: &mut DbConnection,
        authorization: Option<&str>,
        ip: Option<IpAddr>,
    ) -> Result<User, PeerAuthError> {
        if let Some(ip) = ip
            && let Err(wait) = self.throttle.check(ip)
        {
            return Err(PeerAuthError::Throttled { wait });
        }
        let Some((email, secret)) = authorization.and_then(parse_basic) else {
            return Err(PeerAuthError::Unauthorized);
        };
        let user = model::users::find_by_email(conn, &email)?;
        let fail = || {
            if let Some(ip) = ip {
                self.throttle.record_failure(ip);
            }
            PeerAuthError::Unauthorized
        };
        let Some(user) = user.filter(|u| !u.disabled) else {
            password::verify_dummy(&secret);
            return Err(fail());
        };
        let now = model::now();
        let address = ip.map(|ip| ip.to_string());
        let trusted = match &address {
            Some(address) => model::trusted_addresses::is_trusted(
                conn,
                user.id,
                address,
                now - chrono::Duration::days(TRUSTED_FOR_DAYS),
            )?,
            None => false,
        };
        // Locked (by guesses on the console or here): only the addresses
        // the account proved its password from still get in.
        if user.is_locked(now) && !trusted {
            password::verify_dummy(&secret);
            return Err(fail());
        }
        let digest: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
        if self.remembered(&user, &digest) {
            return Ok(user);
        }
        if !password::verify(&secret, &user.password_hash) {
            // A stale password at the peer's usual address slows that
            // address only; guesses from elsewhere count against the
            // account, as on the console.
            if !trusted {
                let actor = Actor::user(user.id, &user.email, address.clone());
                super::record_failed_login(conn, &actor, &user, now, "sync API")?;
            }
            return Err(fail());
        }
        // Best effort: a store busy with a long write (a large push holds
        // SQLite's lock) must not turn a right password into an error.
        if let Some(address) = &address
            && let Err(error) = model::trusted_addresses::remember(conn, user.id, address, now)
        {
            tracing::warn!(%error, "could not note the address a peer logged in from");
        }
        let mut verified = self.verified.lock().unwrap_or_else(|e| e.into_inner());
        verified.retain(|_, v| v.at.elapsed() < REMEMBER_FOR);
        verified.insert(
            user.email.clone(),
            Verified {
                secret: digest,
                password_hash: user.password_hash.clone(),
                at: Instant::now(),
            },
        );
        Ok(user)
    }

    fn remembered(&self, user: &User, digest: &[u8; 32]) -> bool {
        let verified = self.verified.lock().unwrap_or_else(|e| e.into_inner());
        verified.get(&user.email).is_some_and(|v| {
            v.at.elapsed() < REMEMBER_FOR
                && v.password_hash == user.password_hash
                // Compared without an early exit, like any secret.
                && v.secret.iter().zip(digest).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
        })
    }
}
