//! The command line: parse arguments, load settings, dispatch, and turn the
//! outcome into an exit status (0 success, 1 failure, 2 usage or
//! configuration error, 3 partial, 4 skipped; see `CliError::exit_code`).
//!
//! One file per command group, each clap sub-enum beside its handler; the
//! helpers they share are in `password.rs` and `output.rs`.

mod bundle;
mod config;
mod database;
mod documents;
mod job;
mod output;
mod password;
mod repository;
mod review;
mod secrets;
mod serve;
mod sync;
mod task;
mod user;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::accounts::AccountError;
use crate::app::{self, StartError};
use crate::config::{ConfigError, Settings};
use crate::db::DbError;
use crate::manage::ManageError;
use crate::secrets::SecretsError;
use crate::store::ImportOptions;
use crate::vocabulary::Policy;

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
    /// Run one repository now: progress on stderr, a summary on stdout.
    /// Exit 0: every task done; 1: the run failed (no task done), timed out
    /// or was stopped; 3: partial (some tasks done, others failed, or
    /// records were refused); 4: another run of the repository is in
    /// progress. Ctrl-C or SIGTERM stops after the current page.
    Sync {
        /// The repository's name or id.
        repository: String,
        /// Only this task's table.
        #[arg(long, value_name = "TABLE")]
        task: Option<String>,
        #[arg(long)]
        json: bool,
        /// Stop the run after this many seconds, as a job's timeout does
        /// (the page in flight is not kept).
        #[arg(long, value_name = "SECONDS", default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..))]
        timeout: u64,
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
    Secrets(secrets::SecretsCommand),
    /// Manage accounts: administrators (console) and sync accounts (peers).
    #[command(subcommand)]
    User(user::UserCommand),
    /// Show and change settings.
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// Manage repositories: the peers we sync with, or that call us.
    #[command(subcommand)]
    Repository(repository::RepositoryCommand),
    /// Manage a repository's tasks: the tables it syncs, in order.
    #[command(subcommand)]
    Task(task::TaskCommand),
    /// Manage jobs: when repositories are synced on their own.
    #[command(subcommand)]
    Job(job::JobCommand),
    /// The review queue: records refused here or by a peer, and conflicts.
    #[command(subcommand)]
    Review(review::ReviewCommand),
    /// Bundles: every task's changes for one peer in one file, for a USB
    /// stick when there is no link.
    #[command(subcommand)]
    Bundle(bundle::BundleCommand),
    /// Import an S3XML document (a file, or - for standard input) into the store.
    Import {
        file: String,
        /// THIS, OTHER, NEWER or MASTER.
        #[arg(long, default_value = Policy::Newer.as_str())]
        update_policy: String,
        /// THIS, OTHER, NEWER or MASTER.
        #[arg(long, default_value = Policy::Newer.as_str())]
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
    /// Some records were rejected or some tasks failed; the rest went through.
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
    /// The exit statuses the README documents under "Exit status".
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
    if !matches!(cli.command, Command::Serve { .. }) {
        stop_quietly_on_closed_pipe();
    }
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

/// `edensync export … | head`: a command whose reader went away ends
/// quietly, as Unix tools do, instead of failing on its next write. (The
/// server keeps Rust's default: its sockets report a closed peer as an
/// error, never as a signal.)
fn stop_quietly_on_closed_pipe() {
    // SAFETY: restores the default action of one signal, at start-up,
    // before any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Log lines on stderr: coloured only on a terminal (a file or the journal
/// gets plain text); the scheduler library's chatter only from warnings on,
/// unless the filter names it.
fn init_logging(filter_text: &str, json: bool) {
    use std::io::IsTerminal;
    let mut filter = tracing_subscriber::EnvFilter::try_new(filter_text)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    if !filter_text.contains("tokio_cron_scheduler")
        && let Ok(quiet) = "tokio_cron_scheduler=warn".parse()
    {
        filter = filter.add_directive(quiet);
    }
    let logger = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
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
            serve::run(settings, !no_scheduler)
        }
        Command::Sync {
            repository,
            task,
            json,
            timeout,
        } => sync::run(
            app::open(settings)?,
            &repository,
            task,
            json,
            Duration::from_secs(timeout),
        ),
        Command::Migrate => database::migrate(settings),
        Command::Backup { file } => database::backup(settings, &file),
        Command::Secrets(secrets::SecretsCommand::Adopt) => secrets::adopt(settings),
        Command::Secrets(command) => secrets::run(command, app::open(settings)?),
        Command::User(command) => user::run(command, app::open(settings)?),
        Command::Config(command) => config::run(command, app::open(settings)?),
        Command::Repository(command) => repository::run(command, app::open(settings)?),
        Command::Task(command) => task::run(command, app::open(settings)?),
        Command::Job(command) => job::run(command, app::open(settings)?),
        Command::Review(command) => review::run(command, app::open(settings)?),
        Command::Bundle(command) => bundle::run(command, settings),
        Command::Import {
            file,
            update_policy,
            conflict_policy,
            json,
        } => {
            // Bad policies are refused before the store is opened.
            let options = ImportOptions {
                update_policy: documents::parse_policy(&update_policy)?,
                conflict_policy: Some(documents::parse_policy(&conflict_policy)?),
                max_record_bytes: settings.max_record_bytes,
                ..ImportOptions::default()
            };
            documents::import(app::open(settings)?, &file, &options, json)
        }
        Command::Export {
            table,
            msince,
            since_seq,
            filter,
        } => {
            let request = documents::export_request(table, msince, since_seq, &filter)?;
            documents::export(app::open(settings)?, &request)
        }
    }
}

/// The async runtime for the commands that talk to peers or serve.
fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(format!("cannot start the async runtime: {e}")))
}
