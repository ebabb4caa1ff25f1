//! `POST sync.xml`: Eden pushing to edensync, replayed from the recorded
//! requests, and the refusals around it.

use edensync::model;

use crate::s3xml::fixture;
use crate::support::{Backend, TestApp};
use crate::sync_pull::{import_doc, replay};
use crate::sync_register::{PEER_PASSWORD, accept_pushes, add_recorded_admin, register_sync_peer};

const EDEN_A: &str = "urn:uuid:5513e238-de56-4c16-ab02-54b2b8ba64cb";

async fn push(
    app: &TestApp,
    query: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(app.url(&format!("/edenb/sync/sync.xml?{query}")))
        .basic_auth("admin@example.com", Some("testing"))
        .body(body);
    if let Some(content_type) = content_type {
        request = request.header("Content-Type", content_type);
    }
    request.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eden_pushes_as_it_does_to_eden() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    add_recorded_admin(&app);
    // Before registration: Eden's 403.
    let response = replay(&app, "03_push_initial_request.http").await;
    assert_eq!(response.status(), 403);
    let answer: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        answer,
        serde_json::json!({"status": "failed", "statuscode": "403", "message": "Registration required"})
    );

    assert_eq!(replay(&app, "01_register_request.http").await.status(), 200);
    // Registered, but pushes wait for an administrator.
    let response = replay(&app, "03_push_initial_request.http").await;
    assert_eq!(response.status(), 403);
    let answer: serde_json::Value = response.json().await.unwrap();
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("not accepted yet")
    );

    accept_pushes(&app, EDEN_A);
    import_doc(&app, "02_pull_initial.xml");
    let response = replay(&app, "03_push_initial_request.http").await;
    assert_eq!(response.status(), 200);
    let answer: serde_json::Value = response.json().await.unwrap();
    assert_eq!(answer["status"], "success");
    assert_eq!(answer["statuscode"], "200");
    assert_eq!(answer["records"], 3);
    assert_eq!(answer["created"].as_array().unwrap().len(), 1, "{answer}");
    assert_eq!(answer["updated"].as_array().unwrap().len(), 2, "{answer}");
    assert!(
        answer.get("deleted").is_none(),
        "empty lists are left out, as Eden does"
    );
    let created = app_record(&app, "urn:uuid:aae53e25-6103-48f0-8447-c34379a11c64");
    assert_eq!(created.mci, 1);
    assert_eq!(
        created.changed_by_repository_id,
        created.origin_repository_id
    );
    assert!(
        created.changed_by_repository_id.is_some(),
        "the record is known to come from A"
    );

    let response = replay(&app, "05_push_with_deletion_request.http").await;
    assert_eq!(response.status(), 200);
    let answer: serde_json::Value = response.json().await.unwrap();
    assert_eq!(answer["records"], 3);
    assert_eq!(answer["deleted"].as_array().unwrap().len(), 1, "{answer}");
    assert_eq!(answer["updated"].as_array().unwrap().len(), 2, "{answer}");
    assert!(app_record(&app, "urn:uuid:aae53e25-6103-48f0-8447-c34379a11c64").deleted);
    let log = model::sync_log::recent(&mut app.conn(), 1).unwrap();
    assert_eq!(
        (
            log[0].mode.as_str(),
            log[0].action.as_str(),
            log[0].result.as_str()
        ),
        ("push/incoming", "receive", "success")
    );
}

fn app_record(app: &TestApp, uuid: &str) -> model::records::StoredRecord {
    model::records::find(&mut app.conn(), "org_organisation", uuid)
        .unwrap()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_are_read_whatever_the_content_type_and_all_or_nothing() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    add_recorded_admin(&app);
    assert_eq!(replay(&app, "01_register_request.http").await.status(), 200);
    accept_pushes(&app, EDEN_A);
    let query = format!("resource=org_organisation&repository={EDEN_A}");
    let doc = |uuid: &str| {
        format!(r#"<s3xml><resource name="org_organisation" uuid="{uuid}" mci="1" modified_on="2026-11-26T06:00:00"><data field="name">{uuid}</data></resource></s3xml>"#).into_bytes()
    };
    for (content_type, uuid) in [
        (Some("text/xml"), "T1"),
        (Some("application/x-www-form-urlencoded"), "T2"),
        (None, "T3"),
    ] {
        let response = push(&app, &query, content_type, doc(uuid)).await;
        assert_eq!(response.status(), 200, "{content_type:?}");
        app_record(&app, uuid);
    }

    // Broken at its end: 400 with the parser's message, nothing imported.
    let mut broken = doc("T4");
    broken.truncate(broken.len() - 4);
    let response = push(&app, &query, Some("text/xml"), broken).await;
    assert_eq!(response.status(), 400);
    let answer: serde_json::Value = response.json().await.unwrap();
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .starts_with("XML Parse error: XML error at line 1"),
        "{answer}"
    );
    assert!(
        model::records::find(&mut app.conn(), "org_organisation", "T4")
            .unwrap()
            .is_none()
    );
    let response = push(&app, &query, Some("text/xml"), Vec::new()).await;
    assert_eq!(response.status(), 400);

    // Rejected records: success with a message and an error tree, as Eden answers.
    let response = push(
        &app,
        &query,
        Some("text/xml"),
        br#"<s3xml><resource name="org_organisation" uuid="T5" modified_on="later"/></s3xml>"#
            .to_vec(),
    )
    .await;
    let answer: serde_json::Value = response.json().await.unwrap();
    assert_eq!(answer["status"], "success");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .ends_with("- invalid items ignored"),
        "{answer}"
    );
    assert_eq!(answer["tree"]["$_org_organisation"][0]["@uuid"], "T5");

    // Other methods are refused: Eden would soft-delete the whole table on DELETE.
    let response = reqwest::Client::new()
        .delete(app.url(&format!("/sync/sync.xml?{query}")))
        .basic_auth("admin@example.com", Some("testing"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    app_record(&app, "T1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_pushes_are_refused_with_413() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| s.max_push_bytes = 1000)
        .await
        .unwrap();
    add_recorded_admin(&app);
    assert_eq!(replay(&app, "01_register_request.http").await.status(), 200);
    accept_pushes(&app, EDEN_A);
    let response = push(
        &app,
        &format!("resource=org_organisation&repository={EDEN_A}"),
        Some("text/xml"),
        fixture("03_push_initial.xml"),
    )
    .await;
    assert_eq!(response.status(), 413);
    let answer: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        answer["message"],
        "The document is larger than the limit of 1000 bytes"
    );
}

/// A sync account acts only as its own repository, and a repository's
/// allowed tables limit what it may pull and push.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_and_allowed_tables_limit_pulls_and_pushes() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    register_sync_peer(&app, "one@example.org", "urn:uuid:one").await;
    register_sync_peer(&app, "two@example.org", "urn:uuid:two").await;
    {
        use diesel::prelude::*;
        use edensync::db::schema::repositories::dsl::*;
        diesel::update(repositories)
            .set((
                accept_push.eq(true),
                allowed_tables.eq(Some("org_organisation,org_office")),
            ))
            .execute(&mut *app.conn())
            .unwrap();
    }
    let send = |method: reqwest::Method, email: &'static str, query: &'static str| {
        let request = reqwest::Client::new()
            .request(method, app.url(&format!("/sync/sync.xml?{query}")))
            .basic_auth(email, Some(PEER_PASSWORD))
            .body(r#"<s3xml><resource name="org_organisation" uuid="X1"/></s3xml>"#);
        async move { request.send().await.unwrap() }
    };
    use reqwest::Method;
    let own = "resource=org_organisation&repository=urn:uuid:one";
    assert_eq!(
        send(Method::GET, "one@example.org", own).await.status(),
        200
    );
    assert_eq!(
        send(Method::POST, "one@example.org", own).await.status(),
        200
    );
    // Acting as another peer's repository.
    assert_eq!(
        send(Method::GET, "two@example.org", own).await.status(),
        403
    );
    assert_eq!(
        send(Method::POST, "two@example.org", own).await.status(),
        403
    );
    // A table the repository may not sync.
    let other_table = "resource=pr_person&repository=urn:uuid:one";
    let response = send(Method::GET, "one@example.org", other_table).await;
    assert_eq!(response.status(), 403);
    let answer: serde_json::Value = response.json().await.unwrap();
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("may not sync the table pr_person")
    );
    assert_eq!(
        send(Method::POST, "one@example.org", other_table)
            .await
            .status(),
        403
    );
    // The refused push leaves an error in the log, for the dashboard.
    let refused = edensync::model::sync_log::recent(&mut app.conn(), 5).unwrap();
    assert!(
        refused.iter().any(|row| row.mode == "push/incoming"
            && row.result == edensync::vocabulary::LogResult::Error
            && row.message.contains("may not sync the table pr_person")),
        "{refused:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_with_an_unknown_stored_policy_refuses_pushes_with_eden_json() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    add_recorded_admin(&app);
    assert_eq!(replay(&app, "01_register_request.http").await.status(), 200);
    accept_pushes(&app, EDEN_A);
    let id = model::repositories::find_by_peer_uuid(&mut app.conn(), EDEN_A)
        .unwrap()
        .unwrap()
        .id;
    // Written past the console's checks, as a hand edit of the database would.
    crate::support::peers::add_task(
        &app,
        id,
        crate::support::peers::TaskSpec {
            update_policy: "LATEST",
            ..Default::default()
        },
    );
    let response = replay(&app, "03_push_initial_request.http").await;
    assert_eq!(response.status(), 403);
    let answer: serde_json::Value = response.json().await.unwrap();
    assert_eq!(answer["status"], "failed", "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("'LATEST' is not a policy"),
        "{answer}"
    );
}

/// Eden re-pushes its whole table on every run. The same document again,
/// once it changed nothing and none of its records was stored since, gets
/// the same answer without being read; records of others stored meanwhile
/// do not matter, one of its own stored meanwhile makes it read again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_identical_re_push_is_answered_without_reading_it_again() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    add_recorded_admin(&app);
    assert_eq!(replay(&app, "01_register_request.http").await.status(), 200);
    accept_pushes(&app, EDEN_A);
    async fn answer(app: &TestApp) -> serde_json::Value {
        let response = replay(app, "03_push_initial_request.http").await;
        response.json().await.unwrap()
    }
    let last_message = |app: &TestApp| {
        model::sync_log::recent(&mut app.conn(), 1).unwrap()[0]
            .message
            .clone()
    };
    let first = answer(&app).await;
    assert_eq!(first["created"].as_array().unwrap().len(), 3, "{first}");
    // The second changes nothing, and is read in full.
    let second = answer(&app).await;
    assert!(second.get("created").is_none(), "{second}");
    assert!(!last_message(&app).contains("not read again"));
    let seq = model::records::current_seq(&mut app.conn()).unwrap();
    // The third: the same answer, not read, nothing stored.
    let third = answer(&app).await;
    assert_eq!(third, second);
    assert!(
        last_message(&app).contains("not read again"),
        "{}",
        last_message(&app)
    );
    assert_eq!(model::records::current_seq(&mut app.conn()).unwrap(), seq);
    // Another peer's record stored meanwhile: still not read.
    crate::support::peers::write_local(&app, &crate::support::peers::many_orgs("other", 2));
    assert_eq!(answer(&app).await, second);
    assert!(last_message(&app).contains("not read again"));
    // One of its records stored meanwhile: read again, in full.
    import_doc(&app, "02_pull_initial.xml");
    answer(&app).await;
    assert!(!last_message(&app).contains("not read again"));
}
