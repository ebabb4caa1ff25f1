//! What the console calls an error: "Sync now" while a run holds the
//! repository says no second run was started, and neither a skipped run nor
//! the old errors of a repository that has recovered are listed among the
//! dashboard's errors. In a real browser, at 1400 and 400 px.

use edensync::engine::{RunRequest, RunStatus, Stop, Trigger};
use edensync::model;

use crate::support::browser::{Browser, click, log_in, open, set_width, shot, wait_for};
use crate::support::peers::add_repository;
use crate::support::{Backend, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_now_during_a_run_says_so_and_a_skip_is_not_an_error() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    app.add_admin();
    let id = add_repository(
        &app,
        "Hub",
        "http://127.0.0.1:9/eden",
        "x@example.org",
        "pw",
    );
    // Another process's run holds the lease for the next minute.
    let now = model::now();
    let held = model::repositories::take_lease(
        &mut app.conn(),
        id,
        "elsewhere:1:run",
        now,
        now + chrono::Duration::seconds(60),
    )
    .unwrap();
    assert!(held);
    // A scheduled run meanwhile is skipped.
    let report = app
        .engine
        .run(RunRequest {
            repository_id: id,
            trigger: Trigger::Schedule,
            job_id: None,
            only_table: None,
            stop: Stop::never(),
            progress: None,
        })
        .await
        .unwrap();
    assert_eq!(report.status, RunStatus::Skipped);

    let Some(browser) = Browser::start().await else {
        return;
    };
    let driver = &browser.driver;
    log_in(driver, &app).await;
    for width in [1400, 400] {
        set_width(driver, width).await;
        open(driver, app.url("/")).await;
        let dashboard = driver.source().await.unwrap();
        assert!(
            !dashboard.contains("skipping run"),
            "a skip is not listed among the errors: {dashboard}"
        );
        shot(driver, &format!("dashboard-after-skip-{width}")).await;

        open(driver, app.url(&format!("/repositories/{id}"))).await;
        click(
            driver,
            format!("form[action='/repositories/{id}/sync'] button"),
        )
        .await;
        let flash = wait_for(driver, ".flash").await.text().await.unwrap();
        assert!(
            flash.contains("already in progress, so no second one was started"),
            "{flash}"
        );
        shot(driver, &format!("sync-now-busy-{width}")).await;
    }
    browser.quit().await;
    let runs = model::runs::list(&mut app.conn(), None, Some(id), None, 10).unwrap();
    assert_eq!(runs.len(), 1, "Sync now started no second run");
}

/// An error of a repository that has succeeded since leaves the dashboard
/// (it stays in the log); one that has not recovered stays listed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_of_a_recovered_repository_leave_the_dashboard() {
    use diesel::prelude::*;
    use edensync::db::schema::repositories;
    use edensync::model::sync_log::NewLogEntry;
    use edensync::vocabulary::LogResult;

    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    app.add_admin();
    let recovered = add_repository(
        &app,
        "Recovered",
        "http://127.0.0.1:9/a",
        "x@example.org",
        "pw",
    );
    let broken = add_repository(
        &app,
        "Broken",
        "http://127.0.0.1:9/b",
        "x@example.org",
        "pw",
    );
    let an_hour_ago = model::now() - chrono::Duration::hours(1);
    for (id, message) in [
        (recovered, "old trouble, since fixed"),
        (broken, "still broken"),
    ] {
        model::sync_log::insert(
            &mut app.conn(),
            &NewLogEntry {
                logged_at: an_hour_ago,
                repository_id: Some(id),
                run_id: None,
                resource_name: Some("org_organisation"),
                mode: "pull/outgoing",
                action: "fetch",
                result: LogResult::Error,
                remote: false,
                message,
            },
        )
        .unwrap();
    }
    diesel::update(repositories::table.find(recovered))
        .set(repositories::last_success_at.eq(Some(model::now())))
        .execute(&mut *app.conn())
        .unwrap();

    let Some(browser) = Browser::start().await else {
        return;
    };
    let driver = &browser.driver;
    log_in(driver, &app).await;
    for width in [1400, 400] {
        set_width(driver, width).await;
        open(driver, app.url("/")).await;
        let dashboard = driver.source().await.unwrap();
        assert!(dashboard.contains("still broken"), "{dashboard}");
        assert!(
            !dashboard.contains("old trouble, since fixed"),
            "{dashboard}"
        );
        shot(driver, &format!("dashboard-recovered-{width}")).await;
    }
    browser.quit().await;
    let log = model::sync_log::recent(&mut app.conn(), 10).unwrap();
    assert!(
        log.iter().any(|l| l.message == "old trouble, since fixed"),
        "kept in the log"
    );
}
