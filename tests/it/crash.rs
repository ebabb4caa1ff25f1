//! Crash safety with the real binary: `edensync sync` is killed with
//! SIGKILL in the middle of a pull and in the middle of a push of 50 000
//! records. At the moment of the kill no watermark is ahead of committed
//! data; the next run completes within seconds (the dead process's lease is
//! taken over); both stores end identical, nothing lost, nothing duplicated.

use std::collections::{BTreeMap, HashMap};

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use edensync::db::schema::{records, tasks};

use crate::support::peers::{doc, org};
use crate::support::{Backend, edensync, serve_binary, settings_for};

const RECORDS: usize = 50_000;
const PEER: &str = "node-a@example.org";
const PEER_PASSWORD: &str = "node a password 123";

fn env_for(dir: &Path) -> HashMap<&'static str, String> {
    [("EDENSYNC_DATA_DIR", dir.display().to_string())].into()
}

fn ok(env: &HashMap<&str, String>, args: &[&str], stdin: Option<&str>) -> String {
    let out = edensync(args, env, stdin);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Organisations `prefix-0..n`, imported as local changes with the CLI.
fn import_organisations(env: &HashMap<&str, String>, dir: &Path, prefix: &str) {
    let resources: Vec<String> = (0..RECORDS)
        .map(|n| {
            org(
                &format!("urn:uuid:{prefix}-{n}"),
                &format!("{prefix} organisation {n}"),
                "CR",
                "2026-11-20T10:00:00",
            )
        })
        .collect();
    let file = dir.join(format!("{prefix}.xml"));
    std::fs::write(&file, doc(&resources)).unwrap();
    ok(env, &["import", file.to_str().unwrap()], None);
    std::fs::remove_file(file).unwrap();
}

/// A store opened beside its running process, to look inside.
struct Store(edensync::db::Pool);

impl Store {
    fn open(dir: &Path) -> Store {
        let node = edensync::app::open(settings_for(dir, Backend::Sqlite).unwrap()).unwrap();
        Store(node.pool)
    }

    /// uuid → (seq, body) of every organisation.
    fn organisations(&self) -> BTreeMap<String, (i64, String)> {
        records::table
            .filter(records::table_name.eq("org_organisation"))
            .select((records::uuid, records::seq, records::body))
            .load::<(String, i64, String)>(&mut *self.0.get().unwrap())
            .unwrap()
            .into_iter()
            .map(|(uuid, seq, body)| (uuid, (seq, body)))
            .collect()
    }

    fn count(&self) -> usize {
        records::table
            .filter(records::table_name.eq("org_organisation"))
            .count()
            .get_result::<i64>(&mut *self.0.get().unwrap())
            .unwrap() as usize
    }

    /// (last_pull_seq, last_push_seq) of the only task.
    fn watermarks(&self) -> (Option<i64>, Option<i64>) {
        tasks::table
            .select((tasks::last_pull_seq, tasks::last_push_seq))
            .first(&mut *self.0.get().unwrap())
            .unwrap()
    }
}

/// `edensync sync B` until it runs: while the killed run's lease still
/// shows a recent heartbeat (a few seconds) the run is skipped (exit 4),
/// saying that the holder is gone and when its lease is taken over.
fn sync_after_crash(env: &HashMap<&str, String>) -> String {
    let started = Instant::now();
    loop {
        let out = edensync(&["sync", "B"], env, None);
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        match out.status.code() {
            Some(0) => return String::from_utf8(out.stdout).unwrap(),
            Some(4) if started.elapsed() < Duration::from_secs(30) => {
                assert!(
                    stderr.contains("was stopped without releasing the repository")
                        && stderr.contains("is gone")
                        && stderr.contains("taken over within 6 s"),
                    "the message says the holder is dead and when the lease is taken over: {stderr}"
                );
                std::thread::sleep(Duration::from_secs(1));
            }
            other => panic!("sync after the crash ended {other:?}: {stderr}"),
        }
    }
}

/// Start `edensync sync B` on A and SIGKILL it once `progress` says the
/// transfer is under way but not finished.
fn sync_killed_midway(env: &HashMap<&str, String>, progress: impl Fn() -> usize) -> usize {
    let mut child = Command::new(env!("CARGO_BIN_EXE_edensync"))
        .args(["sync", "B"])
        .env_clear()
        .envs(env)
        .env("EDENSYNC_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        let done = progress();
        if done > 0 && done < RECORDS {
            child.kill().unwrap(); // SIGKILL
            let _ = child.wait();
            return done;
        }
        if let Some(status) = child.try_wait().unwrap() {
            let mut said = String::new();
            let _ = std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut said);
            panic!(
                "the run ended ({status}) before it could be killed ({done} transferred): {said}"
            );
        }
        assert!(started.elapsed() < Duration::from_secs(300), "no progress");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn sigkill_during_pull_and_push_loses_and_duplicates_nothing() {
    let a_dir = tempfile::tempdir().unwrap();
    let b_dir = tempfile::tempdir().unwrap();
    let (a_env, b_env) = (env_for(a_dir.path()), env_for(b_dir.path()));

    // B: a peer account for A, pushes from new peers accepted, 50 000 records.
    ok(
        &b_env,
        &["user", "add", PEER, "--role", "sync", "--password-stdin"],
        Some(PEER_PASSWORD),
    );
    ok(
        &b_env,
        &["config", "set", "accept_push_from_new_peers", "true"],
        None,
    );
    import_organisations(&b_env, b_dir.path(), "from-b");
    let (mut b_server, b_url) = serve_binary(&b_env);

    // A: the repository B (registered on save) and one task both ways.
    ok(
        &a_env,
        &[
            "repository",
            "add",
            "B",
            "--url",
            &b_url,
            "--username",
            PEER,
            "--password-stdin",
        ],
        Some(PEER_PASSWORD),
    );
    ok(&a_env, &["task", "add", "B", "org_organisation"], None);
    let a = Store::open(a_dir.path());
    let b = Store::open(b_dir.path());

    // Killed during the pull: every record up to A's pull watermark is in A.
    let pulled = sync_killed_midway(&a_env, || a.count());
    let (pull_mark, _) = a.watermarks();
    let in_a = a.organisations();
    for (uuid, (seq, _)) in b.organisations() {
        if pull_mark.is_some_and(|mark| seq <= mark) {
            assert!(
                in_a.contains_key(&uuid),
                "{uuid} (seq {seq}) below the watermark is missing"
            );
        }
    }
    println!("pull killed after {pulled} records, watermark {pull_mark:?}");

    // The next run completes: the dead process's lease is taken over within
    // seconds, not after it expires.
    let summary = sync_after_crash(&a_env);
    assert_eq!(a.count(), RECORDS, "{summary}");

    // Killed during the push of A's own 50 000.
    import_organisations(&a_env, a_dir.path(), "from-a");
    let pushed = sync_killed_midway(&a_env, || b.count().saturating_sub(RECORDS));
    let (_, push_mark) = a.watermarks();
    let in_b = b.organisations();
    for (uuid, (seq, _)) in a.organisations() {
        if uuid.contains("from-a") && push_mark.is_some_and(|mark| seq <= mark) {
            assert!(
                in_b.contains_key(&uuid),
                "{uuid} (seq {seq}) below the push watermark is missing on B"
            );
        }
    }
    println!("push killed after {pushed} records, watermark {push_mark:?}");
    let summary = sync_after_crash(&a_env);

    // Both stores hold the same 100 000 records, once each, with the same bodies.
    let (in_a, in_b) = (a.organisations(), b.organisations());
    assert_eq!(in_a.len(), 2 * RECORDS, "{summary}");
    assert_eq!(in_b.len(), 2 * RECORDS, "{summary}");
    let bodies = |m: &BTreeMap<String, (i64, String)>| {
        m.iter()
            .map(|(uuid, (_, body))| (uuid.clone(), body.clone()))
            .collect::<Vec<_>>()
    };
    assert!(bodies(&in_a) == bodies(&in_b), "the stores differ");
    // The killed runs are recorded as failed, not left running.
    let runs = ok(&a_env, &["repository", "show", "B", "--json"], None);
    assert!(!runs.contains("\"running\""), "{runs}");

    b_server.kill().unwrap();
    let _ = b_server.wait();
}
