//! The settings held in the database (`sync_config`), changed one key at a
//! time (`set`) or several together, all or none (`set_all_or_none`). The
//! others come from the settings file and the environment and are read at
//! start-up.

use diesel::Connection;

use super::{FieldError, FieldErrors, ManageError, check_http_url};
use crate::audit::{self, Actor};
use crate::db::DbConnection;
use crate::model;
use crate::model::sync_config::ConfigChange;
use crate::secrets::SecretKey;

/// The keys `config set` changes, in the order `config show` lists them.
pub const KEYS: [&str; 13] = [
    "site_name",
    "proxy_url",
    "proxy_username",
    "proxy_password",
    "connect_timeout_secs",
    "read_timeout_secs",
    "request_timeout_secs",
    "backoff_base_secs",
    "backoff_cap_secs",
    "log_retention_days",
    "accept_push_from_new_peers",
    "clock_skew_warn_secs",
    "metrics_token",
];

/// The shortest bearer token `/metrics` accepts (it guards the names and
/// health of every peer).
pub const MIN_METRICS_TOKEN_CHARS: usize = 16;

pub const MAX_SITE_NAME_CHARS: usize = 100;

/// The settings `config show` lists that come from the settings file and
/// the environment, each with where it is set, for the message that
/// refuses to change it here.
const SET_ELSEWHERE: [(&str, &str); 10] = [
    (
        "bind",
        "is set in the settings file (bind) or with EDENSYNC_BIND, and read at start-up",
    ),
    (
        "data_dir",
        "is set in the settings file (data_dir) or with EDENSYNC_DATA_DIR, and read at start-up",
    ),
    (
        "database_url",
        "is set in the settings file (database_url) or with EDENSYNC_DATABASE_URL, and read at \
         start-up",
    ),
    (
        "database_backend",
        "follows database_url (postgres:// selects PostgreSQL)",
    ),
    (
        "public_url",
        "is set in the settings file (public_url) or with EDENSYNC_PUBLIC_URL, and read at \
         start-up",
    ),
    (
        "secret_key",
        "is the file <data dir>/secret.key or EDENSYNC_SECRET_KEY; it cannot be changed while \
         stored passwords are encrypted with it",
    ),
    (
        "log",
        "is set in the settings file (log) or with EDENSYNC_LOG, and read at start-up",
    ),
    (
        "log_format",
        "is set in the settings file (log_format) or with EDENSYNC_LOG_FORMAT, and read at \
         start-up",
    ),
    (
        "trusted_proxies",
        "is set in the settings file (trusted_proxies) or with EDENSYNC_TRUSTED_PROXIES, and \
         read at start-up",
    ),
    (
        "site_uuid",
        "is this node's identity towards its peers, created once; it cannot be changed",
    ),
];

/// Set one setting. `value` is the text given; an empty value clears the
/// proxy settings. Returns the new value as `config show` displays it (a
/// password masked).
pub fn set(
    conn: &mut DbConnection,
    actor: &Actor,
    key: &SecretKey,
    name: &str,
    value: &str,
) -> Result<String, ManageError> {
    let name = name.trim();
    if let Some((key_name, where_set)) = SET_ELSEWHERE.iter().find(|(k, _)| *k == name) {
        return Err(ManageError::invalid(key_name, *where_set));
    }
    let Some(field) = KEYS.iter().copied().find(|k| *k == name) else {
        return Err(ManageError::invalid(
            "key",
            format!("unknown setting '{name}' (settable: {})", KEYS.join(", ")),
        ));
    };
    conn.transaction(|conn| {
        let current = model::sync_config::get(conn)?
            .ok_or_else(|| ManageError::NotFound("the sync_config row is missing".into()))?;
        let mut errors = FieldErrors::default();
        let mut change = ConfigChange::at(model::now());
        let text = value.trim();
        let optional_text = || -> Option<String> { (!text.is_empty()).then(|| text.to_string()) };
        let shown: String;
        match field {
            "site_name" => {
                if text.is_empty() {
                    errors.add(field, "is required");
                } else if text.chars().count() > MAX_SITE_NAME_CHARS {
                    errors.add(
                        field,
                        format!("must be at most {MAX_SITE_NAME_CHARS} characters"),
                    );
                }
                change.site_name = Some(text.to_string());
                shown = text.to_string();
            }
            "proxy_url" => {
                if !text.is_empty() {
                    check_http_url(&mut errors, field, text);
                } else if current.proxy_username.is_some() {
                    errors.add(
                        field,
                        "is required while proxy_username is set (clear that first)",
                    );
                }
                change.proxy_url = Some(optional_text());
                shown = shown_text(text);
            }
            "proxy_username" => {
                if text.is_empty() && current.proxy_password_enc.is_some() {
                    errors.add(
                        field,
                        "is required while proxy_password is set (clear that first)",
                    );
                }
                if !text.is_empty() && current.proxy_url.is_none() {
                    errors.add(field, "needs a proxy: set proxy_url first");
                }
                change.proxy_username = Some(optional_text());
                shown = shown_text(text);
            }
            "proxy_password" => {
                // Passwords are taken as given: spaces may be part of them.
                if !value.is_empty() && current.proxy_username.is_none() {
                    errors.add(field, "needs a proxy username: set proxy_username first");
                }
                change.proxy_password_enc = Some((!value.is_empty()).then(|| key.encrypt(value)));
                shown = if value.is_empty() {
                    "(not set)"
                } else {
                    "****"
                }
                .to_string();
            }
            "metrics_token" => {
                // Only a hash is kept: the token is shown once, where it is set.
                if !text.is_empty() && text.chars().count() < MIN_METRICS_TOKEN_CHARS {
                    errors.add(
                        field,
                        format!("must be at least {MIN_METRICS_TOKEN_CHARS} characters"),
                    );
                }
                change.metrics_token_hash =
                    Some((!text.is_empty()).then(|| metrics_token_hash(text)));
                shown = if text.is_empty() { "(not set)" } else { "****" }.to_string();
            }
            "accept_push_from_new_peers" => {
                let flag = match text.to_ascii_lowercase().as_str() {
                    "true" => Some(true),
                    "false" => Some(false),
                    _ => {
                        errors.add(field, format!("'{text}' is not true or false"));
                        None
                    }
                };
                change.accept_push_from_new_peers = flag;
                shown = text.to_ascii_lowercase();
            }
            // The rest are numbers of seconds or days.
            _ => {
                let number = positive(&mut errors, field, text);
                if let Some(n) = number {
                    match field {
                        "backoff_base_secs" if n > current.backoff_cap_secs => errors.add(
                            field,
                            format!(
                                "must not exceed backoff_cap_secs ({})",
                                current.backoff_cap_secs
                            ),
                        ),
                        "backoff_cap_secs" if n < current.backoff_base_secs => errors.add(
                            field,
                            format!(
                                "must be at least backoff_base_secs ({})",
                                current.backoff_base_secs
                            ),
                        ),
                        _ => {}
                    }
                }
                match numeric_column(&mut change, field) {
                    Some(column) => *column = number,
                    None => errors.add(field, "is not a number setting"),
                }
                shown = text.to_string();
            }
        }
        errors.finish()?;
        model::sync_config::update(conn, &change)?;
        audit::record(conn, actor, "config.set", Some(field), Some(&shown))?;
        Ok(shown)
    })
}

/// Set several settings in one transaction: every one or none. Each value
/// is checked as `set` checks it. Settings depend on each other (a proxy
/// user needs a proxy URL, the backoff cap must not be below its base), so
/// what fails is tried again after the others, until nothing more
/// succeeds. Returns each setting's name and its new value as it may be
/// shown (secrets masked); on `Invalid`, the problems of every setting that
/// could not be set.
pub fn set_all_or_none(
    conn: &mut DbConnection,
    actor: &Actor,
    key: &SecretKey,
    changes: &[(&str, &str)],
) -> Result<Vec<(String, String)>, ManageError> {
    conn.transaction(|conn| {
        let mut pending = changes.to_vec();
        let mut saved = Vec::new();
        loop {
            let mut failed: Vec<((&str, &str), Vec<FieldError>)> = Vec::new();
            let before = pending.len();
            for (name, value) in pending {
                match set(conn, actor, key, name, value) {
                    Ok(shown) => saved.push((name.trim().to_string(), shown)),
                    Err(ManageError::Invalid(errors)) => failed.push(((name, value), errors)),
                    Err(other) => return Err(other),
                }
            }
            if failed.is_empty() {
                return Ok(saved);
            }
            if failed.len() == before {
                return Err(ManageError::Invalid(
                    failed.into_iter().flat_map(|(_, e)| e).collect(),
                ));
            }
            pending = failed.into_iter().map(|(change, _)| change).collect();
        }
    })
}

/// Where a numeric setting goes in a change.
fn numeric_column<'a>(change: &'a mut ConfigChange, field: &str) -> Option<&'a mut Option<i32>> {
    Some(match field {
        "connect_timeout_secs" => &mut change.connect_timeout_secs,
        "read_timeout_secs" => &mut change.read_timeout_secs,
        "request_timeout_secs" => &mut change.request_timeout_secs,
        "backoff_base_secs" => &mut change.backoff_base_secs,
        "backoff_cap_secs" => &mut change.backoff_cap_secs,
        "log_retention_days" => &mut change.log_retention_days,
        "clock_skew_warn_secs" => &mut change.clock_skew_warn_secs,
        _ => return None,
    })
}

/// How a `/metrics` bearer token is stored and compared.
pub fn metrics_token_hash(token: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(token.trim().as_bytes()))
}

fn shown_text(text: &str) -> String {
    if text.is_empty() {
        "(not set)".into()
    } else {
        text.to_string()
    }
}

/// A whole number of at least 1 that fits the column.
fn positive(errors: &mut FieldErrors, field: &'static str, text: &str) -> Option<i32> {
    match text.parse::<i32>() {
        Ok(n) if n >= 1 => Some(n),
        _ => {
            errors.add(
                field,
                format!("'{text}' is not a whole number of at least 1"),
            );
            None
        }
    }
}
