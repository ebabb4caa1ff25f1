//! The active side between two real edensync nodes: A runs its repository
//! for B; creates, updates, deletes and merges travel both ways, policies
//! decide concurrent edits as Eden's do, filters and components apply, and
//! a second run transfers nothing new.

use diesel::prelude::*;
use edensync::db::schema::repositories;

use crate::on_both_backends;
use crate::support::Backend;
use crate::support::peers::{
    TaskSpec, add_task, count, deleted, doc, field, org, pair, record, run, write_local,
};
use crate::support::stand_in::Proxy;
use edensync::engine::RunStatus;

const O1: &str = "urn:uuid:00000000-0000-4000-8000-000000000001";
const O2: &str = "urn:uuid:00000000-0000-4000-8000-000000000002";
const O3: &str = "urn:uuid:00000000-0000-4000-8000-000000000003";
const O4: &str = "urn:uuid:00000000-0000-4000-8000-000000000004";

on_both_backends!(changes_travel_both_ways, changes_travel_both_ways_on);

async fn changes_travel_both_ways_on(backend: Backend) {
    let Some((a, b, repository)) = pair(backend).await else {
        return;
    };
    add_task(&a, repository, TaskSpec::default());
    write_local(
        &b,
        &doc(&[
            org(O1, "Remote One", "RO1", "2026-11-20T10:00:00"),
            org(O2, "Remote Two", "RO2", "2026-11-20T10:00:01"),
        ]),
    );
    write_local(
        &a,
        &doc(&[org(O3, "Local Three", "LT3", "2026-11-20T11:00:00")]),
    );

    let first = run(&a, repository).await;
    assert_eq!(first.status, RunStatus::Succeeded, "{first:?}");
    assert_eq!(first.counts.pulled_created, 2, "{first:?}");
    assert_eq!(first.counts.pushed_created, 1, "{first:?}");
    assert!(first.counts.bytes_in > 0 && first.counts.bytes_out > 0);
    for uuid in [O1, O2, O3] {
        assert!(
            record(&a, "org_organisation", uuid).is_some(),
            "A lacks {uuid}"
        );
        assert!(
            record(&b, "org_organisation", uuid).is_some(),
            "B lacks {uuid}"
        );
    }
    // The origin's mci travels as Eden's: B created O1 (0), A holds it as 1.
    assert_eq!(record(&b, "org_organisation", O1).unwrap().mci, 0);
    assert_eq!(record(&a, "org_organisation", O1).unwrap().mci, 1);

    // Nothing changed: nothing travels, not even an echo of A's push.
    let second = run(&a, repository).await;
    assert_eq!(second.status, RunStatus::Succeeded, "{second:?}");
    assert_eq!(
        second.counts.pulled_created + second.counts.pulled_updated,
        0,
        "{second:?}"
    );
    assert_eq!(
        second.counts.pushed_created + second.counts.pushed_updated,
        0,
        "{second:?}"
    );

    // Updates, a delete and a merge on either side.
    write_local(
        &b,
        &doc(&[org(O1, "Remote One renamed", "RO1", "2026-11-21T10:00:00")]),
    );
    write_local(
        &b,
        &doc(&[org(
            O4,
            "Remote One duplicate",
            "RO1D",
            "2026-11-21T10:00:01",
        )]),
    );
    write_local(
        &a,
        &doc(&[org(O3, "Local Three renamed", "LT3", "2026-11-21T11:00:00")]),
    );
    write_local(
        &a,
        &doc(&[deleted("org_organisation", O2, "2026-11-21T11:00:01", None)]),
    );
    let third = run(&a, repository).await;
    assert_eq!(third.status, RunStatus::Succeeded, "{third:?}");
    assert_eq!(
        field(&a, "org_organisation", O1, "name").as_deref(),
        Some("Remote One renamed")
    );
    assert!(record(&a, "org_organisation", O4).is_some());
    assert_eq!(
        field(&b, "org_organisation", O3, "name").as_deref(),
        Some("Local Three renamed")
    );
    assert!(record(&b, "org_organisation", O2).unwrap().deleted);

    write_local(
        &b,
        &doc(&[deleted(
            "org_organisation",
            O4,
            "2026-11-22T10:00:00",
            Some(O1),
        )]),
    );
    let fourth = run(&a, repository).await;
    assert_eq!(fourth.status, RunStatus::Succeeded, "{fourth:?}");
    let merged = record(&a, "org_organisation", O4).unwrap();
    assert!(merged.deleted);
    assert_eq!(merged.replaced_by.as_deref(), Some(O1));

    // Eden's log vocabulary, tied to the runs.
    let log = edensync::model::sync_log::recent(&mut a.conn(), 100).unwrap();
    let has = |mode: &str, action: &str, message: &str| {
        log.iter().any(|l| {
            l.mode == mode
                && l.action == action
                && l.message.starts_with(message)
                && l.run_id.is_some()
        })
    };
    assert!(has(
        "pull/outgoing",
        "import",
        "Data imported successfully (2 records: 2 new"
    ));
    assert!(has(
        "push/outgoing",
        "send",
        "data sent successfully (1 records)"
    ));
    assert!(has(
        "pull/outgoing",
        "import",
        "No data to import (already up-to-date)"
    ));
    assert!(has("push/outgoing", "send", "No data to send"));
}

/// Both sides edit the same record between two runs: B (the record's
/// origin) later than A. As in Eden, A's pull takes B's version unless a
/// THIS policy keeps A's; B, which has no task for A, keeps its own newer
/// version whatever A pushes back (Eden's passive side applies NEWER).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_edits_follow_edens_policies() {
    let Some((a, b, repository)) = pair(Backend::Sqlite).await else {
        return;
    };
    let policies = ["THIS", "OTHER", "NEWER", "MASTER"];
    let mut cases = Vec::new();
    for update in policies {
        for conflict in policies {
            let table = format!("test_{}_{}", update.to_lowercase(), conflict.to_lowercase());
            let uuid = format!(
                "urn:uuid:{}-{}",
                update.to_lowercase(),
                conflict.to_lowercase()
            );
            add_task(
                &a,
                repository,
                TaskSpec {
                    table: &table,
                    update_policy: update,
                    conflict_policy: conflict,
                    ..TaskSpec::default()
                },
            );
            let created = format!(
                "<resource name=\"{table}\" uuid=\"{uuid}\" mci=\"0\" modified_on=\"2026-11-20T10:00:00\"><data field=\"name\">original</data></resource>"
            );
            write_local(&b, &doc(&[created]));
            cases.push((update, conflict, table, uuid));
        }
    }
    let first = run(&a, repository).await;
    assert_eq!(first.status, RunStatus::Succeeded, "{first:?}");
    assert_eq!(first.counts.pulled_created, 16);

    for (_, _, table, uuid) in &cases {
        let edit = |who: &str, time: &str| {
            format!(
                "<resource name=\"{table}\" uuid=\"{uuid}\" mci=\"0\" modified_on=\"{time}\"><data field=\"name\">{who}</data></resource>"
            )
        };
        // A's edit must not count as its own (mci 1 at A: a copy).
        let mut conn = a.conn();
        let local_a = edensync::model::records::find(&mut conn, table, uuid)
            .unwrap()
            .unwrap();
        assert_eq!(local_a.mci, 1);
        drop(conn);
        write_local(
            &a,
            &doc(&[edit("edited on A", "2099-01-01T10:00:00").replace("mci=\"0\"", "mci=\"1\"")]),
        );
        write_local(&b, &doc(&[edit("edited on B", "2099-01-01T11:00:00")]));
    }
    let second = run(&a, repository).await;
    assert!(
        matches!(second.status, RunStatus::Succeeded | RunStatus::Partial),
        "{second:?}"
    );
    for (update, conflict, table, uuid) in &cases {
        let expected_a = if *update == "THIS" || *conflict == "THIS" {
            "edited on A"
        } else {
            "edited on B"
        };
        assert_eq!(
            field(&a, table, uuid, "name").as_deref(),
            Some(expected_a),
            "A under update {update}, conflict {conflict}"
        );
        assert_eq!(
            field(&b, table, uuid, "name").as_deref(),
            Some("edited on B"),
            "B under update {update}, conflict {conflict}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_and_components_apply_to_pulls_and_pushes() {
    let Some((a, b, repository)) = pair(Backend::Sqlite).await else {
        return;
    };
    add_task(
        &a,
        repository,
        TaskSpec {
            components: true,
            filters: &[("org_organisation", "~.acronym__like=RO*")],
            ..TaskSpec::default()
        },
    );
    let office = "<resource name=\"org_office\" uuid=\"urn:uuid:office-1\" mci=\"0\" modified_on=\"2026-11-20T10:00:00\"><data field=\"name\">RO1 Head Office</data></resource>";
    let with_office = org(O1, "Remote One", "RO1", "2026-11-20T10:00:00")
        .replace("</resource>", &format!("{office}</resource>"));
    write_local(
        &b,
        &doc(&[
            with_office,
            org(O2, "Excluded", "XX2", "2026-11-20T10:00:00"),
        ]),
    );
    write_local(
        &a,
        &doc(&[
            org(O3, "Local RO3", "RO3", "2026-11-20T11:00:00"),
            org(O4, "Local excluded", "YY4", "2026-11-20T11:00:00"),
        ]),
    );
    let report = run(&a, repository).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{report:?}");
    assert!(record(&a, "org_organisation", O1).is_some());
    assert!(
        record(&a, "org_organisation", O2).is_none(),
        "the filter excludes XX2"
    );
    let office = record(&a, "org_office", "urn:uuid:office-1").expect("the component came along");
    assert_eq!(
        office.parent_id,
        Some(record(&a, "org_organisation", O1).unwrap().id)
    );
    assert!(record(&b, "org_organisation", O3).is_some());
    assert!(
        record(&b, "org_organisation", O4).is_none(),
        "the filter excludes YY4 on push"
    );
    assert_eq!(count(&b, "org_organisation"), 3);
}

/// Between edensync nodes records travel as JSON lines both ways; a peer
/// that did not list them at registration (an older edensync) gets S3XML
/// both ways, with the same outcome. The traffic goes through a recording
/// proxy to see which form was used.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edensync_peers_exchange_json_lines_and_fall_back_to_s3xml() {
    let Some((a, b, repository)) = pair(Backend::Sqlite).await else {
        return;
    };
    let stored = |app: &crate::support::TestApp| {
        edensync::model::repositories::find(&mut app.conn(), repository)
            .unwrap()
            .unwrap()
    };
    assert!(stored(&a).peer_can("ndjson"), "{:?}", stored(&a));
    let proxy = Proxy::start(None).await;
    diesel::update(repositories::table.find(repository))
        .set(repositories::proxy_url.eq(Some(proxy.url.as_str())))
        .execute(&mut *a.conn())
        .unwrap();
    add_task(
        &a,
        repository,
        TaskSpec {
            components: true,
            ..TaskSpec::default()
        },
    );
    let traffic = || {
        let seen = std::mem::take(&mut *proxy.requests.lock().unwrap());
        let pull = seen.iter().find(|r| r.method == "GET").cloned().unwrap();
        let push = seen.iter().find(|r| r.method == "POST").cloned().unwrap();
        (
            pull.header("Accept").unwrap_or("").to_string(),
            push.header("Content-Type").unwrap_or("").to_string(),
        )
    };

    write_local(
        &b,
        &doc(&[org(O1, "Remote One", "RO1", "2026-11-20T10:00:00")]),
    );
    write_local(
        &a,
        &doc(&[org(O3, "Local Three", "LT3", "2026-11-20T11:00:00")]),
    );
    let report = run(&a, repository).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{report:?}");
    let (accept, content_type) = traffic();
    assert!(accept.starts_with("application/x-ndjson"), "{accept}");
    assert_eq!(content_type, "application/x-ndjson");
    assert_eq!(
        field(&a, "org_organisation", O1, "name").as_deref(),
        Some("Remote One")
    );
    assert_eq!(
        field(&b, "org_organisation", O3, "name").as_deref(),
        Some("Local Three")
    );

    // B as an older edensync: it never listed JSON lines.
    diesel::update(repositories::table.find(repository))
        .set(repositories::peer_capabilities.eq(Some("since_seq limit gzip")))
        .execute(&mut *a.conn())
        .unwrap();
    write_local(
        &b,
        &doc(&[org(O2, "Remote Two", "RO2", "2026-11-21T10:00:00")]),
    );
    write_local(
        &a,
        &doc(&[org(O3, "Local Three renamed", "LT3", "2026-11-21T11:00:00")]),
    );
    let report = run(&a, repository).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{report:?}");
    let (accept, content_type) = traffic();
    assert!(!accept.contains("ndjson"), "{accept}");
    assert_eq!(content_type, "text/xml");
    assert_eq!(
        field(&a, "org_organisation", O2, "name").as_deref(),
        Some("Remote Two")
    );
    assert_eq!(
        field(&b, "org_organisation", O3, "name").as_deref(),
        Some("Local Three renamed")
    );
}

/// A push the peer has not accepted yet: the run says so and what fixes
/// it, not the generic advice about sync rights.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_push_gets_the_advice_for_its_cause() {
    use crate::support::TestApp;
    use crate::support::peers::{PEER_EMAIL, PEER_PASSWORD, add_repository, engine};
    use edensync::model::users::Role;

    let a = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let b = TestApp::spawn(Backend::Sqlite).await.unwrap();
    b.add_user(PEER_EMAIL, PEER_PASSWORD, Role::Sync);
    let repository = add_repository(&a, "B", &b.url, PEER_EMAIL, PEER_PASSWORD);
    engine(&a)
        .register(repository)
        .await
        .expect("registration at B");
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
        &doc(&[org(O1, "Local One", "LO1", "2026-11-20T10:00:00")]),
    );

    let report = run(&a, repository).await;
    let error = report.error.unwrap_or_default();
    assert!(error.contains("HTTP 403"), "{error}");
    assert!(
        error.contains("has not accepted pushes from this node yet"),
        "{error}"
    );
    assert!(!error.contains("sync rights"), "{error}");
}
