//! Query parameters on console pages: an empty value means "any" (what the
//! filter forms send by default) and a bad value gives the page with a
//! message, never a bare 400. In a real browser, at 1400 and 400 px.

use crate::support::browser::{Browser, click, log_in, open, set_width, shot, type_into, wait_for};
use crate::support::peers::add_repository;
use crate::support::{Backend, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filter_forms_with_any_repository_and_bad_numbers_show_the_page() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    app.add_admin();
    let hub = add_repository(
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
        // The log viewer's form as it comes: Repository "any", plus a text.
        open(driver, app.url("/logs")).await;
        type_into(driver, "text", "nothing like this").await;
        click(driver, "form.filters button[type='submit']").await;
        // The form's page is replaced by the answer's: wait for its address.
        let mut url = driver.current_url().await.unwrap();
        for _ in 0..100 {
            if url.query().unwrap_or("").contains("text=") {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            url = driver.current_url().await.unwrap();
        }
        wait_for(driver, "form.filters").await;
        assert!(url.query().unwrap_or("").contains("repository="), "{url}");
        let source = driver.source().await.unwrap();
        assert!(!source.contains("deserialize"), "{source}");
        shot(driver, &format!("logs-filter-any-{width}")).await;

        for path in [
            "/logs?repository=abc&text=x",
            "/runs?repository=abc",
            "/runs?repository=&before=",
            "/audit?before=soon",
        ] {
            open(driver, app.url(path)).await;
            let source = driver.source().await.unwrap();
            assert!(!source.contains("deserialize"), "{path}: {source}");
            assert!(
                source.contains("<nav"),
                "{path} is the console page: {source}"
            );
            let bad = path.contains("abc") || path.contains("soon");
            assert_eq!(
                source.contains("is not a number; it was ignored."),
                bad,
                "{path}: {source}"
            );
        }
        shot(driver, &format!("audit-bad-page-{width}")).await;

        // The runs page filters by repository with its own form.
        open(driver, app.url("/runs")).await;
        click(driver, format!("select#repository option[value='{hub}']")).await;
        click(driver, "form.filters button[type='submit']").await;
        let heading = wait_for(driver, "h1").await;
        for _ in 0..100 {
            if heading
                .text()
                .await
                .unwrap_or_default()
                .contains("Runs of Hub")
            {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let url = driver.current_url().await.unwrap();
        assert!(
            url.query()
                .unwrap_or("")
                .contains(&format!("repository={hub}")),
            "{url}"
        );
        shot(driver, &format!("runs-by-repository-{width}")).await;
    }
    browser.quit().await;
}
