//! Start-up settings: an optional TOML file, overridden by `EDENSYNC_*`
//! environment variables, then by command-line flags. Everything an operator
//! can change at run time (site name, proxy, timeouts) lives in the database
//! instead (`sync_config`), editable in the console.

pub use crate::db::{DatabaseUrl, mask_url_password};
use std::collections::HashMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use url::Url;

/// A setting that cannot be used; the message names the setting.
#[derive(Debug, thiserror::Error)]
#[error("{setting}: {message}")]
pub struct ConfigError {
    pub setting: String,
    pub message: String,
}

impl ConfigError {
    pub fn new(setting: &str, message: impl Into<String>) -> Self {
        ConfigError {
            setting: setting.to_string(),
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub database: DatabaseUrl,
    pub bind: SocketAddr,
    /// The address people and peers use to reach us, if it differs from `bind`
    /// (behind a reverse proxy). Decides the `Secure` cookie flag.
    pub public_url: Option<Url>,
    /// The secret key itself, when given by environment rather than a file.
    pub secret_key: Option<String>,
    pub log: String,
    /// Log lines for people (`human`, the default) or for log collectors
    /// (`json`, one object per line).
    pub log_json: bool,
    pub admin_email: Option<String>,
    pub admin_password: Option<String>,
    /// The largest push body accepted from a peer, in bytes (413 beyond).
    pub max_push_bytes: u64,
    /// The largest record kept, in bytes of its fields and attributes (its
    /// components count apart): larger ones are refused and kept for review.
    pub max_record_bytes: u64,
    /// Open connections at most (`None`: as many as the descriptor limit
    /// allows).
    pub max_connections: Option<usize>,
    /// Scheduled runs this process makes at once; the others wait their
    /// turn, first come first served.
    pub max_runs_at_once: usize,
    /// Reverse proxies whose `X-Forwarded-For` names the real client (for
    /// the login throttles, sessions and the audit log). Empty: the socket's
    /// address is the client, whatever the headers say.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

/// The TOML file; every key is optional and unknown keys are an error, so a
/// typo does not silently fall back to a default.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    data_dir: Option<String>,
    database_url: Option<String>,
    bind: Option<String>,
    public_url: Option<String>,
    secret_key: Option<String>,
    log: Option<String>,
    log_format: Option<String>,
    max_push_bytes: Option<u64>,
    max_record_bytes: Option<u64>,
    max_connections: Option<u64>,
    max_runs_at_once: Option<u64>,
    trusted_proxies: Option<String>,
}

/// `127.0.0.1, 10.0.0.0/8, ::1`: addresses or networks, comma-separated.
fn parse_trusted_proxies(text: &str) -> Result<Vec<ipnet::IpNet>, ConfigError> {
    text.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|item| {
            item.parse::<ipnet::IpNet>()
                .or_else(|_| item.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    ConfigError::new(
                        "trusted_proxies (EDENSYNC_TRUSTED_PROXIES)",
                        format!("'{item}' is not an IP address or network (like 127.0.0.1 or 10.0.0.0/8)"),
                    )
                })
        })
        .collect()
}

pub const DEFAULT_DATA_DIR: &str = "./data";
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
pub const DEFAULT_LOG: &str = "info";
pub const DEFAULT_MAX_PUSH_BYTES: u64 = 512 << 20;
/// Runs at once: on two cores, a few runs wait on peers while others
/// import.
pub const DEFAULT_MAX_RUNS_AT_ONCE: usize = 4;
pub use crate::store::DEFAULT_MAX_RECORD_BYTES;

impl Settings {
    /// Load from the process environment and the optional file named by
    /// `--config` or `EDENSYNC_CONFIG`.
    pub fn load(config_file: Option<&Path>) -> Result<Settings, ConfigError> {
        let env: HashMap<String, String> = std::env::vars()
            .filter(|(k, _)| k.starts_with("EDENSYNC_"))
            .collect();
        Settings::from_sources(config_file, &env)
    }

    /// Load from an explicit environment map (tests use this).
    pub fn from_sources(
        config_file: Option<&Path>,
        env: &HashMap<String, String>,
    ) -> Result<Settings, ConfigError> {
        let file_path = config_file
            .map(Path::to_path_buf)
            .or_else(|| env.get("EDENSYNC_CONFIG").map(PathBuf::from));
        let file = match &file_path {
            Some(path) => read_file(path)?,
            None => FileSettings::default(),
        };
        let pick = |var: &str, from_file: Option<String>| -> Option<String> {
            env.get(var)
                .filter(|v| !v.is_empty())
                .cloned()
                .or(from_file)
        };

        let data_dir = PathBuf::from(
            pick("EDENSYNC_DATA_DIR", file.data_dir).unwrap_or_else(|| DEFAULT_DATA_DIR.into()),
        );
        let database_url = pick("EDENSYNC_DATABASE_URL", file.database_url)
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("edensync.db").display()));
        let database = DatabaseUrl::parse(&database_url)
            .map_err(|m| ConfigError::new("database_url (EDENSYNC_DATABASE_URL)", m))?;
        let bind_text = pick("EDENSYNC_BIND", file.bind).unwrap_or_else(|| DEFAULT_BIND.into());
        let bind = parse_bind(&bind_text)?;
        let public_url = pick("EDENSYNC_PUBLIC_URL", file.public_url)
            .map(|u| parse_public_url(&u))
            .transpose()?;
        let secret_key = pick("EDENSYNC_SECRET_KEY", file.secret_key);
        if let Some(key) = &secret_key {
            crate::secrets::SecretKey::from_text(key)
                .map_err(|m| ConfigError::new("secret_key (EDENSYNC_SECRET_KEY)", m))?;
        }
        let log = pick("EDENSYNC_LOG", file.log).unwrap_or_else(|| DEFAULT_LOG.into());
        tracing_subscriber::EnvFilter::try_new(&log).map_err(|e| {
            ConfigError::new(
                "log (EDENSYNC_LOG)",
                format!("'{log}' is not a log filter ({e})"),
            )
        })?;

        let log_format =
            pick("EDENSYNC_LOG_FORMAT", file.log_format).unwrap_or_else(|| "human".into());
        let log_json = match log_format.trim() {
            "human" | "" => false,
            "json" => true,
            other => {
                return Err(ConfigError::new(
                    "log_format (EDENSYNC_LOG_FORMAT)",
                    format!("'{other}' is not a log format (human or json)"),
                ));
            }
        };

        let number =
            |key: &str, what: &str, from_file: Option<u64>, default: u64, unit: &str| match env
                .get(key)
                .filter(|v| !v.is_empty())
            {
                Some(text) => text.trim().parse().map_err(|_| {
                    ConfigError::new(
                        &format!("{what} ({key})"),
                        format!("'{text}' is not a number of {unit}"),
                    )
                }),
                None => Ok(from_file.unwrap_or(default)),
            };
        let max_push_bytes = number(
            "EDENSYNC_MAX_PUSH_BYTES",
            "max_push_bytes",
            file.max_push_bytes,
            DEFAULT_MAX_PUSH_BYTES,
            "bytes",
        )?;
        let max_record_bytes = number(
            "EDENSYNC_MAX_RECORD_BYTES",
            "max_record_bytes",
            file.max_record_bytes,
            DEFAULT_MAX_RECORD_BYTES,
            "bytes",
        )?;
        // 0, or nothing: as many as the descriptor limit allows.
        let max_connections = match number(
            "EDENSYNC_MAX_CONNECTIONS",
            "max_connections",
            file.max_connections,
            0,
            "connections",
        )? {
            0 => None,
            n => Some(usize::try_from(n).unwrap_or(usize::MAX)),
        };
        let max_runs_at_once = match number(
            "EDENSYNC_MAX_RUNS_AT_ONCE",
            "max_runs_at_once",
            file.max_runs_at_once,
            DEFAULT_MAX_RUNS_AT_ONCE as u64,
            "runs",
        )? {
            0 => {
                return Err(ConfigError::new(
                    "max_runs_at_once (EDENSYNC_MAX_RUNS_AT_ONCE)",
                    "must be at least 1",
                ));
            }
            n => usize::try_from(n).unwrap_or(usize::MAX),
        };
        let trusted_proxies = pick("EDENSYNC_TRUSTED_PROXIES", file.trusted_proxies)
            .map(|text| parse_trusted_proxies(&text))
            .transpose()?
            .unwrap_or_default();
        let admin_email = env.get("EDENSYNC_ADMIN_EMAIL").cloned();
        let admin_password = env.get("EDENSYNC_ADMIN_PASSWORD").cloned();
        if admin_email.is_some() != admin_password.is_some() {
            return Err(ConfigError::new(
                "EDENSYNC_ADMIN_EMAIL / EDENSYNC_ADMIN_PASSWORD",
                "set both to bootstrap an administrator, or neither",
            ));
        }

        Ok(Settings {
            data_dir,
            database,
            bind,
            public_url,
            secret_key,
            log,
            log_json,
            admin_email,
            admin_password,
            max_push_bytes,
            max_record_bytes,
            max_connections,
            max_runs_at_once,
            trusted_proxies,
        })
    }

    /// Defaults for a data directory, as tests and tools need them.
    pub fn for_data_dir(data_dir: &Path) -> Settings {
        Settings {
            data_dir: data_dir.to_path_buf(),
            database: DatabaseUrl::Sqlite(data_dir.join("edensync.db")),
            bind: DEFAULT_BIND.parse().expect("default bind address parses"),
            public_url: None,
            secret_key: None,
            log: DEFAULT_LOG.into(),
            log_json: false,
            admin_email: None,
            admin_password: None,
            max_push_bytes: DEFAULT_MAX_PUSH_BYTES,
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
            max_connections: None,
            max_runs_at_once: DEFAULT_MAX_RUNS_AT_ONCE,
            trusted_proxies: Vec::new(),
        }
    }

    pub fn set_bind(&mut self, text: &str) -> Result<(), ConfigError> {
        self.bind = parse_bind(text)?;
        Ok(())
    }

    /// Where the node's secret key lives, for `secrets`.
    pub fn key_location(&self) -> crate::secrets::KeyLocation {
        crate::secrets::KeyLocation {
            secret_key: self.secret_key.clone(),
            key_file: self.secret_key_path(),
            pending_file: self.data_dir.join("secret.key.new"),
        }
    }

    pub fn secret_key_path(&self) -> PathBuf {
        self.data_dir.join("secret.key")
    }

    /// Cookies get the `Secure` flag when people reach us over https.
    pub fn secure_cookies(&self) -> bool {
        self.public_url
            .as_ref()
            .is_some_and(|u| u.scheme() == "https")
    }

    /// Create the data directory if needed and make sure we can write in it.
    pub fn prepare_data_dir(&self) -> Result<(), ConfigError> {
        let setting = "data_dir (EDENSYNC_DATA_DIR)";
        let dir = &self.data_dir;
        // The directory holds the secret key and password hashes: when we
        // create it, only our own user may enter it.
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir).map_err(|e| {
            ConfigError::new(setting, format!("cannot create {}: {e}", dir.display()))
        })?;
        let probe = dir.join(".edensync-write-test");
        std::fs::write(&probe, b"")
            .and_then(|_| std::fs::remove_file(&probe))
            .map_err(|e| {
                ConfigError::new(setting, format!("{} is not writable: {e}", dir.display()))
            })
    }
}

fn read_file(path: &Path) -> Result<FileSettings, ConfigError> {
    let setting = "config file (--config / EDENSYNC_CONFIG)";
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new(setting, format!("cannot read {}: {e}", path.display())))?;
    toml::from_str(&text).map_err(|e| {
        // toml's message spans several lines; keep the start-up error on one.
        let message = e.message().to_string();
        ConfigError::new(setting, format!("{}: {message}", path.display()))
    })
}

fn parse_bind(text: &str) -> Result<SocketAddr, ConfigError> {
    let setting = "bind (EDENSYNC_BIND)";
    let invalid = || {
        ConfigError::new(
            setting,
            format!("'{text}' is not an address like 127.0.0.1:8080 (port 0 picks a free port)"),
        )
    };
    if let Ok(addr) = text.parse() {
        return Ok(addr);
    }
    // Allow host names such as localhost:8080.
    text.to_socket_addrs()
        .map_err(|_| invalid())?
        .next()
        .ok_or_else(invalid)
}

fn parse_public_url(text: &str) -> Result<Url, ConfigError> {
    let setting = "public_url (EDENSYNC_PUBLIC_URL)";
    let url = Url::parse(text).map_err(|e| {
        ConfigError::new(
            setting,
            format!("'{text}' is not a URL ({e}); example: https://sync.example.org"),
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(ConfigError::new(
            setting,
            format!("'{text}' must be an http:// or https:// URL with a host"),
        ));
    }
    Ok(url)
}
