//! Pushing a large table to Eden: documents of a bounded size, each
//! confirmed before the watermark passes it; a busy Eden (500, timeout) is
//! a transient failure, not a reason to change the content type.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use edensync::audit::Actor;
use edensync::engine::RunStatus;
use edensync::manage;
use edensync::s3xml::reader::read_all;

use crate::support::peers::{self, doc, org, write_local};
use crate::support::stand_in::{Reply, Seen, StandIn};
use crate::support::{Backend, TestApp};

/// Eden's answer to a broken document it could read.
fn parse_error() -> Reply {
    Reply::Status(
        400,
        "application/json",
        r#"{"status": "failed", "statuscode": "400", "message": "XML Parse error: Couldn't find end of Start Tag resource line 1"}"#.into(),
    )
}

fn ticket() -> Reply {
    Reply::Status(
        500,
        "text/html",
        "<html><body><h1>Internal error</h1>Ticket issued: edenb/127.0.0.1.2026-12-03</body></html>".into(),
    )
}

fn is_probe(request: &Seen) -> bool {
    request.body == b"<s3xml><resource"
}

fn documents(eden: &StandIn) -> Vec<Seen> {
    eden.requests()
        .into_iter()
        .filter(|r| r.method == "POST" && !is_probe(r))
        .collect()
}

fn uuids(request: &Seen) -> Vec<String> {
    let (_, records) = read_all(&request.body[..]).unwrap();
    records.into_iter().filter_map(|r| r.uuid).collect()
}

fn orgs(from: usize, to: usize, modified: &str) -> String {
    let records: Vec<String> = (from..to)
        .map(|i| {
            org(
                &format!("urn:uuid:big-{i:03}"),
                &format!("Org {i}"),
                &format!("B{i}"),
                modified,
            )
        })
        .collect();
    doc(&records)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_table_goes_to_eden_in_confirmed_documents() {
    let Some(a) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    // The second document of the second run finds Eden busy.
    let busy_once = Arc::new(AtomicBool::new(false));
    let busy = busy_once.clone();
    let eden = StandIn::start(move |request, _| {
        if is_probe(request) {
            parse_error()
        } else if request.body.windows(8).any(|w| w == b"big-003\"")
            && busy.swap(false, Ordering::SeqCst)
        {
            ticket()
        } else {
            Reply::Recorded("03_push_initial_response.http")
        }
    })
    .await;
    let repository = peers::eden_push_task(&a, &eden.url);
    let mut engine = peers::engine(&a);
    engine.eden_push_size = 3;

    write_local(&a, &orgs(100, 101, "2026-11-20T10:00:00"));
    assert_eq!(
        peers::run_with(&engine, repository).await.status,
        RunStatus::Succeeded
    );
    let first_push = documents(&eden)[0].query().to_string();
    assert!(!first_push.contains("msince"), "{first_push}");

    write_local(&a, &orgs(0, 7, "2026-11-21T10:00:00"));
    busy_once.store(true, Ordering::SeqCst);
    let failed = peers::run_with(&engine, repository).await;
    assert_ne!(failed.status, RunStatus::Succeeded, "{failed:?}");
    let error = failed.error.clone().unwrap_or_default();
    assert!(error.contains("Eden may still be busy"), "{error}");
    let resumed = peers::run_with(&engine, repository).await;
    assert_eq!(resumed.status, RunStatus::Succeeded, "{resumed:?}");

    let sent = documents(&eden);
    // 1 (first run) + 2 (the second document refused) + 2 (resumed).
    assert_eq!(sent.len(), 5, "{sent:?}");
    let msince = sent[1].query();
    assert!(msince.contains("&msince=20"), "{msince}");
    for document in &sent[1..] {
        assert_eq!(
            document.query(),
            msince,
            "one msince for every document of a push"
        );
        assert_eq!(
            document.header("Content-Type"),
            Some("text/xml"),
            "a busy Eden is no reason to change"
        );
        let body = String::from_utf8_lossy(&document.body);
        assert!(
            !body.contains("more=") && !body.contains("next_seq="),
            "Eden's root: {body}"
        );
    }
    assert_eq!(
        uuids(&sent[2]),
        uuids(&sent[3]),
        "the refused document is sent again"
    );
    let mut delivered: Vec<String> = [&sent[1], &sent[3], &sent[4]]
        .iter()
        .flat_map(|d| uuids(d))
        .collect();
    assert_eq!(
        [&sent[1], &sent[3]].map(|d| uuids(d).len()),
        [3, 3],
        "bounded documents"
    );
    delivered.sort();
    let expected: Vec<String> = (0..7).map(|i| format!("urn:uuid:big-{i:03}")).collect();
    assert_eq!(delivered, expected, "each record once, nothing lost");
    assert_eq!(
        eden.requests().iter().filter(|r| is_probe(r)).count(),
        1,
        "the 500 was checked once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_eden_still_importing_is_reported_as_such() {
    let Some(a) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    manage::settings::set(
        &mut a.conn(),
        &Actor::cli(),
        &a.node.key,
        "read_timeout_secs",
        "1",
    )
    .unwrap();
    let eden = StandIn::start(|_, index| {
        let reply = Reply::Recorded("03_push_initial_response.http");
        if index == 0 {
            Reply::Slow(Duration::from_secs(4), Box::new(reply))
        } else {
            reply
        }
    })
    .await;
    let repository = peers::eden_push_task(&a, &eden.url);
    let mut engine = peers::engine(&a);
    engine.eden_push_size = 3;
    write_local(&a, &orgs(0, 2, "2026-11-21T10:00:00"));

    let slow = peers::run_with(&engine, repository).await;
    let error = slow.error.clone().unwrap_or_default();
    assert!(
        error.contains("did not answer our push in time: Eden may still be importing it"),
        "{slow:?}"
    );
    let again = peers::run_with(&engine, repository).await;
    assert_eq!(again.status, RunStatus::Succeeded, "{again:?}");
    let sent = documents(&eden);
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].body, sent[1].body, "the unconfirmed document again");
}

/// Eden answers only when its import is done: a larger document is given
/// longer than the read timeout (at least 1 s per 20 KB sent).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_larger_document_is_given_time_to_import() {
    let Some(a) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    manage::settings::set(
        &mut a.conn(),
        &Actor::cli(),
        &a.node.key,
        "read_timeout_secs",
        "1",
    )
    .unwrap();
    let eden = StandIn::start(|_, _| {
        Reply::Slow(
            Duration::from_secs(3),
            Box::new(Reply::Recorded("03_push_initial_response.http")),
        )
    })
    .await;
    let repository = peers::eden_push_task(&a, &eden.url);
    write_local(&a, &orgs(0, 150, "2026-11-21T10:00:00"));
    let report = peers::run(&a, repository).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{report:?}");
    let sent = documents(&eden);
    assert_eq!(sent.len(), 1);
    assert!(sent[0].body.len() > 20_000, "{} bytes", sent[0].body.len());
}
