//! A run in progress says, table by table, how many records of how many
//! are done, at what pace, and how long the rest will take: the serving
//! node counts what follows a pull's first page (`remaining`), and the
//! pushing node counts what it will send. The run page shows it live, and
//! keeps it once the run is over.

use std::time::{Duration, Instant};

use edensync::engine::RunStatus;
use edensync::model;
use edensync::vocabulary::Direction;

use crate::support::browser::{Browser, log_in, open, set_width, shot};
use crate::support::link::{Link, Profile};
use crate::support::peers::{self, TaskSpec, add_task, many_orgs, set_url, write_local};
use crate::support::{Backend, TestApp};

/// The run in progress, once its table progress has records done of a
/// known total (and not all of them yet).
async fn progress_in_flight(
    app: &TestApp,
) -> Option<(model::runs::Run, Vec<model::runs::TableProgress>)> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let running = model::runs::in_progress(&mut app.conn()).unwrap();
        if let Some(run) = running.into_iter().next() {
            let tables = run.tables();
            if tables
                .first()
                .is_some_and(|t| t.total.is_some() && t.done > 0 && Some(t.done) < t.total)
            {
                return Some((run, tables));
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_shows_records_of_the_total_and_the_time_left_per_table() {
    let Some((a, b, id)) = peers::pair(Backend::Sqlite).await else {
        return;
    };
    add_task(&a, id, TaskSpec::default());
    write_local(&b, &many_orgs("B", 1_000));
    write_local(&a, &many_orgs("A", 300));
    // Slow enough that the pull takes several pages and seconds.
    let link = Link::start(
        &b.url,
        Profile {
            name: "slow",
            bytes_per_sec: Some(2_000),
            rtt: Duration::from_millis(20),
            cut_every: None,
            stall: None,
        },
    )
    .await;
    set_url(&a, id, &link.url);
    let mut engine = peers::engine(&a);
    engine.page_size = 100;
    engine.page_time = Duration::from_secs(1);
    let running = tokio::spawn(async move { peers::run_with(&engine, id).await });

    let (run, tables) = progress_in_flight(&a)
        .await
        .expect("the run's row shows the pull's records done of its total while it goes on");
    let pull = &tables[0];
    assert_eq!(pull.direction, Direction::Pull);
    assert_eq!(pull.table, "org_organisation");
    assert_eq!(
        pull.total,
        Some(1_000),
        "the peer counted every record after the first page"
    );
    assert!(pull.bytes > 0, "{pull:?}");

    // The run page says it in words, on a desktop and on a phone.
    a.add_admin();
    if let Some(browser) = Browser::start().await {
        let driver = &browser.driver;
        log_in(driver, &a).await;
        for width in [1400, 400] {
            set_width(driver, width).await;
            open(driver, a.url(&format!("/runs/{}", run.id))).await;
            let text = driver
                .find(thirtyfour::By::Tag("body"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert!(
                text.contains("of 1 000") || text.contains("of 1\u{202f}000"),
                "{text}"
            );
            // The column's name (a card's label on a phone).
            let html = driver.source().await.unwrap();
            assert!(html.contains("data-label=\"Time left\""), "{html}");
            shot(driver, &format!("run-progress-{width}")).await;
        }
        browser.quit().await;
    }

    let report = running.await.unwrap();
    assert_eq!(report.status, RunStatus::Succeeded, "{report:?}");
    let finished = model::runs::find(&mut a.conn(), report.run_id)
        .unwrap()
        .unwrap();
    let tables = finished.tables();
    assert_eq!(tables.len(), 2, "{tables:?}");
    let (pull, push) = (&tables[0], &tables[1]);
    assert_eq!((pull.done, pull.total), (1_000, Some(1_000)), "{pull:?}");
    assert_eq!(push.direction, Direction::Push);
    assert_eq!((push.done, push.total), (300, Some(300)), "{push:?}");
    assert!(pull.finished_at.is_some() && push.finished_at.is_some());
    let admin = a
        .logged_in(crate::support::ADMIN_EMAIL, crate::support::ADMIN_PASSWORD)
        .await;
    let page = admin
        .get(&format!("/runs/{}", report.run_id))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("<h2>Tables</h2>"), "{page}");
    assert!(page.contains(">done<"), "{page}");
}

/// The new records the run's log rows so far say were imported.
fn created_in_log(conn: &mut edensync::db::DbConnection, run_id: i64) -> i64 {
    model::sync_log::for_run(conn, run_id)
        .unwrap()
        .iter()
        .filter_map(|row| {
            let (_, rest) = row.message.split_once(" records: ")?;
            rest.split_once(" new")?.0.parse::<i64>().ok()
        })
        .sum()
}

/// Each page's log row is written with the run's counters: while a run goes
/// on, its page never shows "Pulled 400" beside log rows for 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_counters_are_never_behind_the_log() {
    let Some((a, b, id)) = peers::pair(Backend::Sqlite).await else {
        return;
    };
    add_task(
        &a,
        id,
        TaskSpec {
            mode: "pull",
            ..TaskSpec::default()
        },
    );
    write_local(&b, &many_orgs("B", 600));
    let mut engine = peers::engine(&a);
    engine.page_size = 100;
    // Read the run row and its log while the run goes on, before each page.
    let checked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let (watch, seen) = (a.node.pool.clone(), checked.clone());
    let report = engine
        .run(edensync::engine::RunRequest {
            repository_id: id,
            trigger: edensync::engine::Trigger::Manual,
            job_id: None,
            only_table: None,
            stop: edensync::engine::Stop::never(),
            progress: Some(std::sync::Arc::new(move |line: &str| {
                if !line.contains("importing") {
                    return;
                }
                let mut conn = watch.get().unwrap();
                let Some(run) = model::runs::in_progress(&mut conn).unwrap().pop() else {
                    return;
                };
                let logged = created_in_log(&mut conn, run.id);
                seen.lock()
                    .unwrap()
                    .push((run.counts.pulled_created, logged));
            })),
        })
        .await
        .unwrap();
    assert_eq!(report.status, RunStatus::Succeeded, "{report:?}");
    assert_eq!(created_in_log(&mut a.conn(), report.run_id), 600);
    let checked = checked.lock().unwrap().clone();
    assert!(checked.len() >= 3, "several pages: {checked:?}");
    assert!(checked.iter().any(|(_, logged)| *logged > 0), "{checked:?}");
    for (counted, logged) in &checked {
        assert!(counted >= logged, "the counters lag the log: {checked:?}");
    }
}

/// Pulling again what is already here says "unchanged", never "changed":
/// on the run page, in its log, and in the list of runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_re_pull_of_unchanged_records_is_reported_as_unchanged() {
    let Some((a, b, id)) = peers::pair(Backend::Sqlite).await else {
        return;
    };
    let task = add_task(
        &a,
        id,
        TaskSpec {
            mode: "pull",
            ..TaskSpec::default()
        },
    );
    write_local(&b, &many_orgs("B", 5));
    let first = peers::run(&a, id).await;
    assert_eq!(first.counts.pulled_created, 5);
    model::tasks::clear_pull_watermark(&mut a.conn(), task, model::now()).unwrap();
    let again = peers::run(&a, id).await;
    let counts = again.counts;
    assert_eq!(
        (
            counts.pulled_created,
            counts.pulled_updated,
            counts.pulled_unchanged
        ),
        (0, 0, 5),
        "{again:?}"
    );

    a.add_admin();
    let Some(browser) = crate::support::browser::logged_in(&a).await else {
        return;
    };
    let driver = &browser.driver;
    for width in [1400, 400] {
        set_width(driver, width).await;
        open(driver, a.url(&format!("/runs/{}", again.run_id))).await;
        let html = driver.source().await.unwrap();
        assert!(
            html.contains("0 new, 0 changed, 0 deleted, 5 unchanged"),
            "{html}"
        );
        assert!(
            html.contains("5 records received, none changed (already up-to-date)"),
            "{html}"
        );
        shot(driver, &format!("re-pull-unchanged-{width}")).await;
        open(driver, a.url(&format!("/runs?repository={id}"))).await;
        let html = driver.source().await.unwrap();
        assert!(
            html.contains(&format!("<a href=\"/runs/{}\">", again.run_id))
                && html
                    .contains("<td data-label=\"Pulled (new / changed / deleted)\">0 / 0 / 0</td>"),
            "{html}"
        );
    }
    browser.quit().await;
}
