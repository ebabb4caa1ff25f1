//! The command line on a shared machine and in pipelines: a readable key
//! file is pointed out, a closed pipe ends a command quietly.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

use crate::support::cli::Cli;
use crate::support::peers::{doc, org};

#[test]
fn a_key_file_others_can_read_is_pointed_out() {
    let cli = Cli::new();
    let key = cli.dir().join("secret.key");
    let quiet = cli.run(&["config", "show"], None);
    assert!(quiet.status.success());
    assert!(
        !String::from_utf8_lossy(&quiet.stderr).contains("can be read by other users"),
        "0600 is fine"
    );
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = cli.run(&["config", "show"], None);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("can be read by other users") && stderr.contains("chmod 600"),
        "{stderr}"
    );
}

#[test]
fn a_closed_pipe_ends_a_command_quietly() {
    let cli = Cli::new();
    let orgs: Vec<String> = (0..3000)
        .map(|i| {
            org(
                &format!("urn:uuid:pipe-{i}"),
                &format!("Organisation {i}"),
                &format!("P{i}"),
                "2026-11-20T10:00:00",
            )
        })
        .collect();
    let file = cli.dir().join("orgs.xml");
    std::fs::write(&file, doc(&orgs)).unwrap();
    cli.ok(&["import", file.to_str().unwrap()]);

    // `edensync export org_organisation | head -c 100`
    let mut export = Command::new(env!("CARGO_BIN_EXE_edensync"))
        .args(["export", "org_organisation"])
        .env_clear()
        .env("EDENSYNC_LOG", "warn")
        .envs(cli.env())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 100];
    std::io::Read::read_exact(export.stdout.as_mut().unwrap(), &mut first).unwrap();
    drop(export.stdout.take());
    let out = export.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.is_empty(),
        "nothing to say about a reader that left: {stderr}"
    );
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(out.status.signal(), Some(libc::SIGPIPE), "{:?}", out.status);
}

/// systemd and `kill` stop with SIGTERM: the run ends as cancelled, its
/// lease released, and the next run starts at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_a_sync_cleanly() {
    use crate::support::stand_in::{Reply, StandIn};
    let peer = StandIn::start(|_, index| {
        let answer = Reply::Recorded("02_pull_initial_response.http");
        if index == 0 {
            Reply::Slow(std::time::Duration::from_secs(60), Box::new(answer))
        } else {
            answer
        }
    })
    .await;
    let cli = Cli::new();
    cli.add_repository("slow", &format!("{}/edenb", peer.url));
    cli.ok(&["task", "add", "slow", "org_organisation", "--mode", "pull"]);

    let child = Command::new(env!("CARGO_BIN_EXE_edensync"))
        .args(["sync", "slow"])
        .env_clear()
        .env("EDENSYNC_LOG", "warn")
        .envs(cli.env())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if !peer.requests().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(peer.requests().len(), 1, "the pull is in flight");
    // SAFETY: sends a signal to the child this test started.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let started = std::time::Instant::now();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert!(started.elapsed().as_secs() < 10, "it stopped promptly");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("cancelled"),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let again = cli.run(&["sync", "slow"], None);
    assert!(
        again.status.success(),
        "the next run starts at once: {}",
        String::from_utf8_lossy(&again.stderr)
    );
}

/// `edensync sync` has a timeout, as scheduled runs do: a peer that never
/// answers does not hold the repository for ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_line_run_times_out() {
    use crate::support::stand_in::{Reply, StandIn};
    let peer = StandIn::start(|_, _| {
        Reply::Slow(
            std::time::Duration::from_secs(120),
            Box::new(Reply::Recorded("02_pull_initial_response.http")),
        )
    })
    .await;
    let cli = Cli::new();
    cli.add_repository("silent", &format!("{}/edenb", peer.url));
    cli.ok(&[
        "task",
        "add",
        "silent",
        "org_organisation",
        "--mode",
        "pull",
    ]);
    let started = std::time::Instant::now();
    let env = cli.env().clone();
    let out = tokio::task::spawn_blocking(move || {
        crate::support::edensync(&["sync", "silent", "--timeout", "2"], &env, None)
    })
    .await
    .unwrap();
    assert!(started.elapsed().as_secs() < 30, "{:?}", started.elapsed());
    assert!(!out.status.success());
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains("timeout") || said.contains("timed out"),
        "{said}"
    );
}
