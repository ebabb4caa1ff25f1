//! "Test connection" on a repository's page and on its form: it reaches the
//! peer as a run would, says whether it is Eden or edensync, whether it took
//! the credentials and how its clock compares, and saves nothing and moves
//! no record, also when the values entered are wrong.

use thirtyfour::prelude::*;

use edensync::model;

use crate::support::Backend;
use crate::support::browser::{Browser, click, flash, log_in, open, set_width, shot, type_into};
use crate::support::peers::{self, unreachable_url};
use crate::support::stand_in::{Reply, StandIn};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_connection_says_what_it_reached_and_saves_nothing() {
    let Some((a, b, id)) = peers::pair(Backend::Sqlite).await else {
        return;
    };
    a.add_admin();
    let eden = StandIn::start(|_, _| Reply::Recorded("14_pull_empty_result_response.http")).await;
    let Some(browser) = Browser::start().await else {
        return;
    };
    let driver = &browser.driver;
    log_in(driver, &a).await;
    let stored = model::repositories::find(&mut a.conn(), id)
        .unwrap()
        .unwrap();
    let records_before = peers::count(&a, "org_organisation");
    let runs_of_b = model::runs::list(&mut b.conn(), None, None, None, 10)
        .unwrap()
        .len();

    for width in [1400, 400] {
        set_width(driver, width).await;
        // The saved settings, from the repository's page.
        open(driver, a.url(&format!("/repositories/{id}"))).await;
        click(
            driver,
            &format!("form[action='/repositories/{id}/test'] button"),
        )
        .await;
        let said = flash(driver, "Connection to B").await;
        assert!(said.contains("Connection to B works"), "{said}");
        assert!(said.contains("an edensync server (edensync/"), "{said}");
        assert!(said.contains("accepted the credentials"), "{said}");
        assert!(said.contains("clock"), "{said}");
        shot(driver, &format!("test-connection-works-{width}")).await;

        // A wrong password typed into the form: the peer refuses it, and
        // the stored password stays.
        open(driver, a.url(&format!("/repositories/{id}"))).await;
        type_into(driver, "password", "not the password").await;
        click(driver, "button[formaction$='/test-entered']").await;
        let said = flash(driver, "Nothing was saved").await;
        assert!(said.contains("refused our credentials (HTTP 401"), "{said}");
        assert!(said.contains("Nothing was saved"), "{said}");
        shot(driver, &format!("test-connection-wrong-password-{width}")).await;

        // A new repository's values: Eden's answer is recognised; a peer
        // that is down says so; neither is saved.
        open(driver, a.url("/repositories/new")).await;
        type_into(driver, "name", "Eden HQ").await;
        type_into(driver, "url", &eden.url).await;
        type_into(driver, "username", "admin@example.org").await;
        type_into(driver, "password", "secret").await;
        click(driver, "button[formaction='/repositories/test']").await;
        let said = flash(driver, "Nothing was saved").await;
        assert!(said.contains("a Sahana Eden server answered"), "{said}");
        assert!(said.contains("did not say its time"), "{said}");
        let url_field = driver.find(By::Id("url")).await.unwrap();
        assert_eq!(
            url_field.value().await.unwrap().as_deref(),
            Some(eden.url.as_str()),
            "the values stay"
        );

        type_into(driver, "url", &unreachable_url().await).await;
        type_into(driver, "password", "secret").await;
        click(driver, "button[formaction='/repositories/test']").await;
        let said = flash(driver, "failed").await;
        assert!(said.contains("The connection test failed"), "{said}");
        shot(driver, &format!("test-connection-down-{width}")).await;
    }
    browser.quit().await;

    let after = model::repositories::find(&mut a.conn(), id)
        .unwrap()
        .unwrap();
    assert_eq!(
        after.password_enc, stored.password_enc,
        "the stored password stays"
    );
    let names: Vec<String> = model::repositories::list(&mut a.conn())
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, vec!["B".to_string()], "no repository was added");
    assert_eq!(peers::count(&a, "org_organisation"), records_before);
    assert_eq!(
        model::runs::list(&mut a.conn(), None, None, None, 10)
            .unwrap()
            .len(),
        0,
        "no run"
    );
    assert_eq!(
        model::runs::list(&mut b.conn(), None, None, None, 10)
            .unwrap()
            .len(),
        runs_of_b
    );
    // Eden was asked for nothing: msince in the next century.
    assert!(
        eden.requests()
            .iter()
            .all(|r| r.query().contains("msince=2100-01-01T00%3A00%3A00")
                || r.query().contains("msince=2100-01-01T00:00:00")),
        "{:?}",
        eden.requests()
            .iter()
            .map(|r| r.query().to_string())
            .collect::<Vec<_>>()
    );
}
