//! The console in a real browser: log in through the form, see the dashboard.

use std::time::Duration;

use thirtyfour::prelude::*;

use crate::support::browser::{Browser, click};
use crate::support::{ADMIN_EMAIL, ADMIN_PASSWORD, Backend, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_in_through_the_form_and_see_the_dashboard() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    app.add_admin();
    let Some(browser) = Browser::start().await else {
        return;
    };
    let driver = &browser.driver;

    driver.goto(app.url("/")).await.unwrap();
    // Not logged in: the browser lands on the login page.
    let email = driver.find(By::Id("email")).await.unwrap();
    assert!(
        driver
            .current_url()
            .await
            .unwrap()
            .path()
            .starts_with("/login")
    );
    email.send_keys(ADMIN_EMAIL).await.unwrap();
    driver
        .find(By::Id("password"))
        .await
        .unwrap()
        .send_keys(ADMIN_PASSWORD)
        .await
        .unwrap();
    click(driver, "form[action='/login'] button[type='submit']").await;

    let uuid = driver
        .query(By::Id("site-uuid"))
        .wait(Duration::from_secs(10), Duration::from_millis(100))
        .first()
        .await
        .expect("the dashboard shows the site uuid");
    assert_eq!(uuid.text().await.unwrap(), app.node.site_uuid);
    assert_eq!(driver.current_url().await.unwrap().path(), "/");
    // JavaScript reveals the copy button.
    let copy = driver.find(By::Css("button[data-copy]")).await.unwrap();
    assert!(copy.is_displayed().await.unwrap());

    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let shot = dir.join("dashboard.png");
    driver.screenshot(&shot).await.unwrap();
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 5_000,
        "a real screenshot"
    );

    // Logging out from the navigation returns to the login page.
    click(driver, "form[action='/logout'] button").await;
    driver
        .query(By::Css("form[action='/login']"))
        .wait(Duration::from_secs(10), Duration::from_millis(100))
        .first()
        .await
        .expect("back on the login page");
    browser.quit().await;
}
