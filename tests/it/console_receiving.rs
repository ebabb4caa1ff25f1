//! The receiving node's view of a peer that registered itself: it is shown
//! as registered with us, with its last contact and its calls, not as "not
//! registered" and "never"; its refused pushes are listed with one-click
//! Accept. In a real browser, at 1400 and 400 px.

use edensync::model;
use edensync::vocabulary::RunStatus;

use crate::support::browser::{click, flash, logged_in, open, set_width, shot, text_of};
use crate::support::peers::{self, PEER_EMAIL, PEER_PASSWORD, TaskSpec, link};
use crate::support::{Backend, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_registered_with_us_is_listed_as_such_with_its_last_contact() {
    let a = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let b = TestApp::spawn(Backend::Sqlite).await.unwrap();
    b.add_admin();
    // A registers at B: B gets a repository for A, created by A's call.
    link(&a, &b).await;

    let Some(browser) = logged_in(&b).await else {
        return;
    };
    let driver = &browser.driver;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_push_is_listed_with_the_peers_calls_and_accepted_in_one_click() {
    let a = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let b = TestApp::spawn(Backend::Sqlite).await.unwrap();
    b.add_admin();
    // A registers at B, but B has not accepted its pushes yet.
    b.add_user(PEER_EMAIL, PEER_PASSWORD, model::users::Role::Sync);
    let id = peers::add_repository(&a, "B", &b.url, PEER_EMAIL, PEER_PASSWORD);
    peers::engine(&a)
        .register(id)
        .await
        .expect("registration at B");
    peers::add_task(&a, id, TaskSpec::default());
    peers::write_local(&a, &peers::many_orgs("field", 3));
    let refused = peers::run(&a, id).await;
    assert_ne!(refused.status, RunStatus::Succeeded, "{refused:?}");
    assert_eq!(peers::count(&b, "org_organisation"), 0);

    let Some(browser) = logged_in(&b).await else {
        return;
    };
    let driver = &browser.driver;
    for width in [1400, 400] {
        set_width(driver, width).await;
        open(driver, b.url("/")).await;
        let waiting = text_of(driver, "peers-waiting").await;
        assert!(
            waiting.contains("1 push refused in 30 days, last"),
            "{waiting}"
        );
        shot(driver, &format!("receiving-waiting-{width}")).await;

        open(driver, b.url("/repositories")).await;
        let page = driver.source().await.unwrap();
        assert!(page.contains("registered "), "{page}");
        assert!(
            page.contains("1 pull in 30 days, last "),
            "the pull before the push: {page}"
        );
        assert!(page.contains("1 push refused in 30 days, last"), "{page}");
        shot(driver, &format!("repositories-refused-push-{width}")).await;
    }

    // One click on the dashboard: accepted, audited, and the next push lands.
    set_width(driver, 1400).await;
    open(driver, b.url("/")).await;
    click(driver, "#peers-waiting button").await;
    let said = flash(driver, "accepted from now on").await;
    assert!(said.contains("its next push is imported"), "{said}");
    assert!(
        driver
            .find(thirtyfour::By::Id("peers-waiting"))
            .await
            .is_err()
    );
    let audit = model::audit_log::list(&mut b.conn(), None, 50).unwrap();
    assert!(
        audit.iter().any(|e| e.action == "repository.accept_push"),
        "{audit:?}"
    );
    let accepted = peers::run(&a, id).await;
    assert_eq!(accepted.status, RunStatus::Succeeded, "{accepted:?}");
    assert_eq!(peers::count(&b, "org_organisation"), 3);
    open(driver, b.url("/repositories")).await;
    let page = driver.source().await.unwrap();
    assert!(page.contains("1 push received in 30 days, last "), "{page}");
    assert!(!page.contains("refused in 30 days"), "{page}");
    browser.quit().await;
}
