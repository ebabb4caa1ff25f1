//! The in-process scheduler: periodic jobs fire, repeats and stop times are
//! honoured, an overlapping trigger records a skipped run, a timeout
//! cancels a run and frees its lease, and two processes sharing one
//! PostgreSQL run each due job once.

use std::time::Duration;

use diesel::prelude::*;
use edensync::db::schema::{repositories, runs};
use edensync::engine::Engine;
use edensync::model;
use edensync::model::jobs::{JobSchedule, NewJob};
use edensync::scheduler::Scheduler;

use crate::support::peers::{self, TaskSpec, add_repository, add_task, link};
use crate::support::stand_in::{Reply, StandIn};
use crate::support::{Backend, TestApp};

/// A peer that answers every pull with nothing, after `delay`.
pub async fn slow_peer(delay: Duration) -> StandIn {
    StandIn::start(move |_, _| {
        Reply::Slow(
            delay,
            Box::new(Reply::Recorded("14_pull_empty_result_response.http")),
        )
    })
    .await
}

pub fn add_job(
    app: &TestApp,
    repository_id: i64,
    every: i64,
    repeats: i32,
    stop_in: Option<f64>,
    timeout: i32,
) -> i64 {
    let now = model::now();
    let job = model::jobs::insert(
        &mut app.conn(),
        &NewJob {
            repository_id,
            created_at: now,
            schedule: JobSchedule {
                enabled: true,
                cron: None,
                every_seconds: Some(every),
                start_at: None,
                stop_at: stop_in.map(|s| now + chrono::Duration::milliseconds((s * 1000.0) as i64)),
                repeats,
                timeout_secs: timeout,
                next_run_at: Some(now),
                updated_at: now,
            },
        },
    )
    .unwrap();
    job.id
}

/// (trigger, status) of every run of a repository, oldest first.
fn runs_of(app: &TestApp, repository_id: i64) -> Vec<(String, String)> {
    runs::table
        .filter(runs::repository_id.eq(repository_id))
        .order(runs::id.asc())
        .select((runs::trigger_kind, runs::status))
        .load(&mut *app.conn())
        .unwrap()
}

pub async fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let started = std::time::Instant::now();
    while !done() {
        assert!(started.elapsed() < timeout, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn periodic_jobs_fire_and_honour_repeats_and_stop_times() {
    let Some((a, b, repeated)) = crate::support::peers::pair(Backend::Sqlite).await else {
        return;
    };
    add_task(&a, repeated, TaskSpec::default());
    let repeated_job = add_job(&a, repeated, 1, 3, None, 60);
    let stopped = add_repository(
        &a,
        "B again",
        &format!("{}/eden", b.url),
        peers::PEER_EMAIL,
        peers::PEER_PASSWORD,
    );
    add_task(
        &a,
        stopped,
        TaskSpec {
            mode: "pull",
            ..TaskSpec::default()
        },
    );
    let stopped_job = add_job(&a, stopped, 1, 0, Some(2.5), 60);

    let engine = peers::engine(&a);
    let scheduler = Scheduler::start(engine.clone()).await.unwrap();
    wait_for("three scheduled runs", Duration::from_secs(20), || {
        runs_of(&a, repeated).len() >= 3
    })
    .await;
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert!(scheduler.heartbeat().is_some());
    scheduler.shutdown().await;
    engine.shutdown().await;

    let repeated_runs = runs_of(&a, repeated);
    assert_eq!(repeated_runs.len(), 3, "repeats = 3: {repeated_runs:?}");
    assert!(
        repeated_runs
            .iter()
            .all(|(t, s)| t == "schedule" && s == "succeeded"),
        "{repeated_runs:?}"
    );
    let job = model::jobs::find(&mut a.conn(), repeated_job)
        .unwrap()
        .unwrap();
    assert_eq!(job.times_run, 3);
    assert_eq!(job.next_run_at, None, "no run after the last repeat");
    assert_eq!(job.last_status.as_deref(), Some("succeeded"));

    let stopped_runs = runs_of(&a, stopped);
    assert!((2..=4).contains(&stopped_runs.len()), "{stopped_runs:?}");
    let job = model::jobs::find(&mut a.conn(), stopped_job)
        .unwrap()
        .unwrap();
    assert_eq!(job.next_run_at, None, "no run after the stop time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlapping_triggers_are_skipped_and_timeouts_cancel() {
    let Some(a) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let slow = slow_peer(Duration::from_secs(30)).await;
    let id = add_repository(
        &a,
        "Slow",
        &slow.url,
        "someone@example.org",
        "whatever password",
    );
    add_task(
        &a,
        id,
        TaskSpec {
            mode: "pull",
            ..TaskSpec::default()
        },
    );
    // Every second, but each run needs longer: the next triggers are skipped
    // until the 3-second timeout cancels the run.
    let job = add_job(&a, id, 1, 0, None, 3);
    let engine = peers::engine(&a);
    let scheduler = Scheduler::start(engine.clone()).await.unwrap();
    wait_for("a timed-out run", Duration::from_secs(20), || {
        runs_of(&a, id).iter().any(|(_, s)| s == "timed out")
    })
    .await;
    diesel::update(edensync::db::schema::jobs::table.find(job))
        .set(edensync::db::schema::jobs::enabled.eq(false))
        .execute(&mut *a.conn())
        .unwrap();
    scheduler.shutdown().await;
    engine.shutdown().await;

    let all = runs_of(&a, id);
    assert!(all.iter().any(|(_, s)| s == "skipped"), "{all:?}");
    let log = model::sync_log::recent(&mut a.conn(), 100).unwrap();
    assert!(
        log.iter()
            .any(|l| l.message == "Synchronization already active - skipping run")
    );
    let holder: Option<String> = repositories::table
        .find(id)
        .select(repositories::lease_holder)
        .first(&mut *a.conn())
        .unwrap();
    assert_eq!(holder, None, "the timed-out run released its lease");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_postgresql_run_each_due_job_once() {
    let Some(a) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    let Some(b) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let id = link(&a, &b).await;
    add_task(&a, id, TaskSpec::default());
    add_job(&a, id, 1, 4, None, 60);
    // A second process: its own connection pool and identity, same database.
    let pool = edensync::db::open_pool(&a.node.settings.database).unwrap();
    let mut other = Engine::new(
        pool,
        a.node.key.clone(),
        a.node.site_uuid.clone(),
        Some(a.url.clone()),
    );
    other.process = "other-host:4242".into();
    let engine = peers::engine(&a);
    let first = Scheduler::start(engine.clone()).await.unwrap();
    let second = Scheduler::start(other.clone()).await.unwrap();
    wait_for("four scheduled runs", Duration::from_secs(20), || {
        runs_of(&a, id).len() >= 4
    })
    .await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    first.shutdown().await;
    second.shutdown().await;
    engine.shutdown().await;
    other.shutdown().await;
    let all = runs_of(&a, id);
    assert_eq!(all.len(), 4, "each due job ran once: {all:?}");
    assert!(all.iter().all(|(_, s)| s == "succeeded"), "{all:?}");
}

/// At most `runs_at_once` scheduled runs at a time: the others wait their
/// turn (their timeout counts from when they start) and all of them run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_runs_beyond_the_limit_wait_their_turn() {
    let Some(a) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let slow = slow_peer(Duration::from_millis(1500)).await;
    let mut repositories = Vec::new();
    for name in ["First", "Second", "Third"] {
        let id = add_repository(
            &a,
            name,
            &format!("{}/{name}", slow.url),
            "x@example.org",
            "whatever password",
        );
        add_task(
            &a,
            id,
            TaskSpec {
                mode: "pull",
                ..TaskSpec::default()
            },
        );
        // Due now, once; a timeout shorter than the wait for the others.
        add_job(&a, id, 60, 1, None, 3);
        repositories.push(id);
    }
    let mut engine = peers::engine(&a);
    engine.runs_at_once = 1;
    let scheduler = Scheduler::start(engine.clone()).await.unwrap();
    let finished = |a: &TestApp| {
        model::runs::list(&mut a.conn(), None, None, None, 10)
            .unwrap()
            .into_iter()
            .filter(|r| r.finished_at.is_some())
            .collect::<Vec<_>>()
    };
    wait_for("three runs", Duration::from_secs(30), || {
        finished(&a).len() == 3
    })
    .await;
    scheduler.shutdown().await;
    engine.shutdown().await;

    let mut runs = finished(&a);
    runs.sort_by_key(|r| r.started_at);
    for run in &runs {
        assert_eq!(
            run.status,
            edensync::engine::RunStatus::Succeeded,
            "{run:?}"
        );
    }
    for pair in runs.windows(2) {
        assert!(
            pair[1].started_at >= pair[0].finished_at.unwrap(),
            "one at a time: {runs:?}"
        );
    }
    let mut ran: Vec<i64> = runs.iter().map(|r| r.repository_id).collect();
    ran.sort();
    assert_eq!(ran, repositories, "every repository had its turn");
}

/// A failing repository whose peer never answers does not hold up the
/// others: its runs wait in the slots kept for failing peers, and a
/// repository doing well keeps running on time with a limit of one run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_peer_that_never_answers_does_not_hold_up_the_others() {
    let Some(a) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let silent = slow_peer(Duration::from_secs(120)).await;
    let quick = slow_peer(Duration::ZERO).await;
    let stuck = add_repository(&a, "Stuck", &silent.url, "x@example.org", "a password");
    let well = add_repository(&a, "Well", &quick.url, "x@example.org", "a password");
    for id in [stuck, well] {
        add_task(
            &a,
            id,
            TaskSpec {
                mode: "pull",
                ..TaskSpec::default()
            },
        );
    }
    // The stuck one failed before and is due first.
    diesel::update(repositories::table.find(stuck))
        .set(repositories::last_status.eq(Some("retrying")))
        .execute(&mut *a.conn())
        .unwrap();
    add_job(&a, stuck, 1, 0, None, 300);
    std::thread::sleep(Duration::from_millis(20));
    add_job(&a, well, 1, 0, None, 300);
    let mut engine = peers::engine(&a);
    engine.runs_at_once = 1;
    let scheduler = Scheduler::start(engine.clone()).await.unwrap();
    let succeeded = |a: &TestApp| {
        runs::table
            .filter(runs::repository_id.eq(well))
            .filter(runs::status.eq("succeeded"))
            .count()
            .get_result::<i64>(&mut *a.conn())
            .unwrap()
    };
    wait_for("three runs of Well", Duration::from_secs(15), || {
        succeeded(&a) >= 3
    })
    .await;
    let stuck_running: i64 = runs::table
        .filter(runs::repository_id.eq(stuck))
        .filter(runs::status.eq("running"))
        .count()
        .get_result(&mut *a.conn())
        .unwrap();
    assert_eq!(stuck_running, 1, "Stuck's run waits for its peer meanwhile");
    scheduler.shutdown().await;
    engine.shutdown().await;
}
