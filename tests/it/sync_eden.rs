//! The active side against a scripted Eden built from recorded traffic:
//! the requests our client sends are the ones Eden's server accepted (path,
//! query, headers, body form), and Eden's answers are read as Eden's client
//! reads them.

use edensync::engine::RunStatus;
use edensync::model;
use edensync::s3xml::{self, time};

use crate::support::peers::{self, TaskSpec, add_repository, add_task, doc, org, run, write_local};
use crate::support::stand_in::{Reply, StandIn, eden_refuses_nameless, holds_nameless};
use crate::support::{Backend, TestApp};

const EDEN_USER: &str = "admin@example.com";
const EDEN_PASSWORD: &str = "testing";
/// B's uuid in the recorded registration answer.
const EDEN_UUID: &str = "urn:uuid:d43df2e9-5678-4e95-bc37-928c3fef2e5b";

fn eden_script(
    push_reply: fn(&crate::support::stand_in::Seen) -> Reply,
) -> impl Fn(&crate::support::stand_in::Seen, usize) -> Reply {
    move |request, _| {
        if request.path().ends_with("/sync/repository/register.json") {
            Reply::Recorded("01_register_response.http")
        } else if request.method == "GET" {
            Reply::Recorded("02_pull_initial_response.http")
        } else {
            push_reply(request)
        }
    }
}

/// The youngest `modified_on` of the recorded pull's masters: what the next
/// pull must ask for (no extra second).
fn youngest_master_in_recorded_pull() -> String {
    let path = format!(
        "{}/tests/fixtures/eden-vectors/02_pull_initial.xml",
        env!("CARGO_MANIFEST_DIR")
    );
    let (_, records) = s3xml::reader::read_all(std::fs::File::open(path).unwrap()).unwrap();
    let youngest = records
        .iter()
        .filter(|r| r.table == "org_organisation")
        .filter_map(|r| r.modified_on)
        .max()
        .unwrap();
    youngest.format("%Y-%m-%dT%H:%M:%S").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_match_what_eden_accepted() {
    let Some(a) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let eden = StandIn::start(eden_script(|_| {
        Reply::Recorded("03_push_initial_response.http")
    }))
    .await;
    let repository = add_repository(
        &a,
        "Eden B",
        &format!("{}/edenb", eden.url),
        EDEN_USER,
        EDEN_PASSWORD,
    );
    let said = peers::engine(&a).register(repository).await.unwrap();
    assert!(said.contains("Registration successful"), "{said}");
    let stored = model::repositories::find(&mut a.conn(), repository)
        .unwrap()
        .unwrap();
    assert_eq!(stored.peer_uuid.as_deref(), Some(EDEN_UUID));
    assert_eq!(stored.peer_kind.as_deref(), Some("eden"));

    add_task(&a, repository, TaskSpec::default());
    write_local(
        &a,
        &doc(&[org(
            "urn:uuid:local-1",
            "Local One",
            "LO1",
            "2026-11-26T09:00:00",
        )]),
    );
    let first = run(&a, repository).await;
    assert_eq!(first.status, RunStatus::Succeeded, "{first:?}");
    assert_eq!(first.counts.pulled_created, 2, "{first:?}");
    assert_eq!(
        first.counts.pulled_deleted, 1,
        "the deleted stub is kept: {first:?}"
    );

    let requests = eden.requests();
    let basic = format!(
        "Basic {}",
        crate::support::basic_credentials(EDEN_USER, EDEN_PASSWORD)
    );
    let uuid = &a.node.site_uuid;

    // Registration: Eden's body, pre-emptive Basic auth.
    let register = &requests[0];
    assert_eq!(register.method, "POST");
    assert_eq!(register.path(), "/edenb/sync/repository/register.json");
    assert_eq!(register.header("Authorization"), Some(basic.as_str()));
    let body: serde_json::Value = serde_json::from_slice(&register.body).unwrap();
    assert_eq!(body["uuid"], uuid.as_str());
    assert_eq!(body["apitype"], "eden");
    assert!(body["name"].as_str().unwrap().starts_with("127.0.0.1:"));

    // The pull: Eden's parameters in Eden's order, no compression.
    let pull = &requests[1];
    assert_eq!(pull.method, "GET");
    assert_eq!(pull.path(), "/edenb/sync/sync.xml");
    assert_eq!(
        pull.query(),
        format!(
            "resource=org_organisation&repository={uuid}&mcomponents=None&include_deleted=True"
        )
    );
    assert_eq!(pull.header("Authorization"), Some(basic.as_str()));
    assert_eq!(pull.header("Accept-Encoding"), Some("identity"));
    assert!(pull.header("User-Agent").unwrap().starts_with("edensync/"));

    // The push: text/xml with a file name (fast on Eden), Eden's query,
    // Eden's document form, only what Eden did not send us.
    let push = &requests[2];
    assert_eq!(push.method, "POST");
    assert_eq!(
        push.query(),
        format!(
            "resource=org_organisation&repository={uuid}&strategy=create,update,delete,merge&update_policy=NEWER&conflict_policy=NEWER"
        )
    );
    assert_eq!(push.header("Content-Type"), Some("text/xml"));
    assert_eq!(
        push.header("Content-Disposition"),
        Some("attachment; filename=\"push.xml\"")
    );
    assert_eq!(push.header("Content-Encoding"), None);
    let body = String::from_utf8(push.body.clone()).unwrap();
    assert!(
        body.starts_with(&format!(
            "<?xml version='1.0' encoding='utf-8'?>\n<s3xml success=\"true\" results=\"1\" url=\"{}\">",
            a.url
        )),
        "{body}"
    );
    assert!(
        body.contains("uuid=\"urn:uuid:local-1\" mci=\"1\""),
        "{body}"
    );
    assert!(
        !body.contains("urn:uuid:14943033"),
        "records Eden sent are not pushed back"
    );

    // The next pull asks from the youngest record received (no extra second),
    // and nothing is pushed again.
    let second = run(&a, repository).await;
    assert_eq!(second.status, RunStatus::Succeeded, "{second:?}");
    // The same answer again: nothing changed, and nothing is said to have.
    let c = second.counts;
    assert_eq!(
        (
            c.pulled_created,
            c.pulled_updated,
            c.pulled_deleted,
            c.pulled_unchanged
        ),
        (0, 0, 0, 3),
        "{second:?}"
    );
    let requests = eden.requests();
    assert_eq!(requests.len(), 4, "one more pull, no push: {requests:?}");
    let msince = youngest_master_in_recorded_pull();
    assert!(
        requests[3].query().contains(&format!("&msince={msince}&")),
        "{}",
        requests[3].query()
    );
    let task = model::tasks::find(&mut a.conn(), repository, "org_organisation")
        .unwrap()
        .unwrap();
    assert_eq!(task.last_pull, time::parse_strict(&msince));

    // The recorded answers carry Eden's Date of hours ago: a clock warning.
    let log = model::sync_log::recent(&mut a.conn(), 50).unwrap();
    assert!(
        log.iter()
            .any(|l| l.message == "3 records received, none changed (already up-to-date)"),
        "{log:?}"
    );
    assert!(
        log.iter().any(|l| l.action == "check clock"
            && l.result == edensync::vocabulary::LogResult::Warning
            && l.message.contains("behind")),
        "{log:?}"
    );
    let stored = model::repositories::find(&mut a.conn(), repository)
        .unwrap()
        .unwrap();
    assert!(stored.clock_skew_secs.unwrap() < -3600);
}

/// An Eden that crashes on text/xml bodies (web2py under Python 3) gets
/// Eden's own form-urlencoded push instead, once a broken document sent
/// the same way shows that the content type is the cause.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_500_on_text_xml_falls_back_to_form_urlencoded() {
    let Some(a) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let eden = StandIn::start(eden_script(|request| {
        if request.header("Content-Type") == Some("text/xml") {
            Reply::Status(
                500,
                "text/html",
                "<html><body>Internal error</body></html>".into(),
            )
        } else {
            Reply::Recorded("03_push_initial_response.http")
        }
    }))
    .await;
    let repository = add_repository(
        &a,
        "Eden B",
        &format!("{}/edenb", eden.url),
        EDEN_USER,
        EDEN_PASSWORD,
    );
    add_task(
        &a,
        repository,
        TaskSpec {
            mode: "push",
            ..TaskSpec::default()
        },
    );
    write_local(
        &a,
        &doc(&[org(
            "urn:uuid:local-1",
            "Local One",
            "LO1",
            "2026-11-26T09:00:00",
        )]),
    );
    let report = run(&a, repository).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{report:?}");
    let pushes: Vec<_> = eden
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert_eq!(pushes.len(), 3, "the push, a check, the push again");
    assert_eq!(
        pushes[1].body, b"<s3xml><resource",
        "a broken document checks that the content type is the cause"
    );
    assert_eq!(
        pushes[2].header("Content-Type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        pushes[0].body, pushes[2].body,
        "the same document both times"
    );
}

/// Eden reports some failures inside an HTTP 200: they are failures, and
/// records it refused are kept for review.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_inside_a_200_are_read_from_the_json() {
    let Some(a) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let eden = StandIn::start(eden_script(|request| {
        if holds_nameless(request) {
            eden_refuses_nameless()
        } else {
            Reply::Status(200, "text/html", r#"{"status": "failed", "statuscode": "403", "message": "Insufficient privileges"}"#.into())
        }
    }))
    .await;
    let repository = add_repository(
        &a,
        "Eden B",
        &format!("{}/edenb", eden.url),
        EDEN_USER,
        EDEN_PASSWORD,
    );
    add_task(
        &a,
        repository,
        TaskSpec {
            mode: "push",
            ..TaskSpec::default()
        },
    );
    write_local(
        &a,
        &doc(&[org("urn:uuid:bad-1", "", "NONAME00", "2026-11-26T09:00:00")]),
    );
    let report = run(&a, repository).await;
    assert_eq!(report.status, RunStatus::Partial, "{report:?}");
    assert_eq!(report.counts.pushed_rejected, 1);
    let rejected: i64 = {
        use diesel::prelude::*;
        use edensync::db::schema::review_items;
        review_items::table
            .filter(review_items::uuid.eq("urn:uuid:bad-1"))
            .count()
            .get_result(&mut *a.conn())
            .unwrap()
    };
    assert_eq!(rejected, 1);

    write_local(
        &a,
        &doc(&[org("urn:uuid:good-2", "Good", "GD2", "2026-11-26T09:00:01")]),
    );
    let refused = run(&a, repository).await;
    assert_eq!(refused.status, RunStatus::Failed, "{refused:?}");
    assert!(
        refused
            .error
            .as_deref()
            .unwrap()
            .contains("Insufficient privileges"),
        "{refused:?}"
    );
    let task = model::tasks::find(&mut a.conn(), repository, "org_organisation")
        .unwrap()
        .unwrap();
    let first_seq = task.last_push_seq;
    let again = run(&a, repository).await;
    assert_eq!(again.status, RunStatus::Failed);
    let task = model::tasks::find(&mut a.conn(), repository, "org_organisation")
        .unwrap()
        .unwrap();
    assert_eq!(
        task.last_push_seq, first_seq,
        "an unconfirmed push does not move the watermark"
    );
}
