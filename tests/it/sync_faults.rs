//! The active side under failure: a peer that is down, answers 500, is too
//! slow, cuts the connection mid-transfer, refuses our credentials, or is
//! another site than expected; a proxy in the path with and without
//! credentials. Transient failures schedule a retry, permanent ones block
//! with a message an administrator can act on, and nothing is lost: the
//! next run completes the work exactly once.

use diesel::prelude::*;
use edensync::db::schema::{repositories, sync_config};
use edensync::engine::RunStatus;
use edensync::model;

use crate::support::peers::{
    self, PEER_EMAIL, TaskSpec, add_repository, add_task, count, doc, many_orgs, org, run, set_url,
    stored_uuids as uuids, unreachable_url, write_local,
};
use crate::support::stand_in::{Cutter, Proxy, Reply, StandIn};
use crate::support::{Backend, TestApp};

fn repository(app: &TestApp, id: i64) -> model::repositories::Repository {
    model::repositories::find(&mut app.conn(), id)
        .unwrap()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_is_down_is_retried_with_backoff() {
    let Some(a) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let url = unreachable_url().await;
    let id = add_repository(&a, "Down", &url, "someone@example.org", "whatever password");
    add_task(&a, id, TaskSpec::default());
    add_task(
        &a,
        id,
        TaskSpec {
            table: "org_office",
            ..TaskSpec::default()
        },
    );
    let before = model::now();
    let report = run(&a, id).await;
    assert_eq!(report.status, RunStatus::Failed, "{report:?}");
    let error = report.error.unwrap();
    assert!(
        error.contains("cannot be reached") && error.contains("Next try at"),
        "{error}"
    );
    assert!(!error.contains("whatever password"));
    // One failure is enough: the second task is not tried against a dead peer.
    assert_eq!(report.tasks.len(), 1, "{:?}", report.tasks);
    let stored = repository(&a, id);
    assert_eq!(stored.last_status.as_deref(), Some("retrying"));
    assert_eq!(stored.consecutive_failures, 1);
    let retry = stored.next_retry_at.expect("a retry is scheduled");
    // Default backoff base 60 s, with jitter between half and all of it.
    let delay = (retry - before).num_seconds();
    assert!((29..=61).contains(&delay), "{delay}");
    assert!(stored.lease_holder.is_none(), "the lease is released");

    // Retry now clears the backoff.
    model::repositories::clear_retry(&mut a.conn(), id).unwrap();
    assert!(repository(&a, id).next_retry_at.is_none());
    let again = run(&a, id).await;
    assert_eq!(again.status, RunStatus::Failed);
    assert_eq!(repository(&a, id).consecutive_failures, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_500_is_transient_and_a_slow_peer_times_out() {
    let Some(a) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let failing = StandIn::start(|_, _| {
        Reply::Status(
            500,
            "text/html",
            "<html><h1>Internal error</h1><p>Ticket issued: x</p></html>".into(),
        )
    })
    .await;
    let id = add_repository(
        &a,
        "Failing",
        &failing.url,
        "someone@example.org",
        "whatever password",
    );
    add_task(&a, id, TaskSpec::default());
    let report = run(&a, id).await;
    assert_eq!(report.status, RunStatus::Failed);
    let error = report.error.unwrap();
    assert!(
        error.contains("HTTP 500") && error.contains("Internal error"),
        "{error}"
    );
    assert_eq!(repository(&a, id).last_status.as_deref(), Some("retrying"));

    diesel::update(sync_config::table)
        .set((
            sync_config::read_timeout_secs.eq(1),
            sync_config::request_timeout_secs.eq(2),
        ))
        .execute(&mut *a.conn())
        .unwrap();
    let slow = StandIn::start(|_, _| {
        Reply::Slow(
            std::time::Duration::from_secs(8),
            Box::new(Reply::Recorded("14_pull_empty_result_response.http")),
        )
    })
    .await;
    set_url(&a, id, &slow.url);
    let started = std::time::Instant::now();
    let report = run(&a, id).await;
    assert!(started.elapsed() < std::time::Duration::from_secs(6));
    assert_eq!(report.status, RunStatus::Failed);
    assert!(report.error.unwrap().contains("did not answer in time"));
    assert_eq!(repository(&a, id).last_status.as_deref(), Some("retrying"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_pull_resumes_from_the_last_committed_page() {
    let Some((a, b, id)) = crate::support::peers::pair(Backend::Sqlite).await else {
        return;
    };
    add_task(
        &a,
        id,
        TaskSpec {
            mode: "pull",
            ..TaskSpec::default()
        },
    );
    write_local(&b, &many_orgs("B", 120));
    // The third page's answer is cut after 400 bytes.
    let cutter = Cutter::start(&b.url, 2, None, Some(400)).await;
    set_url(&a, id, &cutter.url);
    let mut engine = peers::engine(&a);
    engine.page_size = 50;
    // Give up at the first cut (a link that stays down): the run ends
    // partial, and the next run resumes.
    engine.stall_limit = std::time::Duration::ZERO;
    // Two failures that moved nothing first: the wait grows.
    diesel::update(repositories::table.find(id))
        .set(repositories::consecutive_failures.eq(2))
        .execute(&mut *a.conn())
        .unwrap();
    let cut = peers::run_with(&engine, id).await;
    assert_eq!(cut.status, RunStatus::Partial, "{cut:?}");
    let said = cut.error.clone().unwrap_or_default();
    assert!(
        said.starts_with("org_organisation pull: the link to B dropped"),
        "what happened first, the link named, not blamed on the peer: {said}"
    );
    let kept = said.find("pages 1–2 are kept (100 records)").expect(&said);
    let details = said.find("(details: ").expect(&said);
    let next = said.find(". Next try at ").expect(&said);
    assert!(
        kept < details && details < next,
        "what was kept, the details, what comes next: {said}"
    );
    assert_eq!(
        count(&a, "org_organisation"),
        100,
        "two committed pages stay"
    );
    // This run committed two pages before the cut: no failure streak, the
    // next try comes after the first step of the backoff, not the third.
    let after_cut = repository(&a, id);
    assert_eq!(after_cut.consecutive_failures, 0);
    let base = model::sync_config::get(&mut a.conn())
        .unwrap()
        .unwrap()
        .backoff_base_secs;
    let wait = (after_cut.next_retry_at.unwrap() - model::now()).num_seconds();
    assert!(
        wait <= i64::from(base) * 3 / 2,
        "retry in {wait} s, base {base} s"
    );
    let task = model::tasks::find(&mut a.conn(), id, "org_organisation")
        .unwrap()
        .unwrap();
    assert!(task.last_pull_seq.is_some());

    let resumed = peers::run_with(&engine, id).await;
    assert_eq!(resumed.status, RunStatus::Succeeded, "{resumed:?}");
    assert_eq!(
        resumed.counts.pulled_created, 20,
        "only the missing page: {resumed:?}"
    );
    assert_eq!(uuids(&a), uuids(&b));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_push_is_sent_again_and_stored_once() {
    let Some((a, b, id)) = crate::support::peers::pair(Backend::Sqlite).await else {
        return;
    };
    add_task(
        &a,
        id,
        TaskSpec {
            mode: "push",
            ..TaskSpec::default()
        },
    );
    write_local(&a, &many_orgs("A", 120));
    // The second page's upload stops half-way.
    let cutter = Cutter::start(&b.url, 1, Some(300), None).await;
    set_url(&a, id, &cutter.url);
    let mut engine = peers::engine(&a);
    engine.page_size = 50;
    engine.stall_limit = std::time::Duration::ZERO;
    let cut = peers::run_with(&engine, id).await;
    assert_eq!(cut.status, RunStatus::Partial, "{cut:?}");
    assert_eq!(count(&b, "org_organisation"), 50, "the first page arrived");
    let resumed = peers::run_with(&engine, id).await;
    assert_eq!(resumed.status, RunStatus::Succeeded, "{resumed:?}");
    assert_eq!(resumed.counts.pushed_created, 70, "{resumed:?}");
    assert_eq!(uuids(&a), uuids(&b));
    let again = peers::run_with(&engine, id).await;
    assert_eq!(again.counts.pushed_created + again.counts.pushed_updated, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_credentials_and_a_foreign_site_block_the_repository() {
    let Some((a, _b, id)) = crate::support::peers::pair(Backend::Sqlite).await else {
        return;
    };
    add_task(&a, id, TaskSpec::default());
    add_task(
        &a,
        id,
        TaskSpec {
            table: "org_office",
            ..TaskSpec::default()
        },
    );
    diesel::update(repositories::table.find(id))
        .set(repositories::password_enc.eq(Some(a.node.key.encrypt("not the password"))))
        .execute(&mut *a.conn())
        .unwrap();
    let report = run(&a, id).await;
    assert_eq!(report.status, RunStatus::Failed);
    let error = report.error.unwrap();
    assert!(
        error.contains("HTTP 401") && error.contains("username and password"),
        "{error}"
    );
    assert!(!error.contains("not the password"));
    assert_eq!(
        report.tasks.len(),
        1,
        "the other task is not tried with refused credentials"
    );
    let stored = repository(&a, id);
    assert_eq!(stored.last_status.as_deref(), Some("blocked"));
    assert!(
        stored.next_retry_at.is_none(),
        "no automatic retry of a permanent failure"
    );
    let fatal = model::sync_log::recent(&mut a.conn(), 20).unwrap();
    assert!(
        fatal.iter().any(|l| l.remote && l.message.contains("401")),
        "{fatal:?}"
    );

    // The URL now leads to another site than the one registered.
    diesel::update(repositories::table.find(id))
        .set((
            repositories::password_enc.eq(Some(
                a.node.key.encrypt(crate::support::peers::PEER_PASSWORD),
            )),
            repositories::peer_uuid.eq(Some("urn:uuid:another-site")),
        ))
        .execute(&mut *a.conn())
        .unwrap();
    let error = peers::engine(&a).register(id).await.unwrap_err();
    assert!(
        error.message.contains("urn:uuid:another-site") && error.message.contains("check the URL"),
        "{error}"
    );

    // A peer that does not know us refuses pushes: 403, with what to do.
    let c = TestApp::spawn(Backend::Sqlite).await.unwrap();
    c.add_user(
        PEER_EMAIL,
        crate::support::peers::PEER_PASSWORD,
        edensync::model::users::Role::Sync,
    );
    let unknown = add_repository(
        &a,
        "C",
        &c.url,
        PEER_EMAIL,
        crate::support::peers::PEER_PASSWORD,
    );
    add_task(
        &a,
        unknown,
        TaskSpec {
            mode: "push",
            ..TaskSpec::default()
        },
    );
    write_local(
        &a,
        &doc(&[org(
            "urn:uuid:local-1",
            "Local",
            "L1",
            "2026-11-26T09:00:00",
        )]),
    );
    let report = run(&a, unknown).await;
    assert_eq!(report.status, RunStatus::Failed);
    let error = report.error.unwrap();
    assert!(
        error.contains("HTTP 403")
            && error.contains("Registration required")
            && error.contains(&a.node.site_uuid),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_go_through_a_proxy_with_and_without_credentials() {
    let Some((a, b, id)) = crate::support::peers::pair(Backend::Sqlite).await else {
        return;
    };
    add_task(&a, id, TaskSpec::default());
    write_local(&b, &many_orgs("B", 3));

    // The default proxy from the settings, without credentials.
    let open = Proxy::start(None).await;
    diesel::update(sync_config::table)
        .set(sync_config::proxy_url.eq(Some(open.url.as_str())))
        .execute(&mut *a.conn())
        .unwrap();
    let report = run(&a, id).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{report:?}");
    let seen = open.requests.lock().unwrap().clone();
    assert!(
        seen.iter()
            .any(|r| r.target.starts_with(&format!("{}/sync/sync.xml?", b.url))),
        "{seen:?}"
    );
    assert_eq!(count(&a, "org_organisation"), 3);

    // The repository's own proxy, with credentials.
    let guarded = Proxy::start(Some(("proxy-user", "proxy secret 1"))).await;
    diesel::update(repositories::table.find(id))
        .set((
            repositories::proxy_url.eq(Some(guarded.url.as_str())),
            repositories::proxy_username.eq(Some("proxy-user")),
            repositories::proxy_password_enc.eq(Some(a.node.key.encrypt("proxy secret 1"))),
        ))
        .execute(&mut *a.conn())
        .unwrap();
    write_local(&b, &many_orgs("C", 2));
    let report = run(&a, id).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{report:?}");
    assert_eq!(count(&a, "org_organisation"), 5);
    assert!(!guarded.requests.lock().unwrap().is_empty());

    // Wrong proxy credentials: 407, said as such, and blocked.
    diesel::update(repositories::table.find(id))
        .set(repositories::proxy_password_enc.eq(Some(a.node.key.encrypt("wrong"))))
        .execute(&mut *a.conn())
        .unwrap();
    let report = run(&a, id).await;
    assert_eq!(report.status, RunStatus::Failed);
    let error = report.error.unwrap();
    assert!(error.contains("proxy authentication required"), "{error}");
    assert_eq!(repository(&a, id).last_status.as_deref(), Some("blocked"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_with_an_unknown_stored_policy_blocks_the_repository() {
    let Some((a, _b, id)) = crate::support::peers::pair(Backend::Sqlite).await else {
        return;
    };
    // Written past the console's checks, as a hand edit of the database would.
    add_task(
        &a,
        id,
        TaskSpec {
            conflict_policy: "LATEST",
            ..TaskSpec::default()
        },
    );
    let report = run(&a, id).await;
    assert_eq!(report.status, RunStatus::Failed, "{report:?}");
    let error = report.error.unwrap();
    assert!(error.contains("'LATEST' is not a policy"), "{error}");
    assert_eq!(repository(&a, id).last_status.as_deref(), Some("blocked"));
}

/// A link that drops three times within one run: the run rides the cuts
/// out itself, resuming from the last committed page, and completes with
/// every record once; each retry is in the run's log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_rides_out_three_cuts() {
    let Some((a, b, id)) = crate::support::peers::pair(Backend::Sqlite).await else {
        return;
    };
    add_task(&a, id, TaskSpec::default());
    write_local(&b, &many_orgs("B", 120));
    write_local(&a, &many_orgs("A", 120));
    // In the first run, connections 1 and 2 (the second page of the pull,
    // then its retry) lose their answers; in the second, connection 1 (the
    // first page of the push) loses its upload.
    let cutter = Cutter::start_cutting(&b.url, vec![1, 2], None, Some(400)).await;
    let cutter_up = Cutter::start_cutting(&b.url, vec![1], Some(300), None).await;
    set_url(&a, id, &cutter.url);
    let mut engine = peers::engine(&a);
    engine.page_size = 50;
    let pulled = peers::run_with(&engine, id).await;
    set_url(&a, id, &cutter_up.url);
    write_local(&a, &many_orgs("A2", 60));
    let pushed = peers::run_with(&engine, id).await;
    assert_eq!(pulled.status, RunStatus::Succeeded, "{pulled:?}");
    assert_eq!(pushed.status, RunStatus::Succeeded, "{pushed:?}");
    assert_eq!(
        pulled.counts.pulled_created, 120,
        "every record once: {pulled:?}"
    );
    assert_eq!(count(&a, "org_organisation"), 120 + 120 + 60);
    assert_eq!(count(&b, "org_organisation"), 120 + 120 + 60);
    assert_eq!(uuids(&a), uuids(&b));
    let retries = model::sync_log::recent(&mut a.conn(), 100)
        .unwrap()
        .into_iter()
        .filter(|l| l.action == "retry")
        .count();
    assert_eq!(retries, 3, "each cut is in the log");
    // What moved twice is counted (the pull's answers were cut inside
    // their headers: no byte of a body moved twice), and the run page
    // shows the link.
    assert_eq!(pulled.counts.bytes_lost, 0, "{pulled:?}");
    assert!(pushed.counts.bytes_lost > 0, "{pushed:?}");
    a.add_admin();
    let admin = a
        .logged_in(crate::support::ADMIN_EMAIL, crate::support::ADMIN_PASSWORD)
        .await;
    let page = admin
        .get(&format!("/runs/{}", pulled.run_id))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("<h2>Link</h2>"), "{page}");
    assert!(page.contains("2 times, each ridden out"), "{page}");
    assert!(page.contains("Moved again"), "{page}");
}
