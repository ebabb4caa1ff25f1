//! Charts drawn on the server: the dashboard's records in and out per hour
//! across every repository, and a repository's run history (records and
//! duration per run, with the average run). They are in the page as sent
//! (no JavaScript needed) and coloured by the stylesheet under the strict
//! content security policy. In a real browser, at 1400 and 400 px.

use serde_json::Value;

use crate::support::Backend;
use crate::support::browser::{logged_in, open, set_width, shot};
use crate::support::peers::{self, TaskSpec, add_task};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_and_a_repository_chart_their_runs() {
    let Some((a, b, id)) = peers::pair(Backend::Sqlite).await else {
        return;
    };
    a.add_admin();
    add_task(&a, id, TaskSpec::default());
    // Three runs: 4 records out, then 6 records in, then nothing.
    peers::write_local(&a, &peers::many_orgs("A", 4));
    peers::run(&a, id).await;
    peers::write_local(&b, &peers::many_orgs("B", 6));
    peers::run(&a, id).await;
    peers::run(&a, id).await;
    // A fourth run ten days ago is out of the run history (a week).
    let old = peers::run(&a, id).await;
    {
        use diesel::prelude::*;
        use edensync::db::schema::runs;
        let ago = edensync::model::now() - chrono::TimeDelta::days(10);
        diesel::update(runs::table.find(old.run_id))
            .set((runs::started_at.eq(ago), runs::finished_at.eq(Some(ago))))
            .execute(&mut *a.conn())
            .unwrap();
    }

    let Some(browser) = logged_in(&a).await else {
        return;
    };
    let driver = &browser.driver;
    for width in [1400, 400] {
        set_width(driver, width).await;
        open(driver, a.url("/")).await;
        let page = driver.source().await.unwrap();
        let chart = &page[page.find("id=\"records-per-hour\"").expect("the chart")..];
        assert_eq!(chart.matches("<rect ").count(), 48, "24 hours, in and out");
        assert!(
            chart.contains(" UTC: 6 records in (pulled, or pushed to us)</title>"),
            "{chart}"
        );
        assert!(
            chart.contains(" UTC: 4 records out (pushed, or pulled from us)</title>"),
            "{chart}"
        );
        // Coloured by the stylesheet's classes, not left black.
        let fill: Value = driver
            .execute(
                "return getComputedStyle(document.querySelector('#records-per-hour rect.series-in')).fill;",
                Vec::new(),
            )
            .await
            .unwrap()
            .json()
            .clone();
        assert_ne!(fill, "rgb(0, 0, 0)", "{fill}");
        driver
            .execute(
                "document.getElementById('records-per-hour').scrollIntoView();",
                Vec::new(),
            )
            .await
            .unwrap();
        shot(driver, &format!("dashboard-chart-{width}")).await;

        open(driver, a.url(&format!("/runs?repository={id}"))).await;
        let page = driver.source().await.unwrap();
        let history = &page[page.find("id=\"run-history\"").expect("the run history")..];
        assert!(history.contains("Average run: <strong>"), "{history}");
        assert!(history.contains("over the last 3 runs"), "{history}");
        assert!(
            history.contains("Records per run, last 3 runs"),
            "{history}"
        );
        assert!(
            history.contains("Duration per run, last 3 runs"),
            "{history}"
        );
        // Three runs of two series, and three durations.
        assert_eq!(history.matches("<rect ").count(), 9, "{history}");
        assert!(
            history.contains(": 4 records out (pushed)</title>"),
            "{history}"
        );
        assert!(
            history.contains(": 6 records in (pulled)</title>"),
            "{history}"
        );
        shot(driver, &format!("run-history-{width}")).await;
    }
    browser.quit().await;

    // The peer that was called charts the same records the other way.
    b.add_admin();
    let admin = b
        .logged_in(crate::support::ADMIN_EMAIL, crate::support::ADMIN_PASSWORD)
        .await;
    let page = admin.get("/").await.text().await.unwrap();
    let chart = &page[page.find("id=\"records-per-hour\"").expect("the chart")..];
    assert!(
        chart.contains(" UTC: 4 records in (pulled, or pushed to us)</title>"),
        "{chart}"
    );
    assert!(
        chart.contains(" UTC: 6 records out (pushed, or pulled from us)</title>"),
        "{chart}"
    );
}
