//! First steps guided: a new repository shows its next steps until it is
//! set up; an edensync peer's tables are offered with their counts (and
//! those it holds only as components say so); a run with no tables says
//! so; a task whose filters changed after it pulled offers a re-pull, and
//! its next pull says what it will not bring. In a real browser, at 1400
//! and 400 px.

use edensync::model;

use crate::support::Backend;
use crate::support::browser::{
    click, flash, logged_in, open, set_width, shot, text_of, type_into, wait_for_text,
};
use crate::support::peers::{self, TaskSpec, add_task};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_repository_is_guided_from_its_tables_to_its_schedule() {
    let Some((a, b, id)) = peers::pair(Backend::Sqlite).await else {
        return;
    };
    a.add_admin();
    peers::write_local(&b, &peers::orgs_with_offices("B", 7));
    let Some(browser) = logged_in(&a).await else {
        return;
    };
    let driver = &browser.driver;
    let page = format!("/repositories/{id}");
    let resources = format!("/repositories/{id}/resources");

    // Three steps, none done.
    for width in [1400, 400] {
        set_width(driver, width).await;
        open(driver, a.url(&page)).await;
        let steps = text_of(driver, "next-steps").await;
        assert!(
            steps.contains("Choose the tables to sync: the peer lists what it holds"),
            "{steps}"
        );
        assert!(steps.contains("Run it once"), "{steps}");
        assert!(steps.contains("Schedule it"), "{steps}");
        shot(driver, &format!("next-steps-{width}")).await;
    }

    // Sync now with no tables says so and leads to them; a scheduled run
    // says so in its log.
    set_width(driver, 1400).await;
    click(
        driver,
        &format!("form[action='/repositories/{id}/sync'] button"),
    )
    .await;
    let said = flash(driver, "no tables to sync").await;
    assert!(
        said.contains("B has no tables to sync yet, so no run was started"),
        "{said}"
    );
    assert!(
        driver
            .current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/resources")
    );
    let report = peers::run(&a, id).await;
    // Nothing to do is a skip: neither a success nor a failure.
    assert_eq!(
        report.status,
        edensync::engine::RunStatus::Skipped,
        "{report:?}"
    );
    let repository = model::repositories::find(&mut a.conn(), id)
        .unwrap()
        .unwrap();
    assert!(repository.last_success_at.is_none(), "{repository:?}");
    let log = model::sync_log::for_run(&mut a.conn(), report.run_id).unwrap();
    assert!(
        log.iter().any(|l| l
            .message
            .contains("B has no tables to sync: nothing was pulled or pushed")),
        "{log:?}"
    );

    // The peer's tables, with counts; offices only as components.
    for width in [1400, 400] {
        set_width(driver, width).await;
        open(driver, a.url(&resources)).await;
        let listed = text_of(driver, "peer-tables").await;
        assert!(listed.contains("Tables at B"), "{listed}");
        assert!(
            listed.contains("org_organisation\n7") || listed.contains("org_organisation 7"),
            "{listed}"
        );
        assert!(
            listed.contains("held only as components of org_organisation"),
            "{listed}"
        );
        shot(driver, &format!("peer-tables-{width}")).await;
    }
    set_width(driver, 1400).await;
    click(driver, "#peer-tables a.button").await;
    wait_for_text(driver, "value=\"org_organisation\"").await;
    click(driver, "#task-form button[type='submit']").await;
    let said = flash(driver, "is synced with B").await;
    assert!(
        said.contains("org_organisation is synced with B now"),
        "{said}"
    );
    let listed = text_of(driver, "peer-tables").await;
    assert!(listed.contains("synced"), "{listed}");

    // A task for the component-only table says what to do instead.
    add_task(
        &a,
        id,
        TaskSpec {
            table: "org_office",
            mode: "pull",
            ..TaskSpec::default()
        },
    );
    open(driver, a.url(&resources)).await;
    wait_for_text(
        driver,
        "The peer holds it only as components of <code>org_organisation</code>",
    )
    .await;

    // The first run: the next steps tick it off.
    let task = model::tasks::list_for_repository(&mut a.conn(), id)
        .unwrap()
        .remove(0);
    model::tasks::delete(
        &mut a.conn(),
        model::tasks::list_for_repository(&mut a.conn(), id).unwrap()[1].id,
    )
    .unwrap();
    peers::run(&a, id).await;
    assert_eq!(peers::count(&a, "org_organisation"), 7);
    open(driver, a.url(&page)).await;
    let steps = text_of(driver, "next-steps").await;
    assert!(steps.contains("1 table(s) to sync"), "{steps}");
    assert!(steps.contains("It has run"), "{steps}");
    assert!(steps.contains("Schedule it"), "{steps}");

    // Filters changed after the pull: the save says to re-pull, the row
    // offers it, and the next pull's log says what it will not bring.
    open(driver, a.url(&format!("{resources}?edit=org_organisation"))).await;
    type_into(driver, "filters", "~.name__like=Organisation*").await;
    click(driver, "#task-form button[type='submit']").await;
    let said = flash(driver, "was changed").await;
    assert!(said.contains("Re-pull everything"), "{said}");
    wait_for_text(driver, "Filters changed after the last pull").await;
    shot(driver, "filters-changed-1400").await;
    let report = peers::run(&a, id).await;
    let log = model::sync_log::for_run(&mut a.conn(), report.run_id).unwrap();
    assert!(
        log.iter().any(|l| l
            .message
            .contains("The filters of org_organisation changed after its last pull")),
        "{log:?}"
    );
    open(driver, a.url(&resources)).await;
    driver
        .execute("window.confirm = () => true;", Vec::new())
        .await
        .unwrap();
    click(
        driver,
        &format!("form[action='{resources}/org_organisation/repull'] button"),
    )
    .await;
    flash(driver, "again").await;
    let task = model::tasks::find_by_id(&mut a.conn(), task.id)
        .unwrap()
        .unwrap();
    assert!(
        task.filters_changed_at.is_none() && task.last_pull.is_none(),
        "{task:?}"
    );
    assert!(
        !driver
            .source()
            .await
            .unwrap()
            .contains("Filters changed after the last pull")
    );
    browser.quit().await;
}
