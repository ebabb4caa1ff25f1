//! Repositories: the peers we sync with or that call us.

use chrono::NaiveDateTime;
use diesel::Connection;

use super::{FieldErrors, ManageError, PasswordChange, check_http_url, non_empty};
use crate::accounts;
use crate::audit::{self, Actor};
use crate::db::DbConnection;
use crate::model;
use crate::model::repositories::{Repository, RepositoryConfig};
use crate::model::users::Role;
use crate::secrets::SecretKey;
use crate::store;

pub const MAX_NAME_CHARS: usize = 100;

/// A repository as an administrator enters it.
#[derive(Debug, Clone)]
pub struct RepositoryForm {
    pub name: String,
    /// Without a URL the repository is passive only: a peer that calls us.
    pub url: Option<String>,
    /// A folder repository (sneakernet, Eden's `filesync`): the folder its
    /// tasks read files from and write files into, instead of a URL.
    pub folder: Option<String>,
    pub username: Option<String>,
    pub password: PasswordChange,
    /// The peer's site uuid; learned at registration when not given.
    pub peer_uuid: Option<String>,
    pub proxy_url: Option<String>,
    pub proxy_username: Option<String>,
    pub proxy_password: PasswordChange,
    pub enabled: bool,
    /// Whether the peer may push to us.
    pub accept_push: bool,
    /// The tables the peer may pull and push; `None`: all.
    pub allowed_tables: Option<Vec<String>>,
    /// E-mail addresses of the sync accounts that may act as this peer.
    pub accounts: Vec<String>,
    /// Extra CA certificates (PEM) trusted for this peer, besides the
    /// usual roots: for a peer with its own or a self-signed CA.
    pub tls_ca_pem: Option<String>,
    /// Accept any certificate from this peer (no protection against a
    /// man in the middle); shown as a warning wherever the peer appears.
    pub tls_accept_invalid: bool,
}

impl RepositoryForm {
    /// A new repository's form: enabled, pushes not accepted, all tables.
    pub fn new(name: &str) -> RepositoryForm {
        RepositoryForm {
            name: name.to_string(),
            url: None,
            folder: None,
            username: None,
            password: PasswordChange::Keep,
            peer_uuid: None,
            proxy_url: None,
            proxy_username: None,
            proxy_password: PasswordChange::Keep,
            enabled: true,
            accept_push: false,
            allowed_tables: None,
            accounts: Vec::new(),
            tls_ca_pem: None,
            tls_accept_invalid: false,
        }
    }

    /// The form of a stored repository, to edit; passwords are kept unless
    /// changed (they are never shown).
    pub fn from_repository(
        conn: &mut DbConnection,
        repository: &Repository,
    ) -> Result<RepositoryForm, ManageError> {
        Ok(RepositoryForm {
            name: repository.name.clone(),
            url: repository.url.clone(),
            folder: repository.folder_path.clone(),
            username: repository.username.clone(),
            password: PasswordChange::Keep,
            peer_uuid: repository.peer_uuid.clone(),
            proxy_url: repository.proxy_url.clone(),
            proxy_username: repository.proxy_username.clone(),
            proxy_password: PasswordChange::Keep,
            enabled: repository.enabled,
            accept_push: repository.accept_push,
            allowed_tables: allowed_tables(repository),
            accounts: model::repositories::bound_account_emails(conn, repository.id)?,
            tls_ca_pem: repository.tls_ca_pem.clone(),
            tls_accept_invalid: repository.tls_accept_invalid,
        })
    }
}

/// The tables a repository's peer may pull and push; `None`: all.
pub fn allowed_tables(repository: &Repository) -> Option<Vec<String>> {
    repository.table_scope()
}

/// A repository by name, or by id when no repository has that name.
pub fn find(conn: &mut DbConnection, name_or_id: &str) -> Result<Repository, ManageError> {
    let wanted = name_or_id.trim();
    // Names are never only digits: a number is an id, and only an id.
    if let Ok(id) = wanted.parse::<i64>() {
        if let Some(repository) = model::repositories::find(conn, id)? {
            return Ok(repository);
        }
    } else if let Some(repository) = model::repositories::find_by_name(conn, wanted)? {
        return Ok(repository);
    }
    Err(ManageError::NotFound(format!(
        "no repository named '{wanted}' (give a name or id from `edensync repository list`)"
    )))
}

pub fn list(conn: &mut DbConnection) -> Result<Vec<Repository>, ManageError> {
    Ok(model::repositories::list(conn)?)
}

/// The e-mail addresses of the sync accounts bound to a repository.
pub fn accounts(
    conn: &mut DbConnection,
    repository: &Repository,
) -> Result<Vec<String>, ManageError> {
    Ok(model::repositories::bound_account_emails(
        conn,
        repository.id,
    )?)
}

pub fn create(
    conn: &mut DbConnection,
    actor: &Actor,
    key: &SecretKey,
    form: &RepositoryForm,
) -> Result<Repository, ManageError> {
    conn.transaction(|conn| {
        let now = model::now();
        let valid = validate(conn, key, form, None, now)?;
        let repository = model::repositories::insert(conn, &valid.config, now)?;
        model::repositories::set_accounts(conn, repository.id, &valid.account_ids)?;
        let detail = describe(&repository, &form.accounts);
        audit::record(
            conn,
            actor,
            "repository.add",
            Some(&repository.name),
            Some(&detail),
        )?;
        Ok(repository)
    })
}

pub fn update(
    conn: &mut DbConnection,
    actor: &Actor,
    key: &SecretKey,
    repository: &Repository,
    form: &RepositoryForm,
) -> Result<Repository, ManageError> {
    conn.transaction(|conn| {
        let before_accounts = model::repositories::bound_account_emails(conn, repository.id)?;
        let valid = validate(conn, key, form, Some(repository), model::now())?;
        model::repositories::update_config(conn, repository.id, &valid.config)?;
        model::repositories::set_accounts(conn, repository.id, &valid.account_ids)?;
        let after_accounts = model::repositories::bound_account_emails(conn, repository.id)?;
        let mut changed = changed_fields(repository, &valid.config, form);
        if before_accounts != after_accounts {
            changed.push("accounts");
        }
        if !changed.is_empty() {
            // A changed configuration deserves a fresh try: a permanent
            // failure no longer blocks the schedule, the backoff restarts.
            model::repositories::clear_retry(conn, repository.id)?;
        }
        let updated = model::repositories::find(conn, repository.id)?
            .ok_or_else(|| ManageError::NotFound(format!("repository {}", repository.name)))?;
        let detail = if changed.is_empty() {
            "nothing changed".to_string()
        } else {
            format!("changed {}", changed.join(", "))
        };
        audit::record(
            conn,
            actor,
            "repository.edit",
            Some(&updated.name),
            Some(&detail),
        )?;
        Ok(updated)
    })
}

/// A repository as the form describes it, validated exactly as a save
/// would, but not saved: to test a connection before saving it. (The row
/// is written and read back in a transaction that is rolled back.)
pub fn as_entered(
    conn: &mut DbConnection,
    key: &SecretKey,
    form: &RepositoryForm,
    existing: Option<&Repository>,
) -> Result<Repository, ManageError> {
    let mut entered = None;
    let outcome = conn.transaction::<(), ManageError, _>(|conn| {
        let now = model::now();
        let valid = validate(conn, key, form, existing, now)?;
        let repository = match existing {
            Some(r) => {
                model::repositories::update_config(conn, r.id, &valid.config)?;
                model::repositories::find(conn, r.id)?
                    .ok_or_else(|| ManageError::NotFound(format!("repository {}", r.name)))?
            }
            None => model::repositories::insert(conn, &valid.config, now)?,
        };
        entered = Some(repository);
        Err(ManageError::Failed("rolled back: only tested".into()))
    });
    match (entered, outcome) {
        (Some(repository), _) => Ok(repository),
        (None, Err(e)) => Err(e),
        (None, Ok(())) => Err(ManageError::Failed("nothing was entered".into())),
    }
}

/// Remove a repository with its tasks, jobs, runs and log.
pub fn remove(
    conn: &mut DbConnection,
    actor: &Actor,
    repository: &Repository,
) -> Result<(), ManageError> {
    conn.transaction(|conn| {
        model::repositories::delete(conn, repository.id)?;
        audit::record(
            conn,
            actor,
            "repository.remove",
            Some(&repository.name),
            None,
        )?;
        Ok(())
    })
}

/// A form that passed every check, ready to store.
struct Valid {
    config: RepositoryConfig,
    account_ids: Vec<i64>,
}

/// Check every field (all problems at once) and build the row to store.
/// `existing` is the repository being edited, if any.
fn validate(
    conn: &mut DbConnection,
    key: &SecretKey,
    form: &RepositoryForm,
    existing: Option<&Repository>,
    now: NaiveDateTime,
) -> Result<Valid, ManageError> {
    let mut errors = FieldErrors::default();
    let is_other = |found: &Option<Repository>| {
        found
            .as_ref()
            .is_some_and(|r| existing.is_none_or(|e| e.id != r.id))
    };

    let name = form.name.trim().to_string();
    if name.is_empty() {
        errors.add("name", "is required");
    } else if name.chars().count() > MAX_NAME_CHARS {
        errors.add(
            "name",
            format!("must be at most {MAX_NAME_CHARS} characters"),
        );
    } else if name.chars().all(|c| c.is_ascii_digit()) {
        // Commands take a repository's name or id: a number is an id.
        errors.add(
            "name",
            "must not be only digits (a number names a repository by id)",
        );
    } else if is_other(&model::repositories::find_by_name(conn, &name)?) {
        errors.add(
            "name",
            format!("a repository named '{name}' already exists"),
        );
    }

    let url = non_empty(form.url.as_deref());
    if let Some(url) = &url {
        check_http_url(&mut errors, "url", url);
        if !errors.has("url") && is_other(&model::repositories::find_by_url(conn, url)?) {
            errors.add(
                "url",
                format!("another repository already has the URL {url}"),
            );
        }
    }

    let folder_path = non_empty(form.folder.as_deref());
    if let Some(folder) = &folder_path {
        if url.is_some() {
            errors.add(
                "folder",
                "a repository is reached by a URL or through a folder, not both: clear one",
            );
        } else if let Err(message) = check_folder(folder) {
            errors.add("folder", message);
        }
    }

    let peer_uuid = non_empty(form.peer_uuid.as_deref());
    if let Some(uuid) = &peer_uuid {
        if uuid.chars().any(char::is_whitespace) || uuid.len() > 255 {
            errors.add("peer_uuid", "must be one word of at most 255 characters");
        } else if is_other(&model::repositories::find_by_peer_uuid(conn, uuid)?) {
            errors.add(
                "peer_uuid",
                format!("another repository already has the peer uuid {uuid}"),
            );
        }
    }

    let username = non_empty(form.username.as_deref());
    let password_enc = new_secret(
        &mut errors,
        "password",
        key,
        &form.password,
        existing.and_then(|e| e.password_enc.clone()),
    );
    if password_enc.is_some() && username.is_none() {
        errors.add("username", "is required with a password");
    }

    let proxy_url = non_empty(form.proxy_url.as_deref());
    if let Some(proxy) = &proxy_url {
        check_http_url(&mut errors, "proxy_url", proxy);
    }
    let proxy_username = non_empty(form.proxy_username.as_deref());
    let proxy_password_enc = new_secret(
        &mut errors,
        "proxy_password",
        key,
        &form.proxy_password,
        existing.and_then(|e| e.proxy_password_enc.clone()),
    );
    if proxy_password_enc.is_some() && proxy_username.is_none() {
        errors.add("proxy_username", "is required with a proxy password");
    }
    if proxy_username.is_some() && proxy_url.is_none() {
        errors.add("proxy_url", "is required with a proxy username");
    }

    let allowed_tables = match &form.allowed_tables {
        None => None,
        Some(tables) => {
            let mut list: Vec<String> = Vec::new();
            for table in tables.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
                if !store::is_valid_table_name(table) {
                    errors.add(
                        "allowed_tables",
                        format!("'{table}' is not a table name (like org_organisation)"),
                    );
                } else if !list.iter().any(|t| t == table) {
                    list.push(table.to_string());
                }
            }
            if list.is_empty() && tables.iter().all(|t| t.trim().is_empty()) {
                errors.add(
                    "allowed_tables",
                    "name at least one table, or allow all tables",
                );
            }
            Some(list.join(","))
        }
    };

    let tls_ca_pem = non_empty(form.tls_ca_pem.as_deref());
    if let Some(pem) = &tls_ca_pem
        && let Err(message) = check_ca_pem(pem)
    {
        errors.add("tls_ca_pem", message);
    }

    let mut account_ids = Vec::new();
    for email in form
        .accounts
        .iter()
        .map(|e| e.trim())
        .filter(|e| !e.is_empty())
    {
        let Ok(email) = accounts::normalize_email(email) else {
            errors.add("accounts", format!("'{email}' is not an e-mail address"));
            continue;
        };
        match model::users::find_by_email(conn, &email)? {
            None => errors.add("accounts", format!("no account {email}")),
            Some(user) if user.role() != Some(Role::Sync) => errors.add(
                "accounts",
                format!("{email} is not a sync account (its role is {})", user.role),
            ),
            Some(user) if !account_ids.contains(&user.id) => account_ids.push(user.id),
            Some(_) => {}
        }
    }

    errors.finish()?;
    Ok(Valid {
        config: RepositoryConfig {
            name,
            url,
            peer_uuid,
            username,
            password_enc,
            proxy_url,
            proxy_username,
            proxy_password_enc,
            enabled: form.enabled,
            accept_push: form.accept_push,
            allowed_tables,
            tls_ca_pem,
            tls_accept_invalid: form.tls_accept_invalid,
            folder_path,
            updated_at: now,
        },
        account_ids,
    })
}

/// A folder for a folder repository: an absolute path to a folder that
/// exists (a stick not plugged in is reported by the run, not here, when
/// the folder existed once), or one that can be created.
pub fn check_folder(folder: &str) -> Result<(), String> {
    let path = std::path::Path::new(folder);
    if !path.is_absolute() {
        return Err(format!(
            "'{folder}' is not an absolute path (like /media/usb/eden or /srv/edensync/exchange)"
        ));
    }
    if path.exists() && !path.is_dir() {
        return Err(format!("{folder} is a file, not a folder"));
    }
    Ok(())
}

/// The most CA certificates one repository may carry (a bundle, not a
/// whole trust store).
const MAX_CA_CERTIFICATES: usize = 16;

/// A CA bundle: PEM `CERTIFICATE` blocks only, each an X.509 certificate
/// that can serve as a trust anchor.
pub fn check_ca_pem(pem: &str) -> Result<(), String> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    // Anything else (a private key pasted by mistake) must not be stored
    // and shown back: the reader below would skip it silently.
    if let Some(other) = pem
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("-----BEGIN ") && *l != "-----BEGIN CERTIFICATE-----")
    {
        return Err(format!(
            "holds something other than certificates ({other}); paste only the CA certificate"
        ));
    }
    let mut count = 0;
    for (n, item) in CertificateDer::pem_slice_iter(pem.as_bytes()).enumerate() {
        let der = item.map_err(|e| format!("certificate {} is not valid PEM: {e}", n + 1))?;
        webpki::anchor_from_trusted_cert(&der).map_err(|e| {
            format!(
                "certificate {} is not an X.509 certificate that can be trusted ({e:?})",
                n + 1
            )
        })?;
        count += 1;
    }
    match count {
        0 => Err("holds no certificate: paste one or more \
                  -----BEGIN CERTIFICATE----- blocks"
            .into()),
        n if n > MAX_CA_CERTIFICATES => Err(format!(
            "holds {n} certificates; at most {MAX_CA_CERTIFICATES} (the peer's CA, not a whole \
             trust store)"
        )),
        _ => Ok(()),
    }
}

/// The encrypted password to store after a change.
fn new_secret(
    errors: &mut FieldErrors,
    field: &'static str,
    key: &SecretKey,
    change: &PasswordChange,
    stored: Option<String>,
) -> Option<String> {
    match change {
        PasswordChange::Keep => stored,
        PasswordChange::Clear => None,
        PasswordChange::Set(password) if password.is_empty() => {
            errors.add(field, "must not be empty (clear it instead)");
            stored
        }
        PasswordChange::Set(password) => Some(key.encrypt(password)),
    }
}

/// A new repository's settings for the audit log (never a password).
fn describe(repository: &Repository, accounts: &[String]) -> String {
    let mut parts = vec![format!(
        "url {}",
        repository.url.as_deref().unwrap_or("(none: passive only)")
    )];
    if let Some(username) = &repository.username {
        parts.push(format!("username {username}"));
    }
    if repository.password_enc.is_some() {
        parts.push("password set".into());
    }
    if let Some(proxy) = &repository.proxy_url {
        parts.push(format!("proxy {proxy}"));
    }
    parts.push(
        if repository.enabled {
            "enabled"
        } else {
            "disabled"
        }
        .into(),
    );
    if repository.accept_push {
        parts.push("accepts pushes".into());
    }
    if let Some(tables) = &repository.allowed_tables {
        parts.push(format!("tables {tables}"));
    }
    let accounts: Vec<&str> = accounts
        .iter()
        .map(|a| a.trim())
        .filter(|a| !a.is_empty())
        .collect();
    if !accounts.is_empty() {
        parts.push(format!("accounts {}", accounts.join(",")));
    }
    parts.join("; ")
}

/// The names of the settings an edit changes (passwords: whether they were
/// set or cleared, never their values).
fn changed_fields(
    before: &Repository,
    after: &RepositoryConfig,
    form: &RepositoryForm,
) -> Vec<&'static str> {
    let mut changed = Vec::new();
    let mut check = |field, differs: bool| {
        if differs {
            changed.push(field);
        }
    };
    check("name", before.name != after.name);
    check("url", before.url != after.url);
    check("folder", before.folder_path != after.folder_path);
    check("peer_uuid", before.peer_uuid != after.peer_uuid);
    check("username", before.username != after.username);
    check(
        "password",
        form.password != PasswordChange::Keep && before.password_enc != after.password_enc,
    );
    check("proxy_url", before.proxy_url != after.proxy_url);
    check(
        "proxy_username",
        before.proxy_username != after.proxy_username,
    );
    check(
        "proxy_password",
        form.proxy_password != PasswordChange::Keep
            && before.proxy_password_enc != after.proxy_password_enc,
    );
    check("enabled", before.enabled != after.enabled);
    check("accept_push", before.accept_push != after.accept_push);
    check(
        "allowed_tables",
        before.allowed_tables != after.allowed_tables,
    );
    check("tls_ca_pem", before.tls_ca_pem != after.tls_ca_pem);
    check(
        "tls_accept_invalid",
        before.tls_accept_invalid != after.tls_accept_invalid,
    );
    changed
}
