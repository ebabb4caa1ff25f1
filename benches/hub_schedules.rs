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
#[path = "common/schedules.rs"]
mod schedules;

use std::time::{Duration, Instant};

use diesel::prelude::*;
use edensync::model;

use nodes::{Node, cpu_secs, env_number, peak_rss_kib};
use schedules::{Kind, fairness, percentile, scheduled_runs, spread};

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
    let (quick, hole) =
        runtime.block_on(async { (schedules::quick_peer().await, schedules::black_hole().await) });
    let dead = schedules::nobody();
    let urls = spread(n, down, silent, [&quick, &dead, &hole]);
    let first = model::now() + chrono::Duration::seconds(5);
    let opened = edensync::app::open(edensync::config::Settings::for_data_dir(&node.dir)).unwrap();
    let repositories = schedules::fill(&mut opened.pool.get().unwrap(), &urls, period, first);
    drop(opened);
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

    // Idle ticks: every job and retry a day away, then 20 s of ticks.
    let reader = edensync::app::open(edensync::config::Settings::for_data_dir(&node.dir)).unwrap();
    let mut conn = reader.pool.get().unwrap();
    diesel::sql_query("UPDATE jobs SET next_run_at = datetime('now', '+1 day')")
        .execute(&mut *conn)
        .unwrap();
    diesel::sql_query("UPDATE repositories SET next_retry_at = datetime('now', '+1 day')")
        .execute(&mut *conn)
        .unwrap();
    std::thread::sleep(Duration::from_secs(20));
    let (idle_count, idle_sum) = runtime.block_on(ticks(&url));
    let elapsed = started.elapsed();
    server.kill().unwrap();
    let _ = server.wait();

    // Runs started up to when the measurement stopped looking: a job due in
    // the last second of the last period starts a little after it.
    let runs = scheduled_runs(
        &mut conn,
        &repositories,
        period,
        measure_until + chrono::Duration::seconds(2),
    );
    let mut late: Vec<f64> = runs
        .iter()
        .filter(|run| repositories[(run.repository - 1) as usize].0 == Kind::Answers)
        .map(|run| run.late)
        .collect();
    late.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "{n} repositories ({down} peers down, {silent} black holes), a pull every {period} s, {periods} periods, {elapsed:.0?} in all"
    );
    println!(
        "scheduled runs of the peers that answer: {} — lateness p50 {:.2} s, p99 {:.2} s, max {:.2} s",
        late.len(),
        percentile(&late, 0.5),
        percentile(&late, 0.99),
        late.last().copied().unwrap_or(0.0)
    );
    for kind in [Kind::Answers, Kind::Down, Kind::Silent] {
        let (min, max, short, of) = fairness(&runs, &repositories, kind, periods as u32);
        let statuses: std::collections::BTreeMap<&str, usize> = runs
            .iter()
            .filter(|run| repositories[(run.repository - 1) as usize].0 == kind)
            .fold(Default::default(), |mut m, run| {
                *m.entry(run.status.as_str()).or_default() += 1;
                m
            });
        println!(
            "{kind:?}: runs per repository min {min} max {max} (due {periods}); {short} of {of} ran fewer; {statuses:?}"
        );
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
