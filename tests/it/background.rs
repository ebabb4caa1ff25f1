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
