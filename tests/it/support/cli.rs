//! The edensync binary run against a data directory of its own, for the
//! tests of configuring a node from the command line.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::Permissions;
use std::process::Output;
use std::sync::OnceLock;

use edensync::app::Node;
use serde_json::Value;
use tempfile::TempDir;

use super::{Backend, edensync, settings_for};

/// A data directory and the edensync binary run against it.
pub struct Cli {
    dir: TempDir,
    env: HashMap<&'static str, String>,
}

impl Cli {
    /// A new node of its own (a copy of one the binary created).
    pub fn new() -> Cli {
        NEW.cli()
    }

    /// A node of its own with one repository, hub: a URL ([`HUB_URL`]) and
    /// nothing else, never registered at its (made-up) peer.
    pub fn with_hub() -> Cli {
        HUB.cli()
    }

    /// An empty data directory: the binary's first command creates the node.
    fn empty() -> Cli {
        let dir = tempfile::tempdir().unwrap();
        let env = [("EDENSYNC_DATA_DIR", dir.path().display().to_string())]
            .into_iter()
            .collect();
        Cli { dir, env }
    }

    /// The node's data directory.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// The environment the binary runs with.
    pub fn env(&self) -> &HashMap<&'static str, String> {
        &self.env
    }

    pub fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        edensync(args, &self.env, stdin)
    }

    /// Run a command that must succeed; its standard output.
    pub fn ok(&self, args: &[&str]) -> String {
        self.ok_with(args, None)
    }

    pub fn ok_with(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.run(args, stdin);
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Run a command that must fail with this exit status and print nothing
    /// on stdout; its standard error.
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        self.fails_with(args, None, code)
    }

    pub fn fails_with(&self, args: &[&str], stdin: Option<&str>, code: i32) -> String {
        let out = self.run(args, stdin);
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?} printed on stdout");
        stderr
    }

    /// Run a command that must succeed and print JSON.
    pub fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(args)).unwrap()
    }

    /// How many entries a `--json` listing has.
    pub fn count(&self, args: &[&str]) -> usize {
        self.json(args).as_array().unwrap().len()
    }

    /// The node, opened in this process, to look at the database directly.
    pub fn node(&self) -> Node {
        edensync::app::open(settings_for(self.dir.path(), Backend::Sqlite).unwrap()).unwrap()
    }

    pub fn add_account(&self, email: &str, role: &str) {
        self.ok_with(
            &["user", "add", email, "--role", role, "--password-stdin"],
            Some("an account password 1"),
        );
    }

    /// A repository with only a URL, not registered at the (made-up) peer.
    pub fn add_repository(&self, name: &str, url: &str) {
        self.ok(&["repository", "add", name, "--url", url, "--no-register"]);
    }

    /// The audit log as (action, target, detail), newest first.
    pub fn audit(&self) -> Vec<(String, String, String)> {
        let node = self.node();
        edensync::model::audit_log::list(&mut node.pool.get().unwrap(), None, 1000)
            .unwrap()
            .into_iter()
            .map(|e| {
                (
                    e.action,
                    e.target.unwrap_or_default(),
                    e.detail.unwrap_or_default(),
                )
            })
            .collect()
    }

    pub fn audit_actions(&self) -> Vec<String> {
        self.audit()
            .into_iter()
            .map(|(action, _, _)| action)
            .collect()
    }
}

/// A node prepared once per test run and copied for each test that starts
/// from it: the state `prepare` leaves, for the price of a file copy rather
/// than a first start (which creates and syncs the whole schema) and the
/// commands `prepare` runs. Every test gets a copy of its own.
pub struct Template {
    prepare: fn(&Cli),
    files: OnceLock<Vec<(OsString, Vec<u8>, Permissions)>>,
}

impl Template {
    pub const fn new(prepare: fn(&Cli)) -> Template {
        Template {
            prepare,
            files: OnceLock::new(),
        }
    }

    pub fn cli(&self) -> Cli {
        let files = self.files.get_or_init(|| {
            let cli = Cli::empty();
            cli.ok(&["config", "show"]);
            (self.prepare)(&cli);
            std::fs::read_dir(cli.dir.path())
                .unwrap()
                .map(|entry| {
                    let entry = entry.unwrap();
                    let meta = entry.metadata().unwrap();
                    assert!(meta.is_file(), "{:?} is not a file", entry.path());
                    let bytes = std::fs::read(entry.path()).unwrap();
                    (entry.file_name(), bytes, meta.permissions())
                })
                .collect()
        });
        let cli = Cli::empty();
        for (name, bytes, permissions) in files {
            let path = cli.dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            std::fs::set_permissions(&path, permissions.clone()).unwrap();
        }
        cli
    }
}

/// A node as a first start of the binary leaves it.
static NEW: Template = Template::new(|_| {});

/// The URL of the repository hub of [`Cli::with_hub`].
pub const HUB_URL: &str = "https://eden.example.org/eden";

static HUB: Template = Template::new(|cli| cli.add_repository("hub", HUB_URL));

/// Exactly one line, prefixed as every error of the command line is.
pub fn assert_one_line_error(stderr: &str) {
    assert!(stderr.starts_with("edensync: error: "), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
}
