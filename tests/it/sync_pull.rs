//! `GET sync.xml`: Eden pulling from edensync, replayed from the recorded
//! requests.

use edensync::model;
use edensync::s3xml::reader::read_all;
use edensync::store::{ImportOptions, import};

use crate::s3xml::fixture;
use crate::support::{Backend, TestApp};
use crate::sync_register::{add_recorded_admin, recorded_request};

const EDEN_A: &str = "urn:uuid:5513e238-de56-4c16-ab02-54b2b8ba64cb";

/// Send a recorded request (its path and headers) to the app.
pub async fn replay(app: &TestApp, name: &str) -> reqwest::Response {
    let (request_line, headers, body) = recorded_request(name);
    let path = request_line.split(' ').nth(1).unwrap().to_string();
    let method = request_line.split(' ').next().unwrap();
    let mut request = reqwest::Client::new()
        .request(method.parse().unwrap(), app.url(&path))
        .body(body);
    for (k, v) in &headers {
        request = request.header(k, v);
    }
    request.send().await.unwrap()
}

pub fn import_doc(app: &TestApp, name: &str) {
    let doc = fixture(name);
    let reader = edensync::s3xml::Reader::new(&doc[..], Default::default()).unwrap();
    import(&mut app.conn(), reader, &ImportOptions::default()).unwrap();
}

fn uuids(bytes: &[u8]) -> Vec<String> {
    read_all(bytes)
        .unwrap()
        .1
        .into_iter()
        .map(|r| r.uuid.unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eden_pulls_as_it_does_from_eden() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    add_recorded_admin(&app);
    assert_eq!(replay(&app, "01_register_request.http").await.status(), 200);
    // What instance B held when A first pulled.
    import_doc(&app, "02_pull_initial.xml");

    let response = replay(&app, "02_pull_initial_request.http").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/xml");
    let bytes = response.bytes().await.unwrap();
    let (root, records) = read_all(&bytes[..]).unwrap();
    let (eden_root, eden_records) = read_all(&fixture("02_pull_initial.xml")[..]).unwrap();
    assert_eq!(root.results, eden_root.results);
    assert_eq!(root.attribute("domain"), Some("127.0.0.1"));
    assert!(root.attribute("url").unwrap().ends_with("/edenb"));
    assert_eq!(
        uuids(&bytes),
        eden_records
            .iter()
            .map(|r| r.uuid.clone().unwrap())
            .collect::<Vec<_>>()
    );
    for (ours, eden) in records.iter().zip(&eden_records) {
        assert_eq!(ours.fields, eden.fields);
        assert_eq!(ours.deleted, eden.deleted);
        assert_eq!(ours.modified_on, eden.modified_on);
        assert_eq!(ours.components.len(), eden.components.len());
        // We hold a copy: mci one higher than the origin's answer.
        assert_eq!(ours.mci, eden.mci.map(|m| m + 1));
    }
    let log = model::sync_log::recent(&mut app.conn(), 1).unwrap();
    assert_eq!(
        (log[0].mode.as_str(), log[0].action.as_str()),
        ("pull/incoming", "send")
    );
    assert_eq!(log[0].message, "Data sent to peer (3 records)");

    // B's changes before A's second pull; A asks with msince = the youngest
    // time it received + 1 s, which maps exactly to what it has seen.
    import_doc(&app, "04_pull_msince.xml");
    let response = replay(&app, "04_pull_msince_request.http").await;
    assert_eq!(response.status(), 200);
    let bytes = response.bytes().await.unwrap();
    let eden_uuids = uuids(&fixture("04_pull_msince.xml"));
    let mut ours = uuids(&bytes);
    ours.sort();
    let mut expected = eden_uuids.clone();
    expected.sort();
    assert_eq!(ours, expected, "exactly what changed, as Eden answered");

    // Filters as Eden sends them: [~]~.acronym__like=RO%2A&[~]~.deleted=False.
    let response = replay(&app, "06_pull_filters_mcomponents_request.http").await;
    let bytes = response.bytes().await.unwrap();
    let sent = uuids(&bytes);
    assert_eq!(sent.len(), 2, "{sent:?}");
    let (_, records) = read_all(&bytes[..]).unwrap();
    assert!(
        records
            .iter()
            .all(|r| !r.deleted && r.data("acronym").unwrap().text.starts_with("RO"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_edge_cases_are_answered_as_eden_answers_them() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    add_recorded_admin(&app);
    let get = |query: &str| {
        let url = app.url(&format!("/edenb/sync/sync.xml?{query}"));
        async move {
            reqwest::Client::new()
                .get(url)
                .basic_auth("admin@example.com", Some("testing"))
                .send()
                .await
                .unwrap()
        }
    };
    // Nothing to send: Eden's empty document, HTTP 200.
    let response = get(&format!("resource=org_organisation&repository={EDEN_A}")).await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(text.starts_with("<?xml version='1.0' encoding='utf-8'?>\n<s3xml success=\"false\" results=\"0\" domain=\"127.0.0.1\" url=\"http://127.0.0.1:"), "{text}");
    assert!(text.ends_with("/edenb\"/>"), "{text}");

    // No resource, or "mixed": HTTP 200 with a failure inside.
    for query in [
        format!("repository={EDEN_A}"),
        format!("resource=mixed&repository={EDEN_A}"),
    ] {
        let response = get(&query).await;
        assert_eq!(response.status(), 200);
        let answer: serde_json::Value =
            serde_json::from_str(&response.text().await.unwrap()).unwrap();
        assert_eq!(answer["statuscode"], "400");
        assert_eq!(
            answer["message"],
            "Mixed resource synchronization not supported"
        );
    }
    let response = get("resource=foo&repository=x").await;
    assert_eq!(response.status(), 400);

    // An unregistered peer may pull (logged without a repository); an msince
    // with Z is ignored as Eden does, and the log says so.
    import_doc(&app, "02_pull_initial.xml");
    let response =
        get("resource=org_organisation&repository=urn:uuid:stranger&msince=2099-01-01T00:00:00Z")
            .await;
    assert_eq!(
        uuids(&response.bytes().await.unwrap()).len(),
        3,
        "a full export"
    );
    let log = model::sync_log::recent(&mut app.conn(), 1).unwrap();
    assert_eq!(log[0].repository_id, None);
    assert!(
        log[0]
            .message
            .contains("msince '2099-01-01T00:00:00Z' is not in Eden's format"),
        "{}",
        log[0].message
    );

    // Unauthenticated: 401.
    let response = reqwest::get(app.url("/sync/sync.xml?resource=org_organisation"))
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

/// edensync peers page by seq and ask for gzip; Eden asks for identity.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edensync_peers_page_by_seq_and_get_gzip() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    add_recorded_admin(&app);
    import_doc(&app, "02_pull_initial.xml");
    let client = reqwest::Client::builder().gzip(false).build().unwrap();
    let get = |query: String, encoding: &'static str| {
        let request = client
            .get(app.url(&format!(
                "/sync/sync.xml?resource=org_organisation&repository={EDEN_A}{query}"
            )))
            .basic_auth("admin@example.com", Some("testing"))
            .header("Accept-Encoding", encoding);
        async move { request.send().await.unwrap() }
    };
    let response = get("&limit=2".into(), "identity").await;
    assert!(response.headers().get("content-encoding").is_none());
    let bytes = response.bytes().await.unwrap();
    let (root, records) = read_all(&bytes[..]).unwrap();
    assert_eq!((records.len(), root.attribute("more")), (2, Some("true")));
    let next = root.attribute("next_seq").unwrap().to_string();

    let response = get(format!("&limit=2&since_seq={next}"), "gzip").await;
    assert_eq!(response.headers()["content-encoding"], "gzip");
    let compressed = response.bytes().await.unwrap();
    let mut plain = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(&compressed[..]),
        &mut plain,
    )
    .unwrap();
    let (root, records) = read_all(&plain[..]).unwrap();
    assert_eq!((records.len(), root.attribute("more")), (1, Some("false")));
}
