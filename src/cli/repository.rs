//! `repository ...`: the peers we sync with, or that call us.

use clap::{Args, Subcommand};
use serde_json::json;

use super::job::{job_json, print_jobs};
use super::output::print_json;
use super::password::{PasswordSource, read_password};
use super::task::{print_tasks, task_json};
use super::{CliError, runtime};
use crate::app::{self, Node};
use crate::audit::Actor;
use crate::db::DbError;
use crate::manage::repositories::RepositoryForm;
use crate::manage::{self, PasswordChange};
use crate::model::repositories::Repository;

#[derive(Subcommand)]
pub(super) enum RepositoryCommand {
    /// Add a repository (a second one with the same name is refused).
    Add {
        name: String,
        #[command(flatten)]
        settings: RepositorySettings,
        /// Save without registering at the peer.
        #[arg(long)]
        no_register: bool,
    },
    /// Change a repository: only the settings given change.
    Edit {
        /// The repository's name or id.
        repository: String,
        #[command(flatten)]
        settings: RepositorySettings,
        /// Refuse pushes from the peer.
        #[arg(long, conflicts_with = "accept_push")]
        no_accept_push: bool,
        /// Enable the repository again.
        #[arg(long, conflicts_with = "disabled")]
        enabled: bool,
        /// Save without registering at the peer.
        #[arg(long)]
        no_register: bool,
    },
    /// List repositories (passwords are never shown).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show a repository with its tasks and jobs (passwords are never shown).
    Show {
        /// The repository's name or id.
        repository: String,
        #[arg(long)]
        json: bool,
    },
    /// Remove a repository with its tasks, jobs, runs and log.
    Remove {
        /// The repository's name or id.
        repository: String,
    },
    /// Register at the peer again: it learns our uuid, we learn its uuid
    /// and whether it is Eden or edensync.
    Register {
        /// The repository's name or id.
        repository: String,
    },
}

#[derive(Args)]
pub(super) struct RepositorySettings {
    /// The peer's address, http:// or https:// (e.g. https://eden.example.org/eden);
    /// without one the repository is passive only: a peer that calls us ('' removes it).
    #[arg(long)]
    url: Option<String>,
    /// A folder repository instead of a URL: the folder (or USB stick) to
    /// exchange files in, as Eden's filesync does ('' removes it).
    #[arg(long, value_name = "PATH")]
    folder: Option<String>,
    /// The account at the peer (with --password-stdin for its password).
    #[arg(long)]
    username: Option<String>,
    #[command(flatten)]
    password: PasswordSource,
    /// The peer's site uuid (learned at registration otherwise).
    #[arg(long)]
    peer_uuid: Option<String>,
    /// An HTTP proxy for this peer, e.g. http://proxy:3128. Credentials in it
    /// (http://user:pass@proxy:3128) are stored apart, the password encrypted;
    /// '' removes the proxy.
    #[arg(long, value_name = "URL")]
    proxy: Option<String>,
    /// Accept pushes from the peer.
    #[arg(long)]
    accept_push: bool,
    /// A sync account that may act as this peer (repeatable). On edit the
    /// accounts given replace the bound ones ('' binds none).
    #[arg(long = "account", value_name = "EMAIL")]
    accounts: Vec<String>,
    /// The tables the peer may pull and push, comma-separated (default: all;
    /// on edit, '' allows all).
    #[arg(long, value_name = "T1,T2")]
    tables: Option<String>,
    /// Keep the repository but do not sync it.
    #[arg(long)]
    disabled: bool,
    /// A PEM file of CA certificates to trust for this peer (its own CA),
    /// besides the usual roots ('' removes them).
    #[arg(long, value_name = "FILE")]
    tls_ca: Option<String>,
    /// Accept invalid certificates from this peer: true or false (insecure;
    /// prefer --tls-ca).
    #[arg(long, value_name = "BOOL")]
    accept_invalid_certs: Option<bool>,
}

pub(super) fn run(command: RepositoryCommand, node: Node) -> Result<(), CliError> {
    let mut conn = node.pool.get().map_err(DbError::from)?;
    let conn = &mut *conn;
    let actor = Actor::cli();
    match command {
        RepositoryCommand::Add {
            name,
            settings,
            no_register,
        } => {
            let mut form = RepositoryForm::new(&name);
            form.accept_push = settings.accept_push;
            form.enabled = !settings.disabled;
            form.accounts = settings.accounts.clone();
            let asks_password = settings.username.is_some();
            apply_repository_settings(&mut form, settings, asks_password)?;
            let added = manage::repositories::create(conn, &actor, &node.key, &form)?;
            let passive = match added.folder() {
                Some(folder) => format!(" (a folder repository: files in {folder})"),
                None if added.url.is_none() => " (passive only: the peer calls us)".into(),
                None => String::new(),
            };
            println!("added repository {} (id {}){passive}", added.name, added.id);
            if !no_register {
                register_after_save(&node, &added);
            }
        }
        RepositoryCommand::Edit {
            repository,
            settings,
            no_accept_push,
            enabled,
            no_register,
        } => {
            let existing = manage::repositories::find(conn, &repository)?;
            let mut form = RepositoryForm::from_repository(conn, &existing)?;
            if settings.accept_push {
                form.accept_push = true;
            }
            if no_accept_push {
                form.accept_push = false;
            }
            if settings.disabled {
                form.enabled = false;
            }
            if enabled {
                form.enabled = true;
            }
            if !settings.accounts.is_empty() {
                form.accounts = settings.accounts.clone();
            }
            apply_repository_settings(&mut form, settings, false)?;
            let changed = manage::repositories::update(conn, &actor, &node.key, &existing, &form)?;
            println!("changed repository {} (id {})", changed.name, changed.id);
            if !no_register {
                register_after_save(&node, &changed);
            }
        }
        RepositoryCommand::List { json } => {
            let repositories = manage::repositories::list(conn)?;
            if json {
                let mut rows = Vec::with_capacity(repositories.len());
                for r in &repositories {
                    let accounts = manage::repositories::accounts(conn, r)?;
                    rows.push(repository_json(r, &accounts));
                }
                print_json(&serde_json::Value::Array(rows));
            } else {
                println!(
                    "{:<4} {:<24} {:<40} {:<8} {:<6} LAST STATUS",
                    "ID", "NAME", "URL", "STATUS", "PUSH"
                );
                for r in &repositories {
                    println!(
                        "{:<4} {:<24} {:<40} {:<8} {:<6} {}",
                        r.id,
                        r.name,
                        r.url.as_deref().unwrap_or("(passive)"),
                        if r.enabled { "enabled" } else { "disabled" },
                        if r.accept_push { "yes" } else { "no" },
                        r.last_status.as_deref().unwrap_or("-")
                    );
                }
            }
        }
        RepositoryCommand::Show { repository, json } => {
            let r = manage::repositories::find(conn, &repository)?;
            let accounts = manage::repositories::accounts(conn, &r)?;
            let tasks = manage::tasks::list(conn, &r)?;
            let jobs = manage::jobs::list_for_repository(conn, &r)?;
            let mut shown = repository_json(&r, &accounts);
            shown["tasks"] = tasks.iter().map(|(t, f)| task_json(t, f)).collect();
            shown["jobs"] = jobs.iter().map(|j| job_json(j, &r.name)).collect();
            if json {
                print_json(&shown);
            } else {
                print_repository(&shown);
                println!();
                print_tasks(&tasks);
                println!();
                print_jobs(&jobs, |_| r.name.clone());
            }
        }
        RepositoryCommand::Remove { repository } => {
            let r = manage::repositories::find(conn, &repository)?;
            manage::repositories::remove(conn, &actor, &r)?;
            println!(
                "removed repository {} with its tasks, jobs, runs and log",
                r.name
            );
        }
        RepositoryCommand::Register { repository } => {
            let r = manage::repositories::find(conn, &repository)?;
            if r.url.is_none() {
                return Err(CliError::Usage(format!(
                    "{} has no URL: a passive-only peer registers itself with us",
                    r.name
                )));
            }
            println!("{}", register(&node, r.id)?);
        }
    }
    Ok(())
}

/// Register at the peer after a save; a failure keeps the repository and
/// says how to try again.
fn register_after_save(node: &Node, repository: &Repository) {
    if repository.url.is_none() {
        return;
    }
    match register(node, repository.id) {
        Ok(said) => println!("registered at the peer: {said}"),
        Err(e) => eprintln!(
            "edensync: warning: the repository is saved, but registration at the peer failed: {e}; run `edensync repository register {}` once the peer is reachable",
            repository.name
        ),
    }
}

fn register(node: &Node, repository_id: i64) -> Result<String, CliError> {
    let engine = app::engine(node, None);
    runtime()?
        .block_on(engine.register(repository_id))
        .map_err(|e| CliError::Failed(e.to_string()))
}

/// Put the settings given on the command line into a repository's form.
/// `password_needed`: a username was given to a new repository, so its
/// password is asked for (from stdin with --password-stdin).
fn apply_repository_settings(
    form: &mut RepositoryForm,
    settings: RepositorySettings,
    password_needed: bool,
) -> Result<(), CliError> {
    if let Some(url) = settings.url {
        form.url = Some(url);
    }
    if let Some(folder) = settings.folder {
        form.folder = Some(folder);
    }
    if let Some(username) = settings.username {
        form.username = Some(username);
    }
    if settings.password.password_stdin || password_needed {
        form.password = PasswordChange::Set(read_password(&settings.password)?);
    }
    if let Some(uuid) = settings.peer_uuid {
        form.peer_uuid = Some(uuid);
    }
    if let Some(proxy) = settings.proxy {
        let (url, username, password) = split_proxy_credentials(&proxy);
        form.proxy_url = Some(url);
        form.proxy_username = username;
        form.proxy_password = match password {
            Some(password) => PasswordChange::Set(password),
            None => PasswordChange::Clear,
        };
    }
    if let Some(path) = settings.tls_ca {
        form.tls_ca_pem = if path.trim().is_empty() {
            None
        } else {
            Some(
                std::fs::read_to_string(&path)
                    .map_err(|e| CliError::Usage(format!("--tls-ca: cannot read {path}: {e}")))?,
            )
        };
    }
    if let Some(accept) = settings.accept_invalid_certs {
        form.tls_accept_invalid = accept;
    }
    if let Some(tables) = settings.tables {
        form.allowed_tables = if tables.trim().is_empty() {
            None
        } else {
            Some(tables.split(',').map(|t| t.trim().to_string()).collect())
        };
    }
    Ok(())
}

/// Take the credentials out of a proxy URL (`http://user:pass@host:3128`),
/// so the password is stored encrypted rather than in the URL.
fn split_proxy_credentials(text: &str) -> (String, Option<String>, Option<String>) {
    let Ok(mut url) = url::Url::parse(text.trim()) else {
        return (text.to_string(), None, None);
    };
    if url.username().is_empty() {
        return (text.trim().to_string(), None, None);
    }
    let username = percent_decode(url.username());
    let password = url.password().map(percent_decode);
    // Both calls only fail for URLs that cannot have credentials, and this one has.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    (url.to_string(), Some(username), password)
}

/// Decode `%XX` escapes as URLs carry them in user names and passwords.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| text.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                decoded.push(byte);
                i += 3;
            }
            None => {
                decoded.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

/// A repository as `repository list --json` and `show --json` give it: never
/// a password, only whether one is set.
fn repository_json(r: &Repository, accounts: &[String]) -> serde_json::Value {
    json!({
        "id": r.id,
        "name": r.name,
        "url": r.url,
        "folder": r.folder_path,
        "peer_uuid": r.peer_uuid,
        "api_type": r.api_type,
        "peer_kind": r.peer_kind,
        "peer_capabilities": r.peer_capabilities.as_deref().map(|c| c.split_whitespace().collect::<Vec<_>>()),
        "username": r.username,
        "password_set": r.password_enc.is_some(),
        "proxy_url": r.proxy_url,
        "proxy_username": r.proxy_username,
        "proxy_password_set": r.proxy_password_enc.is_some(),
        "enabled": r.enabled,
        "accept_push": r.accept_push,
        "allowed_tables": manage::repositories::allowed_tables(r),
        "accounts": accounts,
        "tls_ca": r.tls_ca_pem.is_some(),
        "tls_accept_invalid": r.tls_accept_invalid,
        "last_connected_at": r.last_connected_at,
        "last_success_at": r.last_success_at,
        "last_status": r.last_status,
        "last_error": r.last_error,
        "consecutive_failures": r.consecutive_failures,
        "next_retry_at": r.next_retry_at,
        "clock_skew_secs": r.clock_skew_secs,
        "created_at": r.created_at,
        "updated_at": r.updated_at,
    })
}

fn print_repository(shown: &serde_json::Value) {
    let Some(map) = shown.as_object() else {
        return;
    };
    for (key, value) in map {
        let text = match value {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Null => "-".into(),
            // Shown as tables of their own.
            serde_json::Value::Array(_) if key == "tasks" || key == "jobs" => continue,
            serde_json::Value::Array(items) if items.is_empty() => "-".into(),
            serde_json::Value::Array(items) => items
                .iter()
                .map(|i| {
                    i.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| i.to_string())
                })
                .collect::<Vec<_>>()
                .join(", "),
            other => other.to_string(),
        };
        println!("{key:<22} {text}");
    }
}
