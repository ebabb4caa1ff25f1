//! Page furniture in a real browser, at 1400 and 400 px: identifiers and
//! timestamps stay on one line (wide tables scroll instead), and the 404
//! page keeps the navigation.

use thirtyfour::prelude::*;

use crate::support::browser::{Browser, log_in, open, set_width, shot};
use crate::support::peers::{doc, org, write_local};
use crate::support::{Backend, TestApp};

/// Heights of the elements matching `css`: one line of text is well under
/// 30 px at the console's font size.
async fn heights(driver: &WebDriver, css: &str) -> Vec<f64> {
    let mut heights = Vec::new();
    for element in driver.find_all(By::Css(css)).await.unwrap() {
        heights.push(element.rect().await.unwrap().height);
    }
    heights
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identifiers_and_timestamps_stay_whole_and_the_404_page_has_the_navigation() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    app.add_admin();
    write_local(
        &app,
        &doc(&[org(
            "urn:uuid:5513e238-de56-4c16-ab02-54b2b8ba64cb",
            "Relief One",
            "RO1",
            "2026-11-20T10:00:00",
        )]),
    );
    let Some(browser) = Browser::start().await else {
        return;
    };
    let driver = &browser.driver;
    log_in(driver, &app).await;
    for width in [1400, 400] {
        set_width(driver, width).await;
        open(driver, app.url("/records")).await;
        let names = heights(driver, "td code").await;
        assert!(!names.is_empty());
        assert!(names.iter().all(|h| *h < 30.0), "{names:?} at {width} px");

        open(driver, app.url("/records/org_organisation")).await;
        let stamps = heights(driver, "time.stamp").await;
        assert!(!stamps.is_empty());
        assert!(stamps.iter().all(|h| *h < 30.0), "{stamps:?} at {width} px");
        shot(driver, &format!("records-list-{width}")).await;

        open(driver, app.url("/no/such/page")).await;
        let nav = driver.find(By::Css("nav.mainnav")).await.unwrap();
        assert!(nav.text().await.unwrap().contains("Repositories"));
        shot(driver, &format!("not-found-{width}")).await;
    }
    browser.quit().await;
}

/// A repository's Runs and Log tabs keep its tab bar, with the tab marked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repositorys_runs_and_log_tabs_keep_the_tab_bar() {
    use crate::support::peers::add_repository;

    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    app.add_admin();
    let id = add_repository(
        &app,
        "Hub",
        "http://127.0.0.1:9/eden",
        "x@example.org",
        "pw",
    );
    let Some(browser) = Browser::start().await else {
        return;
    };
    let driver = &browser.driver;
    log_in(driver, &app).await;
    for width in [1400, 400] {
        set_width(driver, width).await;
        for (tab, path) in [
            ("Runs", format!("/runs?repository={id}")),
            ("Log", format!("/logs?repository={id}")),
        ] {
            open(driver, app.url(&path)).await;
            let current = driver
                .find(By::Css("nav.tabs a[aria-current='page']"))
                .await
                .unwrap_or_else(|_| panic!("{path} has the repository's tab bar"));
            assert_eq!(current.text().await.unwrap(), tab);
            let configuration = driver
                .find(By::Css(format!("nav.tabs a[href='/repositories/{id}']")))
                .await
                .unwrap();
            assert_eq!(configuration.text().await.unwrap(), "Configuration");
            let heading = driver
                .find(By::Css("h1"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert!(heading.contains("Hub"), "{heading}");
        }
        shot(driver, &format!("repository-log-tab-{width}")).await;
    }
    browser.quit().await;
}

/// The failing states this round added, as an administrator sees them: the
/// dashboard's notice of records dated in the future, and a record whose
/// value is far too long to show whole, at 1400 and 400 px.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn future_dates_and_long_values_read_well_on_both_widths() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    app.add_admin();
    let long = "a long comment ".repeat(20_000);
    write_local(
        &app,
        &format!(
            r#"<s3xml><resource name="org_organisation" uuid="urn:uuid:from-the-future" mci="1" modified_on="2099-01-01T00:00:00"><data field="name">From the future</data></resource><resource name="org_organisation" uuid="urn:uuid:long-value" mci="1" modified_on="2026-11-20T10:00:00"><data field="name">Long value</data><data field="comments">{long}</data></resource></s3xml>"#
        ),
    );
    let Some(browser) = Browser::start().await else {
        return;
    };
    let driver = &browser.driver;
    log_in(driver, &app).await;
    for width in [1400, 400] {
        set_width(driver, width).await;
        open(driver, app.url("/")).await;
        let notice = driver.find(By::Css("#future-dated")).await.unwrap();
        assert!(notice.is_displayed().await.unwrap());
        let rect = notice.rect().await.unwrap();
        assert!(rect.width <= f64::from(width), "{rect:?} at {width} px");
        shot(driver, &format!("dashboard-future-dated-{width}")).await;

        open(
            driver,
            app.url("/records/org_organisation/urn:uuid:long-value"),
        )
        .await;
        let source = driver.source().await.unwrap();
        assert!(source.contains("characters in all"));
        let comment = driver
            .find(By::XPath("//td[contains(., 'characters in all')]"))
            .await
            .unwrap();
        comment.scroll_into_view().await.unwrap();
        shot(driver, &format!("record-long-value-{width}")).await;
    }
    browser.quit().await;
}
