//! Console latency under load: the dashboard, the log viewer, the review
//! queue, the runs and the repositories with 100 repositories (each with a
//! schedule), 1 000 000 log rows and 100 000 review items, 32 concurrent
//! logged-in clients on loopback, release build. Prints p50 / p99 per page.
//!
//! `cargo bench --bench console` (`EDENSYNC_BENCH_REPOSITORIES`,
//! `EDENSYNC_BENCH_RUNS`, `EDENSYNC_BENCH_LOG_ROWS`,
//! `EDENSYNC_BENCH_REVIEW_ITEMS`, `EDENSYNC_BENCH_SECS`,
//! `EDENSYNC_BENCH_CLIENTS` and `EDENSYNC_BENCH_DIR` change the defaults of
//! 100 repositories, 100 000 runs, 1 000 000 rows, 100 000 items, 15 s, 32
//! clients and the temp dir; `EDENSYNC_BENCH_TEXT_SEARCH=1` adds a review
//! text search to the pages). A hub: `EDENSYNC_BENCH_REPOSITORIES=1000
//! EDENSYNC_BENCH_RUNS=1000000`.

#[path = "common/console_login.rs"]
mod console_login;

use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use edensync::app;
use edensync::config::Settings;
use edensync::db::schema::{repositories, runs};
use edensync::model;
use edensync::model::jobs::{JobSchedule, NewJob};
use edensync::model::review_items::NewReviewItem;
use edensync::model::sync_log::NewLogEntry;
use edensync::vocabulary::{LogResult, ReviewKind, RunStatus, Trigger};

use console_login::logged_in;

const ADMIN: &str = "bench@example.org";
const PASSWORD: &str = "bench admin password";

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `repositories` repositories, each with a schedule every 5 minutes.
fn fill_repositories(node: &app::Node, repositories: u64) {
    let mut conn = node.pool.get().unwrap();
    let now = model::now();
    for i in 0..repositories {
        diesel::insert_into(repositories::table)
            .values((
                repositories::name.eq(format!("Site {i}")),
                repositories::url.eq(Some(format!("http://127.0.0.1:9/site{i}"))),
                repositories::created_at.eq(now),
                repositories::updated_at.eq(now),
            ))
            .execute(&mut *conn)
            .unwrap();
        model::jobs::insert(
            &mut conn,
            &NewJob {
                repository_id: i as i64 + 1,
                created_at: now,
                schedule: JobSchedule {
                    enabled: true,
                    cron: None,
                    every_seconds: Some(300),
                    start_at: None,
                    stop_at: None,
                    repeats: 0,
                    timeout_secs: 3600,
                    // Far ahead: the bench's node runs no scheduler anyway.
                    next_run_at: Some(now + chrono::Duration::days(1)),
                    updated_at: now,
                },
            },
        )
        .unwrap();
    }
}

/// `runs` finished runs spread over the repositories and the last 30 days,
/// 1 in 20 failed, each with what it moved.
fn fill_runs(node: &app::Node, repositories: u64, runs: u64) {
    let mut conn = node.pool.get().unwrap();
    let now = model::now();
    let spacing = (30 * 86_400_000 / runs.max(1)) as i64;
    let mut written = 0u64;
    while written < runs {
        let chunk = (runs - written).min(1000);
        conn.transaction::<_, diesel::result::Error, _>(|conn| {
            for n in written..written + chunk {
                let started = now - chrono::Duration::milliseconds((runs - n) as i64 * spacing);
                let failed = n % 20 == 0;
                diesel::insert_into(runs::table)
                    .values(
                        (
                            runs::repository_id.eq((n % repositories) as i64 + 1),
                            runs::job_id.eq(Some((n % repositories) as i64 + 1)),
                            runs::trigger_kind.eq(Trigger::Schedule.as_str()),
                            runs::status.eq(if failed {
                                RunStatus::Failed.as_str()
                            } else {
                                RunStatus::Succeeded.as_str()
                            }),
                            runs::started_at.eq(started),
                            runs::finished_at.eq(Some(started + chrono::Duration::seconds(3))),
                            runs::heartbeat_at.eq(Some(started + chrono::Duration::seconds(3))),
                            runs::pulled_created.eq((n % 7) as i64),
                            runs::pulled_updated.eq((n % 40) as i64),
                            runs::bytes_in.eq(20_000),
                            runs::error
                                .eq(failed
                                    .then_some("Peer repository unavailable: connection refused")),
                            runs::holder.eq(Some(format!("hub:100:{n}"))),
                        ),
                    )
                    .execute(conn)?;
            }
            Ok(())
        })
        .unwrap();
        written += chunk;
    }
}

/// `rows` log rows spread over the repositories and over 30 days, 1 in 50
/// an error.
fn fill(node: &app::Node, repositories: u64, rows: u64) {
    let mut conn = node.pool.get().unwrap();
    let now = model::now();
    let tables = ["org_organisation", "org_office", "pr_person", "req_req"];
    let mut written = 0u64;
    while written < rows {
        let chunk = (rows - written).min(1000);
        conn.transaction::<_, diesel::result::Error, _>(|conn| {
            for n in written..written + chunk {
                let error = n % 50 == 0;
                let message = if error {
                    format!(
                        "Peer repository unavailable: Site {} cannot be reached",
                        n % repositories
                    )
                } else {
                    format!("Data imported successfully ({} records)", n % 500)
                };
                model::sync_log::insert(
                    conn,
                    &NewLogEntry {
                        logged_at: now - chrono::Duration::seconds(((rows - n) * 2) as i64),
                        repository_id: Some((n % repositories) as i64 + 1),
                        run_id: None,
                        resource_name: Some(tables[(n % 4) as usize]),
                        mode: if n % 2 == 0 {
                            "pull/outgoing"
                        } else {
                            "push/outgoing"
                        },
                        action: if n % 2 == 0 { "import" } else { "send" },
                        result: if error {
                            LogResult::Error
                        } else {
                            LogResult::Success
                        },
                        remote: false,
                        message: &message,
                    },
                )?;
            }
            Ok(())
        })
        .unwrap();
        written += chunk;
    }
}

/// `items` review items waiting, spread over the repositories, a third of
/// each kind.
fn fill_review(node: &app::Node, repositories: u64, items: u64) {
    let mut conn = node.pool.get().unwrap();
    let now = model::now();
    let kinds = [
        ReviewKind::Conflict,
        ReviewKind::RefusedHere,
        ReviewKind::RefusedByPeer,
    ];
    let mut written = 0u64;
    while written < items {
        let chunk = (items - written).min(1000);
        conn.transaction::<_, diesel::result::Error, _>(|conn| {
            for n in written..written + chunk {
                let uuid = format!("urn:uuid:00000000-0000-4000-8000-{n:012}");
                let raw = format!(
                    "<?xml version='1.0' encoding='utf-8'?>\n<s3xml><resource name=\"org_organisation\" uuid=\"{uuid}\"><data field=\"name\">Organisation {n}</data></resource>"
                );
                model::review_items::queue(
                    conn,
                    &NewReviewItem {
                        run_id: None,
                        repository_id: Some((n % repositories) as i64 + 1),
                        table_name: "org_organisation",
                        uuid: Some(&uuid),
                        reason: "the record is 5000 bytes, over the limit of 4096 bytes per record",
                        raw_element: &raw,
                        created_at: now - chrono::Duration::seconds(n as i64),
                        kind: kinds[(n % 3) as usize].as_str(),
                        winner: None,
                        policy: None,
                        stored_version: None,
                    },
                )?;
            }
            Ok(())
        })
        .unwrap();
        written += chunk;
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

fn main() {
    let repositories = env_number("EDENSYNC_BENCH_REPOSITORIES", 100);
    let runs = env_number("EDENSYNC_BENCH_RUNS", 100_000);
    let rows = env_number("EDENSYNC_BENCH_LOG_ROWS", 1_000_000);
    let review_items = env_number("EDENSYNC_BENCH_REVIEW_ITEMS", 100_000);
    let secs = env_number("EDENSYNC_BENCH_SECS", 15);
    let clients_wanted = env_number("EDENSYNC_BENCH_CLIENTS", 32) as usize;
    let base_dir = std::env::var("EDENSYNC_BENCH_DIR")
        .unwrap_or_else(|_| std::env::temp_dir().display().to_string());
    let dir = tempfile::tempdir_in(base_dir).unwrap();
    // `EDENSYNC_BENCH_DATA`: a data directory kept between runs, filled once.
    let kept = std::env::var("EDENSYNC_BENCH_DATA")
        .ok()
        .map(std::path::PathBuf::from);
    let data = kept.clone().unwrap_or_else(|| dir.path().to_path_buf());
    let mut settings = Settings::for_data_dir(&data);
    settings.bind = "127.0.0.1:0".parse().unwrap();
    settings.log = "warn".into();
    settings.admin_email = Some(ADMIN.into());
    settings.admin_password = Some(PASSWORD.into());
    let node = app::open(settings).unwrap();
    let filling = Instant::now();
    let filled = data.join("filled");
    if !filled.exists() {
        fill_repositories(&node, repositories);
        fill_runs(&node, repositories, runs);
        fill(&node, repositories, rows);
        fill_review(&node, repositories, review_items);
        if kept.is_some() {
            std::fs::write(&filled, b"").unwrap();
        }
    }
    eprintln!(
        "{repositories} repositories, {runs} runs, {rows} log rows and {review_items} review items written in {:.0?}",
        filling.elapsed()
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let running = app::start(node).unwrap();
        let base = running.listen_url.clone();
        tokio::spawn(running.server);
        let mut pages = vec![
            "/",
            "/logs",
            "/logs?result=error",
            "/logs?repository=42&mode=pull/outgoing",
            "/logs?table=pr_person&result=success",
            "/review",
            "/review?kind=conflict&repository=42",
            "/runs",
            "/runs?repository=42",
            "/runs?status=failed",
            "/repositories",
            "/repositories/42",
            "/jobs",
        ];
        // A text search reads every waiting item (hundreds of ms at 100 000):
        // an administrator's occasional question, not a page polled by many.
        if std::env::var("EDENSYNC_BENCH_TEXT_SEARCH").is_ok() {
            pages.push("/review?text=000000012345");
        }
        let mut clients = Vec::new();
        for _ in 0..clients_wanted {
            clients.push(logged_in(&base, ADMIN, PASSWORD).await);
        }
        let deadline = Instant::now() + Duration::from_secs(secs);
        let timings = Arc::new(std::sync::Mutex::new(vec![Vec::new(); pages.len()]));
        let pages = Arc::new(pages);
        let mut workers = Vec::new();
        for (n, client) in clients.into_iter().enumerate() {
            let (base, timings, pages) = (base.clone(), timings.clone(), pages.clone());
            workers.push(tokio::spawn(async move {
                let mut i = n;
                while Instant::now() < deadline {
                    let page = i % pages.len();
                    let started = Instant::now();
                    let response = client.get(format!("{base}{}", pages[page])).send().await.unwrap();
                    assert_eq!(response.status().as_u16(), 200, "{}", pages[page]);
                    response.bytes().await.unwrap();
                    timings.lock().unwrap()[page].push(started.elapsed());
                    i += 1;
                }
            }));
        }
        for worker in workers {
            worker.await.unwrap();
        }
        println!("console under load: {clients_wanted} clients, {secs} s, {repositories} repositories, {runs} runs, {rows} log rows, {review_items} review items");
        for (page, mut times) in pages.iter().zip(timings.lock().unwrap().clone()) {
            times.sort();
            println!(
                "{page:<42} {:>6} requests  p50 {:>6.1} ms  p99 {:>6.1} ms",
                times.len(),
                percentile(&times, 0.5),
                percentile(&times, 0.99)
            );
        }
    });
}
