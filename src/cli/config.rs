//! `config show` and `config set`: the effective settings, and the ones
//! held in the database.

use clap::Subcommand;
use serde_json::json;

use super::CliError;
use super::password::{PasswordSource, read_password};
use crate::app::Node;
use crate::audit::Actor;
use crate::db::{self, DbError};
use crate::{manage, model};

#[derive(Subcommand)]
pub(super) enum ConfigCommand {
    /// Show the effective settings, including the site uuid (secrets masked).
    Show {
        #[arg(long)]
        json: bool,
    },
    /// Change settings held in the database (site_name, proxy_url,
    /// proxy_username, proxy_password, timeouts, backoff, log retention,
    /// accept_push_from_new_peers, clock_skew_warn_secs, metrics_token):
    /// KEY VALUE, or several pairs saved together, every one or none.
    Set {
        key: String,
        /// The new value; for proxy_password and metrics_token, - reads it
        /// from standard input; an empty value clears it.
        #[arg(allow_hyphen_values = true)]
        value: String,
        /// More KEY VALUE pairs, e.g. `backoff_base_secs 600 backoff_cap_secs 7200`.
        #[arg(allow_hyphen_values = true, value_names = ["KEY", "VALUE"])]
        more: Vec<String>,
    },
}

pub(super) fn run(command: ConfigCommand, node: Node) -> Result<(), CliError> {
    match command {
        ConfigCommand::Show { json } => show(node, json),
        ConfigCommand::Set { key, value, more } => set(node, key, value, more),
    }
}

fn show(node: Node, as_json: bool) -> Result<(), CliError> {
    let mut conn = node.pool.get().map_err(DbError::from)?;
    let config = model::sync_config::get(&mut conn)?
        .ok_or_else(|| CliError::Failed("the sync_config row is missing".into()))?;
    let s = &node.settings;
    let secret_key = if s.secret_key.is_some() {
        "(from EDENSYNC_SECRET_KEY)".to_string()
    } else {
        s.secret_key_path().display().to_string()
    };
    let masked = |v: &Option<String>| v.as_ref().map(|_| "****");
    let settings = json!({
        "site_uuid": config.site_uuid,
        "site_name": config.site_name,
        "data_dir": s.data_dir.display().to_string(),
        "database_url": s.database.display(),
        "database_backend": db::backend_name(&conn),
        "bind": s.bind.to_string(),
        "public_url": s.public_url.as_ref().map(|u| u.to_string()),
        "secret_key": secret_key,
        "log": s.log,
        "log_format": if s.log_json { "json" } else { "human" },
        "trusted_proxies": s.trusted_proxies.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", "),
        "proxy_url": config.proxy_url,
        "proxy_username": config.proxy_username,
        "proxy_password": masked(&config.proxy_password_enc),
        "connect_timeout_secs": config.connect_timeout_secs,
        "read_timeout_secs": config.read_timeout_secs,
        "request_timeout_secs": config.request_timeout_secs,
        "backoff_base_secs": config.backoff_base_secs,
        "backoff_cap_secs": config.backoff_cap_secs,
        "log_retention_days": config.log_retention_days,
        "accept_push_from_new_peers": config.accept_push_from_new_peers,
        "clock_skew_warn_secs": config.clock_skew_warn_secs,
        "metrics_token": masked(&config.metrics_token_hash),
    });
    if as_json {
        println!(
            "{}",
            serde_json::to_string_pretty(&settings).unwrap_or_default()
        );
    } else if let Some(map) = settings.as_object() {
        for (key, value) in map {
            let shown = match value {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Null => "(not set)".into(),
                other => other.to_string(),
            };
            println!("{key:<28} {shown}");
        }
    }
    Ok(())
}

/// Every pair is saved or none is (`manage::settings::set_all_or_none`),
/// whatever their order: a cap may come before the base it must not be
/// below.
fn set(node: Node, key: String, value: String, more: Vec<String>) -> Result<(), CliError> {
    if !more.len().is_multiple_of(2) {
        return Err(CliError::Usage(format!(
            "config set takes KEY VALUE pairs: {} has no value",
            more[more.len() - 1]
        )));
    }
    let mut pairs = vec![(key, value)];
    pairs.extend(
        more.chunks(2)
            .map(|pair| (pair[0].clone(), pair[1].clone())),
    );
    let stdin_used = pairs.iter().filter(|(k, v)| reads_stdin(k, v)).count();
    if stdin_used > 1 {
        return Err(CliError::Usage(
            "only one value can be read from standard input (-)".into(),
        ));
    }
    for (key, value) in &mut pairs {
        // Like --password-stdin: the secret stays out of the process list
        // and the shell history.
        if reads_stdin(key, value) {
            *value = read_password(&PasswordSource {
                password_stdin: true,
            })?;
        }
    }
    let mut conn = node.pool.get().map_err(DbError::from)?;
    let changes: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let saved = manage::settings::set_all_or_none(&mut conn, &Actor::cli(), &node.key, &changes)?;
    for (name, shown) in saved {
        println!("{name} = {shown}");
    }
    Ok(())
}

/// A secret setting whose value is `-` is read from standard input.
fn reads_stdin(key: &str, value: &str) -> bool {
    matches!(key.trim(), "proxy_password" | "metrics_token") && value == "-"
}
