//! A private PostgreSQL server for the tests, started once per test run from
//! the installed binaries (initdb + pg_ctl, on a loopback port, as the
//! `postgres` user when running as root) and stopped when the tests end.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};

pub struct Cluster {
    port: u16,
}

static CLUSTER: OnceLock<Option<Cluster>> = OnceLock::new();
static NEXT_DB: AtomicUsize = AtomicUsize::new(0);

/// A URL of a new, empty database on the test cluster; `None` (after a loud
/// message) when no PostgreSQL binaries are installed. With
/// `EDENSYNC_TEST_REQUIRE_ALL=1` (as in CI) a missing PostgreSQL fails.
pub fn fresh_database_url() -> Option<String> {
    let cluster = CLUSTER.get_or_init(start_cluster).as_ref()?;
    let name = format!(
        "edensync_test_{}_{}",
        std::process::id(),
        NEXT_DB.fetch_add(1, Ordering::SeqCst)
    );
    let admin_url = format!("postgres://postgres@127.0.0.1:{}/postgres", cluster.port);
    let mut conn = PgConnection::establish(&admin_url).expect("connect to the test cluster");
    conn.batch_execute(&format!("CREATE DATABASE {name}"))
        .expect("create a test database");
    Some(format!(
        "postgres://postgres@127.0.0.1:{}/{name}",
        cluster.port
    ))
}

fn find_bin_dir() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("EDENSYNC_TEST_PG_BIN") {
        return Some(PathBuf::from(dir));
    }
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("initdb").exists())
        .collect();
    dirs.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    dirs.pop()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// A command that runs as the `postgres` user when we are root (PostgreSQL
/// refuses to run as root).
fn pg_command(bin: &Path, args: &[&str]) -> Command {
    if is_root() {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(bin).args(args);
        cmd
    } else {
        let mut cmd = Command::new(bin);
        cmd.args(args);
        cmd
    }
}

fn start_cluster() -> Option<Cluster> {
    let Some(bin) = find_bin_dir() else {
        super::skip_or_fail(
            "PostgreSQL binaries (initdb, pg_ctl) not found: PostgreSQL tests skipped",
        );
        return None;
    };
    let dir = tempfile::Builder::new()
        .prefix("edensync-pg-")
        .tempdir()
        .expect("temp dir for PostgreSQL")
        .keep();
    if is_root() {
        let status = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&dir)
            .status()
            .expect("chown");
        assert!(status.success(), "chown of the PostgreSQL dir failed");
    }
    let data = dir.join("data");
    let data_text = data.to_str().expect("utf-8 path");
    let dir_text = dir.to_str().expect("utf-8 path");
    let out = pg_command(
        &bin.join("initdb"),
        &[
            "-D",
            data_text,
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        ],
    )
    .output()
    .expect("run initdb");
    assert!(
        out.status.success(),
        "initdb failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let options = format!(
        "-p {port} -h 127.0.0.1 -k {dir_text} -c fsync=off -c synchronous_commit=off \
         -c full_page_writes=off -c max_connections=200"
    );
    let log = dir.join("postgres.log");
    let out = pg_command(
        &bin.join("pg_ctl"),
        &[
            "-D",
            data_text,
            "-o",
            &options,
            "-l",
            log.to_str().expect("utf-8"),
            "-w",
            "start",
        ],
    )
    .output()
    .expect("run pg_ctl start");
    assert!(
        out.status.success(),
        "pg_ctl start failed: {} {}",
        String::from_utf8_lossy(&out.stdout),
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    spawn_watchdog(&bin, data_text, dir_text);
    Some(Cluster { port })
}

/// Stop the server and remove its files once this test process has exited.
/// The watchdog outlives us on purpose, so it is never waited for.
#[allow(clippy::zombie_processes)]
fn spawn_watchdog(bin: &Path, data: &str, dir: &str) {
    let runas = if is_root() {
        "runuser -u postgres -- "
    } else {
        ""
    };
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
         {runas}{pg_ctl} -D {data} stop -m immediate >/dev/null 2>&1; rm -rf {dir}",
        pid = std::process::id(),
        pg_ctl = bin.join("pg_ctl").display(),
    );
    Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the PostgreSQL watchdog");
}
