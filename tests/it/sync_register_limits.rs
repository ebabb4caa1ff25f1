//! Registration cannot be used to fill a node: a sync account stands for one
//! peer, new registrations are throttled, and a peer's chosen name never
//! shadows a repository id on the command line.

use edensync::manage;
use edensync::model;
use edensync::model::users::Role;

use crate::support::{Backend, TestApp};
use crate::sync_register::{PEER_PASSWORD, add_recorded_admin};

async fn register(app: &TestApp, email: &str, password: &str, body: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(app.url("/sync/repository/register.json"))
        .basic_auth(email, Some(password))
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_account_registers_one_peer() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    app.add_user("one@example.org", PEER_PASSWORD, Role::Sync);
    let first = register(
        &app,
        "one@example.org",
        PEER_PASSWORD,
        r#"{"uuid": "urn:uuid:one"}"#,
    )
    .await;
    assert_eq!(first.status(), 200);
    let again = register(
        &app,
        "one@example.org",
        PEER_PASSWORD,
        r#"{"uuid": "urn:uuid:one"}"#,
    )
    .await;
    assert_eq!(again.status(), 200, "registering again updates");
    let other = register(
        &app,
        "one@example.org",
        PEER_PASSWORD,
        r#"{"uuid": "urn:uuid:two"}"#,
    )
    .await;
    assert_eq!(other.status(), 403);
    let answer: serde_json::Value = other.json().await.unwrap();
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("one sync account stands for one peer"),
        "{answer}"
    );
    assert_eq!(model::repositories::list(&mut app.conn()).unwrap().len(), 1);

    // A repository set up by an administrator for an account, without the
    // peer's uuid: the account's registration completes it.
    app.add_user("field@example.org", PEER_PASSWORD, Role::Sync);
    let field =
        crate::support::peers::add_repository(&app, "field", "http://127.0.0.1:9/eden", "", "");
    model::repositories::bind_account(
        &mut app.conn(),
        field,
        model::users::find_by_email(&mut app.conn(), "field@example.org")
            .unwrap()
            .unwrap()
            .id,
    )
    .unwrap();
    let claimed = register(
        &app,
        "field@example.org",
        PEER_PASSWORD,
        r#"{"uuid": "urn:uuid:field"}"#,
    )
    .await;
    assert_eq!(claimed.status(), 200);
    let stored = model::repositories::find(&mut app.conn(), field)
        .unwrap()
        .unwrap();
    assert_eq!(stored.peer_uuid.as_deref(), Some("urn:uuid:field"));
    assert_eq!(model::repositories::list(&mut app.conn()).unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrations_are_throttled_and_numbers_stay_ids() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    add_recorded_admin(&app);
    // A peer calling itself "1" does not take the name of repository 1.
    let numbered = register(
        &app,
        "admin@example.com",
        "testing",
        r#"{"uuid": "urn:uuid:n0", "name": "1"}"#,
    )
    .await;
    assert_eq!(numbered.status(), 200);
    let named = register(
        &app,
        "admin@example.com",
        "testing",
        r#"{"uuid": "urn:uuid:n1", "name": "2"}"#,
    )
    .await;
    assert_eq!(named.status(), 200);
    let second = model::repositories::find_by_peer_uuid(&mut app.conn(), "urn:uuid:n1")
        .unwrap()
        .unwrap();
    assert_eq!(second.name, "peer 2");
    let by_one = manage::repositories::find(&mut app.conn(), "1").unwrap();
    assert_eq!(
        by_one.peer_uuid.as_deref(),
        Some("urn:uuid:n0"),
        "1 is an id"
    );

    for i in 2..60 {
        let response = register(
            &app,
            "admin@example.com",
            "testing",
            &format!(r#"{{"uuid": "urn:uuid:n{i}"}}"#),
        )
        .await;
        assert_eq!(response.status(), 200, "registration {i}");
    }
    let refused = register(
        &app,
        "admin@example.com",
        "testing",
        r#"{"uuid": "urn:uuid:one-too-many"}"#,
    )
    .await;
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().get("retry-after").is_some());
    let answer: serde_json::Value = refused.json().await.unwrap();
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("try again later"),
        "{answer}"
    );
    assert_eq!(
        model::repositories::list(&mut app.conn()).unwrap().len(),
        60
    );
    // Peers already known still register (an update is no new peer).
    let update = register(
        &app,
        "admin@example.com",
        "testing",
        r#"{"uuid": "urn:uuid:n5"}"#,
    )
    .await;
    assert_eq!(update.status(), 200);
}
