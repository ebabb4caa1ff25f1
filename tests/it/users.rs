//! Accounts in the console and on the command line.

use std::collections::HashMap;

use edensync::model::users::Role;

use crate::support::{ADMIN_EMAIL, ADMIN_PASSWORD, Backend, TestApp, edensync, location};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administrators_manage_accounts_in_the_console() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    app.add_admin();
    let admin = app.logged_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;

    // A refused form keeps its values and shows the message next to the field.
    let short = admin
        .submit(
            "/users",
            "/users",
            &[
                ("email", "peer@example.org"),
                ("role", "sync"),
                ("password", "short"),
                ("password_confirm", "short"),
            ],
        )
        .await;
    assert_eq!(short.status(), 422);
    let html = short.text().await.unwrap();
    assert!(
        html.contains("id=\"password-error\">Use at least 12 characters."),
        "{html}"
    );
    assert!(html.contains("value=\"peer@example.org\""));
    assert!(html.contains("value=\"sync\" checked"));
    let bad_email = admin
        .submit(
            "/users",
            "/users",
            &[
                ("email", "not-an-address"),
                ("role", "admin"),
                ("password", ADMIN_PASSWORD),
                ("password_confirm", ADMIN_PASSWORD),
            ],
        )
        .await;
    assert_eq!(bad_email.status(), 422);
    assert!(
        bad_email
            .text()
            .await
            .unwrap()
            .contains("id=\"email-error\"")
    );

    let added = admin
        .submit(
            "/users",
            "/users",
            &[
                ("email", "Second@Example.org"),
                ("role", "admin"),
                ("password", "second admin password"),
                ("password_confirm", "second admin password"),
            ],
        )
        .await;
    assert_eq!(added.status(), 303);
    let list = admin.get("/users").await.text().await.unwrap();
    assert!(
        list.contains("Added second@example.org (admin)."),
        "flash message"
    );
    let taken = admin
        .submit(
            "/users",
            "/users",
            &[
                ("email", "second@example.org"),
                ("role", "sync"),
                ("password", "another password 1"),
                ("password_confirm", "another password 1"),
            ],
        )
        .await;
    assert_eq!(taken.status(), 422);
    assert!(taken.text().await.unwrap().contains("already exists"));

    // Disabling ends the account's sessions; a session can also be revoked alone.
    let second = app
        .logged_in("second@example.org", "second admin password")
        .await;
    let second_again = app
        .logged_in("second@example.org", "second admin password")
        .await;
    let id = edensync::model::users::find_by_email(&mut app.conn(), "second@example.org")
        .unwrap()
        .unwrap()
        .id;
    let sessions = edensync::model::sessions::list_for_user(&mut app.conn(), id).unwrap();
    assert_eq!(sessions.len(), 2);
    let page = admin
        .get(&format!("/users/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains(&format!("/users/{id}/sessions/{}/revoke", sessions[0].id)));
    let revoked = admin
        .submit(
            &format!("/users/{id}"),
            &format!("/users/{id}/sessions/{}/revoke", sessions[0].id),
            &[],
        )
        .await;
    assert_eq!(revoked.status(), 303);
    let still = [
        second.is_logged_in().await,
        second_again.is_logged_in().await,
    ];
    assert_eq!(
        still.iter().filter(|s| **s).count(),
        1,
        "exactly the revoked session ended"
    );

    let disabled = admin
        .submit(
            &format!("/users/{id}"),
            &format!("/users/{id}/disable"),
            &[],
        )
        .await;
    assert_eq!(disabled.status(), 303);
    assert!(!second.is_logged_in().await && !second_again.is_logged_in().await);
    assert_eq!(
        app.client()
            .login("second@example.org", "second admin password")
            .await
            .status(),
        401
    );

    // The last enabled administrator cannot be disabled.
    let me = edensync::model::users::find_by_email(&mut app.conn(), ADMIN_EMAIL)
        .unwrap()
        .unwrap()
        .id;
    let refused = admin
        .submit(
            &format!("/users/{me}"),
            &format!("/users/{me}/disable"),
            &[],
        )
        .await;
    assert_eq!(location(&refused), format!("/users/{me}"));
    let page = admin
        .get(&format!("/users/{me}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("only enabled administrator"), "refusal shown");
    assert!(admin.is_logged_in().await);

    // A reset password works at once and ends the user's sessions.
    admin
        .submit(&format!("/users/{id}"), &format!("/users/{id}/enable"), &[])
        .await;
    let reset = admin
        .submit(
            &format!("/users/{id}"),
            &format!("/users/{id}/password"),
            &[
                ("password", "reset by the admin"),
                ("password_confirm", "reset by the admin"),
            ],
        )
        .await;
    assert_eq!(reset.status(), 303);
    assert_eq!(
        app.client()
            .login("second@example.org", "reset by the admin")
            .await
            .status(),
        303
    );

    let audit = admin.get("/audit").await.text().await.unwrap();
    for action in [
        "user.add",
        "session.revoke",
        "user.disable",
        "user.enable",
        "user.password",
        "login",
    ] {
        assert!(
            audit.contains(&format!("<code>{action}</code>")),
            "{action} in the audit page"
        );
    }
    assert_eq!(admin.get("/users/99999").await.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escaped_everywhere() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    app.add_admin();
    let admin = app.logged_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    app.add_user(
        "<script>alert(1)</script>@example.org",
        "peer password 12345",
        Role::Sync,
    );
    let html = admin.get("/users").await.text().await.unwrap();
    assert!(!html.contains("<script>alert(1)</script>"));
    assert!(html.contains("&#60;script&#62;") || html.contains("&lt;script&gt;"));
}

fn cli_env(dir: &std::path::Path) -> HashMap<&'static str, String> {
    [("EDENSYNC_DATA_DIR", dir.display().to_string())]
        .into_iter()
        .collect()
}

#[test]
fn accounts_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let env = cli_env(dir.path());
    let run = |args: &[&str], stdin: Option<&str>| edensync(args, &env, stdin);

    let out = run(
        &[
            "user",
            "add",
            "ops@example.org",
            "--role",
            "admin",
            "--password-stdin",
        ],
        Some("a long admin password\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(
        &[
            "user",
            "add",
            "peer@example.org",
            "--role",
            "sync",
            "--password-stdin",
        ],
        Some("peer password 12345"),
    );
    assert!(out.status.success());
    let again = run(
        &[
            "user",
            "add",
            "ops@example.org",
            "--role",
            "admin",
            "--password-stdin",
        ],
        Some("a long admin password\n"),
    );
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));

    // Passwords: never prompted without a terminal, never empty, never weak.
    let no_tty = run(&["user", "add", "x@example.org", "--role", "admin"], None);
    assert_eq!(no_tty.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&no_tty.stderr).contains("--password-stdin"));
    let empty = run(
        &[
            "user",
            "add",
            "x@example.org",
            "--role",
            "admin",
            "--password-stdin",
        ],
        Some("\n"),
    );
    assert_eq!(empty.status.code(), Some(2));
    let weak = run(
        &[
            "user",
            "add",
            "x@example.org",
            "--role",
            "admin",
            "--password-stdin",
        ],
        Some("short\n"),
    );
    assert_eq!(weak.status.code(), Some(2));
    let bad_role = run(
        &[
            "user",
            "add",
            "x@example.org",
            "--role",
            "root",
            "--password-stdin",
        ],
        Some("long enough password"),
    );
    assert_eq!(bad_role.status.code(), Some(2), "usage errors exit 2");

    let list = run(&["user", "list", "--json"], None);
    let users: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let users = users.as_array().unwrap();
    assert_eq!(users.len(), 2);
    assert!(
        users
            .iter()
            .any(|u| u["email"] == "peer@example.org" && u["role"] == "sync")
    );

    // The trailing newline was stripped: the password is exactly what was typed.
    let settings = crate::support::settings_for(dir.path(), Backend::Sqlite).unwrap();
    let node = edensync::app::open(settings).unwrap();
    let user =
        edensync::model::users::find_by_email(&mut node.pool.get().unwrap(), "ops@example.org")
            .unwrap()
            .unwrap();
    assert!(edensync::accounts::password::verify(
        "a long admin password",
        &user.password_hash
    ));
    assert!(
        user.password_hash
            .starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "OWASP parameters: {}",
        user.password_hash
    );

    assert!(
        run(&["user", "disable", "peer@example.org"], None)
            .status
            .success()
    );
    let list = String::from_utf8_lossy(&run(&["user", "list"], None).stdout).to_string();
    assert!(
        list.lines()
            .any(|l| l.starts_with("peer@example.org") && l.contains("disabled")),
        "{list}"
    );
    let passwd = run(
        &["user", "passwd", "ops@example.org", "--password-stdin"],
        Some("another long password\n"),
    );
    assert!(passwd.status.success());
    assert!(
        run(&["user", "unlock", "ops@example.org"], None)
            .status
            .success()
    );
    let missing = run(&["user", "disable", "ghost@example.org"], None);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&missing.stderr)
            .contains("No account with the e-mail address ghost@example.org")
    );

    let actions: Vec<String> =
        edensync::model::audit_log::list(&mut node.pool.get().unwrap(), None, 100)
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect();
    for action in ["user.add", "user.disable", "user.password", "user.unlock"] {
        assert!(actions.contains(&action.to_string()), "{action} audited");
    }

    let show = run(&["config", "show", "--json"], None);
    let config: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(config["site_uuid"], node.site_uuid.as_str());
    assert_eq!(config["database_backend"], "sqlite");
}
