//! Console forms in a real browser, at 1400 and 400 px: every text field
//! is styled like its neighbours (none renders tiny for lack of a `type`),
//! and a form that comes back with errors says that the password typed
//! was not kept rather than showing "(none stored)".

use thirtyfour::prelude::*;

use crate::support::browser::{Browser, click, log_in, open, set_width, shot, type_into, wait_for};
use crate::support::{Backend, TestApp};

async fn width_of(driver: &WebDriver, id: &str) -> f64 {
    driver
        .find(By::Id(id))
        .await
        .unwrap()
        .rect()
        .await
        .unwrap()
        .width
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_fields_are_full_width_and_a_refused_form_asks_for_the_password_again() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    app.add_admin();
    let Some(browser) = Browser::start().await else {
        return;
    };
    let driver = &browser.driver;
    log_in(driver, &app).await;

    for width in [1400, 400] {
        set_width(driver, width).await;
        open(driver, app.url("/repositories/new")).await;
        let url_width = width_of(driver, "url").await;
        for id in [
            "name",
            "username",
            "peer_uuid",
            "allowed_tables",
            "accounts",
        ] {
            let field = width_of(driver, id).await;
            assert!(
                (field - url_width).abs() < 1.0,
                "{id} is {field} px wide, the URL field {url_width} px at {width} px"
            );
        }
        open(driver, app.url("/settings")).await;
        let site_name = width_of(driver, "site_name").await;
        let timeout = width_of(driver, "read_timeout_secs").await;
        assert!(
            (site_name - timeout).abs() < 1.0,
            "{site_name} vs {timeout}"
        );

        open(driver, app.url("/repositories/new")).await;
        type_into(driver, "name", "Hub").await;
        type_into(driver, "url", "ftp://nowhere").await;
        type_into(driver, "password", "typed secret 123").await;
        click(driver, "form[action='/repositories'] button[type='submit']").await;
        wait_for(driver, "#url-error").await;
        let label = driver
            .find(By::Css("label[for='password']"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            label.contains("not saved: type the password again"),
            "{label}"
        );
        assert!(!label.contains("none stored"), "{label}");
        let source = driver.source().await.unwrap();
        assert!(!source.contains("typed secret 123"), "never sent back");
        shot(driver, &format!("repository-form-refused-{width}")).await;
    }
    browser.quit().await;
}
