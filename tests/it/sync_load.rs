//! Many peers at once: 16 peers push to one node and pull from it while
//! its scheduler pulls from two other nodes, for two minutes: no server
//! error, no lost record, no "database is locked" reaching a peer or a run.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use edensync::audit::Actor;
use edensync::manage;
use edensync::model;
use edensync::model::users::Role;
use edensync::scheduler::Scheduler;

use crate::on_both_backends;
use crate::support::peers::{
    PEER_EMAIL, PEER_PASSWORD as PEER_ONE_PASSWORD, TaskSpec, add_repository, add_task, count, doc,
    engine, org, run_with, write_local,
};
use crate::support::{Backend, TestApp};
use crate::sync_register::{PEER_PASSWORD, accept_pushes, register_sync_peer};

const CLIENTS: usize = 16;
/// Records each of the two pulled nodes writes per round.
const UPSTREAM_BATCH: usize = 20;

/// How long the clients run: two minutes, unless `EDENSYNC_TEST_LOAD_SECS` says otherwise.
fn duration() -> Duration {
    let secs = std::env::var("EDENSYNC_TEST_LOAD_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(120);
    Duration::from_secs(secs)
}

async fn register(app: &TestApp, client: usize) -> String {
    let email = format!("peer{client}@example.org");
    let uuid = format!("urn:uuid:peer-{client}");
    register_sync_peer(app, &email, &uuid).await;
    accept_pushes(app, &uuid);
    email
}

async fn many_peers_push_and_pull_at_once(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let app = Arc::new(app);
    let mut emails = Vec::new();
    for client in 0..CLIENTS {
        emails.push(register(&app, client).await);
    }
    // Two upstream nodes the scheduler pulls from every two seconds while
    // they keep writing.
    let mut upstreams = Vec::new();
    for name in ["C", "D"] {
        let Some(node) = TestApp::spawn(backend).await else {
            return;
        };
        let repository = pulled_by(&app, &node, name).await;
        upstreams.push((Arc::new(node), repository, name));
    }
    let scheduler = Scheduler::start(app.engine.clone()).await.unwrap();
    let pushed = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + duration();
    let mut writers = Vec::new();
    for (node, _, name) in &upstreams {
        let (node, name) = (node.clone(), name.to_string());
        writers.push(tokio::task::spawn_blocking(move || {
            let mut written = 0;
            while Instant::now() < deadline {
                let resources: Vec<String> = (0..UPSTREAM_BATCH)
                    .map(|i| {
                        org(
                            &format!("urn:uuid:{name}-{}", written + i),
                            &format!("{name} organisation {}", written + i),
                            "UP",
                            "2026-11-26T06:00:00",
                        )
                    })
                    .collect();
                write_local(&node, &doc(&resources));
                written += UPSTREAM_BATCH;
                std::thread::sleep(Duration::from_millis(500));
            }
            written
        }));
    }
    let mut tasks = Vec::new();
    for (client, email) in emails.into_iter().enumerate() {
        let (app, pushed) = (app.clone(), pushed.clone());
        tasks.push(tokio::spawn(async move {
            // Idle connections are dropped well before the server would close them.
            let http = reqwest::Client::builder().pool_idle_timeout(Duration::from_secs(30)).build().unwrap();
            let query = format!("resource=org_organisation&repository=urn:uuid:peer-{client}");
            let mut round = 0;
            while Instant::now() < deadline {
                let records: String = (0..5)
                    .map(|i| format!(
                        r#"<resource name="org_organisation" uuid="urn:uuid:c{client}-r{round}-{i}" mci="1" modified_on="2026-11-26T06:00:00"><data field="name">client {client} round {round} #{i}</data></resource>"#
                    ))
                    .collect();
                let push = http
                    .post(app.url(&format!("/sync/sync.xml?{query}")))
                    .basic_auth(&email, Some(PEER_PASSWORD))
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .body(format!("<s3xml>{records}</s3xml>"))
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("push of client {client}: {e:?}"));
                assert_eq!(push.status(), 200, "push: {}", push.text().await.unwrap_or_default());
                let answer: serde_json::Value = push.json().await.unwrap();
                assert_eq!(answer["records"], 5);
                pushed.fetch_add(5, Ordering::SeqCst);
                let pull = http
                    .get(app.url(&format!("/sync/sync.xml?{query}&limit=50")))
                    .basic_auth(&email, Some(PEER_PASSWORD))
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("pull of client {client}: {e:?}"));
                assert_eq!(pull.status(), 200);
                assert!(pull.text().await.unwrap().contains("<s3xml success="));
                round += 1;
            }
        }));
    }
    for task in tasks {
        task.await.expect("a client failed");
    }
    let mut upstream_written = 0;
    for writer in writers {
        upstream_written += writer.await.unwrap();
    }
    scheduler.shutdown().await;
    app.engine.shutdown().await;
    let scheduled = model::runs::list(&mut app.conn(), None, None, None, 100_000).unwrap();
    assert!(
        scheduled.len() >= 4,
        "the scheduler ran during the load: {} runs",
        scheduled.len()
    );
    for run in &scheduled {
        assert!(
            ["succeeded", "skipped", "cancelled"].contains(&run.status.as_str()),
            "run {} ended {}: {:?}",
            run.id,
            run.status,
            run.error
        );
    }
    // One last pull each picks up what was written after the last tick.
    for (_, repository, _) in &upstreams {
        let report = run_with(&engine(&app), *repository).await;
        assert_eq!(report.status.as_str(), "succeeded", "{:?}", report.error);
    }

    let pushed = pushed.load(Ordering::SeqCst);
    assert!(pushed >= CLIENTS * 5, "every client pushed");
    assert_eq!(
        count(&app, "org_organisation") as usize,
        pushed + upstream_written,
        "every pushed and every pulled record is stored, once"
    );
    let failures = model::sync_log::search(
        &mut app.conn(),
        &model::sync_log::LogQuery {
            result: Some(edensync::vocabulary::LogResult::Error),
            ..Default::default()
        },
        1000,
    )
    .unwrap();
    // A tick that finds the previous run still going records a skip, and a
    // run the shutdown cancelled (accepted above) logs its cancellation; any
    // other error is a failure.
    let cancelled: Vec<i64> = scheduled
        .iter()
        .filter(|r| r.status == edensync::engine::RunStatus::Cancelled)
        .map(|r| r.id)
        .collect();
    let failures: Vec<_> = failures
        .iter()
        .filter(|l| !l.message.contains("already active"))
        .filter(|l| {
            !(l.message == "the run was cancelled"
                && l.run_id.is_some_and(|id| cancelled.contains(&id)))
        })
        .collect();
    assert!(failures.is_empty(), "{failures:?}");
}

/// `upstream` gets a sync account for `app`, and `app` a repository
/// `name` that pulls organisations from it every two seconds.
async fn pulled_by(app: &TestApp, upstream: &TestApp, name: &str) -> i64 {
    upstream.add_user(PEER_EMAIL, PEER_ONE_PASSWORD, Role::Sync);
    let repository = add_repository(app, name, &upstream.url, PEER_EMAIL, PEER_ONE_PASSWORD);
    engine(app).register(repository).await.unwrap();
    add_task(
        app,
        repository,
        TaskSpec {
            mode: "pull",
            ..TaskSpec::default()
        },
    );
    let mut conn = app.conn();
    let stored = model::repositories::find(&mut conn, repository)
        .unwrap()
        .unwrap();
    manage::jobs::add(
        &mut conn,
        &Actor::cli(),
        &stored,
        &manage::jobs::JobForm {
            every_seconds: Some(2),
            timeout_secs: 600,
            ..Default::default()
        },
    )
    .unwrap();
    repository
}
on_both_backends!(many_peers, many_peers_push_and_pull_at_once);
