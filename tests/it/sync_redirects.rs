//! A peer that answers with a redirect: nothing is followed, nothing from
//! the other address is imported, and the message names both addresses.

use edensync::engine::RunStatus;

use crate::support::peers::{TaskSpec, add_repository, add_task, count, run};
use crate::support::stand_in::{Reply, StandIn};
use crate::support::{Backend, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_from_a_peer_are_never_followed() {
    let Some(a) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let elsewhere = StandIn::start(|_, _| Reply::Recorded("02_pull_initial_response.http")).await;
    let target = format!(
        "{}/edenb/sync/sync.xml?resource=org_organisation",
        elsewhere.url
    );
    let peer = StandIn::start(move |_, _| Reply::Redirect(302, target.clone())).await;
    let repository = add_repository(
        &a,
        "Eden B",
        &format!("{}/edenb", peer.url),
        "admin@example.com",
        "testing",
    );
    add_task(&a, repository, TaskSpec::default());

    let report = run(&a, repository).await;
    assert_eq!(report.status, RunStatus::Failed, "{report:?}");
    let error = report.error.unwrap_or_default();
    assert!(
        error.contains(&format!("from {}/edenb/sync/sync.xml", peer.url))
            && error.contains(&format!("to {}/edenb/sync/sync.xml", elsewhere.url))
            && error.contains("redirects are not followed"),
        "{error}"
    );
    assert!(
        elsewhere.requests().is_empty(),
        "nothing went to the other address"
    );
    assert_eq!(count(&a, "org_organisation"), 0);
}
