//! The background work of a serving process: a process without the
//! scheduler still applies the log retention.

use std::time::Duration;

use edensync::app::Background;
use edensync::model;
use edensync::model::sync_log::NewLogEntry;

use crate::support::{Backend, TestApp};

fn log_row(conn: &mut edensync::db::DbConnection, days_ago: i64, message: &str) {
    model::sync_log::insert(
        conn,
        &NewLogEntry {
            logged_at: model::now() - chrono::Duration::days(days_ago),
            repository_id: None,
            run_id: None,
            resource_name: None,
            mode: "none/none",
            action: "check",
            result: edensync::vocabulary::LogResult::Success,
            remote: false,
            message,
        },
    )
    .unwrap();
}

#[tokio::test]
async fn a_process_without_the_scheduler_still_applies_the_log_retention() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    // The default retention is 90 days.
    log_row(&mut app.conn(), 400, "too old to keep");
    log_row(&mut app.conn(), 1, "recent");

    let background = Background::start(app.engine.clone(), false)
        .await
        .expect("background work starts");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let messages = loop {
        let messages: Vec<String> = model::sync_log::recent(&mut app.conn(), 10)
            .unwrap()
            .into_iter()
            .map(|e| e.message)
            .collect();
        if !messages.iter().any(|m| m == "too old to keep")
            || tokio::time::Instant::now() > deadline
        {
            break messages;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    background.stop().await;
    assert_eq!(messages, vec!["recent".to_string()]);
}

/// Runs older than the retention go, except each repository's latest (its
/// health and last run stay known); what refers to them stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_runs_go_but_each_repositorys_latest_stays() {
    use diesel::prelude::*;
    use edensync::db::schema::runs;

    use crate::support::peers::{self, TaskSpec, add_task};

    let Some((a, _b, id)) = peers::pair(Backend::Sqlite).await else {
        return;
    };
    add_task(&a, id, TaskSpec::default());
    let mut ran = Vec::new();
    for _ in 0..3 {
        ran.push(peers::run(&a, id).await.run_id);
    }
    let long_ago = model::now() - chrono::Duration::days(100);
    diesel::update(runs::table)
        .set(runs::finished_at.eq(Some(long_ago)))
        .execute(&mut *a.conn())
        .unwrap();
    let cutoff = model::now() - chrono::Duration::days(90);
    assert_eq!(model::runs::purge_before(&mut a.conn(), cutoff).unwrap(), 2);
    let left: Vec<i64> = model::runs::list(&mut a.conn(), None, None, None, 10)
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(left, vec![ran[2]], "the latest run stays");
    assert_eq!(model::runs::purge_before(&mut a.conn(), cutoff).unwrap(), 0);
    assert!(
        !model::sync_log::for_run(&mut a.conn(), ran[2])
            .unwrap()
            .is_empty()
    );
}
