//! Pulls from Eden over field links, end to end: a real `edensync` process
//! pulling a table from a scripted Eden (tests/it/support/eden_table.rs:
//! Eden's answers, windows and all) through the link simulator, running
//! `edensync sync` until every organisation is across. For each profile:
//! time, runs, requests, bytes on the wire against one document, and what
//! one whole-table document (Eden's own client) would need on that link.
//!
//! `cargo bench --bench eden_windows` (N = 5 000 organisations, profiles
//! clean, flaky, VSAT and 2G; `EDENSYNC_BENCH_RECORDS` and
//! `EDENSYNC_BENCH_PROFILES` change them).

mod common;
#[path = "../tests/it/support/eden_table.rs"]
#[allow(dead_code)]
mod eden_table;
#[path = "../tests/it/support/link.rs"]
mod link;
#[path = "common/nodes.rs"]
mod nodes;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use eden_table::EdenTable;
use link::{Link, Profile};
use nodes::Node;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const MAX_RUNS: usize = 20;

fn main() {
    let n: usize = std::env::var("EDENSYNC_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000);
    let wanted =
        std::env::var("EDENSYNC_BENCH_PROFILES").unwrap_or_else(|_| "clean,flaky,VSAT,2G".into());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let end = chrono::Utc::now().naive_utc() - chrono::Duration::minutes(10);
    let table = Arc::new(EdenTable::generated(n, end, 30));
    let document = table.answer("", "http://eden/edena").len() as u64;
    let (url, requests) = runtime.block_on(serve(table));
    println!("pulls from Eden, {n} organisations (offices nested), one document {document} bytes");
    println!(
        "| link | time | runs | requests | bytes on the wire | × one document | one document would need |"
    );
    println!("|---|---|---|---|---|---|---|");
    for profile in [
        Profile::clean(),
        Profile::flaky(),
        Profile::vsat(),
        Profile::two_g(),
    ]
    .into_iter()
    .filter(|p| wanted.split(',').any(|w| w.eq_ignore_ascii_case(p.name)))
    {
        let link = runtime.block_on(Link::start(&url, profile.clone()));
        let root = tempfile::tempdir().unwrap();
        let node = Node {
            dir: root.path().join("a"),
        };
        node.run(
            &[
                "repository",
                "add",
                "Eden",
                "--url",
                &format!("{}/edena", link.url),
                "--username",
                "admin@example.com",
                "--password-stdin",
                "--no-register",
            ],
            Some("testing"),
        );
        node.run(
            &[
                "task",
                "add",
                "Eden",
                "org_organisation",
                "--mode",
                "pull",
                "--components",
            ],
            None,
        );
        let asked_before = requests.load(Ordering::Relaxed);
        let started = Instant::now();
        let mut runs = 0;
        let mut held = 0;
        while held < n && runs < MAX_RUNS {
            runs += 1;
            let out = node
                .command(&["sync", "Eden", "--json"])
                .stderr(std::process::Stdio::null())
                .output()
                .unwrap();
            if !out.status.success() {
                eprintln!(
                    "{} run {runs}: {}",
                    profile.name,
                    String::from_utf8_lossy(&out.stdout)
                );
            }
            held = node
                .run(&["export", "org_organisation"], None)
                .matches("<resource name=\"org_organisation\"")
                .count();
        }
        let time = started.elapsed();
        let bytes = link.traffic.bytes();
        println!(
            "| {} | {} | {runs} | {} | {bytes} | {:.2} | {} |",
            profile.name,
            if held >= n {
                format!("{:.0} s", time.as_secs_f64())
            } else {
                format!(
                    "incomplete after {:.0} s ({held} of {n})",
                    time.as_secs_f64()
                )
            },
            requests.load(Ordering::Relaxed) - asked_before,
            bytes as f64 / document as f64,
            profile.one_document(document),
        );
    }
}

/// The scripted Eden on loopback: registration, and pulls answered from
/// `table`; counts the pull requests.
async fn serve(table: Arc<EdenTable>) -> (String, Arc<AtomicU64>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(AtomicU64::new(0));
    let counter = requests.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let (table, counter) = (table.clone(), counter.clone());
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                let target = head.split_whitespace().nth(1).unwrap_or("").to_string();
                let (content_type, body) = if target.contains("register.json") {
                    (
                        "application/json",
                        r#"{"status": "success", "statuscode": "200", "message": "Registration successful", "sender": "urn:uuid:bench-eden"}"#.to_string(),
                    )
                } else {
                    counter.fetch_add(1, Ordering::Relaxed);
                    let query = target.split_once('?').map_or("", |(_, q)| q);
                    ("text/xml", table.answer(query, "http://eden/edena"))
                };
                let reply = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(reply.as_bytes()).await;
                let _ = tokio::time::timeout(Duration::from_secs(5), stream.shutdown()).await;
            });
        }
    });
    (url, requests)
}
