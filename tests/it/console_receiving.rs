//! The receiving node's view of a peer that registered itself: it is shown
//! as registered with us, with its last contact, not as "not registered"
//! and "never". In a real browser, at 1400 and 400 px.

use crate::support::browser::{Browser, log_in, open, set_width, shot};
use crate::support::peers::link;
use crate::support::{Backend, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_registered_with_us_is_listed_as_such_with_its_last_contact() {
    let a = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let b = TestApp::spawn(Backend::Sqlite).await.unwrap();
    b.add_admin();
    // A registers at B: B gets a repository for A, created by A's call.
    link(&a, &b).await;

    let Some(browser) = Browser::start().await else {
        return;
    };
    let driver = &browser.driver;
    log_in(driver, &b).await;
    for width in [1400, 400] {
        set_width(driver, width).await;
        open(driver, b.url("/repositories")).await;
        let page = driver.source().await.unwrap();
        assert!(page.contains("registered with us"), "{page}");
        assert!(!page.contains("not registered"), "{page}");
        assert!(page.contains(" s ago</td>"), "the last contact: {page}");
        shot(driver, &format!("repositories-receiving-{width}")).await;
    }
    browser.quit().await;
}
