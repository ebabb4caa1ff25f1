//! The whole console path in a real browser: log in, add a repository that
//! points at a second node, add a table with a filter, add a schedule,
//! press Sync now, watch the run finish on its page, find its lines in the
//! log viewer and open the synced record. Screenshots of each step go to
//! `target/screenshots/`.

use thirtyfour::prelude::*;

use crate::support::browser::{Browser, click, log_in, shot, type_into, wait_for, wait_for_text};
use crate::support::peers::{PEER_EMAIL, PEER_PASSWORD, doc, org, write_local};
use crate::support::{Backend, TestApp};
use edensync::model::users::Role;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_up_a_sync_and_watch_it_work() {
    let a = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let b = TestApp::spawn(Backend::Sqlite).await.unwrap();
    a.add_admin();
    b.add_user(PEER_EMAIL, PEER_PASSWORD, Role::Sync);
    write_local(
        &b,
        &doc(&[
            org("urn:uuid:ro-1", "Relief One", "RO1", "2026-11-20T10:00:00"),
            org(
                "urn:uuid:xx-2",
                "Excluded Two",
                "XX2",
                "2026-11-20T10:00:00",
            ),
        ]),
    );
    let Some(browser) = Browser::start().await else {
        return;
    };
    let driver = &browser.driver;

    log_in(driver, &a).await;

    // A repository pointing at B: saving registers there.
    driver.goto(a.url("/repositories/new")).await.unwrap();
    type_into(driver, "name", "Field hub").await;
    type_into(driver, "url", &b.url).await;
    type_into(driver, "username", PEER_EMAIL).await;
    type_into(driver, "password", PEER_PASSWORD).await;
    click(driver, "form[action='/repositories'] button[type='submit']").await;
    wait_for_text(driver, "registered at the peer").await;
    shot(driver, "repository").await;
    let path = driver.current_url().await.unwrap().path().to_string();
    let id: i64 = path.trim_start_matches("/repositories/").parse().unwrap();

    // A table with a filter.
    driver
        .goto(a.url(&format!("/repositories/{id}/resources")))
        .await
        .unwrap();
    type_into(driver, "table", "org_organisation").await;
    click(driver, "select#mode option[value='pull']").await;
    type_into(driver, "filters", "~.acronym__like=RO*").await;
    click(driver, "form[action$='/resources'] button[type='submit']").await;
    wait_for_text(driver, "is synced with Field hub now").await;

    // A schedule: every 60 minutes.
    driver
        .goto(a.url(&format!("/repositories/{id}/schedule")))
        .await
        .unwrap();
    driver
        .find(By::Css("input[name='every_minutes']"))
        .await
        .unwrap()
        .clear()
        .await
        .unwrap();
    driver
        .find(By::Css("input[name='every_minutes']"))
        .await
        .unwrap()
        .send_keys("60")
        .await
        .unwrap();
    click(driver, "form[action$='/schedule'] button[type='submit']").await;
    wait_for_text(driver, "Scheduled: every hour").await;

    // Sync now from the dashboard; follow the run to its end.
    driver.goto(a.url("/")).await.unwrap();
    shot(driver, "dashboard").await;
    click(
        driver,
        format!("form[action='/repositories/{id}/sync'] button"),
    )
    .await;
    let run_link = wait_for(driver, "table a[href^='/runs/']").await;
    run_link.click().await.unwrap();
    wait_for_text(driver, ">succeeded<").await;
    wait_for_text(driver, "Data imported successfully (1 records: 1 new").await;
    shot(driver, "run").await;

    // Its lines in the log viewer.
    driver
        .goto(a.url(&format!("/logs?repository={id}")))
        .await
        .unwrap();
    wait_for_text(driver, "Data imported successfully (1 records: 1 new").await;
    shot(driver, "log").await;

    // The synced record (the filter kept XX2 out).
    driver
        .goto(a.url("/records/org_organisation"))
        .await
        .unwrap();
    let source = driver.source().await.unwrap();
    assert!(!source.contains("urn:uuid:xx-2"), "the filter applies");
    click(
        driver,
        "a[href='/records/org_organisation/urn%3Auuid%3Aro-1']",
    )
    .await;
    wait_for_text(driver, "Relief One").await;
    shot(driver, "record").await;
    browser.quit().await;
}
