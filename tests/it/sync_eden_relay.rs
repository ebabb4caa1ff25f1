//! A relay between two scripted Edens: what Eden A sends reaches Eden B
//! exactly, attribute for attribute and text for text (mci + 1, as Eden's
//! own export does), including what A left out; a rename on A reaches B;
//! B's own way of showing the same versions changes nothing and goes
//! nowhere.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use edensync::engine::RunStatus;
use edensync::s3xml::{Record, reader::read_all};

use crate::on_both_backends;
use crate::support::peers::{TaskSpec, add_repository, add_task, run};
use crate::support::stand_in::{Reply, Seen, StandIn};
use crate::support::{Backend, TestApp};

const DOCUMENT: &str = "07_pull_org_office_with_references.xml";

fn fixture_text(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/eden-vectors/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(path).unwrap()
}

fn recorded() -> String {
    fixture_text(DOCUMENT)
}

/// The same versions as Eden B exports them after importing them: its own
/// mci, its own display texts, without the stamps it does not map.
fn as_b_shows_it(document: &str) -> String {
    document
        .replace(r#"mci="1""#, r#"mci="3""#)
        .replace(">Remote Org Two (RO2)<", ">Remote Org Two (RO2) [B]<")
        .replace(">Office<", ">Bureau<")
        .replace(r#" modified_by="admin@example.com""#, "")
}

/// The same records, after a referenced organisation was renamed and a
/// location moved on A: only display texts change, not `modified_on`.
fn renamed() -> String {
    recorded()
        .replace(">Remote Org Two (RO2)<", ">Remote Org Two Renamed (RO2)<")
        .replace(
            r#"lat="52.5200" lon="13.4050">52.520000 N"#,
            r#"lat="52.5210" lon="13.4050">52.521000 N"#,
        )
}

/// Every record of a document by (table, uuid), components sorted.
fn by_identity(xml: &[u8]) -> BTreeMap<(String, String), Record> {
    let (_, records) = read_all(xml).unwrap();
    records
        .into_iter()
        .map(|mut r| {
            r.components.sort_by(|a, b| a.uuid.cmp(&b.uuid));
            ((r.table.clone(), r.uuid.clone().unwrap()), r)
        })
        .collect()
}

/// What a relay must hand on: the record as received, with mci + 1 where
/// it had one.
fn relayed(mut record: Record) -> Record {
    record.mci = record.mci.map(|m| m + 1);
    record.components = record.components.into_iter().map(relayed).collect();
    record
}

fn eden_a(renamed_now: Arc<AtomicBool>) -> impl Fn(&Seen, usize) -> Reply {
    move |request, _| {
        if request.path().ends_with("/register.json") {
            Reply::Recorded("01_register_response.http")
        } else if renamed_now.load(Ordering::SeqCst) {
            Reply::Status(200, "text/xml", renamed())
        } else {
            Reply::Status(200, "text/xml", recorded())
        }
    }
}

fn eden_b(document: &'static str) -> impl Fn(&Seen, usize) -> Reply {
    move |request, _| {
        if request.path().ends_with("/register.json") {
            Reply::Recorded("01_register_response.http")
        } else if request.method == "GET" {
            Reply::Status(200, "text/xml", as_b_shows_it(&fixture_text(document)))
        } else {
            Reply::Recorded("03_push_initial_response.http")
        }
    }
}

fn posts(eden: &StandIn) -> Vec<Seen> {
    eden.requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect()
}

async fn eden_a_to_eden_b_field_by_field(backend: Backend) {
    let Some(node) = TestApp::spawn(backend).await else {
        return;
    };
    let renamed_now = Arc::new(AtomicBool::new(false));
    let a = StandIn::start(eden_a(renamed_now.clone())).await;
    let b = StandIn::start(eden_b(DOCUMENT)).await;
    let from_a = add_repository(&node, "Eden A", &format!("{}/edena", a.url), "a@x", "pw");
    let to_b = add_repository(&node, "Eden B", &format!("{}/edenb", b.url), "b@x", "pw");
    let spec = |mode| TaskSpec {
        table: "org_office",
        mode,
        components: true,
        ..TaskSpec::default()
    };
    add_task(&node, from_a, spec("both"));
    add_task(&node, to_b, spec("both"));

    assert_eq!(run(&node, from_a).await.status, RunStatus::Succeeded);
    assert_eq!(run(&node, to_b).await.status, RunStatus::Succeeded);
    let pushes: Vec<Seen> = b
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert_eq!(pushes.len(), 1);
    let sent = by_identity(recorded().as_bytes());
    let received = by_identity(&pushes[0].body);
    assert_eq!(
        received.keys().collect::<Vec<_>>(),
        sent.keys().collect::<Vec<_>>(),
        "every record A sent reaches B, nothing else"
    );
    for (key, record) in &sent {
        assert_eq!(received[key], relayed(record.clone()), "{key:?}");
    }
    // B's pull answer shows the same versions its own way: nothing changes,
    // so nothing goes back to A.
    let b_pulled = run(&node, to_b).await;
    assert_eq!(b_pulled.counts.pulled_updated, 0, "{b_pulled:?}");
    assert_eq!(run(&node, from_a).await.status, RunStatus::Succeeded);
    assert!(posts(&a).is_empty(), "A gets none of its own records back");

    // A renames: the texts change, the versions do not. B gets the new texts.
    renamed_now.store(true, Ordering::SeqCst);
    let again = run(&node, from_a).await;
    assert_eq!(again.status, RunStatus::Succeeded, "{again:?}");
    assert_eq!(
        again.counts.pulled_updated, 1,
        "one office shows the rename: {again:?}"
    );
    assert_eq!(run(&node, to_b).await.status, RunStatus::Succeeded);
    let pushes: Vec<Seen> = b
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert_eq!(pushes.len(), 2, "the renamed texts are pushed on");
    let received = by_identity(&pushes[1].body);
    let office = (
        "org_office".to_string(),
        "urn:uuid:068652a7-7494-49aa-9fbb-80cb61d20a4e".to_string(),
    );
    let expected = by_identity(renamed().as_bytes());
    assert_eq!(received[&office], relayed(expected[&office].clone()));
}

on_both_backends!(relay, eden_a_to_eden_b_field_by_field);

/// Eden's `org_site` rows carry no `mci` and no times, and deleted stubs no
/// `mci`: they cross the relay as they are, nothing added.
async fn what_a_leaves_out_stays_out(backend: Backend) {
    let Some(node) = TestApp::spawn(backend).await else {
        return;
    };
    const INITIAL: &str = "02_pull_initial.xml";
    let a = StandIn::start(|request, _| {
        if request.path().ends_with("/register.json") {
            Reply::Recorded("01_register_response.http")
        } else {
            Reply::Status(200, "text/xml", fixture_text(INITIAL))
        }
    })
    .await;
    let b = StandIn::start(eden_b(INITIAL)).await;
    let from_a = add_repository(&node, "Eden A", &format!("{}/edena", a.url), "a@x", "pw");
    let to_b = add_repository(&node, "Eden B", &format!("{}/edenb", b.url), "b@x", "pw");
    let spec = TaskSpec {
        components: true,
        ..TaskSpec::default()
    };
    add_task(&node, from_a, spec.clone());
    add_task(&node, to_b, spec);
    assert_eq!(run(&node, from_a).await.status, RunStatus::Succeeded);
    assert_eq!(run(&node, to_b).await.status, RunStatus::Succeeded);

    let sent = by_identity(fixture_text(INITIAL).as_bytes());
    let pushes = posts(&b);
    assert_eq!(pushes.len(), 1);
    let received = by_identity(&pushes[0].body);
    assert_eq!(received.len(), sent.len());
    for (key, record) in &sent {
        assert_eq!(received[key], relayed(record.clone()), "{key:?}");
    }
    let body = String::from_utf8_lossy(&pushes[0].body);
    let site = body
        .split("<resource name=\"org_site\"")
        .nth(1)
        .and_then(|rest| rest.split('>').next())
        .unwrap();
    assert!(
        !site.contains("mci=") && !site.contains("modified_on=") && !site.contains("created_on="),
        "{site}"
    );
    assert!(posts(&a).is_empty());
}

on_both_backends!(absent, what_a_leaves_out_stays_out);
