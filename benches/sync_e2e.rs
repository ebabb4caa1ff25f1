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
#[path = "common/nodes.rs"]
mod nodes;

use std::time::Duration;

use nodes::{connect, json_field, peak_rss_kib, serve, two_nodes};

fn main() {
    let n: usize = std::env::var("EDENSYNC_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let (_root, a, b) = two_nodes(n);
    let plain = b.run(&["export", "org_organisation"], None).len();
    let (mut server, url) = serve(&b);
    let b_idle = peak_rss_kib(server.id());
    connect(&a, &b, &url);
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
        "pull B→A: {:.1} s, {:.0} organisations/s, {} bytes gzip on the wire ({} bytes plain), A peak RSS {} MiB",
        pull_time.as_secs_f64(),
        rate(pulled, pull_time),
        json_field(&pull_json, "bytes_in"),
        plain,
        pull_rss / 1024
    );
    println!(
        "push A→B: {:.1} s, {:.0} organisations/s, {} bytes gzip on the wire, A peak RSS {} MiB",
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
