//! A peer that pages without end: the run notices it makes no progress and
//! stops with a clear error, keeping what arrived.

use diesel::prelude::*;
use edensync::db::schema::repositories;
use edensync::engine::RunStatus;

use crate::support::peers::{TaskSpec, add_repository, add_task, count, run};
use crate::support::stand_in::{Reply, StandIn};
use crate::support::{Backend, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_always_says_more_is_stopped() {
    let Some(a) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    // One record per page, `more="true"`, next_seq one further each time.
    let peer = StandIn::start(|_, index| {
        let next = index + 1;
        Reply::Status(
            200,
            "text/xml",
            format!(
                r#"<s3xml success="true" results="5000" more="true" next_seq="{next}"><resource name="org_organisation" uuid="urn:uuid:endless-{next}" mci="1" modified_on="2026-11-20T10:00:00"><data field="name">Endless {next}</data></resource></s3xml>"#
            ),
        )
    })
    .await;
    let repository = add_repository(&a, "Endless", &format!("{}/eden", peer.url), "u", "p");
    diesel::update(repositories::table.find(repository))
        .set((
            repositories::peer_kind.eq(Some("edensync")),
            repositories::peer_capabilities.eq(Some("since_seq limit gzip")),
        ))
        .execute(&mut *a.conn())
        .unwrap();
    add_task(
        &a,
        repository,
        TaskSpec {
            mode: "pull",
            ..TaskSpec::default()
        },
    );
    let report = run(&a, repository).await;
    assert_ne!(report.status, RunStatus::Succeeded, "{report:?}");
    let error = report.error.unwrap_or_default();
    assert!(
        error.contains("says more records follow, but its page holds 1 of the 5000 asked for"),
        "{error}"
    );
    assert!(
        peer.requests().len() <= 2,
        "stopped at once: {} requests",
        peer.requests().len()
    );
    assert_eq!(count(&a, "org_organisation"), 1, "what it sent is kept");
}

/// One record dated 2099 must not move the pull watermark past the peer's
/// clock (later changes would never be pulled); it is kept and shown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_from_the_future_does_not_stop_later_pulls() {
    let Some(a) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let eden = StandIn::start(|_, _| {
        Reply::Status(
            200,
            "text/xml",
            r#"<s3xml success="true" results="2"><resource name="org_organisation" uuid="urn:uuid:future" mci="1" modified_on="2099-01-01T00:00:00"><data field="name">From the future</data></resource><resource name="org_organisation" uuid="urn:uuid:today" mci="1" modified_on="2026-11-26T10:00:00"><data field="name">Today</data></resource></s3xml>"#.into(),
        )
    })
    .await;
    let repository = add_repository(&a, "Eden", &format!("{}/eden", eden.url), "u", "p");
    add_task(
        &a,
        repository,
        TaskSpec {
            mode: "pull",
            ..TaskSpec::default()
        },
    );
    assert_eq!(run(&a, repository).await.status, RunStatus::Succeeded);
    assert_eq!(count(&a, "org_organisation"), 2, "the record is kept");
    let task = edensync::model::tasks::find(&mut a.conn(), repository, "org_organisation")
        .unwrap()
        .unwrap();
    let last_pull = task.last_pull.unwrap();
    assert!(
        last_pull < edensync::model::now() + chrono::Duration::seconds(60),
        "the watermark stays at the peer's clock: {last_pull}"
    );
    assert_eq!(run(&a, repository).await.status, RunStatus::Succeeded);
    let asked = eden.requests()[1].query().to_string();
    assert!(!asked.contains("msince=2099"), "{asked}");

    a.add_admin();
    let admin = a
        .logged_in(crate::support::ADMIN_EMAIL, crate::support::ADMIN_PASSWORD)
        .await;
    let dashboard = admin.get("/").await.text().await.unwrap();
    assert!(
        dashboard.contains("1 record(s) are dated in the future")
            && dashboard.contains("2099-01-01 00:00:00"),
        "{dashboard}"
    );
}
