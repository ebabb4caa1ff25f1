//! A peer limited to some tables touches no other, at any depth: what it
//! pushes of other tables (top level, component, dependency) is refused and
//! kept for review, and it never receives them.

use diesel::prelude::*;
use edensync::db::schema::{repositories, review_items};
use edensync::s3xml::reader::read_all;
use edensync::store::body::Body;

use crate::support::peers::{import_with, record};
use crate::support::{Backend, TestApp};
use crate::sync_register::{PEER_PASSWORD, accept_pushes, register_sync_peer};

const PEER: &str = "urn:uuid:scoped-peer";
const EMAIL: &str = "scoped@example.org";

fn person(uuid: &str, name: &str, modified: &str) -> String {
    format!(
        r#"<resource name="pr_person" uuid="{uuid}" mci="1" modified_on="{modified}"><data field="first_name">{name}</data></resource>"#
    )
}

fn organisation(uuid: &str, inner: &str) -> String {
    format!(
        r#"<resource name="org_organisation" uuid="{uuid}" mci="1" modified_on="2026-11-26T10:00:00"><data field="name">Scoped Org</data><reference field="contact_id" resource="pr_person" uuid="urn:uuid:person-known">Known Person</reference>{inner}</resource>"#
    )
}

fn first_name(app: &TestApp, uuid: &str) -> String {
    let stored = record(app, "pr_person", uuid).expect("stored");
    format!("{:?}", Body::from_json(&stored.body).unwrap().fields)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_touches_only_its_tables_at_any_depth() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    import_with(
        &mut app.conn(),
        &format!(
            "<s3xml>{}</s3xml>",
            person("urn:uuid:person-known", "Known", "2026-11-20T10:00:00")
        ),
    );
    register_sync_peer(&app, EMAIL, PEER).await;
    accept_pushes(&app, PEER);
    diesel::update(repositories::table.filter(repositories::peer_uuid.eq(PEER)))
        .set(repositories::allowed_tables.eq(Some("org_organisation")))
        .execute(&mut *app.conn())
        .unwrap();

    // pr_person at the top level (new, and over a record we hold) and as a
    // component of an organisation it may push.
    let document = format!(
        "<s3xml>{}{}{}</s3xml>",
        organisation(
            "urn:uuid:org-scoped",
            &person("urn:uuid:person-nested", "Nested", "2026-11-26T10:00:00")
        ),
        person("urn:uuid:person-new", "Intruder", "2026-11-26T10:00:00"),
        person(
            "urn:uuid:person-known",
            "Overwritten",
            "2026-11-26T10:00:00"
        ),
    );
    let response = reqwest::Client::new()
        .post(app.url(&format!(
            "/sync/sync.xml?resource=org_organisation&repository={PEER}"
        )))
        .basic_auth(EMAIL, Some(PEER_PASSWORD))
        .body(document)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer: serde_json::Value = response.json().await.unwrap();
    assert_eq!(answer["records"], 1, "{answer}");
    assert_eq!(
        answer["tree"]["$_pr_person"].as_array().map(Vec::len),
        Some(3),
        "{answer}"
    );
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("may not write the table pr_person")
    );
    assert!(record(&app, "org_organisation", "urn:uuid:org-scoped").is_some());
    assert!(record(&app, "pr_person", "urn:uuid:person-new").is_none());
    assert!(record(&app, "pr_person", "urn:uuid:person-nested").is_none());
    assert!(first_name(&app, "urn:uuid:person-known").contains("Known"));
    let kept: i64 = review_items::table
        .filter(review_items::table_name.eq("pr_person"))
        .count()
        .get_result(&mut *app.conn())
        .unwrap();
    assert_eq!(kept, 3, "refused records are kept for review");

    // A merge of a record it may write does not rewrite references held
    // by tables it may not: the known person still points at the
    // organisation it pushed, unchanged.
    let before = record(&app, "pr_person", "urn:uuid:person-known").unwrap();
    import_with(
        &mut app.conn(),
        r#"<s3xml><resource name="pr_person" uuid="urn:uuid:person-ref" mci="1" modified_on="2026-11-20T10:00:00"><data field="first_name">Refers</data><reference field="organisation_id" resource="org_organisation" uuid="urn:uuid:org-scoped">Scoped Org</reference></resource></s3xml>"#,
    );
    let referrer = record(&app, "pr_person", "urn:uuid:person-ref").unwrap();
    let merge = r#"<s3xml><resource name="org_organisation" uuid="urn:uuid:org-scoped" deleted="True" replaced_by="urn:uuid:org-elsewhere" modified_on="2026-11-27T10:00:00"/></s3xml>"#;
    let merged = reqwest::Client::new()
        .post(app.url(&format!(
            "/sync/sync.xml?resource=org_organisation&repository={PEER}"
        )))
        .basic_auth(EMAIL, Some(PEER_PASSWORD))
        .body(merge)
        .send()
        .await
        .unwrap();
    assert_eq!(merged.status(), 200);
    assert!(
        record(&app, "org_organisation", "urn:uuid:org-scoped")
            .unwrap()
            .deleted
    );
    let after = record(&app, "pr_person", "urn:uuid:person-ref").unwrap();
    assert_eq!(
        after.seq, referrer.seq,
        "a reference it may not write stays"
    );
    assert!(after.body.contains("urn:uuid:org-scoped"), "{}", after.body);
    assert_eq!(
        record(&app, "pr_person", "urn:uuid:person-known")
            .unwrap()
            .seq,
        before.seq
    );

    // Pulling: the organisation comes without the person it references.
    let pulled = reqwest::Client::new()
        .get(app.url(&format!(
            "/sync/sync.xml?resource=org_organisation&repository={PEER}"
        )))
        .basic_auth(EMAIL, Some(PEER_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(pulled.status(), 200);
    let bytes = pulled.bytes().await.unwrap();
    let (_, records) = read_all(&bytes[..]).unwrap();
    let tables: Vec<&str> = records.iter().map(|r| r.table.as_str()).collect();
    assert_eq!(
        tables,
        ["org_organisation"],
        "{}",
        String::from_utf8_lossy(&bytes)
    );
}
