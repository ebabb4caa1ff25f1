//! The command line: parse arguments, load settings, dispatch, and turn the
//! outcome into an exit status (0 success, 1 failure, 2 usage or
//! configuration error).

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use serde_json::json;

use crate::accounts::{self, AccountError};
use crate::app::{self, Node, StartError};
use crate::audit::Actor;
use crate::config::{ConfigError, Settings};
use crate::db::{self, DbConnection, DbError};
use crate::engine::{ProgressSink, RunRequest, RunStatus, Stop, Trigger};
use crate::manage::repositories::RepositoryForm;
use crate::manage::tasks::TaskForm;
use crate::manage::{self, ManageError, PasswordChange};
use crate::model;
use crate::model::jobs::Job;
use crate::model::repositories::Repository;
use crate::model::task_filters::TaskFilter;
use crate::model::tasks::Task;
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
        /// Serve the console and the sync API only: no scheduled runs here.
        #[arg(long)]
        no_scheduler: bool,
    },
    /// Run one repository now: progress on stderr, a summary on stdout
    /// (exit 3: some tasks failed or records were rejected; 4: another run
    /// of the repository is in progress). Ctrl-C stops after the current page.
    Sync {
        /// The repository's name or id.
        repository: String,
        /// Only this task's table.
        #[arg(long, value_name = "TABLE")]
        task: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Apply pending database migrations (safe to run again).
    Migrate,
    /// Write a consistent copy of the SQLite store to FILE, also while
    /// edensync runs (restore: stop edensync, put the copy in place of
    /// edensync.db, keep secret.key with it).
    Backup {
        /// Where the copy goes (must not exist yet).
        file: PathBuf,
    },
    /// The secret key that encrypts stored peer and proxy passwords.
    #[command(subcommand)]
    Secrets(SecretsCommand),
    /// Manage accounts: administrators (console) and sync accounts (peers).
    #[command(subcommand)]
    User(UserCommand),
    /// Show and change settings.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Manage repositories: the peers we sync with, or that call us.
    #[command(subcommand)]
    Repository(RepositoryCommand),
    /// Manage a repository's tasks: the tables it syncs, in order.
    #[command(subcommand)]
    Task(TaskCommand),
    /// Manage jobs: when repositories are synced on their own.
    #[command(subcommand)]
    Job(JobCommand),
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
enum SecretsCommand {
    /// Re-encrypt every stored password under a new secret key and replace
    /// the key (stop edensync first; it holds the old key in memory).
    Rotate,
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Show the effective settings, including the site uuid (secrets masked).
    Show {
        #[arg(long)]
        json: bool,
    },
    /// Change a setting held in the database (site_name, proxy_url,
    /// proxy_username, proxy_password, timeouts, backoff, log retention,
    /// accept_push_from_new_peers, clock_skew_warn_secs, metrics_token).
    Set {
        key: String,
        /// The new value; for proxy_password and metrics_token, - reads it
        /// from standard input; an empty value clears it.
        #[arg(allow_hyphen_values = true)]
        value: String,
    },
}

#[derive(Subcommand)]
enum RepositoryCommand {
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
struct RepositorySettings {
    /// The peer's address, http:// or https:// (e.g. https://eden.example.org/eden);
    /// without one the repository is passive only: a peer that calls us ('' removes it).
    #[arg(long)]
    url: Option<String>,
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

#[derive(Subcommand)]
enum TaskCommand {
    /// Add a task: a table to sync with the repository, run after the
    /// repository's other tasks (a second task for the same table is refused).
    Add {
        /// The repository's name or id.
        repository: String,
        /// The table, e.g. org_organisation.
        table: String,
        /// pull, push, both or none.
        #[arg(long, default_value = "both")]
        mode: String,
        /// The import methods allowed: any of create,update,delete,merge.
        #[arg(long, default_value = "create,update,delete,merge")]
        strategy: String,
        /// THIS, OTHER, NEWER or MASTER.
        #[arg(long, default_value = "NEWER")]
        update_policy: String,
        /// THIS, OTHER, NEWER or MASTER.
        #[arg(long, default_value = "NEWER")]
        conflict_policy: String,
        /// Sync components with their master records.
        #[arg(long)]
        components: bool,
        /// A filter, TABLE:EXPR or EXPR for the task's table, e.g.
        /// '~.acronym__like=RO*' or 'org_office:~.name__like=A*' (repeatable).
        #[arg(long = "filter", value_name = "TABLE:EXPR", allow_hyphen_values = true)]
        filters: Vec<String>,
    },
    /// List a repository's tasks in the order they run.
    List {
        /// The repository's name or id.
        repository: String,
        #[arg(long)]
        json: bool,
    },
    /// Remove a task.
    Remove {
        /// The repository's name or id.
        repository: String,
        table: String,
    },
    /// Forget a task's watermarks: the next run pulls and/or pushes
    /// everything again (neither flag: both).
    Reset {
        /// The repository's name or id.
        repository: String,
        table: String,
        #[arg(long)]
        pull: bool,
        #[arg(long)]
        push: bool,
    },
}

#[derive(Subcommand)]
enum JobCommand {
    /// Add a schedule for a repository's runs.
    #[command(group(clap::ArgGroup::new("schedule").required(true).args(["every", "cron"])))]
    Add {
        /// The repository's name or id.
        repository: String,
        /// Run every so many seconds.
        #[arg(long, value_name = "SECONDS")]
        every: Option<i64>,
        /// Run on a cron schedule: 'SEC MIN HOUR DOM MON DOW' in UTC, e.g. '0 */10 * * * *'.
        #[arg(long, value_name = "EXPR")]
        cron: Option<String>,
        /// No run before this time (ISO, UTC), e.g. 2026-12-01T06:00:00.
        #[arg(long, value_name = "ISO")]
        start: Option<String>,
        /// No run after this time (ISO, UTC).
        #[arg(long, value_name = "ISO")]
        stop: Option<String>,
        /// How many runs in all (0: unlimited).
        #[arg(long, default_value_t = 0)]
        repeats: i64,
        /// How long one run may take, in seconds.
        #[arg(long, value_name = "SECONDS", default_value_t = manage::jobs::DEFAULT_TIMEOUT_SECS)]
        timeout: i64,
        /// Add the job without running it.
        #[arg(long)]
        disabled: bool,
    },
    /// List all jobs.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove a job.
    Remove { id: i64 },
}

/// A command's failure, with the exit status it maps to.
#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error(transparent)]
    Start(#[from] StartError),
    #[error("{0}")]
    Account(#[from] AccountError),
    #[error("{0}")]
    Manage(#[from] ManageError),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Failed(String),
    /// Some records were rejected; the rest were stored.
    #[error("{0}")]
    Partial(String),
    /// Another run of the repository holds its lease.
    #[error("{0}")]
    Skipped(String),
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
            CliError::Manage(ManageError::Invalid(_)) => 2,
            CliError::Partial(_) => 3,
            CliError::Skipped(_) => 4,
            _ => 1,
        }
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = Settings::load(cli.config.as_deref())
        .map_err(CliError::from)
        .and_then(|settings| {
            init_logging(&settings.log, settings.log_json);
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

fn init_logging(filter: &str, json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logger = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        logger.json().with_current_span(true).try_init()
    } else {
        logger.try_init()
    };
}

fn run(command: Command, mut settings: Settings) -> Result<(), CliError> {
    match command {
        Command::Serve { bind, no_scheduler } => {
            if let Some(bind) = bind {
                settings.set_bind(&bind)?;
            }
            serve(settings, !no_scheduler)
        }
        Command::Sync {
            repository,
            task,
            json,
        } => sync_now(app::open(settings)?, &repository, task, json),
        Command::Migrate => migrate(settings),
        Command::Backup { file } => backup(settings, &file),
        Command::Secrets(SecretsCommand::Rotate) => rotate_secrets(app::open(settings)?),
        Command::User(command) => user(command, app::open(settings)?),
        Command::Config(ConfigCommand::Show { json }) => config_show(app::open(settings)?, json),
        Command::Config(ConfigCommand::Set { key, value }) => {
            config_set(app::open(settings)?, &key, &value)
        }
        Command::Repository(command) => repository(command, app::open(settings)?),
        Command::Task(command) => task(command, app::open(settings)?),
        Command::Job(command) => job(command, app::open(settings)?),
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

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(format!("cannot start the async runtime: {e}")))
}

fn serve(settings: Settings, with_scheduler: bool) -> Result<(), CliError> {
    runtime()?.block_on(async move {
        let node = tokio::task::spawn_blocking(move || app::open(settings))
            .await
            .map_err(|e| CliError::Failed(e.to_string()))??;
        let _serving = app::lock_data_dir(&node.settings)?;
        let running = app::start(node)?;
        let engine = running.engine.clone();
        let scheduler = if with_scheduler {
            Some(
                crate::scheduler::Scheduler::start(engine.clone())
                    .await
                    .map_err(|e| CliError::Failed(e.to_string()))?,
            )
        } else {
            None
        };
        // One parseable line when ready; tools and tests wait for it. A
        // reader that has gone away (`serve | head -1`) must not stop the
        // server: println! would panic on the closed pipe.
        let mut out = std::io::stdout();
        let _ = writeln!(out, "edensync listening on {}", running.listen_url);
        if let Some(url) = &running.setup_url {
            let _ = writeln!(
                out,
                "edensync setup: create the first administrator at {url}"
            );
        }
        let _ = out.flush();
        // The server returns on SIGTERM or Ctrl-C; then runs in progress
        // finish their current page and release their leases.
        let served = running
            .server
            .await
            .map_err(|e| CliError::Failed(format!("server stopped: {e}")));
        if let Some(scheduler) = scheduler {
            scheduler.shutdown().await;
        }
        engine.shutdown().await;
        served
    })
}

/// `sync REPOSITORY`: one run now, as the scheduler would run it.
fn sync_now(
    node: Node,
    repository: &str,
    task: Option<String>,
    as_json: bool,
) -> Result<(), CliError> {
    let found = {
        let mut conn = node.pool.get().map_err(DbError::from)?;
        manage::repositories::find(&mut conn, repository)?
    };
    let engine = app::engine(&node, None);
    let report = runtime()?.block_on(async move {
        let stop = Stop::never();
        let token = stop.token.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("edensync: stopping after the current page …");
                token.cancel();
            }
        });
        let progress: ProgressSink = Arc::new(|line: &str| eprintln!("edensync: {line}"));
        engine
            .run(RunRequest {
                repository_id: found.id,
                trigger: Trigger::Cli,
                job_id: None,
                only_table: task,
                stop,
                progress: Some(progress),
            })
            .await
    });
    let report = report.map_err(|e| CliError::Failed(e.to_string()))?;
    let c = &report.counts;
    if as_json {
        let tasks: Vec<_> = report
            .tasks
            .iter()
            .map(|t| {
                let side = |r: &Option<Result<u64, String>>| match r {
                    None => json!(null),
                    Some(Ok(n)) => json!({"records": n}),
                    Some(Err(e)) => json!({"error": e}),
                };
                json!({"table": t.table, "pull": side(&t.pulled), "push": side(&t.pushed)})
            })
            .collect();
        print_json(&json!({
            "repository": found.name,
            "run_id": report.run_id,
            "status": report.status.as_str(),
            "pulled_created": c.pulled_created,
            "pulled_updated": c.pulled_updated,
            "pulled_deleted": c.pulled_deleted,
            "pulled_skipped": c.pulled_skipped,
            "pulled_rejected": c.pulled_rejected,
            "pushed_created": c.pushed_created,
            "pushed_updated": c.pushed_updated,
            "pushed_deleted": c.pushed_deleted,
            "pushed_rejected": c.pushed_rejected,
            "bytes_in": c.bytes_in,
            "bytes_out": c.bytes_out,
            "error": report.error,
            "tasks": tasks,
        }));
    } else {
        println!(
            "run {} of {}: {}",
            report.run_id,
            found.name,
            report.status.as_str()
        );
        println!(
            "pulled: {} created, {} updated, {} deleted, {} skipped, {} rejected ({} bytes)",
            c.pulled_created,
            c.pulled_updated,
            c.pulled_deleted,
            c.pulled_skipped,
            c.pulled_rejected,
            c.bytes_in
        );
        println!(
            "pushed: {} created, {} updated, {} deleted, {} rejected ({} bytes)",
            c.pushed_created, c.pushed_updated, c.pushed_deleted, c.pushed_rejected, c.bytes_out
        );
        if let Some(error) = &report.error {
            println!("error: {error}");
        }
    }
    let what = format!("run {} {}", report.run_id, report.status.as_str());
    match report.status {
        RunStatus::Succeeded => Ok(()),
        RunStatus::Partial => Err(CliError::Partial(what)),
        RunStatus::Skipped => Err(CliError::Skipped(format!(
            "{what}: another run of {} is in progress",
            found.name
        ))),
        RunStatus::Failed | RunStatus::TimedOut | RunStatus::Cancelled => {
            Err(CliError::Failed(format!(
                "{what}: {}",
                report.error.as_deref().unwrap_or("see the log")
            )))
        }
    }
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

fn backup(settings: Settings, target: &std::path::Path) -> Result<(), CliError> {
    let crate::config::DatabaseUrl::Sqlite(source) = &settings.database else {
        return Err(CliError::Usage(
            "edensync backup copies SQLite stores; back up PostgreSQL with pg_dump \
             (pg_dump -Fc DATABASE > edensync.dump; restore with pg_restore)"
                .into(),
        ));
    };
    if !source.exists() {
        return Err(CliError::Failed(format!(
            "there is no store at {} to back up",
            source.display()
        )));
    }
    if target.exists() {
        return Err(CliError::Usage(format!(
            "{} exists; choose a new file (a backup never overwrites)",
            target.display()
        )));
    }
    // The copy holds everything the store does: private from the start
    // (VACUUM INTO fills an empty file), and never over an existing one.
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(target)
        .map_err(|e| CliError::Usage(format!("cannot create {}: {e}", target.display())))?;
    let pool = db::open_pool(&settings.database)?;
    let mut conn = pool.get().map_err(DbError::from)?;
    if let Err(e) = db::backup_sqlite(&mut conn, target) {
        let _ = std::fs::remove_file(target);
        return Err(e.into());
    }
    let size = std::fs::metadata(target).map(|m| m.len()).unwrap_or(0);
    println!(
        "backed up {} to {} ({size} bytes)",
        source.display(),
        target.display()
    );
    println!(
        "keep {} with it: without the key the stored peer passwords cannot be read",
        settings.secret_key_path().display()
    );
    Ok(())
}

/// Runs that sent a heartbeat in the last three minutes: a server is
/// working with the key in memory.
fn live_runs(conn: &mut crate::db::DbConnection) -> Result<usize, CliError> {
    let recent = model::now() - chrono::Duration::minutes(3);
    let runs = model::runs::in_progress(conn).map_err(DbError::from)?;
    Ok(runs
        .iter()
        .filter(|r| r.heartbeat_at.unwrap_or(r.started_at) > recent)
        .count())
}

fn rotate_secrets(node: Node) -> Result<(), CliError> {
    if app::serve_is_running(&node.settings) {
        return Err(CliError::Usage(
            "edensync serve is running on this data directory: stop it first (it holds the old \
             key in memory), then rotate"
                .into(),
        ));
    }
    let mut conn = node.pool.get().map_err(DbError::from)?;
    let live = live_runs(&mut conn)?;
    if live > 0 {
        return Err(CliError::Usage(format!(
            "{live} run(s) in progress: stop edensync first (it holds the old key in memory), \
             then rotate"
        )));
    }
    let rotation = crate::secrets::rotate(&node.settings.key_location(), &mut conn, &node.key)
        .map_err(|e| CliError::Failed(e.to_string()))?;
    println!(
        "re-encrypted {} stored password(s) under a new key",
        rotation.reencrypted
    );
    if rotation.from_environment {
        println!(
            "the key comes from EDENSYNC_SECRET_KEY: set it to the new key in {} before the next \
             start, then delete that file",
            rotation.key_file.display()
        );
    } else {
        println!("the new key is in {}", rotation.key_file.display());
    }
    Ok(())
}

fn config_set(node: Node, key: &str, value: &str) -> Result<(), CliError> {
    // Like --password-stdin: the password stays out of the process list and
    // the shell history.
    let secret = matches!(key.trim(), "proxy_password" | "metrics_token");
    let value = if secret && value == "-" {
        read_password(&PasswordSource {
            password_stdin: true,
        })?
    } else {
        value.to_string()
    };
    let mut conn = node.pool.get().map_err(DbError::from)?;
    let shown = manage::settings::set(&mut conn, &Actor::cli(), &node.key, key, &value)?;
    println!("{} = {shown}", key.trim());
    Ok(())
}

fn print_json(value: &serde_json::Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

fn time_text(time: Option<chrono::NaiveDateTime>) -> String {
    time.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| "-".into())
}

fn repository(command: RepositoryCommand, node: Node) -> Result<(), CliError> {
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
            let passive = if added.url.is_none() {
                " (passive only: the peer calls us)"
            } else {
                ""
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

fn task_json(t: &Task, filters: &[TaskFilter]) -> serde_json::Value {
    json!({
        "id": t.id,
        "position": t.position,
        "table": t.resource_name,
        "mode": t.mode,
        "strategy": t.strategy,
        "update_policy": t.update_policy,
        "conflict_policy": t.conflict_policy,
        "components": t.components,
        "filters": filters
            .iter()
            .map(|f| json!({"table": f.table_name, "filter": f.filter_string}))
            .collect::<Vec<_>>(),
        "last_pull": t.last_pull,
        "last_pull_seq": t.last_pull_seq,
        "last_push": t.last_push,
        "last_push_seq": t.last_push_seq,
    })
}

fn print_tasks(tasks: &[(Task, Vec<TaskFilter>)]) {
    println!(
        "{:<4} {:<28} {:<5} {:<27} {:<15} {:<19} {:<19} FILTERS",
        "POS", "TABLE", "MODE", "STRATEGY", "UPDATE/CONFLICT", "LAST PULL", "LAST PUSH"
    );
    for (t, filters) in tasks {
        let filters: Vec<String> = filters
            .iter()
            .map(|f| format!("{}:{}", f.table_name, f.filter_string))
            .collect();
        println!(
            "{:<4} {:<28} {:<5} {:<27} {:<15} {:<19} {:<19} {}",
            t.position,
            t.resource_name,
            t.mode,
            t.strategy,
            format!("{}/{}", t.update_policy, t.conflict_policy),
            time_text(t.last_pull),
            time_text(t.last_push),
            if filters.is_empty() {
                "-".to_string()
            } else {
                filters.join(" ")
            }
        );
    }
}

fn task(command: TaskCommand, node: Node) -> Result<(), CliError> {
    let mut conn = node.pool.get().map_err(DbError::from)?;
    let conn = &mut *conn;
    let actor = Actor::cli();
    match command {
        TaskCommand::Add {
            repository,
            table,
            mode,
            strategy,
            update_policy,
            conflict_policy,
            components,
            filters,
        } => {
            let r = manage::repositories::find(conn, &repository)?;
            let form = TaskForm {
                table,
                mode,
                strategy,
                update_policy,
                conflict_policy,
                components,
                filters,
            };
            let added = manage::tasks::add(conn, &actor, &r, &form)?;
            println!(
                "added task {} to {} (position {})",
                added.resource_name, r.name, added.position
            );
        }
        TaskCommand::List { repository, json } => {
            let r = manage::repositories::find(conn, &repository)?;
            let tasks = manage::tasks::list(conn, &r)?;
            if json {
                print_json(&tasks.iter().map(|(t, f)| task_json(t, f)).collect());
            } else {
                print_tasks(&tasks);
            }
        }
        TaskCommand::Remove { repository, table } => {
            let r = manage::repositories::find(conn, &repository)?;
            let removed = manage::tasks::remove(conn, &actor, &r, &table)?;
            println!("removed task {} from {}", removed.resource_name, r.name);
        }
        TaskCommand::Reset {
            repository,
            table,
            pull,
            push,
        } => {
            let r = manage::repositories::find(conn, &repository)?;
            let reset = manage::tasks::reset(conn, &actor, &r, &table, pull, push)?;
            let what = match (pull, push) {
                (true, false) => "pulls everything again",
                (false, true) => "pushes everything again",
                _ => "pulls and pushes everything again",
            };
            println!(
                "reset task {} of {}: the next run {what}",
                reset.resource_name, r.name
            );
        }
    }
    Ok(())
}

fn job_json(j: &Job, repository: &str) -> serde_json::Value {
    json!({
        "id": j.id,
        "repository": repository,
        "repository_id": j.repository_id,
        "enabled": j.enabled,
        "cron": j.cron,
        "every_seconds": j.every_seconds,
        "start_at": j.start_at,
        "stop_at": j.stop_at,
        "repeats": j.repeats,
        "times_run": j.times_run,
        "timeout_secs": j.timeout_secs,
        "next_run_at": j.next_run_at,
        "last_run_at": j.last_run_at,
        "last_status": j.last_status,
    })
}

fn print_jobs(jobs: &[Job], repository_name: impl Fn(&Job) -> String) {
    println!(
        "{:<4} {:<24} {:<8} {:<28} {:<19} {:<19} LAST STATUS",
        "ID", "REPOSITORY", "STATUS", "SCHEDULE (UTC)", "NEXT RUN", "LAST RUN"
    );
    for j in jobs {
        let schedule = match (&j.cron, j.every_seconds) {
            (Some(cron), _) => cron.clone(),
            (None, Some(seconds)) => format!("every {seconds} s"),
            (None, None) => "-".into(),
        };
        println!(
            "{:<4} {:<24} {:<8} {:<28} {:<19} {:<19} {}",
            j.id,
            repository_name(j),
            if j.enabled { "enabled" } else { "disabled" },
            schedule,
            time_text(j.next_run_at),
            time_text(j.last_run_at),
            j.last_status.as_deref().unwrap_or("-")
        );
    }
}

fn job(command: JobCommand, node: Node) -> Result<(), CliError> {
    let mut conn = node.pool.get().map_err(DbError::from)?;
    let conn = &mut *conn;
    let actor = Actor::cli();
    match command {
        JobCommand::Add {
            repository,
            every,
            cron,
            start,
            stop,
            repeats,
            timeout,
            disabled,
        } => {
            let r = manage::repositories::find(conn, &repository)?;
            let form = manage::jobs::JobForm {
                every_seconds: every,
                cron,
                start,
                stop,
                repeats,
                timeout_secs: timeout,
                enabled: !disabled,
            };
            let added = manage::jobs::add(conn, &actor, &r, &form)?;
            println!(
                "added job {} for {}: {}; next run {} UTC",
                added.id,
                r.name,
                manage::jobs::describe(&added),
                time_text(added.next_run_at)
            );
        }
        JobCommand::List { json } => {
            let jobs = manage::jobs::list(conn)?;
            let names = repository_names(conn)?;
            let name_of = |j: &Job| {
                names
                    .iter()
                    .find(|(id, _)| *id == j.repository_id)
                    .map(|(_, name)| name.clone())
                    .unwrap_or_default()
            };
            if json {
                print_json(&jobs.iter().map(|j| job_json(j, &name_of(j))).collect());
            } else {
                print_jobs(&jobs, name_of);
            }
        }
        JobCommand::Remove { id } => {
            let removed = manage::jobs::remove(conn, &actor, id)?;
            println!("removed job {}", removed.id);
        }
    }
    Ok(())
}

fn repository_names(conn: &mut DbConnection) -> Result<Vec<(i64, String)>, CliError> {
    Ok(manage::repositories::list(conn)?
        .into_iter()
        .map(|r| (r.id, r.name))
        .collect())
}
