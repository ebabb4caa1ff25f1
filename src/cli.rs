//! The command line: parse arguments, load settings, dispatch, and turn the
//! outcome into an exit status (0 success, 1 failure, 2 usage or
//! configuration error).

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use serde_json::json;

use crate::accounts::{self, AccountError};
use crate::app::{self, Node, StartError};
use crate::audit::Actor;
use crate::config::{ConfigError, Settings};
use crate::db::{self, DbError};
use crate::model;
use crate::model::users::Role;
use crate::s3xml::{self, Limits, Reader};
use crate::secrets::SecretsError;
use crate::store::policy::Policy;
use crate::store::{self, ExportRequest, ImportOptions};

#[derive(Parser)]
#[command(
    name = "edensync",
    version,
    about = "Synchronization server for Sahana Eden (S3XML sync)"
)]
struct Cli {
    /// TOML settings file (also EDENSYNC_CONFIG); environment variables override it.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the console and the sync API.
    Serve {
        /// Address to listen on (overrides EDENSYNC_BIND); port 0 picks a free port.
        #[arg(long, value_name = "ADDR")]
        bind: Option<String>,
    },
    /// Apply pending database migrations (safe to run again).
    Migrate,
    /// Manage accounts: administrators (console) and sync accounts (peers).
    #[command(subcommand)]
    User(UserCommand),
    /// Show settings.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Import an S3XML document (a file, or - for standard input) into the store.
    Import {
        file: String,
        /// THIS, OTHER, NEWER or MASTER.
        #[arg(long, default_value = "NEWER")]
        update_policy: String,
        /// THIS, OTHER, NEWER or MASTER.
        #[arg(long, default_value = "NEWER")]
        conflict_policy: String,
        #[arg(long)]
        json: bool,
    },
    /// Export a table as S3XML to standard output (the same selection as the sync API).
    Export {
        table: String,
        /// Records modified at or after this time (UTC, e.g. 2026-11-26T06:00:00).
        #[arg(long)]
        msince: Option<String>,
        /// Records with a seq above this one.
        #[arg(long)]
        since_seq: Option<i64>,
        /// A sync filter in Eden's URL syntax, e.g. '~.acronym__like=RO*' (repeatable).
        #[arg(long)]
        filter: Vec<String>,
    },
}

#[derive(Subcommand)]
enum UserCommand {
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

#[derive(Args)]
struct PasswordSource {
    /// Read the password from standard input (to end of file; one trailing newline is removed).
    #[arg(long)]
    password_stdin: bool,
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Show the effective settings, including the site uuid (secrets masked).
    Show {
        #[arg(long)]
        json: bool,
    },
}

/// A command's failure, with the exit status it maps to.
#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error(transparent)]
    Start(#[from] StartError),
    #[error("{0}")]
    Account(#[from] AccountError),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Failed(String),
    /// Some records were rejected; the rest were stored.
    #[error("{0}")]
    Partial(String),
}

impl From<ConfigError> for CliError {
    fn from(e: ConfigError) -> Self {
        CliError::Start(e.into())
    }
}

impl From<DbError> for CliError {
    fn from(e: DbError) -> Self {
        CliError::Start(e.into())
    }
}

impl From<diesel::result::Error> for CliError {
    fn from(e: diesel::result::Error) -> Self {
        CliError::Start(e.into())
    }
}

impl CliError {
    fn exit_code(&self) -> u8 {
        match self {
            CliError::Start(StartError::Config(_) | StartError::Secrets(SecretsError::Key(_)))
            | CliError::Usage(_) => 2,
            CliError::Account(AccountError::InvalidEmail(_) | AccountError::WeakPassword(_)) => 2,
            CliError::Partial(_) => 3,
            _ => 1,
        }
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = Settings::load(cli.config.as_deref())
        .map_err(CliError::from)
        .and_then(|settings| {
            init_logging(&settings.log);
            run(cli.command, settings)
        });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("edensync: error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

fn init_logging(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn run(command: Command, mut settings: Settings) -> Result<(), CliError> {
    match command {
        Command::Serve { bind } => {
            if let Some(bind) = bind {
                settings.set_bind(&bind)?;
            }
            serve(settings)
        }
        Command::Migrate => migrate(settings),
        Command::User(command) => user(command, app::open(settings)?),
        Command::Config(ConfigCommand::Show { json }) => config_show(app::open(settings)?, json),
        Command::Import {
            file,
            update_policy,
            conflict_policy,
            json,
        } => {
            let options = ImportOptions {
                update_policy: parse_policy(&update_policy)?,
                conflict_policy: Some(parse_policy(&conflict_policy)?),
                ..ImportOptions::default()
            };
            import_file(app::open(settings)?, &file, &options, json)
        }
        Command::Export {
            table,
            msince,
            since_seq,
            filter,
        } => {
            let request = export_request(table, msince, since_seq, &filter)?;
            export_table(app::open(settings)?, &request)
        }
    }
}

fn serve(settings: Settings) -> Result<(), CliError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async move {
        let node = tokio::task::spawn_blocking(move || app::open(settings))
            .await
            .map_err(|e| CliError::Failed(e.to_string()))??;
        let running = app::start(node)?;
        // One parseable line when ready; tools and tests wait for it.
        println!("edensync listening on {}", running.listen_url);
        if let Some(url) = &running.setup_url {
            println!("edensync setup: create the first administrator at {url}");
        }
        let _ = std::io::stdout().flush();
        running
            .server
            .await
            .map_err(|e| CliError::Failed(format!("server stopped: {e}")))
    })
}

fn migrate(settings: Settings) -> Result<(), CliError> {
    settings.prepare_data_dir()?;
    let pool = db::open_pool(&settings.database)?;
    let mut conn = pool.get().map_err(DbError::from)?;
    let applied = db::run_migrations(&mut conn)?;
    if applied.is_empty() {
        println!("database is up to date ({})", settings.database.display());
    } else {
        println!(
            "applied {} migration(s): {}",
            applied.len(),
            applied.join(", ")
        );
    }
    Ok(())
}

fn user(command: UserCommand, node: Node) -> Result<(), CliError> {
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

/// Read a new password: from stdin with `--password-stdin`, else by asking
/// twice on the terminal. Without a terminal and without the flag, fail
/// rather than wait for input that never comes.
fn read_password(source: &PasswordSource) -> Result<String, CliError> {
    if source.password_stdin {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| CliError::Usage(format!("cannot read the password from stdin: {e}")))?;
        let password = text
            .strip_suffix("\r\n")
            .or_else(|| text.strip_suffix('\n'))
            .unwrap_or(&text)
            .to_string();
        if password.is_empty() {
            return Err(CliError::Usage(
                "the password read from stdin is empty".into(),
            ));
        }
        return Ok(password);
    }
    if !std::io::stdin().is_terminal() {
        return Err(CliError::Usage(
            "no terminal to ask for the password: pass it on stdin with --password-stdin".into(),
        ));
    }
    let first = rpassword::prompt_password("New password: ")
        .map_err(|e| CliError::Failed(format!("cannot read the password: {e}")))?;
    let second = rpassword::prompt_password("Repeat it: ")
        .map_err(|e| CliError::Failed(format!("cannot read the password: {e}")))?;
    if first != second {
        return Err(CliError::Usage("the two passwords differ".into()));
    }
    Ok(first)
}

fn parse_policy(text: &str) -> Result<Policy, CliError> {
    Policy::parse(text).ok_or_else(|| {
        CliError::Usage(format!(
            "'{text}' is not a policy (THIS, OTHER, NEWER, MASTER)"
        ))
    })
}

/// Import a document: it is parsed completely first, so a document broken
/// at its end changes nothing; then imported in batches.
fn import_file(
    node: Node,
    file: &str,
    options: &ImportOptions,
    as_json: bool,
) -> Result<(), CliError> {
    let spool = if file == "-" {
        let mut spool = tempfile::NamedTempFile::new()
            .map_err(|e| CliError::Failed(format!("cannot create a temporary file: {e}")))?;
        std::io::copy(&mut std::io::stdin().lock(), &mut spool)
            .map_err(|e| CliError::Failed(format!("cannot read standard input: {e}")))?;
        Some(spool.into_temp_path())
    } else {
        None
    };
    let path: &std::path::Path = spool.as_deref().unwrap_or(std::path::Path::new(file));
    let open = || {
        std::fs::File::open(path).map_err(|e| CliError::Usage(format!("cannot open {file}: {e}")))
    };
    let read_error = |e: s3xml::ReadError| CliError::Failed(format!("{file}: {e}"));
    // A local document is the operator's own: no limit on its size.
    let limits = Limits {
        max_document_bytes: u64::MAX,
        ..Limits::default()
    };
    let mut check = Reader::new(open()?, limits).map_err(read_error)?;
    while check.next_record().map_err(read_error)?.is_some() {}
    let reader = Reader::new(open()?, limits).map_err(read_error)?;
    let mut conn = node.pool.get().map_err(DbError::from)?;
    let summary =
        store::import(&mut conn, reader, options).map_err(|e| CliError::Failed(e.to_string()))?;
    if as_json {
        println!(
            "{}",
            serde_json::to_string_pretty(&summary).unwrap_or_default()
        );
    } else {
        println!(
            "{} record(s): {} created, {} updated, {} deleted; {} written, {} unchanged, {} skipped, {} rejected",
            summary.records,
            summary.created.len(),
            summary.updated.len(),
            summary.deleted.len(),
            summary.written,
            summary.unchanged,
            summary.skipped,
            summary.rejected.len()
        );
        for rejection in &summary.rejected {
            println!(
                "rejected {} {}: {}",
                rejection.table,
                rejection.uuid.as_deref().unwrap_or("(no uuid)"),
                rejection.reason
            );
        }
    }
    if summary.rejected.is_empty() {
        Ok(())
    } else {
        Err(CliError::Partial(format!(
            "{} record(s) rejected",
            summary.rejected.len()
        )))
    }
}

fn export_request(
    table: String,
    msince: Option<String>,
    since_seq: Option<i64>,
    filters: &[String],
) -> Result<ExportRequest, CliError> {
    if !store::is_valid_table_name(&table) {
        return Err(CliError::Usage(format!(
            "'{table}' is not a table name (like org_organisation)"
        )));
    }
    let msince = msince
        .map(|m| {
            s3xml::time::parse(&m).ok_or_else(|| {
                CliError::Usage(format!(
                    "--msince '{m}' is not a date and time (2026-11-26T06:00:00)"
                ))
            })
        })
        .transpose()?;
    let filters = filters
        .iter()
        .map(|f| store::Filter::parse(f).map_err(|e| CliError::Usage(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ExportRequest {
        table,
        msince,
        since_seq,
        filters,
        components: true,
        ..ExportRequest::default()
    })
}

fn export_table(node: Node, request: &ExportRequest) -> Result<(), CliError> {
    let mut conn = node.pool.get().map_err(DbError::from)?;
    let out = std::io::BufWriter::new(std::io::stdout().lock());
    let (outcome, _) =
        store::export(&mut conn, request, out).map_err(|e| CliError::Failed(e.to_string()))?;
    if outcome.not_exportable > 0 {
        eprintln!(
            "edensync: {} record(s) of {} are held only as components (their link to the master is unknown) and were not exported",
            outcome.not_exportable, request.table
        );
    }
    Ok(())
}

fn config_show(node: Node, as_json: bool) -> Result<(), CliError> {
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
        "proxy_url": config.proxy_url,
        "proxy_username": config.proxy_username,
        "proxy_password": masked(&config.proxy_password_enc),
        "connect_timeout_secs": config.connect_timeout_secs,
        "request_timeout_secs": config.request_timeout_secs,
        "backoff_base_secs": config.backoff_base_secs,
        "backoff_cap_secs": config.backoff_cap_secs,
        "log_retention_days": config.log_retention_days,
        "accept_push_from_new_peers": config.accept_push_from_new_peers,
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
