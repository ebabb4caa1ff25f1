//! The serving side logs what was delivered: an answer the peer did not
//! receive in full is logged as cut, with how far it got, never as sent.

use std::time::Duration;

use edensync::model;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::peers::{doc, org, write_local};
use crate::support::{Backend, TestApp, basic_credentials};
use crate::sync_register::add_recorded_admin;

async fn pull_log(app: &TestApp) -> Vec<model::sync_log::LogEntry> {
    model::sync_log::recent(&mut app.conn(), 10)
        .unwrap()
        .into_iter()
        .filter(|l| l.mode == "pull/incoming")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_cut_on_the_way_is_logged_as_cut() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    add_recorded_admin(&app);
    // About 9 MB of answer: more than the connection's buffers hold.
    let padding = "x".repeat(800);
    let orgs: Vec<String> = (0..10_000)
        .map(|i| {
            org(
                &format!("urn:uuid:cut-{i:05}"),
                &format!("Organisation {i} {padding}"),
                &format!("C{i}"),
                "2026-11-20T10:00:00",
            )
        })
        .collect();
    write_local(&app, &doc(&orgs));

    // A peer whose link breaks after the first bytes.
    let address: std::net::SocketAddr = app.url.trim_start_matches("http://").parse().unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(address).await.unwrap();
    let request = format!(
        "GET /sync/sync.xml?resource=org_organisation HTTP/1.1\r\nHost: {address}\r\nAuthorization: Basic {}\r\n\r\n",
        basic_credentials("admin@example.com", "testing")
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut first = vec![0u8; 16 * 1024];
    stream.read_exact(&mut first).await.unwrap();
    drop(stream);

    let mut cut = None;
    for _ in 0..100 {
        let log = pull_log(&app).await;
        if let Some(entry) = log
            .iter()
            .find(|l| l.message.starts_with("Answer cut after"))
        {
            cut = Some(entry.clone());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let cut = cut.expect("the cut answer is logged as cut");
    assert_eq!(cut.result, edensync::vocabulary::LogResult::Warning);
    assert!(
        cut.message
            .contains("the peer did not receive the 10000 records in full"),
        "{}",
        cut.message
    );
    assert!(
        !pull_log(&app)
            .await
            .iter()
            .any(|l| l.message.starts_with("Data sent to peer")),
        "never logged as sent"
    );

    // A whole answer stays logged as sent.
    let whole = reqwest::Client::new()
        .get(app.url("/sync/sync.xml?resource=org_organisation"))
        .basic_auth("admin@example.com", Some("testing"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(whole.len() > 8_000_000);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let log = pull_log(&app).await;
    assert_eq!(log[0].message, "Data sent to peer (10000 records)");
}
