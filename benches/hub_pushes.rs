//! A hub under its Eden peers' re-pushes: 200 simulated Eden peers, each
//! re-pushing its whole 2 000-record table as Eden does (every run, the
//! body `application/x-www-form-urlencoded`), with a tenth of the records
//! changed each round; compressed in time, every peer pushes again as soon
//! as it has its answer, for two minutes. One real `edensync serve`,
//! release build. Prints the pushes answered, p50 / p99 of an answer, the
//! server's CPU and peak RSS, then checks that every change was stored and
//! that a pull from the hub exports them all.
//!
//! `cargo bench --bench hub_pushes` (`EDENSYNC_BENCH_PEERS`,
//! `EDENSYNC_BENCH_RECORDS`, `EDENSYNC_BENCH_SECS` and `EDENSYNC_BENCH_DIR`
//! change the defaults of 200 peers, 2 000 records, 120 s and the temp dir).

mod common;
#[path = "common/nodes.rs"]
mod nodes;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use edensync::db::schema::records;

use nodes::{Node, cpu_secs, env_number, peak_rss_kib, serve};

const PASSWORD: &str = "bench peer password";

fn uuid(peer: usize, i: usize) -> String {
    format!("urn:uuid:00000000-0000-4000-8{peer:03}-{i:012}")
}

/// Peer `peer`'s table as it pushes it in `round`: record i last changed in
/// the latest round r <= `round` with i % 10 == r % 10 (round 0: created).
fn table(peer: usize, records: usize, round: usize) -> Vec<u8> {
    let mut doc = format!(
        "<?xml version='1.0' encoding='utf-8'?>\n<s3xml success=\"true\" results=\"{records}\" domain=\"site{peer}\" url=\"http://127.0.0.1/site{peer}\">"
    );
    for i in 0..records {
        let changed = last_change(i, round);
        doc.push_str(&format!(
            r#"<resource name="org_organisation" uuid="{}" mci="1" created_on="2026-11-01T00:00:00" modified_on="{}"><data field="name">Organisation {i} of site {peer}, version {changed}</data><data field="acronym" value="&quot;S{peer}O{i}&quot;">S{peer}O{i}</data><data field="website" value="&quot;http://example.org/site{peer}/{i}&quot;">http://example.org/site{peer}/{i}</data><data field="comments" value="&quot;Field office {i}, registered with the cluster&quot;">Field office {i}, registered with the cluster</data></resource>"#,
            uuid(peer, i),
            modified_on(changed)
        ));
    }
    doc.push_str("</s3xml>");
    doc.into_bytes()
}

fn last_change(i: usize, round: usize) -> usize {
    if round == 0 {
        return 0;
    }
    let r = round - (round + 10 - i % 10) % 10;
    if r == 0 || r > round { 0 } else { r }
}

fn modified_on(round: usize) -> String {
    let t = chrono::NaiveDate::from_ymd_opt(2026, 11, 2)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        + chrono::Duration::seconds(round as i64 * 60);
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
}

fn main() {
    let peers = env_number("EDENSYNC_BENCH_PEERS", 200) as usize;
    let records = env_number("EDENSYNC_BENCH_RECORDS", 2000) as usize;
    let secs = env_number("EDENSYNC_BENCH_SECS", 120);
    let base = std::env::var("EDENSYNC_BENCH_DIR")
        .unwrap_or_else(|_| std::env::temp_dir().display().to_string());
    let root = tempfile::tempdir_in(base).unwrap();
    let hub = Node {
        dir: root.path().join("hub"),
    };
    {
        // The peers' accounts and their repositories, as `user add` and
        // each peer's registration would leave them, pushes accepted (one
        // transaction; registration itself admits 60 new peers an hour).
        let opened =
            edensync::app::open(edensync::config::Settings::for_data_dir(&hub.dir)).unwrap();
        let mut conn = opened.pool.get().unwrap();
        let hash = edensync::accounts::password::hash(PASSWORD);
        conn.transaction::<_, diesel::result::Error, _>(|conn| {
            let now = edensync::model::now();
            // Site `peers` only reads, at the end.
            for p in 0..=peers {
                let user = edensync::model::users::insert(
                    conn,
                    &format!("site{p}@example.org"),
                    &hash,
                    edensync::model::users::Role::Sync,
                    now,
                )?;
                let repository = edensync::model::repositories::insert_registered(
                    conn,
                    &format!("Site {p}"),
                    &format!("urn:uuid:site-{p}"),
                    "eden",
                    true,
                    now,
                )?;
                edensync::model::repositories::bind_account(conn, repository.id, user.id)?;
            }
            Ok(())
        })
        .unwrap();
    }
    let (mut server, url) = serve(&hub);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(peers)
        .timeout(Duration::from_secs(600))
        .build()
        .unwrap();
    eprintln!("{peers} peers registered and accepted; pushing for {secs} s …");

    let cpu_before = cpu_secs(server.id());
    let started = Instant::now();
    let deadline = started + Duration::from_secs(secs);
    let answers = Arc::new(Mutex::new(Vec::new()));
    let rounds = Arc::new(Mutex::new(vec![0usize; peers]));
    let peak = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let server_pid = server.id();
    runtime.block_on(async {
        let watcher = {
            let peak = peak.clone();
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    peak.fetch_max(peak_rss_kib(server_pid), std::sync::atomic::Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            })
        };
        let mut workers = Vec::new();
        for p in 0..peers {
            let (client, url, answers, rounds) =
                (client.clone(), url.clone(), answers.clone(), rounds.clone());
            workers.push(tokio::spawn(async move {
                let mut round = 0;
                while Instant::now() < deadline {
                    let body = table(p, records, round);
                    let sent = Instant::now();
                    let answer = client
                        .post(format!(
                            "{url}/sync/sync.xml?resource=org_organisation&repository=urn:uuid:site-{p}"
                        ))
                        .basic_auth(format!("site{p}@example.org"), Some(PASSWORD))
                        .header("Content-Type", "application/x-www-form-urlencoded")
                        .body(body)
                        .send()
                        .await
                        .unwrap();
                    let status = answer.status();
                    let text = answer.text().await.unwrap();
                    assert!(status.is_success(), "push of site {p}: {status} {text}");
                    answers.lock().unwrap().push(sent.elapsed());
                    rounds.lock().unwrap()[p] = round;
                    round += 1;
                }
            }));
        }
        for worker in workers {
            worker.await.unwrap();
        }
        watcher.await.unwrap();
    });
    let elapsed = started.elapsed();
    let cpu = cpu_secs(server.id()) - cpu_before;
    let mut answers = answers.lock().unwrap().clone();
    answers.sort();
    let rounds = rounds.lock().unwrap().clone();
    let pushes = answers.len();
    let pct = |p: f64| answers[((pushes as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1000.0;

    // Every change stored: each record as its peer last pushed it.
    let opened = edensync::app::open(edensync::config::Settings::for_data_dir(&hub.dir)).unwrap();
    let mut conn = opened.pool.get().unwrap();
    let stored: Vec<(String, Option<chrono::NaiveDateTime>)> = records::table
        .filter(records::table_name.eq("org_organisation"))
        .select((records::uuid, records::modified_on))
        .load(&mut *conn)
        .unwrap();
    let stored: std::collections::HashMap<String, String> = stored
        .into_iter()
        .map(|(u, m)| {
            (
                u,
                m.map(|m| m.format("%Y-%m-%dT%H:%M:%S").to_string())
                    .unwrap_or_default(),
            )
        })
        .collect();
    let mut wrong = 0;
    for (p, &round) in rounds.iter().enumerate() {
        for i in 0..records {
            if stored.get(&uuid(p, i)) != Some(&modified_on(last_change(i, round))) {
                wrong += 1;
            }
        }
    }
    // Exported: a pull of everything by another site carries every record.
    let pulled = runtime.block_on(async {
        client
            .get(format!(
                "{url}/sync/sync.xml?resource=org_organisation&repository=urn:uuid:site-{peers}"
            ))
            .basic_auth(format!("site{peers}@example.org"), Some(PASSWORD))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    });
    let exported = pulled
        .matches("<resource name=\"org_organisation\"")
        .count();
    server.kill().unwrap();
    let _ = server.wait();

    let changed: usize = rounds.iter().map(|r| r * records / 10).sum();
    println!(
        "{peers} peers × {records} records, pushing back to back for {:.0?}: {pushes} pushes ({:.1}/s), {} records sent, {changed} changes",
        elapsed,
        pushes as f64 / elapsed.as_secs_f64(),
        pushes * records
    );
    println!(
        "answer p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        pct(0.5),
        pct(0.99),
        pct(1.0)
    );
    println!(
        "server CPU {:.1} s in {:.0} s ({:.0} % of one core), peak RSS {} MiB",
        cpu,
        elapsed.as_secs_f64(),
        cpu / elapsed.as_secs_f64() * 100.0,
        peak.load(std::sync::atomic::Ordering::Relaxed) / 1024
    );
    println!(
        "stored as last pushed: {} of {} records wrong; a pull from the hub exports {exported} of {}",
        wrong,
        peers * records,
        peers * records
    );
}
