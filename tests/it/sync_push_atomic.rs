//! A push is all or nothing at any size: a write that fails near its end
//! (here, a full disk) keeps nothing of it, answers the peer 507 with a
//! message, is logged, and `/healthz` says so.

use diesel::connection::SimpleConnection;
use edensync::model;

use crate::support::peers::{count, doc, org};
use crate::support::{Backend, TestApp};
use crate::sync_register::{PEER_PASSWORD, accept_pushes, register_sync_peer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_push_that_fails_near_its_end_keeps_nothing() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    register_sync_peer(&app, "bulk@example.org", "urn:uuid:bulk").await;
    accept_pushes(&app, "urn:uuid:bulk");
    // 20 000 organisations, about 18 MB: more than one transaction's worth
    // before pushes became atomic.
    let padding = "p".repeat(600);
    let orgs: Vec<String> = (0..20_000)
        .map(|i| {
            org(
                &format!("urn:uuid:bulk-{i:05}"),
                &format!("Organisation {i} {padding}"),
                &format!("B{i}"),
                "2026-11-26T10:00:00",
            )
        })
        .collect();
    let document = doc(&orgs);
    assert!(document.len() > 16 << 20, "{} bytes", document.len());
    // The disk fills up near the end of the import.
    app.conn()
        .batch_execute(
            "CREATE TRIGGER disk_fills BEFORE INSERT ON records \
             WHEN NEW.uuid = 'urn:uuid:bulk-19500' \
             BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;",
        )
        .unwrap();

    let response = reqwest::Client::new()
        .post(app.url("/sync/sync.xml?resource=org_organisation&repository=urn:uuid:bulk"))
        .basic_auth("bulk@example.org", Some(PEER_PASSWORD))
        .body(document)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 507);
    let answer: serde_json::Value = response.json().await.unwrap();
    assert!(
        answer["message"].as_str().unwrap().contains("disk is full"),
        "{answer}"
    );
    assert_eq!(
        count(&app, "org_organisation"),
        0,
        "nothing of the push was kept"
    );

    let log = model::sync_log::recent(&mut app.conn(), 10).unwrap();
    assert!(
        log.iter().any(|l| l.mode == "push/incoming"
            && l.result == edensync::vocabulary::LogResult::Error
            && l.message.contains("disk is full")),
        "{log:?}"
    );
    let health = reqwest::get(app.url("/healthz")).await.unwrap();
    assert_eq!(health.status(), 503);
    let health: serde_json::Value = health.json().await.unwrap();
    assert_eq!(health["disk"]["status"], "full", "{health}");
}
