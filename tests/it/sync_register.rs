//! `register.json`: a peer announces itself, as a real Eden does it.

use edensync::model;
use edensync::model::users::Role;

use crate::s3xml::fixture;
use crate::support::{Backend, TestApp};

/// The account in the recorded traffic: admin@example.com / testing. Its
/// password is shorter than we allow for new accounts, so it is stored
/// directly.
pub fn add_recorded_admin(app: &TestApp) {
    let hash = edensync::accounts::password::hash("testing");
    model::users::insert(
        &mut app.conn(),
        "admin@example.com",
        &hash,
        Role::Admin,
        model::now(),
    )
    .unwrap();
}

/// The password of the sync accounts the tests create for peers.
pub const PEER_PASSWORD: &str = "peer password 12345";

/// Add a sync account and let it register the peer `uuid`, as a peer would.
pub async fn register_sync_peer(app: &TestApp, email: &str, uuid: &str) {
    app.add_user(email, PEER_PASSWORD, Role::Sync);
    let response = reqwest::Client::new()
        .post(app.url("/sync/repository/register.json"))
        .basic_auth(email, Some(PEER_PASSWORD))
        .body(format!(r#"{{"uuid": "{uuid}"}}"#))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

/// An administrator accepts the pushes of the peer `uuid`.
pub fn accept_pushes(app: &TestApp, uuid: &str) {
    use diesel::prelude::*;
    use edensync::db::schema::repositories::dsl::*;
    diesel::update(repositories.filter(peer_uuid.eq(uuid)))
        .set(accept_push.eq(true))
        .execute(&mut *app.conn())
        .unwrap();
}

/// A recorded request: its request line, headers and body.
pub fn recorded_request(name: &str) -> (String, Vec<(String, String)>, Vec<u8>) {
    let raw = fixture(name);
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    let headers = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(": "))
        .filter(|(k, _)| {
            !["host", "content-length", "connection"].contains(&k.to_lowercase().as_str())
        })
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let request_line = head.lines().next().unwrap_or_default().to_string();
    (request_line, headers, raw[split + 4..].to_vec())
}

async fn post(
    app: &TestApp,
    path: &str,
    auth: Option<(&str, &str)>,
    content_type: &str,
    body: &str,
) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(app.url(path))
        .header("Content-Type", content_type)
        .body(body.to_string());
    if let Some((user, password)) = auth {
        request = request.basic_auth(user, Some(password));
    }
    request.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eden_registers_as_it_does_with_eden() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    add_recorded_admin(&app);
    let (_, headers, body) = recorded_request("01_register_request.http");
    let mut request = reqwest::Client::new()
        .post(app.url("/edenb/sync/repository/register.json"))
        .body(body.clone());
    for (k, v) in &headers {
        request = request.header(k, v);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let answer: serde_json::Value = response.json().await.unwrap();
    assert_eq!(answer["status"], "success");
    assert_eq!(answer["statuscode"], "200");
    assert_eq!(answer["message"], "Registration successful");
    assert_eq!(answer["sender"], app.node.site_uuid.as_str());
    assert_eq!(answer["server"], format!("edensync/{}", edensync::VERSION));
    assert_eq!(
        answer["capabilities"],
        serde_json::json!(["since_seq", "limit", "gzip", "ndjson"])
    );

    let repository = model::repositories::find_by_peer_uuid(
        &mut app.conn(),
        "urn:uuid:5513e238-de56-4c16-ab02-54b2b8ba64cb",
    )
    .unwrap()
    .expect("the peer's repository exists");
    assert_eq!(
        (repository.name.as_str(), repository.api_type.as_str()),
        ("127.0.0.1:8765", "eden")
    );
    assert!(repository.url.is_none(), "a peer that calls us has no URL");
    assert!(!repository.accept_push, "pushes wait for an administrator");
    let log = model::sync_log::recent(&mut app.conn(), 1).unwrap();
    assert_eq!(
        (
            log[0].mode.as_str(),
            log[0].action.as_str(),
            log[0].result.as_str()
        ),
        ("register/incoming", "none", "success")
    );
    assert_eq!(log[0].repository_id, Some(repository.id));

    // Registering again updates, as Eden says; without the application name too.
    let again = post(&app, "/sync/repository/register.json", Some(("admin@example.com", "testing")), "application/json",
        r#"{"uuid": "urn:uuid:5513e238-de56-4c16-ab02-54b2b8ba64cb", "name": "renamed", "apitype": "eden"}"#).await;
    let answer: serde_json::Value = again.json().await.unwrap();
    assert_eq!(answer["message"], "Registration update successful");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_errors_are_answered_as_eden_answers_them() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    add_recorded_admin(&app);
    let auth = Some(("admin@example.com", "testing"));
    let path = "/edenb/sync/repository/register.json";

    // Missing uuid: HTTP 200 with a failure inside (vector 09).
    let response = post(&app, path, auth, "application/json", r#"{"name":"x"}"#).await;
    assert_eq!(response.status(), 200);
    let answer: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        (answer["status"].as_str(), answer["statuscode"].as_str()),
        (Some("failed"), Some("400"))
    );
    assert_eq!(answer["message"], "No repository identifier specified");
    assert_eq!(answer["sender"], app.node.site_uuid.as_str());

    let response = post(
        &app,
        path,
        auth,
        "application/x-www-form-urlencoded",
        "{uuid",
    )
    .await;
    assert_eq!(response.status(), 400);
    let answer: serde_json::Value = response.json().await.unwrap();
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .starts_with("Invalid parameters: "),
        "{answer}"
    );

    let response = reqwest::Client::new()
        .get(app.url(path))
        .basic_auth("admin@example.com", Some("testing"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    let answer: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        answer,
        serde_json::json!({"status": "failed", "statuscode": "405", "message": "Unsupported method!"})
    );

    let response = post(
        &app,
        "/edenb/sync/repository/register.xml",
        auth,
        "application/x-www-form-urlencoded",
        r#"{"uuid":"urn:uuid:x"}"#,
    )
    .await;
    assert_eq!(response.status(), 415);
    let answer: serde_json::Value = response.json().await.unwrap();
    assert_eq!(answer["message"], "Unsupported data format!");

    // Without or with wrong credentials: Eden's 401 with a Basic challenge.
    let response = post(
        &app,
        path,
        None,
        "application/json",
        r#"{"uuid":"urn:uuid:y"}"#,
    )
    .await;
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers()["www-authenticate"],
        "Basic realm=\"edensync\""
    );
    assert_eq!(response.text().await.unwrap(), "Authentication Required");
    let response = post(
        &app,
        path,
        Some(("admin@example.com", "WRONG")),
        "application/json",
        r#"{"uuid":"urn:uuid:y"}"#,
    )
    .await;
    assert_eq!(response.status(), 401);
    assert!(
        model::repositories::find_by_peer_uuid(&mut app.conn(), "urn:uuid:y")
            .unwrap()
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_accounts_act_only_as_their_own_repositories() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    app.add_user("field@example.org", "field site password", Role::Sync);
    app.add_user("other@example.org", "other site password", Role::Sync);
    let path = "/sync/repository/register.json";
    let body = r#"{"uuid": "urn:uuid:field-site", "name": "field.example.org"}"#;

    let response = post(
        &app,
        path,
        Some(("field@example.org", "field site password")),
        "application/json",
        body,
    )
    .await;
    assert_eq!(response.status(), 200);
    let repository = model::repositories::find_by_peer_uuid(&mut app.conn(), "urn:uuid:field-site")
        .unwrap()
        .unwrap();
    let field = model::users::find_by_email(&mut app.conn(), "field@example.org")
        .unwrap()
        .unwrap();
    assert!(model::repositories::is_bound(&mut app.conn(), repository.id, field.id).unwrap());

    let response = post(
        &app,
        path,
        Some(("other@example.org", "other site password")),
        "application/json",
        body,
    )
    .await;
    assert_eq!(response.status(), 403);
    let answer: serde_json::Value = response.json().await.unwrap();
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("may not act as the repository urn:uuid:field-site")
    );

    // A password change ends the remembered login at once.
    edensync::accounts::set_password(
        &mut app.conn(),
        &edensync::audit::Actor::system(),
        &field,
        "a brand new password",
        None,
    )
    .unwrap();
    let response = post(
        &app,
        path,
        Some(("field@example.org", "field site password")),
        "application/json",
        body,
    )
    .await;
    assert_eq!(response.status(), 401);
    let response = post(
        &app,
        path,
        Some(("field@example.org", "a brand new password")),
        "application/json",
        body,
    )
    .await;
    assert_eq!(response.status(), 200);

    // With "accept pushes from newly registered peers" on, new peers may push.
    {
        use diesel::prelude::*;
        use edensync::db::schema::sync_config::dsl::*;
        diesel::update(sync_config)
            .set(accept_push_from_new_peers.eq(true))
            .execute(&mut *app.conn())
            .unwrap();
    }
    let response = post(
        &app,
        path,
        Some(("other@example.org", "other site password")),
        "application/json",
        r#"{"uuid": "urn:uuid:second"}"#,
    )
    .await;
    assert_eq!(response.status(), 200);
    let second = model::repositories::find_by_peer_uuid(&mut app.conn(), "urn:uuid:second")
        .unwrap()
        .unwrap();
    assert!(second.accept_push);
    assert_eq!(
        second.name, "urn:uuid:second",
        "named by its uuid when it gives no name"
    );
}

/// A peer with a stale password is throttled by address; it never locks
/// the account out of the console.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_password_at_the_peers_address_is_throttled_without_locking_the_account() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    add_recorded_admin(&app);
    let path = "/sync/repository/register.json";
    // The peer proved its password from this address before: a stale one
    // there afterwards slows the address, it does not lock the account.
    let proved = post(
        &app,
        path,
        Some(("admin@example.com", "testing")),
        "application/json",
        "{}",
    )
    .await;
    assert_eq!(proved.status(), 200);
    for _ in 0..20 {
        let response = post(
            &app,
            path,
            Some(("admin@example.com", "stale")),
            "application/json",
            "{}",
        )
        .await;
        assert_eq!(response.status(), 401);
    }
    let response = post(
        &app,
        path,
        Some(("admin@example.com", "testing")),
        "application/json",
        "{}",
    )
    .await;
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
    let user = model::users::find_by_email(&mut app.conn(), "admin@example.com")
        .unwrap()
        .unwrap();
    assert_eq!(
        (user.failed_logins, user.locked_until),
        (0, None),
        "the account is not locked"
    );
}

/// `tables.json`: what a peer may pull, with counts; only for accounts that
/// may act as the repository named.
#[tokio::test]
async fn a_peer_lists_the_tables_it_may_pull_and_nothing_more() {
    use diesel::prelude::*;
    use edensync::db::schema::repositories::dsl::{allowed_tables, peer_uuid, repositories};

    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    crate::support::peers::write_local(&app, &crate::support::peers::orgs_with_offices("T", 3));
    register_sync_peer(&app, "field@example.org", "urn:uuid:field").await;
    register_sync_peer(&app, "other@example.org", "urn:uuid:other").await;
    let list = |email: &'static str, peer: &'static str| {
        let address = app.url(&format!("/sync/repository/tables.json?repository={peer}"));
        async move {
            let response = reqwest::Client::new()
                .get(address)
                .basic_auth(email, Some(PEER_PASSWORD))
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            (status, response.json::<serde_json::Value>().await.unwrap())
        }
    };

    let (status, body) = list("field@example.org", "urn:uuid:field").await;
    assert_eq!(status, 200, "{body}");
    let tables = body["tables"].as_array().unwrap();
    assert_eq!(tables.len(), 2, "{body}");
    assert_eq!(tables[0]["table"], "org_office");
    assert_eq!(tables[0]["records"], 3);
    assert_eq!(tables[0]["component_of"], "org_organisation");
    assert_eq!(tables[1]["table"], "org_organisation");
    assert_eq!(tables[1]["records"], 3);
    assert!(tables[1]["component_of"].is_null());

    // A repository limited to some tables sees only those.
    diesel::update(repositories.filter(peer_uuid.eq("urn:uuid:field")))
        .set(allowed_tables.eq(Some("org_organisation")))
        .execute(&mut *app.conn())
        .unwrap();
    let (_, body) = list("field@example.org", "urn:uuid:field").await;
    assert_eq!(body["tables"].as_array().unwrap().len(), 1, "{body}");

    // Another peer's account may not act as this one; no account, no list.
    let (status, body) = list("other@example.org", "urn:uuid:field").await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("may not act as"),
        "{body}"
    );
    let anonymous = reqwest::get(app.url("/sync/repository/tables.json"))
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}
