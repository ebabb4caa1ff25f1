//! Real `edensync` processes for the end-to-end benchmarks: a node (its
//! data directory and commands), a server, peak RSS, generated documents.
//! Each benchmark uses what it needs of these.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_edensync");
pub const PEER: &str = "peer@example.org";
pub const PEER_PASSWORD: &str = "bench peer password";

/// The file in a node's directory naming its PostgreSQL database.
const DATABASE_URL_FILE: &str = "bench-database-url";

pub struct Node {
    pub dir: PathBuf,
}

impl Node {
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(BIN);
        command
            .args(args)
            .env("EDENSYNC_DATA_DIR", &self.dir)
            .env("EDENSYNC_LOG", "warn");
        // A node on PostgreSQL keeps its database's URL beside its data.
        match std::fs::read_to_string(self.dir.join(DATABASE_URL_FILE)) {
            Ok(url) => command.env("EDENSYNC_DATABASE_URL", url.trim()),
            Err(_) => command.env_remove("EDENSYNC_DATABASE_URL"),
        };
        command
    }

    /// Run a command to the end; its stdout. Panics with stderr on failure.
    pub fn run(&self, args: &[&str], stdin: Option<&str>) -> String {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
        }
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "edensync {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Run a command and follow its peak RSS while it runs.
    pub fn run_measured(&self, args: &[&str]) -> (Duration, u64, String) {
        let started = Instant::now();
        let mut child = self
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut peak = 0;
        loop {
            peak = peak.max(peak_rss_kib(child.id()));
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let elapsed = started.elapsed();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "edensync {args:?} failed");
        (
            elapsed,
            peak,
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }
}

/// A number from the environment, or the default.
pub fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A process's user + system CPU time so far, in seconds (from /proc).
pub fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let ticks = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    ticks as f64 / 100.0
}

/// VmHWM of a process in KiB (0 once it is gone).
pub fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

pub fn write_document(path: &Path, first: usize, n: usize) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    write!(
        out,
        "<?xml version='1.0' encoding='utf-8'?>\n<s3xml success=\"true\" results=\"{n}\">"
    )
    .unwrap();
    for i in first..first + n {
        out.write_all(crate::common::organisation(i).as_bytes())
            .unwrap();
    }
    out.write_all(b"</s3xml>").unwrap();
}

pub fn serve(node: &Node) -> (Child, String) {
    serve_args(node, &["serve", "--bind", "127.0.0.1:0", "--no-scheduler"])
}

/// `serve` with its scheduler running.
pub fn serve_with_scheduler(node: &Node) -> (Child, String) {
    serve_args(node, &["serve", "--bind", "127.0.0.1:0"])
}

fn serve_args(node: &Node, args: &[&str]) -> (Child, String) {
    let mut child = node
        .command(args)
        .env("EDENSYNC_ADMIN_EMAIL", "admin@example.org")
        .env("EDENSYNC_ADMIN_PASSWORD", "bench admin password")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = listening_url(&mut child);
    (child, url)
}

/// The URL a starting `serve` (its stdout piped) says it listens on.
pub fn listening_url(child: &mut Child) -> String {
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    loop {
        let line = lines.next().unwrap().unwrap();
        if let Some(url) = line.strip_prefix("edensync listening on ") {
            return url.to_string();
        }
    }
}

pub fn json_field(json: &str, key: &str) -> i64 {
    let value: serde_json::Value = serde_json::from_str(json).unwrap();
    value[key].as_i64().unwrap_or(0)
}

/// Two nodes in a new directory under `EDENSYNC_BENCH_DIR` (or the temp
/// dir): B holds organisations 0..n, A n others, and B has the sync account
/// A uses. The directory goes when the first value is dropped. With
/// `EDENSYNC_BENCH_DATABASE_URLS=<url of A>,<url of B>` (two empty
/// PostgreSQL databases) the nodes keep their records there.
pub fn two_nodes(n: usize) -> (tempfile::TempDir, Node, Node) {
    let base = std::env::var("EDENSYNC_BENCH_DIR")
        .unwrap_or_else(|_| std::env::temp_dir().display().to_string());
    let root = tempfile::tempdir_in(base).unwrap();
    let a = Node {
        dir: root.path().join("a"),
    };
    let b = Node {
        dir: root.path().join("b"),
    };
    if let Ok(urls) = std::env::var("EDENSYNC_BENCH_DATABASE_URLS") {
        let urls: Vec<&str> = urls.split(',').collect();
        assert_eq!(
            urls.len(),
            2,
            "EDENSYNC_BENCH_DATABASE_URLS: two URLs, A's and B's"
        );
        for (node, url) in [(&a, urls[0]), (&b, urls[1])] {
            std::fs::create_dir_all(&node.dir).unwrap();
            std::fs::write(node.dir.join(DATABASE_URL_FILE), url).unwrap();
        }
    }
    eprintln!("preparing {n} organisations on each node …");
    let doc_b = root.path().join("b.xml");
    let doc_a = root.path().join("a.xml");
    write_document(&doc_b, 0, n);
    write_document(&doc_a, 500_000_000, n);
    b.run(&["import", doc_b.to_str().unwrap()], None);
    a.run(&["import", doc_a.to_str().unwrap()], None);
    b.run(
        &["user", "add", PEER, "--role", "sync", "--password-stdin"],
        Some(PEER_PASSWORD),
    );
    (root, a, b)
}

/// A adds B (serving at `url`) as repository "B", registering there; B
/// accepts A's pushes.
pub fn connect(a: &Node, b: &Node, url: &str) {
    a.run(
        &[
            "repository",
            "add",
            "B",
            "--url",
            url,
            "--username",
            PEER,
            "--password-stdin",
        ],
        Some(PEER_PASSWORD),
    );
    let listed: serde_json::Value =
        serde_json::from_str(&b.run(&["repository", "list", "--json"], None)).unwrap();
    let a_name = listed[0]["name"].as_str().unwrap().to_string();
    b.run(&["repository", "edit", &a_name, "--accept-push"], None);
}
