//! TLS to peers: a loopback HTTPS peer whose certificate comes from a CA of
//! its own is refused with a clear message, trusted once its CA is added to
//! the repository (validated when saved), and reachable with the explicit
//! "accept invalid certificates" switch, which the console flags.

use edensync::audit::Actor;
use edensync::manage::repositories::{self, RepositoryForm};
use edensync::model::users::Role;

use crate::support::peers::{
    PEER_EMAIL, PEER_PASSWORD, TaskSpec, add_task, count, doc, engine, org, run_with, write_local,
};
use crate::support::tls::{TlsFront, certificate_authority};
use crate::support::{ADMIN_EMAIL, ADMIN_PASSWORD, Backend, TestApp};

/// Change a stored repository as the console would.
fn edit(app: &TestApp, id: i64, change: impl FnOnce(&mut RepositoryForm)) -> Result<(), String> {
    let mut conn = app.conn();
    let existing = edensync::model::repositories::find(&mut conn, id)
        .unwrap()
        .unwrap();
    let mut form = RepositoryForm::from_repository(&mut conn, &existing).unwrap();
    change(&mut form);
    repositories::update(&mut conn, &Actor::cli(), &app.node.key, &existing, &form)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_peer_with_its_own_ca() {
    let a = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let b = TestApp::spawn(Backend::Sqlite).await.unwrap();
    b.add_user(PEER_EMAIL, PEER_PASSWORD, Role::Sync);
    let front = TlsFront::start(&b.url).await;
    let mut form = RepositoryForm::new("B over https");
    form.url = Some(front.url.clone());
    form.username = Some(PEER_EMAIL.into());
    form.password = edensync::manage::PasswordChange::Set(PEER_PASSWORD.into());
    let id = repositories::create(&mut a.conn(), &Actor::cli(), &a.node.key, &form)
        .unwrap()
        .id;
    let engine = engine(&a);

    // Unknown issuer: refused, and the message says what to do.
    let refused = engine.register(id).await.unwrap_err();
    assert!(
        refused.message.contains("certificate"),
        "{}",
        refused.message
    );
    assert!(
        refused.message.contains("CA certificate"),
        "{}",
        refused.message
    );

    // Not a certificate, or some other CA: refused when saved / when used.
    let garbage = edit(&a, id, |f| f.tls_ca_pem = Some("not a certificate".into()));
    assert!(garbage.unwrap_err().contains("tls_ca_pem"));
    let with_key = format!(
        "{}-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        front.ca_pem
    );
    let refused = edit(&a, id, |f| f.tls_ca_pem = Some(with_key)).unwrap_err();
    assert!(refused.contains("other than certificates"), "{refused}");
    let truncated = front.ca_pem.replace("-----END CERTIFICATE-----", "");
    assert!(edit(&a, id, |f| f.tls_ca_pem = Some(truncated)).is_err());
    let other = certificate_authority("someone else").pem();
    edit(&a, id, |f| f.tls_ca_pem = Some(other)).unwrap();
    let still = engine.register(id).await.unwrap_err();
    assert!(still.message.contains("certificate"), "{}", still.message);

    // The peer's own CA: registration and a run over https.
    edit(&a, id, |f| f.tls_ca_pem = Some(front.ca_pem.clone())).unwrap();
    engine.register(id).await.expect("registration over https");
    crate::sync_register::accept_pushes(&b, &a.node.site_uuid);
    add_task(&a, id, TaskSpec::default());
    write_local(
        &b,
        &doc(&[org("urn:uuid:tls-1", "Secure", "SC", "2026-11-20T10:00:00")]),
    );
    write_local(
        &a,
        &doc(&[org("urn:uuid:tls-2", "Sealed", "SL", "2026-11-20T10:00:00")]),
    );
    let report = run_with(&engine, id).await;
    assert_eq!(report.status.as_str(), "succeeded", "{:?}", report.error);
    assert_eq!(count(&a, "org_organisation"), 2);
    assert_eq!(count(&b, "org_organisation"), 2);

    // Without a CA, the explicit switch: it works, and the console warns.
    edit(&a, id, |f| {
        f.tls_ca_pem = None;
        f.tls_accept_invalid = true;
    })
    .unwrap();
    let report = run_with(&engine, id).await;
    assert_eq!(report.status.as_str(), "succeeded", "{:?}", report.error);
    a.add_admin();
    let console = a.logged_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    for page in ["/", "/repositories"] {
        let html = console.get(page).await.text().await.unwrap();
        assert!(html.contains("accepts invalid certificates"), "{page}");
    }
    let form_page = console
        .get(&format!("/repositories/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(form_page.contains("name=\"tls_accept_invalid\" checked"));
}

/// The console shows a bad CA certificate next to its field and keeps what
/// was typed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_validates_the_ca_certificate() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    app.add_admin();
    let console = app.logged_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let response = console
        .submit(
            "/repositories/new",
            "/repositories",
            &[
                ("name", "Peer"),
                ("enabled", "on"),
                (
                    "tls_ca_pem",
                    "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                ),
            ],
        )
        .await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert!(html.contains("id=\"tls_ca_pem-error\""), "{html}");
    assert!(html.contains("certificate 1 is not"), "{html}");
    assert!(html.contains("AAAA"), "what was typed is kept");
}
