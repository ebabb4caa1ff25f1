//! Many peers at once: pushes and pulls in parallel for a while lose no
//! record and never get a server error.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use edensync::model;

use crate::on_both_backends;
use crate::support::{Backend, TestApp};
use crate::sync_register::{PEER_PASSWORD, accept_pushes, register_sync_peer};

const CLIENTS: usize = 8;

/// How long the clients run: a minute, unless `EDENSYNC_TEST_LOAD_SECS` says otherwise.
fn duration() -> Duration {
    let secs = std::env::var("EDENSYNC_TEST_LOAD_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
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
    let pushed = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + duration();
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
    let stored = {
        use diesel::prelude::*;
        use edensync::db::schema::records::dsl::*;
        records
            .filter(table_name.eq("org_organisation"))
            .count()
            .get_result::<i64>(&mut *app.conn())
            .unwrap()
    };
    let pushed = pushed.load(Ordering::SeqCst);
    assert!(pushed >= CLIENTS * 5, "every client pushed");
    assert_eq!(
        stored as usize, pushed,
        "every pushed record is stored, once"
    );
    let log = model::sync_log::recent(&mut app.conn(), 5).unwrap();
    assert!(log.iter().all(|l| l.result == "success"));
}
on_both_backends!(many_peers, many_peers_push_and_pull_at_once);
