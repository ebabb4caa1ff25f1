//! A hub receiving the same push again and again, as an Eden peer sends it
//! on every run (Eden never moves its push watermark): one real `edensync
//! serve`, an Eden-like peer registered and accepted, the same document of
//! N organisations with their offices posted as Eden posts it
//! (`application/x-www-form-urlencoded`) six times. Per push: the answer's
//! wall time and the server's CPU time (from /proc), and what the log said.
//!
//! `cargo bench --bench hub_repush` (N = 5 000; `EDENSYNC_BENCH_RECORDS`).

mod common;
#[path = "common/nodes.rs"]
mod nodes;

use std::time::Instant;

use nodes::{Node, PEER, PEER_PASSWORD, cpu_secs, serve};

const PEER_UUID: &str = "urn:uuid:00000000-0000-4000-8000-00000000eden";

fn main() {
    let n: usize = std::env::var("EDENSYNC_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000);
    let base = std::env::var("EDENSYNC_BENCH_DIR")
        .unwrap_or_else(|_| std::env::temp_dir().display().to_string());
    let root = tempfile::tempdir_in(base).unwrap();
    let hub = Node {
        dir: root.path().join("hub"),
    };
    hub.run(
        &["user", "add", PEER, "--role", "sync", "--password-stdin"],
        Some(PEER_PASSWORD),
    );
    let (mut server, url) = serve(&hub);
    let document = common::document(n);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = reqwest::Client::new();
    runtime.block_on(async {
        let registered = client
            .post(format!("{url}/sync/repository/register.json"))
            .basic_auth(PEER, Some(PEER_PASSWORD))
            .body(format!(r#"{{"uuid": "{PEER_UUID}", "name": "Eden"}}"#))
            .send()
            .await
            .unwrap();
        assert!(registered.status().is_success());
    });
    hub.run(&["repository", "edit", "Eden", "--accept-push"], None);
    // The log, read beside the server (SQLite lets readers in).
    let log_reader =
        edensync::app::open(edensync::config::Settings::for_data_dir(&hub.dir)).unwrap();
    println!(
        "{n} organisations with offices, {} bytes, posted {} times",
        document.len(),
        6
    );
    println!("| push | answer | server CPU | log |");
    println!("|---|---|---|---|");
    for round in 1..=6 {
        let before = cpu_secs(server.id());
        let started = Instant::now();
        let answer = runtime.block_on(async {
            client
                .post(format!(
                    "{url}/sync/sync.xml?resource=org_organisation&repository={PEER_UUID}"
                ))
                .basic_auth(PEER, Some(PEER_PASSWORD))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(document.clone())
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        });
        let took = started.elapsed();
        let cpu = cpu_secs(server.id()) - before;
        let mut conn = log_reader.pool.get().unwrap();
        let again = edensync::model::sync_log::recent(&mut conn, 1).unwrap()[0]
            .message
            .contains("not read again");
        println!(
            "| {round} | {} ms | {} ms | {} |",
            took.as_millis(),
            (cpu * 1000.0).round(),
            if again {
                "same as the last, not read again"
            } else if answer.contains("\"created\"") {
                "imported: created"
            } else {
                "imported: nothing changed"
            }
        );
    }
    server.kill().unwrap();
    let _ = server.wait();
}
