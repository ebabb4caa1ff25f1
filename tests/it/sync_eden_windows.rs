//! Pulls from Eden in time windows, against a scripted Eden that answers
//! from data as a live one does (support/eden_table.rs), through a 2G-like
//! link scaled down: the table comes in windows that fit the link, each
//! committed with its watermark, and ends record for record as one
//! document over a clean link leaves it, references Eden's windows leave
//! out included. A peer that ignores the window is pulled as one document.

use std::sync::Arc;
use std::time::Duration;

use edensync::engine::RunStatus;
use edensync::model;

use crate::support::eden_table::EdenTable;
use crate::support::link::{Link, Profile};
use crate::support::peers::{self, TaskSpec, add_repository, add_task, run_with};
use crate::support::stand_in::{Reply, StandIn};
use crate::support::{Backend, TestApp};

/// A scripted Eden serving `table`.
async fn eden(table: EdenTable) -> StandIn {
    let table = Arc::new(table);
    StandIn::start(move |request, _| {
        if request.path().ends_with("/sync/repository/register.json") {
            Reply::Recorded("01_register_response.http")
        } else {
            Reply::Status(
                200,
                "text/xml",
                table.answer(request.query(), "http://eden/edena"),
            )
        }
    })
    .await
}

/// A node pulling `org_organisation` (with its components) from `url`
/// under `update_policy`.
async fn puller(url: &str, update_policy: &str) -> Option<(TestApp, i64)> {
    let app = TestApp::spawn(Backend::Sqlite).await?;
    let id = add_repository(&app, "Eden", url, "admin@example.com", "testing");
    add_task(
        &app,
        id,
        TaskSpec {
            mode: "pull",
            components: true,
            update_policy,
            ..TaskSpec::default()
        },
    );
    Some((app, id))
}

fn two_g_scaled() -> Profile {
    Profile::two_g().scaled(8)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn windowed_pulls_over_2g_end_as_one_document_over_a_clean_link() {
    let end = model::now() - chrono::Duration::minutes(5);
    let eden = eden(EdenTable::generated(1_000, end, 10)).await;
    let link = Link::start(&eden.url, two_g_scaled()).await;
    // THIS: a later copy of a record we hold is never taken for a newer
    // version, so what completes a branch's reference left out by its
    // window is the store knowing a fuller copy of the same version.
    let Some((a, a_repo)) = puller(&format!("{}/edena", link.url), "THIS").await else {
        return;
    };
    let Some((c, c_repo)) = puller(&format!("{}/edena", eden.url), "THIS").await else {
        return;
    };
    let mut engine = peers::engine(&a);
    engine.page_time = Duration::from_secs(1);
    let run = run_with(&engine, a_repo).await;
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    // The whole table was asked for first, and dropped after its first
    // look: what came of it is counted as moved again.
    assert!(run.counts.bytes_lost > 0, "{run:?}");
    // Its size is what the windows bring: the run's time left goes by it.
    let progress = model::runs::find(&mut a.conn(), run.run_id)
        .unwrap()
        .unwrap()
        .tables();
    assert!(
        progress
            .iter()
            .any(|t| t.total_bytes.is_some_and(|b| b > 0)),
        "{progress:?}"
    );
    let clean = run_with(&peers::engine(&c), c_repo).await;
    assert_eq!(clean.status, RunStatus::Succeeded, "{clean:?}");

    // The 2G side came in windows; the clean side in one document.
    let windows = |app: &TestApp| {
        model::sync_log::recent(&mut app.conn(), 1000)
            .unwrap()
            .into_iter()
            .filter(|l| l.action == "import" && l.message.contains("records modified"))
            .count()
    };
    assert!(windows(&a) > 3, "the pull came in windows: {}", windows(&a));
    assert_eq!(windows(&c), 0);

    // Record for record the same, deleted stubs, offices, branch links and
    // the references windows leave out included.
    for table in ["org_organisation", "org_office", "org_organisation_branch"] {
        let (windowed, whole) = (peers::snapshot(&a, table), peers::snapshot(&c, table));
        assert!(!whole.is_empty(), "{table}");
        assert_eq!(windowed.len(), whole.len(), "{table}");
        for (uuid, record) in &whole {
            assert_eq!(windowed.get(uuid), Some(record), "{table} {uuid}");
        }
    }
    assert_eq!(peers::count(&a, "org_organisation"), 1_000);

    // Nothing new since: the next pull (THIS asks for the whole table
    // again, as Eden's client does) changes nothing.
    let again = run_with(&engine, a_repo).await;
    assert_eq!(again.status, RunStatus::Succeeded, "{again:?}");
    assert_eq!(again.counts.pulled_created, 0, "{again:?}");
    assert_eq!(again.counts.pulled_updated, 0, "{again:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_ignores_the_window_is_pulled_as_one_document() {
    let end = model::now() - chrono::Duration::minutes(5);
    let mut table = EdenTable::generated(300, end, 10);
    table.honours_windows = false;
    let eden = eden(table).await;
    let link = Link::start(
        &eden.url,
        Profile {
            bytes_per_sec: Some(16_000),
            ..Profile::clean()
        },
    )
    .await;
    let Some((a, a_repo)) = puller(&format!("{}/edena", link.url), "NEWER").await else {
        return;
    };
    let mut engine = peers::engine(&a);
    engine.page_time = Duration::from_secs(1);
    let run = run_with(&engine, a_repo).await;
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    assert_eq!(peers::count(&a, "org_organisation"), 300);
    let log = model::sync_log::recent(&mut a.conn(), 100).unwrap();
    assert!(
        log.iter()
            .any(|l| l.message.contains("ignored the time window")),
        "{log:?}"
    );
}
