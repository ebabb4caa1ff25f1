//! Several `edensync serve` processes on one PostgreSQL (a private cluster
//! started for the benchmark): 300 repositories with a pull every 30 s
//! (stand-in peers on loopback, a few down), three processes with the
//! scheduler; after a third of the time one of them is killed with
//! SIGKILL. Prints how the runs spread over the processes, whether any
//! firing ran twice, how late runs started before and after the kill, and
//! how long the killed process's repositories waited to be taken over.
//! With `EDENSYNC_BENCH_WEB=2`, two `--no-scheduler` processes serve the
//! console meanwhile: a session opened on one loads the dashboard from the
//! other, and its p50 / p99 are printed.
//!
//! `cargo bench --bench hub_processes` (`EDENSYNC_BENCH_REPOSITORIES`,
//! `EDENSYNC_BENCH_PERIOD`, `EDENSYNC_BENCH_PERIODS`, `EDENSYNC_BENCH_WEB`
//! change the defaults of 300, 30 s, 6 periods and no web processes).

mod common;
#[path = "common/console_login.rs"]
mod console_login;
#[path = "common/nodes.rs"]
mod nodes;
#[path = "common/pg.rs"]
mod pg;
#[path = "common/schedules.rs"]
mod schedules;

use std::collections::{BTreeMap, HashMap};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use edensync::model;

use console_login::logged_in;
use nodes::{BIN, env_number, listening_url};
use schedules::{Kind, percentile, scheduled_runs, spread};

const ADMIN: &str = "admin@example.org";
const PASSWORD: &str = "bench admin password";

/// `edensync serve` on the shared database with its own data directory.
fn serve(dir: &std::path::Path, database: &str, key: &str, scheduler: bool) -> (Child, String) {
    let mut command = Command::new(BIN);
    command.arg("serve").args(["--bind", "127.0.0.1:0"]);
    if !scheduler {
        command.arg("--no-scheduler");
    }
    let mut child = command
        .env("EDENSYNC_DATA_DIR", dir)
        .env("EDENSYNC_DATABASE_URL", database)
        .env("EDENSYNC_SECRET_KEY", key)
        .env("EDENSYNC_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = listening_url(&mut child);
    (child, url)
}

fn main() {
    let n = env_number("EDENSYNC_BENCH_REPOSITORIES", 300) as usize;
    let period = env_number("EDENSYNC_BENCH_PERIOD", 30) as i64;
    let periods = env_number("EDENSYNC_BENCH_PERIODS", 6) as i64;
    let web = env_number("EDENSYNC_BENCH_WEB", 0) as usize;
    let database = pg::postgres::fresh_database_url().expect("PostgreSQL");
    let root = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (quick, hole) =
        runtime.block_on(async { (schedules::quick_peer().await, schedules::black_hole().await) });
    let dead = schedules::nobody();
    let urls = spread(n, n / 50, 0, [&quick, &dead, &hole]);

    // The database, its key and the repositories, as the first process
    // would make them.
    let mut settings = edensync::config::Settings::for_data_dir(&root.path().join("0"));
    settings.database = edensync::config::DatabaseUrl::Postgres(database.clone());
    let opened = edensync::app::open(settings).unwrap();
    edensync::model::users::insert(
        &mut opened.pool.get().unwrap(),
        ADMIN,
        &edensync::accounts::password::hash(PASSWORD),
        edensync::model::users::Role::Admin,
        model::now(),
    )
    .unwrap();
    let key = opened.key.to_text();
    let first = model::now() + chrono::Duration::seconds(5);
    let repositories = schedules::fill(&mut opened.pool.get().unwrap(), &urls, period, first);
    let mut conn = opened.pool.get().unwrap();

    let mut processes: Vec<(Child, String)> = (1..=3)
        .map(|i| serve(&root.path().join(i.to_string()), &database, &key, true))
        .collect();
    let pids: Vec<u32> = processes.iter().map(|(c, _)| c.id()).collect();
    let webs: Vec<(Child, String)> = (0..web)
        .map(|i| serve(&root.path().join(format!("web{i}")), &database, &key, false))
        .collect();
    eprintln!(
        "{n} repositories, a pull every {period} s, 3 processes{} …",
        if web > 0 { " and web processes" } else { "" }
    );
    let started = Instant::now();
    let until = first + chrono::Duration::seconds(period * periods);
    let kill_at = first + chrono::Duration::seconds(period * periods / 3);
    let pages = runtime.block_on(async {
        let mut times = Vec::new();
        let clients = if web >= 2 {
            let client = logged_in(&webs[0].1, ADMIN, PASSWORD).await;
            Some((client, webs[1].1.clone()))
        } else {
            None
        };
        let mut killed = false;
        while model::now() < until + chrono::Duration::seconds(2) {
            if !killed && model::now() >= kill_at {
                let _ = processes[0].0.kill();
                let _ = processes[0].0.wait();
                killed = true;
            }
            if let Some((client, other)) = &clients {
                let sent = Instant::now();
                let page = client.get(format!("{other}/")).send().await.unwrap();
                assert_eq!(
                    page.status().as_u16(),
                    200,
                    "the session works on the other process"
                );
                page.bytes().await.unwrap();
                times.push(sent.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        times
    });
    let elapsed = started.elapsed();
    for (child, _) in processes
        .iter_mut()
        .chain(webs.into_iter().collect::<Vec<_>>().iter_mut())
    {
        let _ = child.kill();
        let _ = child.wait();
    }

    let runs = scheduled_runs(&mut conn, &repositories, period, until);
    let mut per_process: BTreeMap<u32, usize> = BTreeMap::new();
    let mut firings: HashMap<(i64, i64), usize> = HashMap::new();
    let (mut before, mut after) = (Vec::new(), Vec::new());
    for run in &runs {
        *per_process.entry(run.pid()).or_default() += 1;
        *firings.entry((run.repository, run.firing)).or_default() += 1;
        if repositories[(run.repository - 1) as usize].0 == Kind::Answers {
            if run.started < kill_at {
                before.push(run.late);
            } else {
                after.push(run.late);
            }
        }
    }
    before.sort_by(|a, b| a.partial_cmp(b).unwrap());
    after.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let skipped = runs.iter().filter(|r| r.status == "skipped").count();
    let twice = firings.values().filter(|c| **c > 1).count();
    let left_failed: i64 = {
        use diesel::prelude::*;
        use edensync::db::schema::runs;
        runs::table
            .filter(runs::error.like("the process running it stopped%"))
            .count()
            .get_result(&mut conn)
            .unwrap()
    };
    println!(
        "{n} repositories, a pull every {period} s, {periods} periods ({elapsed:.0?}); 3 processes on PostgreSQL, the first killed (SIGKILL) after {} s",
        period * periods / 3
    );
    println!(
        "scheduled runs: {}; skipped (lease held): {skipped}; firings started more than once: {twice}",
        runs.len()
    );
    for (pid, count) in &per_process {
        let who = match pids.iter().position(|p| p == pid) {
            Some(0) => "the killed process",
            Some(i) => ["", "process 2", "process 3"][i],
            None => "another process",
        };
        println!("  {who} (pid {pid}): {count} runs");
    }
    println!(
        "lateness of the peers that answer: before the kill p50 {:.2} s, p99 {:.2} s; after p50 {:.2} s, p99 {:.2} s, max {:.2} s",
        percentile(&before, 0.5),
        percentile(&before, 0.99),
        percentile(&after, 0.5),
        percentile(&after, 0.99),
        after.last().copied().unwrap_or(0.0)
    );
    println!("runs the kill left unfinished, marked failed when taken over: {left_failed}");
    if !pages.is_empty() {
        let mut pages = pages;
        pages.sort();
        let ms = |p: f64| {
            pages[((pages.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1000.0
        };
        println!(
            "dashboard from a web process, session opened on the other: {} loads, p50 {:.1} ms, p99 {:.1} ms",
            pages.len(),
            ms(0.5),
            ms(0.99)
        );
    }
}
