//! Field links, end to end: two real `edensync` processes with the link
//! simulator between them (tests/it/support/link.rs: bandwidth, latency,
//! cuts), B serving, A running `edensync sync` until the table is across.
//! For each profile: a pull of N organisations (each with a nested office)
//! from B into A, then a push of N others from A to B; time, runs, bytes
//! on the wire against the clean link's, and what one whole-table document
//! would need on that link.
//!
//! `cargo bench --bench field_links` (N = 20 000, profiles clean, flaky,
//! VSAT and 2G; `EDENSYNC_BENCH_RECORDS` and `EDENSYNC_BENCH_PROFILES`,
//! such as `clean,flaky`, change them).

mod common;
#[path = "../tests/it/support/link.rs"]
mod link;
#[path = "common/nodes.rs"]
mod nodes;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use link::{Link, Profile};
use nodes::{Node, connect, json_field, serve, two_nodes};

/// Runs of `edensync sync` before a direction counts as never completing.
const MAX_RUNS: usize = 20;

/// One direction through one link.
struct Transfer {
    time: Duration,
    runs: usize,
    bytes: u64,
    records: usize,
}

fn main() {
    let n: usize = std::env::var("EDENSYNC_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let wanted =
        std::env::var("EDENSYNC_BENCH_PROFILES").unwrap_or_else(|_| "clean,flaky,VSAT,2G".into());
    let profiles: Vec<Profile> = [
        Profile::clean(),
        Profile::flaky(),
        Profile::vsat(),
        Profile::two_g(),
    ]
    .into_iter()
    .filter(|p| wanted.split(',').any(|w| w.eq_ignore_ascii_case(p.name)))
    .collect();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    println!("field links, {n} organisations (each with a nested office) each way");
    println!(
        "| link | direction | time | runs | bytes on the wire | × clean | one document would need |"
    );
    println!("|---|---|---|---|---|---|---|");
    let mut clean: Option<(u64, u64)> = None;
    for profile in profiles {
        let (pull, push, document) = measure(&runtime, &profile, n);
        if profile.name == "clean" {
            clean = Some((pull.bytes, push.bytes));
        }
        for (direction, transfer, clean_bytes) in [
            ("pull", &pull, clean.map(|c| c.0)),
            ("push", &push, clean.map(|c| c.1)),
        ] {
            let completed = transfer.records == n;
            println!(
                "| {} | {direction} | {} | {} | {} | {} | {} |",
                profile.name,
                if completed {
                    format!("{:.0} s", transfer.time.as_secs_f64())
                } else {
                    format!(
                        "incomplete after {:.0} s ({} of {n})",
                        transfer.time.as_secs_f64(),
                        transfer.records
                    )
                },
                transfer.runs,
                transfer.bytes,
                clean_bytes.map_or("–".into(), |c| format!(
                    "{:.2}",
                    transfer.bytes as f64 / c as f64
                )),
                profile.one_document(document),
            );
        }
    }
}

/// Pull, then push, `n` organisations through a link of `profile`; and the
/// size of the table as one gzip document.
fn measure(
    runtime: &tokio::runtime::Runtime,
    profile: &Profile,
    n: usize,
) -> (Transfer, Transfer, u64) {
    eprintln!("{}:", profile.name);
    let (_root, a, b) = two_nodes(n);
    let document = gzip_size(&b.run(&["export", "org_organisation"], None));
    let (mut server, url) = serve(&b);
    let link = runtime.block_on(Link::start(&url, profile.clone()));
    connect(&a, &b, &link.url);

    let mut transfers = Vec::new();
    for (mode, field) in [("pull", "pulled_created"), ("push", "pushed_created")] {
        a.run(
            &[
                "task",
                "add",
                "B",
                "org_organisation",
                "--mode",
                mode,
                "--components",
            ],
            None,
        );
        let before = link.traffic.bytes();
        // The runs' time only, not the counting between them.
        let mut time = Duration::ZERO;
        // Done when the receiving node holds every record: a page sent again
        // after a cut is counted by the peer as updated, not created.
        let receiver = if mode == "pull" { &a } else { &b };
        let mut records = 0;
        let mut runs = 0;
        while records < n && runs < MAX_RUNS {
            runs += 1;
            let started = Instant::now();
            let out = a
                .command(&["sync", "B", "--json"])
                .stderr(std::process::Stdio::inherit())
                .output()
                .unwrap();
            time += started.elapsed();
            let report = String::from_utf8_lossy(&out.stdout);
            if json_field(&report, field) == 0 && !out.status.success() {
                eprintln!("{}: {mode} run {runs}: {report}", profile.name);
            }
            records = organisations(receiver) - n;
        }
        transfers.push(Transfer {
            time,
            runs,
            bytes: link.traffic.bytes() - before,
            records,
        });
        a.run(&["task", "remove", "B", "org_organisation"], None);
        eprintln!(
            "{}: {mode} done, {} cuts so far",
            profile.name,
            link.traffic.cuts.load(Ordering::Relaxed)
        );
    }
    server.kill().unwrap();
    let _ = server.wait();
    let push = transfers.pop().unwrap();
    let pull = transfers.pop().unwrap();
    (pull, push, document)
}

/// The size of `text` compressed as edensync compresses a page.
fn gzip_size(text: &str) -> u64 {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(text.as_bytes()).unwrap();
    encoder.finish().unwrap().len() as u64
}

/// The organisations a node holds.
fn organisations(node: &Node) -> usize {
    node.run(&["export", "org_organisation"], None)
        .matches("<resource name=\"org_organisation\"")
        .count()
}
