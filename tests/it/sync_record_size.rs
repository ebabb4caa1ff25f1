//! One huge record: refused over the per-record limit (and kept for review,
//! shortened), and a large value never makes a large page.

use diesel::prelude::*;
use edensync::db::schema::review_items;

use crate::support::peers::{import_with, record};
use crate::support::{ADMIN_EMAIL, ADMIN_PASSWORD, Backend, TestApp};
use crate::sync_register::{PEER_PASSWORD, accept_pushes, register_sync_peer};

fn organisation(uuid: &str, fields: usize, size: usize) -> String {
    let data: String = (0..fields)
        .map(|i| format!(r#"<data field="f{i}">{}</data>"#, "x".repeat(size)))
        .collect();
    format!(
        r#"<resource name="org_organisation" uuid="{uuid}" mci="1" modified_on="2026-11-26T10:00:00"><data field="name">Big</data>{data}</resource>"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_over_the_limit_are_refused_and_kept_short() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, |s| s.max_record_bytes = 100_000).await
    else {
        return;
    };
    register_sync_peer(&app, "big@example.org", "urn:uuid:big-peer").await;
    accept_pushes(&app, "urn:uuid:big-peer");
    let document = format!(
        "<s3xml>{}{}</s3xml>",
        organisation("urn:uuid:huge", 30, 10_000),
        organisation("urn:uuid:small", 3, 1_000)
    );
    let response = reqwest::Client::new()
        .post(app.url("/sync/sync.xml?resource=org_organisation&repository=urn:uuid:big-peer"))
        .basic_auth("big@example.org", Some(PEER_PASSWORD))
        .body(document)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer: serde_json::Value = response.json().await.unwrap();
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("over the limit of 100000 bytes per record"),
        "{answer}"
    );
    assert!(record(&app, "org_organisation", "urn:uuid:huge").is_none());
    assert!(record(&app, "org_organisation", "urn:uuid:small").is_some());
    let raw: String = review_items::table
        .filter(review_items::uuid.eq("urn:uuid:huge"))
        .select(review_items::raw_element)
        .first(&mut *app.conn())
        .unwrap();
    assert!(raw.len() < 70_000, "{} bytes kept", raw.len());

    // Far beyond the limit (more than four times it, written out), a record
    // is not even held while it is read: the document is refused.
    let bomb = format!(
        "<s3xml>{}</s3xml>",
        organisation("urn:uuid:bomb", 20, 50_000)
    );
    let response = reqwest::Client::new()
        .post(app.url("/sync/sync.xml?resource=org_organisation&repository=urn:uuid:big-peer"))
        .basic_auth("big@example.org", Some(PEER_PASSWORD))
        .body(bomb)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let answer: serde_json::Value = response.json().await.unwrap();
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("a record larger than the limit of 400000 bytes"),
        "{answer}"
    );
    assert!(record(&app, "org_organisation", "urn:uuid:bomb").is_none());
    assert!(
        raw.ends_with("bytes, the first 65536 kept)"),
        "{}",
        &raw[raw.len() - 80..]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_value_makes_no_large_page() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    import_with(
        &mut app.conn(),
        &format!(
            "<s3xml>{}</s3xml>",
            organisation("urn:uuid:long", 3, 1 << 20)
        ),
    );
    app.add_admin();
    let admin = app.logged_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let page = admin.get("/records/org_organisation/urn:uuid:long").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.len() < 50_000, "{} bytes of HTML", html.len());
    assert!(html.contains("(1048576 characters in all)"));
    let list = admin
        .get("/records/org_organisation")
        .await
        .text()
        .await
        .unwrap();
    assert!(list.len() < 50_000, "{} bytes of HTML", list.len());
}
