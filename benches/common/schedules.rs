//! Repositories with schedules for the hub benchmarks: stand-in peers on
//! loopback (one that answers at once, one that never answers, an address
//! where nothing listens), repositories with a pull task and a job each,
//! and how late their runs started.
#![allow(dead_code)]

use std::collections::BTreeMap;

use diesel::prelude::*;
use edensync::db::DbConnection;
use edensync::db::schema::{repositories, runs, tasks};
use edensync::model;
use edensync::model::jobs::{JobSchedule, NewJob};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Eden's answer to a pull with nothing new.
const EMPTY_PULL: &[u8] =
    include_bytes!("../../tests/fixtures/eden-vectors/14_pull_empty_result_response.http");

/// A peer that answers every request on a connection with an empty pull.
pub async fn quick_peer() -> String {
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
pub async fn black_hole() -> String {
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
pub fn nobody() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}", listener.local_addr().unwrap())
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Kind {
    Answers,
    Down,
    Silent,
}

/// The repositories, a pull task and a job each; returns each one's kind
/// and its job's first start.
/// In one transaction: on a disk, a thousand commits would take longer
/// than the first period.
pub fn fill(
    conn: &mut DbConnection,
    urls: &[(Kind, String)],
    period: i64,
    first: chrono::NaiveDateTime,
) -> Vec<(Kind, chrono::NaiveDateTime)> {
    conn.transaction::<_, diesel::result::Error, _>(|conn| Ok(fill_in(conn, urls, period, first)))
        .unwrap()
}

fn fill_in(
    conn: &mut DbConnection,
    urls: &[(Kind, String)],
    period: i64,
    first: chrono::NaiveDateTime,
) -> Vec<(Kind, chrono::NaiveDateTime)> {
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
            .execute(conn)
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
            .execute(conn)
            .unwrap();
        let start = first + chrono::Duration::milliseconds(i as i64 * period * 1000 / n);
        model::jobs::insert(
            conn,
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

pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// The repositories' kinds spread evenly: `down` where nothing listens,
/// `silent` that never answer, the others answering at once.
pub fn spread(n: usize, down: usize, silent: usize, urls: [&str; 3]) -> Vec<(Kind, String)> {
    let step = n / (down + silent).max(1);
    (0..n)
        .map(|i| {
            let troubled = step > 0 && i % step == 0 && i / step < down + silent;
            match (troubled, i / step.max(1) < down) {
                (true, true) => (Kind::Down, urls[1].to_string()),
                (true, false) => (Kind::Silent, urls[2].to_string()),
                _ => (Kind::Answers, urls[0].to_string()),
            }
        })
        .collect()
}

/// A scheduled run as the benchmarks read it back.
pub struct ScheduledRun {
    pub repository: i64,
    /// `host:pid:run`.
    pub holder: String,
    pub status: String,
    pub started: chrono::NaiveDateTime,
    /// Seconds from when it was due (by its job's schedule) to its start.
    pub late: f64,
    /// Which firing of its job it was (0 the first).
    pub firing: i64,
}

impl ScheduledRun {
    pub fn pid(&self) -> u32 {
        self.holder
            .split(':')
            .nth(1)
            .and_then(|p| p.parse().ok())
            .unwrap_or(0)
    }
}

/// Scheduled runs started up to `until`.
pub fn scheduled_runs(
    conn: &mut DbConnection,
    repositories: &[(Kind, chrono::NaiveDateTime)],
    period: i64,
    until: chrono::NaiveDateTime,
) -> Vec<ScheduledRun> {
    let rows: Vec<(i64, String, chrono::NaiveDateTime, Option<String>)> = runs::table
        .filter(runs::trigger_kind.eq("schedule"))
        .filter(runs::started_at.le(until))
        .select((
            runs::repository_id,
            runs::status,
            runs::started_at,
            runs::holder,
        ))
        .load(conn)
        .unwrap();
    rows.into_iter()
        .map(|(repository, status, started, holder)| {
            let (_, start) = repositories[(repository - 1) as usize];
            let since = (started - start).num_milliseconds();
            let firing = since.div_euclid(period * 1000);
            ScheduledRun {
                repository,
                holder: holder.unwrap_or_default(),
                status,
                started,
                late: (since - firing * period * 1000) as f64 / 1000.0,
                firing,
            }
        })
        .collect()
}

/// Runs per repository of one kind, counting the first `expected`
/// firings only: (fewest, most, how many ran fewer than `expected`, how
/// many repositories).
pub fn fairness(
    runs: &[ScheduledRun],
    repositories: &[(Kind, chrono::NaiveDateTime)],
    kind: Kind,
    expected: u32,
) -> (u32, u32, usize, usize) {
    let mut per: BTreeMap<i64, u32> = BTreeMap::new();
    for run in runs.iter().filter(|run| run.firing < expected as i64) {
        *per.entry(run.repository).or_default() += 1;
    }
    let counts: Vec<u32> = (1..=repositories.len() as i64)
        .filter(|id| repositories[(*id - 1) as usize].0 == kind)
        .map(|id| per.get(&id).copied().unwrap_or(0))
        .collect();
    (
        counts.iter().min().copied().unwrap_or(0),
        counts.iter().max().copied().unwrap_or(0),
        counts.iter().filter(|c| **c < expected).count(),
        counts.len(),
    )
}
