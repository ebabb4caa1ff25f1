//! A failing repository says why in a few words, with the fix next to it
//! and the whole message one click away: a wrong password links to the
//! password field, a peer that is down offers "Retry now", a push the peer
//! has not accepted says what the peer's administrator must do. Once the
//! repository recovers, its failure leaves the dashboard. In a real
//! browser, at 1400 and 400 px.

use thirtyfour::prelude::*;

use edensync::engine::RunStatus;
use edensync::model;

use crate::support::Backend;
use crate::support::browser::{Browser, click, log_in, open, set_width, shot, type_into};
use crate::support::peers::{
    self, PEER_PASSWORD, TaskSpec, add_repository, add_task, unreachable_url,
};

/// The dashboard row of repository `name`, as text.
async fn row_of(driver: &WebDriver, name: &str) -> String {
    for row in driver
        .find_all(By::Css("main table tbody tr"))
        .await
        .unwrap()
    {
        let text = row.text().await.unwrap();
        if text.starts_with(name) {
            return text;
        }
    }
    panic!("no dashboard row for {name}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_failure_says_its_cause_and_offers_its_fix() {
    let Some((a, b, id)) = peers::pair(Backend::Sqlite).await else {
        return;
    };
    add_task(&a, id, TaskSpec::default());
    peers::write_local(&a, &peers::many_orgs("A", 3));
    a.add_admin();
    // B stops accepting our pushes; Down is not there; Locked has the
    // wrong password.
    {
        use diesel::prelude::*;
        use edensync::db::schema::repositories::dsl::*;
        diesel::update(repositories)
            .set(accept_push.eq(false))
            .execute(&mut *b.conn())
            .unwrap();
    }
    let down = add_repository(&a, "Down", &unreachable_url().await, "x@example.org", "pw");
    add_task(&a, down, TaskSpec::default());
    let locked = add_repository(
        &a,
        "Locked",
        &format!("{}/", b.url),
        peers::PEER_EMAIL,
        "wrong",
    );
    add_task(&a, locked, TaskSpec::default());
    for repository in [id, down, locked] {
        let run = peers::run(&a, repository).await;
        assert_ne!(run.status, RunStatus::Succeeded, "{run:?}");
    }

    let Some(browser) = Browser::start().await else {
        return;
    };
    let driver = &browser.driver;
    log_in(driver, &a).await;
    for width in [1400, 400] {
        set_width(driver, width).await;
        open(driver, a.url("/")).await;
        let row = row_of(driver, "B").await;
        assert!(row.contains("push not accepted by the peer"), "{row}");
        assert!(row.contains("must accept pushes from this node"), "{row}");
        let row = row_of(driver, "Down").await;
        assert!(row.contains("peer down or unreachable"), "{row}");
        assert!(row.contains("Retry now"), "{row}");
        let row = row_of(driver, "Locked").await;
        assert!(row.contains("wrong username or password"), "{row}");
        assert!(row.contains("Edit credentials"), "{row}");
        // The fixes are in view at every width, not cut off.
        for fix in driver
            .find_all(By::Css(".failure .button, .failure button"))
            .await
            .unwrap()
        {
            assert!(fix.is_displayed().await.unwrap());
            let rect = fix.rect().await.unwrap();
            assert!(rect.x >= 0.0, "a fix outside the page at {width} px");
        }
        shot(driver, &format!("dashboard-failures-{width}")).await;
    }

    // The details are one click away; the fix leads to the field.
    set_width(driver, 1400).await;
    open(driver, a.url("/")).await;
    click(driver, "a.button[href$='#password']").await;
    open(driver, a.url(&format!("/repositories/{locked}"))).await;
    let page = driver.source().await.unwrap();
    assert!(page.contains("Last run failed"), "{page}");
    assert!(page.contains("refused our credentials (HTTP 401"), "{page}");
    shot(driver, "repository-failure-1400").await;
    type_into(driver, "password", PEER_PASSWORD).await;
    click(
        driver,
        format!("form[action='/repositories/{locked}'] button[type='submit']:not([formaction])"),
    )
    .await;
    crate::support::browser::wait_for_text(driver, "Locked saved").await;

    // Recovered (B accepts pushes again): its failure leaves the dashboard.
    crate::sync_register::accept_pushes(&b, &a.node.site_uuid);
    let run = peers::run(&a, locked).await;
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    open(driver, a.url("/")).await;
    let row = row_of(driver, "Locked").await;
    assert!(!row.contains("wrong username or password"), "{row}");
    assert!(!row.contains("What happened"), "{row}");
    let repository = model::repositories::find(&mut a.conn(), locked)
        .unwrap()
        .unwrap();
    assert!(repository.last_success_at.is_some());
    browser.quit().await;
}
