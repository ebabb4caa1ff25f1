//! Peer data is hostile until shown escaped: script and attribute payloads
//! in a repository's name, in synced record fields and in a peer's error
//! message render as text on every console page that shows them.
//! (CSRF, sync accounts kept out and lockout: `login.rs`.)

use crate::support::peers::{
    PEER_EMAIL, PEER_PASSWORD, TaskSpec, add_repository, add_task, doc, engine, run_with,
    write_local,
};
use crate::support::{ADMIN_EMAIL, ADMIN_PASSWORD, Backend, TestApp};
use edensync::model::users::Role;

/// What must never appear raw in a page.
const RAW: [&str; 4] = [
    "<script>alert(",
    "<img src=x onerror",
    "\" onmouseover=\"alert(",
    "href=\"javascript:",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payloads_from_peers_render_escaped_everywhere() {
    let a = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let b = TestApp::spawn(Backend::Sqlite).await.unwrap();
    b.add_user(PEER_EMAIL, PEER_PASSWORD, Role::Sync);
    let name = "<script>alert('repo')</script>\" onmouseover=\"alert(1)";
    let id = add_repository(&a, name, &b.url, PEER_EMAIL, PEER_PASSWORD);
    engine(&a).register(id).await.unwrap();
    add_task(&a, id, TaskSpec::default());
    let uuid = "urn:uuid:xss-1";
    write_local(
        &b,
        &doc(&[format!(
            "<resource name=\"org_organisation\" uuid=\"{uuid}\" mci=\"0\" modified_on=\"2026-11-20T10:00:00\">\
             <data field=\"name\">&lt;script&gt;alert('name')&lt;/script&gt;</data>\
             <data field=\"acronym\" value=\"&quot; onmouseover=&quot;alert(2)\">&lt;img src=x onerror=alert(3)&gt;</data>\
             <data field=\"website\">javascript:alert(4)</data>\
             <reference field=\"parent\" resource=\"org_organisation\" uuid=\"&lt;script&gt;alert(5)&lt;/script&gt;\">x</reference>\
             </resource>"
        )]),
    );
    write_local(
        &a,
        &doc(&[
            "<resource name=\"org_organisation\" uuid=\"urn:uuid:xss-2\" mci=\"0\" modified_on=\"2026-11-20T10:00:00\"><data field=\"name\">&lt;img src=x onerror=alert(6)&gt;</data></resource>".to_string(),
        ]),
    );
    // The push half fails (B does not accept A's pushes): the error lands in
    // the run, the log and the dashboard next to the repository's name.
    let report = run_with(&engine(&a), id).await;
    assert!(report.error.is_some(), "{report:?}");

    a.add_admin();
    let admin = a.logged_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let run = report.run_id;
    let pages = [
        "/".to_string(),
        "/repositories".into(),
        format!("/repositories/{id}"),
        format!("/repositories/{id}/resources"),
        format!("/repositories/{id}/schedule"),
        "/runs".into(),
        format!("/runs/{run}"),
        "/logs".into(),
        format!("/logs?repository={id}"),
        "/records".into(),
        "/records/org_organisation".into(),
        format!("/records/org_organisation/{uuid}"),
        "/audit".into(),
    ];
    for page in &pages {
        let response = admin.get(page).await;
        assert_eq!(response.status(), 200, "{page}");
        let html = response.text().await.unwrap();
        for raw in RAW {
            assert!(!html.contains(raw), "{page} shows {raw:?} unescaped");
        }
    }
    // The payloads are there, as text.
    let record = admin
        .get(&format!("/records/org_organisation/{uuid}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        record.contains("&#60;script&#62;alert(&#39;name&#39;)")
            || record.contains("&lt;script&gt;alert(&#x27;name&#x27;)")
            || record.contains("&lt;script&gt;alert(&#39;name&#39;)"),
        "{record}"
    );
    let list = admin.get("/repositories").await.text().await.unwrap();
    assert!(list.contains("alert("), "the name is shown, as text");
}
