//! End-to-end two-node benchmark: two real `edensync` processes on
//! loopback, B serving, A running `edensync sync`. Measures a pull of N
//! organisations (each with a nested office and a reference) from B into A
//! and a push of N others from A to B: records per second, bytes on the
//! wire (gzip between edensync nodes, and the plain document Eden would
//! get), and the peak RSS of each process.
//!
//! `cargo bench --bench sync_e2e` (N = 100 000; `EDENSYNC_BENCH_RECORDS`
//! changes it, `EDENSYNC_BENCH_DIR` puts the data directories elsewhere).

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_edensync");
const PEER: &str = "peer@example.org";
const PEER_PASSWORD: &str = "bench peer password";

struct Node {
    dir: PathBuf,
}

impl Node {
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(BIN);
        command
            .args(args)
            .env("EDENSYNC_DATA_DIR", &self.dir)
            .env("EDENSYNC_LOG", "warn")
            .env_remove("EDENSYNC_DATABASE_URL");
        command
    }

    /// Run a command to the end; its stdout. Panics with stderr on failure.
    fn run(&self, args: &[&str], stdin: Option<&str>) -> String {
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
    fn run_measured(&self, args: &[&str]) -> (Duration, u64, String) {
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

/// VmHWM of a process in KiB (0 once it is gone).
fn peak_rss_kib(pid: u32) -> u64 {
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

fn write_document(path: &Path, first: usize, n: usize) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    write!(
        out,
        "<?xml version='1.0' encoding='utf-8'?>\n<s3xml success=\"true\" results=\"{n}\">"
    )
    .unwrap();
    for i in first..first + n {
        out.write_all(common::organisation(i).as_bytes()).unwrap();
    }
    out.write_all(b"</s3xml>").unwrap();
}

fn serve(node: &Node) -> (Child, String) {
    let mut child = node
        .command(&["serve", "--bind", "127.0.0.1:0", "--no-scheduler"])
        .env("EDENSYNC_ADMIN_EMAIL", "admin@example.org")
        .env("EDENSYNC_ADMIN_PASSWORD", "bench admin password")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().unwrap().unwrap();
        if let Some(url) = line.strip_prefix("edensync listening on ") {
            break url.to_string();
        }
    };
    (child, url)
}

fn json_field(json: &str, key: &str) -> i64 {
    let value: serde_json::Value = serde_json::from_str(json).unwrap();
    value[key].as_i64().unwrap_or(0)
}

fn main() {
    let n: usize = std::env::var("EDENSYNC_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let base = std::env::var("EDENSYNC_BENCH_DIR")
        .unwrap_or_else(|_| std::env::temp_dir().display().to_string());
    let root = tempfile::tempdir_in(base).unwrap();
    let a = Node {
        dir: root.path().join("a"),
    };
    let b = Node {
        dir: root.path().join("b"),
    };

    eprintln!("preparing {n} organisations on each node …");
    let doc_b = root.path().join("b.xml");
    let doc_a = root.path().join("a.xml");
    write_document(&doc_b, 0, n);
    write_document(&doc_a, 500_000_000, n);
    b.run(&["import", doc_b.to_str().unwrap()], None);
    a.run(&["import", doc_a.to_str().unwrap()], None);
    let plain = b.run(&["export", "org_organisation"], None).len();

    b.run(
        &["user", "add", PEER, "--role", "sync", "--password-stdin"],
        Some(PEER_PASSWORD),
    );
    let (mut server, url) = serve(&b);
    let b_idle = peak_rss_kib(server.id());
    a.run(
        &[
            "repository",
            "add",
            "B",
            "--url",
            &url,
            "--username",
            PEER,
            "--password-stdin",
        ],
        Some(PEER_PASSWORD),
    );
    let registered = b.run(&["repository", "list", "--json"], None);
    let listed: serde_json::Value = serde_json::from_str(&registered).unwrap();
    let a_name = listed[0]["name"].as_str().unwrap().to_string();
    b.run(&["repository", "edit", &a_name, "--accept-push"], None);
    a.run(
        &[
            "task",
            "add",
            "B",
            "org_organisation",
            "--mode",
            "pull",
            "--components",
        ],
        None,
    );

    let (pull_time, pull_rss, pull_json) = a.run_measured(&["sync", "B", "--json"]);
    let b_after_pull = peak_rss_kib(server.id());
    a.run(&["task", "remove", "B", "org_organisation"], None);
    a.run(
        &[
            "task",
            "add",
            "B",
            "org_organisation",
            "--mode",
            "push",
            "--components",
        ],
        None,
    );
    let (push_time, push_rss, push_json) = a.run_measured(&["sync", "B", "--json"]);
    let b_after_push = peak_rss_kib(server.id());
    server.kill().unwrap();
    let _ = server.wait();

    let pulled = json_field(&pull_json, "pulled_created");
    let pushed = json_field(&push_json, "pushed_created");
    assert_eq!(pulled as usize, n, "{pull_json}");
    assert_eq!(pushed as usize, n, "{push_json}");
    let rate = |count: i64, time: Duration| count as f64 / time.as_secs_f64();
    println!(
        "two-node sync, {n} organisations (each with a nested office and a reference), loopback"
    );
    println!(
        "pull B→A: {:.1} s, {:.0} records/s, {} bytes gzip on the wire ({} bytes plain), A peak RSS {} MiB",
        pull_time.as_secs_f64(),
        rate(pulled, pull_time),
        json_field(&pull_json, "bytes_in"),
        plain,
        pull_rss / 1024
    );
    println!(
        "push A→B: {:.1} s, {:.0} records/s, {} bytes gzip on the wire, A peak RSS {} MiB",
        push_time.as_secs_f64(),
        rate(pushed, push_time),
        json_field(&push_json, "bytes_out"),
        push_rss / 1024
    );
    println!(
        "B (serving) peak RSS: idle {} MiB, after the pull {} MiB, after the push {} MiB",
        b_idle / 1024,
        b_after_pull / 1024,
        b_after_push / 1024
    );
}
