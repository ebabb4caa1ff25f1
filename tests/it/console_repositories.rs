//! The repository pages: add one (registration at the peer on save, field
//! errors with the values kept, passwords never shown back), edit, register
//! again, remove with confirmation; CSRF and login required.

use edensync::model;
use edensync::model::users::Role;

use crate::support::peers::{PEER_EMAIL, PEER_PASSWORD, add_repository};
use crate::support::{ADMIN_EMAIL, ADMIN_PASSWORD, Backend, TestApp, location};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_edit_register_and_remove_a_repository() {
    let Some(a) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let Some(b) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    b.add_user(PEER_EMAIL, PEER_PASSWORD, Role::Sync);
    a.add_admin();
    let admin = a.logged_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert!(
        admin
            .get("/repositories")
            .await
            .text()
            .await
            .unwrap()
            .contains("No repositories yet")
    );

    // Errors come back next to their fields, with the values kept and the
    // password not echoed.
    let refused = admin
        .submit(
            "/repositories/new",
            "/repositories",
            &[
                ("name", "Hub"),
                ("url", "ftp://nowhere"),
                ("password", "typed secret 123"),
                ("allowed_tables", "org_organisation, NotATable"),
                ("enabled", "on"),
            ],
        )
        .await;
    assert_eq!(refused.status().as_u16(), 422);
    let html = refused.text().await.unwrap();
    assert!(
        html.contains("id=\"url-error\"") && html.contains("http"),
        "{html}"
    );
    assert!(html.contains("id=\"allowed_tables-error\""), "{html}");
    assert!(
        html.contains("value=\"ftp://nowhere\""),
        "the value is kept"
    );
    assert!(
        !html.contains("typed secret 123"),
        "passwords are not echoed"
    );
    assert!(model::repositories::list(&mut a.conn()).unwrap().is_empty());

    // Saved with a URL: registered at the peer, which says it is edensync.
    let added = admin
        .submit(
            "/repositories/new",
            "/repositories",
            &[
                ("name", "Hub"),
                ("url", &b.url),
                ("username", PEER_EMAIL),
                ("password", PEER_PASSWORD),
                ("enabled", "on"),
            ],
        )
        .await;
    assert_eq!(added.status().as_u16(), 303);
    let page = location(&added);
    let stored = model::repositories::list(&mut a.conn()).unwrap().remove(0);
    assert_eq!(page, format!("/repositories/{}", stored.id));
    assert_eq!(stored.peer_kind.as_deref(), Some("edensync"));
    assert_eq!(stored.peer_uuid.as_deref(), Some(b.node.site_uuid.as_str()));
    let html = admin.get(&page).await.text().await.unwrap();
    assert!(
        html.contains("registered at the peer: Registration successful"),
        "{html}"
    );
    assert!(html.contains("a password is stored; leave empty to keep it"));
    assert!(!html.contains(PEER_PASSWORD), "the password is never shown");

    // Edit: an empty password keeps the stored one.
    let edited = admin
        .submit(
            &page,
            &page,
            &[
                ("name", "Hub renamed"),
                ("url", &b.url),
                ("username", PEER_EMAIL),
                ("password", ""),
                ("enabled", "on"),
                ("accept_push", "on"),
            ],
        )
        .await;
    assert_eq!(edited.status().as_u16(), 303);
    let stored = model::repositories::find(&mut a.conn(), stored.id)
        .unwrap()
        .unwrap();
    assert_eq!(stored.name, "Hub renamed");
    assert!(stored.accept_push);
    assert_eq!(
        a.node
            .key
            .decrypt(stored.password_enc.as_deref().unwrap())
            .unwrap(),
        PEER_PASSWORD
    );

    let again = admin.submit(&page, &format!("{page}/register"), &[]).await;
    assert_eq!(again.status().as_u16(), 303);
    assert!(
        admin
            .get(&page)
            .await
            .text()
            .await
            .unwrap()
            .contains("Registration update successful")
    );

    // Removal asks first (data-confirm) and needs the CSRF token.
    let html = admin.get(&page).await.text().await.unwrap();
    assert!(html.contains("data-confirm=\"Remove Hub renamed"));
    let forged = admin.post_form(&format!("{page}/delete"), &[]).await;
    assert_eq!(forged.status().as_u16(), 403);
    let removed = admin.submit(&page, &format!("{page}/delete"), &[]).await;
    assert_eq!(location(&removed), "/repositories");
    assert!(model::repositories::list(&mut a.conn()).unwrap().is_empty());
    assert!(
        a.audit_actions()
            .iter()
            .any(|a| a == "repository.remove" || a == "repository.delete"),
        "{:?}",
        a.audit_actions()
    );

    assert_eq!(
        a.client().get("/repositories").await.status().as_u16(),
        303,
        "login required"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passive_peer_and_an_unreachable_one_are_saved_with_a_clear_message() {
    let Some(a) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    a.add_admin();
    let admin = a.logged_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let passive = admin
        .submit(
            "/repositories/new",
            "/repositories",
            &[("name", "Field office"), ("enabled", "on")],
        )
        .await;
    assert_eq!(passive.status().as_u16(), 303);
    let html = admin.get(&location(&passive)).await.text().await.unwrap();
    assert!(html.contains("passive-only peer, it calls us"), "{html}");

    let dead = crate::support::peers::unreachable_url().await;
    let unreachable = admin
        .submit(
            "/repositories/new",
            "/repositories",
            &[("name", "Far away"), ("url", &dead), ("enabled", "on")],
        )
        .await;
    assert_eq!(unreachable.status().as_u16(), 303);
    let html = admin
        .get(&location(&unreachable))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("registration at the peer failed") && html.contains("cannot be reached"),
        "{html}"
    );
    let list = admin.get("/repositories").await.text().await.unwrap();
    assert!(
        list.contains("Field office") && list.contains("Far away") && list.contains("passive only")
    );
}

/// A hub's dashboard lists its repositories a page at a time, those that
/// need an administrator first; a page number that is not one is said so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_pages_a_hubs_repositories_those_failing_first() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    sixty_sites_the_last_failing(&app);
    app.add_admin();
    let admin = app.logged_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let rows = |page: &str| page.matches("<td data-label=\"Repository\">").count();

    let first = admin.get("/").await.text().await.unwrap();
    assert_eq!(rows(&first), 50);
    let failing = first.find(">site 59<").expect("the failing one on page 1");
    assert!(failing < first.find(">site 00<").unwrap(), "failing first");
    assert!(first.contains("1–50 of 60, those needing attention first"));
    assert!(first.contains("href=\"/?page=2\""));
    assert!(!first.contains(">site 49<"), "site 49 is on page 2");

    let second = admin.get("/?page=2").await.text().await.unwrap();
    assert_eq!(rows(&second), 10);
    assert!(second.contains("51–60 of 60") && second.contains(">site 58<"));
    assert!(second.contains("href=\"/?page=1\"") && !second.contains("Next →"));

    // Past the last page: the last page; not a number: the first, and why.
    let beyond = admin.get("/?page=9").await.text().await.unwrap();
    assert!(beyond.contains("51–60 of 60"));
    let wrong = admin.get("/?page=two").await;
    assert_eq!(wrong.status().as_u16(), 200);
    let wrong = wrong.text().await.unwrap();
    assert!(
        wrong.contains("is not a number; it was ignored."),
        "{wrong}"
    );
    assert_eq!(rows(&wrong), 50);
}

/// Sixty repositories, "site 00" to "site 59"; the last one added fails
/// (so it comes first on the dashboard, not on its second page).
pub fn sixty_sites_the_last_failing(app: &TestApp) {
    use diesel::prelude::*;
    use edensync::db::schema::repositories;

    for i in 0..60 {
        let name = format!("site {i:02}");
        add_repository(app, &name, &format!("http://127.0.0.1:9/{i}"), "u", "p");
    }
    diesel::update(repositories::table.filter(repositories::name.eq("site 59")))
        .set((
            repositories::last_status.eq(Some("blocked")),
            repositories::last_error.eq(Some("HTTP 401 Unauthorized")),
        ))
        .execute(&mut *app.conn())
        .unwrap();
}
