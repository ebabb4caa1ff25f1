//! Compressed bodies against the real binary: a few kilobytes that inflate
//! to gigabytes must not grow the server. Compressed bodies are refused
//! where none are expected, and pushes inflate them only as the import
//! reads them, under the size limit.

use std::io::Write;

use crate::support::cli::Cli;
use crate::support::serve_binary;

/// gzip of `size` zero bytes: about a thousandth of the size.
fn bomb(size: usize) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let block = vec![0u8; 1 << 20];
    for _ in 0..size / block.len() {
        encoder.write_all(&block).unwrap();
    }
    encoder.finish().unwrap()
}

/// The most memory the process ever held, in MiB.
fn peak_rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib / 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compressed_bombs_do_not_grow_the_server() {
    let cli = Cli::new();
    cli.ok_with(
        &[
            "user",
            "add",
            "field@example.org",
            "--role",
            "sync",
            "--password-stdin",
        ],
        Some("field password 123\n"),
    );
    cli.ok(&[
        "repository",
        "add",
        "field",
        "--peer-uuid",
        "urn:uuid:field",
        "--account",
        "field@example.org",
        "--accept-push",
    ]);
    let mut env = cli.env().clone();
    env.insert("EDENSYNC_MAX_PUSH_BYTES", (16 << 20).to_string());
    let (mut server, url) = serve_binary(&env);
    let pid = server.id();
    let http = reqwest::Client::new();
    assert!(
        http.get(format!("{url}/healthz"))
            .send()
            .await
            .unwrap()
            .status()
            .is_success()
    );
    // The peer's password is verified once (argon2 takes 19 MiB while it
    // runs) and remembered: the bombs below measure bodies, not logins.
    let pull = http
        .get(format!(
            "{url}/sync/sync.xml?resource=org_organisation&repository=urn:uuid:field"
        ))
        .basic_auth("field@example.org", Some("field password 123"))
        .send()
        .await
        .unwrap();
    assert_eq!(pull.status(), 200);
    let before = peak_rss_mib(pid);

    // 256 MiB of zeros each, about 256 KB on the wire.
    let bomb = bomb(256 << 20);
    let login = (0..32).map(|_| {
        http.post(format!("{url}/login"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Content-Encoding", "gzip")
            .body(bomb.clone())
            .send()
    });
    let push = (0..8).map(|_| {
        http.post(format!(
            "{url}/sync/sync.xml?resource=org_organisation&repository=urn:uuid:field"
        ))
        .basic_auth("field@example.org", Some("field password 123"))
        .header("Content-Encoding", "gzip")
        .body(bomb.clone())
        .send()
    });
    let (logins, pushes) = tokio::join!(
        futures_util::future::join_all(login),
        futures_util::future::join_all(push)
    );
    for response in logins {
        assert_eq!(response.unwrap().status(), 415, "no compressed forms");
    }
    for response in pushes {
        let response = response.unwrap();
        let status = response.status().as_u16();
        let answer: serde_json::Value = response.json().await.unwrap();
        assert!(matches!(status, 400 | 413), "{status} {answer}");
        assert_eq!(answer["status"], "failed");
    }
    let peak = peak_rss_mib(pid);
    eprintln!("peak RSS {before} MiB before, {peak} MiB after 32 login and 8 push bombs");
    assert!(
        peak < before + 100,
        "peak RSS {peak} MiB after the bombs, {before} MiB before"
    );
    assert!(
        http.get(format!("{url}/healthz"))
            .send()
            .await
            .unwrap()
            .status()
            .is_success()
    );
    server.kill().unwrap();
    let _ = server.wait();
}
