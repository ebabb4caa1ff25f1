//! A thousand repositories on one node: each with a pull every period
//! (start times spread over the period, as administrators add them), its
//! peer a stand-in on loopback that answers at once; some peers are down
//! (nothing listens) and some never answer (a black hole). One real
//! `edensync serve` with its scheduler, release build. Prints how late the
//! due runs started (p50 / p99, from each run's start and its job's
//! schedule), runs per repository (fairness), what a scheduler tick costs
//! and the server's CPU and peak RSS.
//!
//! `cargo bench --bench hub_schedules` (`EDENSYNC_BENCH_REPOSITORIES`,
//! `EDENSYNC_BENCH_PERIOD`, `EDENSYNC_BENCH_PERIODS`, `EDENSYNC_BENCH_DOWN`,
//! `EDENSYNC_BENCH_SILENT` and `EDENSYNC_BENCH_DIR` change the defaults of
//! 1 000 repositories, a pull every 60 s — five times the pace of the
//! usual 5 minutes — over 4 periods, 20 peers down, 10 black holes and the
//! temp dir).

mod common;
#[path = "common/nodes.rs"]
mod nodes;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use edensync::db::schema::{repositories, runs, tasks};
use edensync::model;
use edensync::model::jobs::{JobSchedule, NewJob};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use nodes::{Node, cpu_secs, env_number, peak_rss_kib};

/// Eden's answer to a pull with nothing new.
const EMPTY_PULL: &[u8] =
    include_bytes!("../tests/fixtures/eden-vectors/14_pull_empty_result_response.http");

/// A peer that answers every request on a connection with an empty pull.
async fn quick_peer() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut buffer = [0u8; 8192];
                loop {
                    let Ok(n) = stream.read(&mut buffer).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buffer[..n]);
                    // A request's head ends with a blank line; bodies are
                    // not expected (pulls only) and dropped.
                    while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                        seen.drain(..end + 4);
                        if stream.write_all(EMPTY_PULL).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    url
}

/// A peer that takes connections and never answers.
async fn black_hole() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    url
}

/// A loopback URL where nothing listens.
fn nobody() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}", listener.local_addr().unwrap())
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Kind {
    Answers,
    Down,
    Silent,
}

/// The repositories, a pull task and a job each; returns each one's kind
/// and its job's first start.
fn fill(
    node: &Node,
    urls: &[(Kind, String)],
    period: i64,
    first: chrono::NaiveDateTime,
) -> Vec<(Kind, chrono::NaiveDateTime)> {
    let opened = edensync::app::open(edensync::config::Settings::for_data_dir(&node.dir)).unwrap();
    let mut conn = opened.pool.get().unwrap();
    let now = model::now();
    let n = urls.len() as i64;
    let mut out = Vec::new();
    for (i, (kind, url)) in urls.iter().enumerate() {
        let id = i as i64 + 1;
        diesel::insert_into(repositories::table)
            .values((
                repositories::name.eq(format!("Site {i}")),
                repositories::url.eq(Some(format!("{url}/site{i}"))),
                repositories::created_at.eq(now),
                repositories::updated_at.eq(now),
            ))
            .execute(&mut *conn)
            .unwrap();
        diesel::insert_into(tasks::table)
            .values((
                tasks::repository_id.eq(id),
                tasks::position.eq(1),
                tasks::resource_name.eq("org_organisation"),
                tasks::mode.eq("pull"),
                tasks::created_at.eq(now),
                tasks::updated_at.eq(now),
            ))
            .execute(&mut *conn)
            .unwrap();
        let start = first + chrono::Duration::milliseconds(i as i64 * period * 1000 / n);
        model::jobs::insert(
            &mut conn,
            &NewJob {
                repository_id: id,
                created_at: now,
                schedule: JobSchedule {
                    enabled: true,
                    cron: None,
                    every_seconds: Some(period),
                    start_at: Some(start),
                    stop_at: None,
                    repeats: 0,
                    timeout_secs: 3600,
                    next_run_at: Some(start),
                    updated_at: now,
                },
            },
        )
        .unwrap();
        out.push((*kind, start));
    }
    out
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// The scheduler's tick histogram from /metrics: (count, sum in seconds).
async fn ticks(url: &str) -> (f64, f64) {
    let text = reqwest::get(format!("{url}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let value = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().last())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (
        value("edensync_scheduler_tick_seconds_count"),
        value("edensync_scheduler_tick_seconds_sum"),
    )
}

fn main() {
    let n = env_number("EDENSYNC_BENCH_REPOSITORIES", 1000) as usize;
    let period = env_number("EDENSYNC_BENCH_PERIOD", 60) as i64;
    let periods = env_number("EDENSYNC_BENCH_PERIODS", 4) as i64;
    let down = env_number("EDENSYNC_BENCH_DOWN", 20) as usize;
    let silent = env_number("EDENSYNC_BENCH_SILENT", 10) as usize;
    let base = std::env::var("EDENSYNC_BENCH_DIR")
        .unwrap_or_else(|_| std::env::temp_dir().display().to_string());
    let root = tempfile::tempdir_in(base).unwrap();
    let node = Node {
        dir: root.path().join("hub"),
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (quick, hole) = runtime.block_on(async { (quick_peer().await, black_hole().await) });
    let dead = nobody();
    // The troubled peers spread among the others.
    let urls: Vec<(Kind, String)> = (0..n)
        .map(|i| {
            let step = n / (down + silent).max(1);
            let troubled = step > 0 && i % step == 0 && i / step < down + silent;
            match (troubled, i / step.max(1) < down) {
                (true, true) => (Kind::Down, dead.clone()),
                (true, false) => (Kind::Silent, hole.clone()),
                _ => (Kind::Answers, quick.clone()),
            }
        })
        .collect();
    let first = model::now() + chrono::Duration::seconds(5);
    let repositories = fill(&node, &urls, period, first);
    eprintln!("{n} repositories, a pull every {period} s, for {periods} periods …");

    let (mut server, url) = nodes::serve_with_scheduler(&node);
    let started = Instant::now();
    let cpu_before = cpu_secs(server.id());
    let mut peak = 0;
    let measure_until = first + chrono::Duration::seconds(period * periods);
    while model::now() < measure_until + chrono::Duration::seconds(2) {
        peak = peak.max(peak_rss_kib(server.id()));
        std::thread::sleep(Duration::from_millis(500));
    }
    let cpu = cpu_secs(server.id()) - cpu_before;
    let (busy_count, busy_sum) = runtime.block_on(ticks(&url));

    // Idle ticks: every job a day away, then 20 s of ticks.
    let reader = edensync::app::open(edensync::config::Settings::for_data_dir(&node.dir)).unwrap();
    let mut conn = reader.pool.get().unwrap();
    diesel::sql_query("UPDATE jobs SET next_run_at = datetime('now', '+1 day')")
        .execute(&mut *conn)
        .unwrap();
    std::thread::sleep(Duration::from_secs(20));
    let (idle_count, idle_sum) = runtime.block_on(ticks(&url));
    let elapsed = started.elapsed();
    server.kill().unwrap();
    let _ = server.wait();

    let rows: Vec<(i64, String, chrono::NaiveDateTime, Option<i64>)> = runs::table
        .filter(runs::trigger_kind.eq("schedule"))
        .select((
            runs::repository_id,
            runs::status,
            runs::started_at,
            runs::job_id,
        ))
        .load(&mut *conn)
        .unwrap();
    let mut late = Vec::new();
    let mut per_repository: BTreeMap<i64, u32> = BTreeMap::new();
    let mut statuses: BTreeMap<(Kind, String), u32> = BTreeMap::new();
    for (repository, status, at, _) in &rows {
        let (kind, start) = repositories[(*repository - 1) as usize];
        if *at > measure_until {
            continue;
        }
        *statuses.entry((kind, status.clone())).or_default() += 1;
        let since = (*at - start).num_milliseconds();
        let due_ms = since.div_euclid(period * 1000) * period * 1000;
        late.push((since - due_ms) as f64 / 1000.0);
        *per_repository.entry(*repository).or_default() += 1;
    }
    late.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let expected = periods as u32;
    let count_of = |kind: Kind| {
        let counts: Vec<u32> = (1..=n as i64)
            .filter(|id| repositories[(*id - 1) as usize].0 == kind)
            .map(|id| per_repository.get(&id).copied().unwrap_or(0))
            .collect();
        (
            counts.iter().min().copied().unwrap_or(0),
            counts.iter().max().copied().unwrap_or(0),
            counts.iter().filter(|c| **c < expected).count(),
            counts.len(),
        )
    };
    println!(
        "{n} repositories ({down} peers down, {silent} black holes), a pull every {period} s, {periods} periods, {:.0?} in all",
        elapsed
    );
    println!(
        "scheduled runs started: {} — lateness p50 {:.2} s, p99 {:.2} s, max {:.2} s",
        late.len(),
        percentile(&late, 0.5),
        percentile(&late, 0.99),
        late.last().copied().unwrap_or(0.0)
    );
    for kind in [Kind::Answers, Kind::Down, Kind::Silent] {
        let (min, max, short, of) = count_of(kind);
        println!(
            "{kind:?}: runs per repository min {min} max {max} (expected {expected}); {short} of {of} ran fewer"
        );
    }
    for ((kind, status), count) in &statuses {
        println!("  {kind:?} {status}: {count}");
    }
    println!(
        "scheduler tick: {:.3} ms mean while busy ({} ticks), {:.3} ms mean idle ({} ticks)",
        busy_sum / busy_count.max(1.0) * 1000.0,
        busy_count,
        (idle_sum - busy_sum) / (idle_count - busy_count).max(1.0) * 1000.0,
        idle_count - busy_count
    );
    println!(
        "server CPU {:.1} s over {} s of schedule ({:.0} %), peak RSS {} MiB",
        cpu,
        period * periods,
        cpu / (period * periods) as f64 * 100.0,
        peak / 1024
    );
}
