//! The records browser: tables with counts, search by uuid and text, the
//! deleted toggle, a record's fields with references as links, its
//! components and parent; hostile text from peers rendered escaped.

use crate::support::peers::{deleted, doc, org, write_local};
use crate::support::{ADMIN_EMAIL, ADMIN_PASSWORD, Backend, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browse_tables_search_and_open_a_record() {
    let Some(a) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let parent = "<resource name=\"org_organisation\" uuid=\"urn:uuid:org-1\" mci=\"1\" modified_on=\"2026-11-20T10:00:00\"><data field=\"name\">Relief &lt;img src=x onerror=alert(1)&gt; Org</data><data field=\"acronym\" value=\"&quot;RO1&quot;\">RO1</data><reference field=\"parent\" resource=\"org_organisation\" uuid=\"urn:uuid:org-2\">Other org</reference><resource name=\"org_office\" uuid=\"urn:uuid:office-1\" mci=\"1\" modified_on=\"2026-11-20T10:00:00\"><data field=\"name\">Head office</data></resource></resource>";
    write_local(
        &a,
        &doc(&[
            parent.to_string(),
            org("urn:uuid:org-2", "Other org", "OO2", "2026-11-20T10:00:00"),
            org("urn:uuid:org-3", "Gone org", "GO3", "2026-11-20T10:00:00"),
        ]),
    );
    write_local(
        &a,
        &doc(&[deleted(
            "org_organisation",
            "urn:uuid:org-3",
            "2026-11-21T10:00:00",
            None,
        )]),
    );
    a.add_admin();
    let admin = a.logged_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;

    let tables = admin.get("/records").await.text().await.unwrap();
    assert!(
        tables.contains("<code>org_organisation</code></a></td><td data-label=\"Records\">3</td>"),
        "{tables}"
    );
    assert!(tables.contains("<code>org_office</code></a></td><td data-label=\"Records\">1</td>"));

    let list = admin
        .get("/records/org_organisation")
        .await
        .text()
        .await
        .unwrap();
    assert!(list.contains("urn:uuid:org-1") && list.contains("urn:uuid:org-2"));
    assert!(
        !list.contains("urn:uuid:org-3"),
        "deleted records only on request"
    );
    assert!(!list.contains("<img src=x"), "peer text is escaped");
    let with_deleted = admin
        .get("/records/org_organisation?deleted=on")
        .await
        .text()
        .await
        .unwrap();
    assert!(with_deleted.contains("urn:uuid:org-3") && with_deleted.contains(">deleted<"));
    let searched = admin
        .get("/records/org_organisation?q=OO2")
        .await
        .text()
        .await
        .unwrap();
    assert!(searched.contains("urn:uuid:org-2") && !searched.contains("urn:uuid:org-1"));
    let by_uuid = admin
        .get("/records/org_organisation?q=org-1")
        .await
        .text()
        .await
        .unwrap();
    assert!(by_uuid.contains("urn:uuid:org-1") && !by_uuid.contains("urn:uuid:org-2"));

    let record = admin
        .get("/records/org_organisation/urn%3Auuid%3Aorg-1")
        .await
        .text()
        .await
        .unwrap();
    assert!(!record.contains("<img src=x"), "{record}");
    assert!(
        record.contains("href=\"/records/org_organisation/urn%3Auuid%3Aorg-2\""),
        "references are links: {record}"
    );
    assert!(
        record.contains("href=\"/records/org_office/urn%3Auuid%3Aoffice-1\""),
        "components are listed"
    );
    assert!(record.contains("<dt>Seq</dt>") && record.contains("<dt>mci</dt><dd>1 "));
    let office = admin
        .get("/records/org_office/urn%3Auuid%3Aoffice-1")
        .await
        .text()
        .await
        .unwrap();
    assert!(office.contains("Component of"), "{office}");

    assert_eq!(
        admin
            .get("/records/org_organisation/urn%3Auuid%3Anone")
            .await
            .status()
            .as_u16(),
        404
    );
    assert_eq!(
        admin.get("/records/Not-A-Table").await.status().as_u16(),
        404
    );
    assert_eq!(
        a.client().get("/records").await.status().as_u16(),
        303,
        "login required"
    );
}
