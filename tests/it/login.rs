//! Console login: success, failure, lockout, throttling, CSRF, sessions.

use diesel::prelude::*;
use edensync::db::schema::{sessions, users};
use edensync::model::users::Role;

use crate::on_both_backends;
use crate::support::{ADMIN_EMAIL, ADMIN_PASSWORD, Backend, TestApp, location, set_cookies};

const GENERIC_FAILURE: &str = "The e-mail address or password is not correct";

async fn login_succeeds_and_fails_generically(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.add_admin();

    // Not logged in: pages send the browser to the login page, remembering where it was.
    let anonymous = app.client();
    let response = anonymous.get("/users").await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/login?next=%2Fusers");

    let wrong = anonymous
        .login(ADMIN_EMAIL, "not the password at all")
        .await;
    assert_eq!(wrong.status(), 401);
    assert!(
        set_cookies(&wrong)
            .iter()
            .all(|c| !c.starts_with("edensync_session="))
    );
    assert!(wrong.text().await.unwrap().contains(GENERIC_FAILURE));
    let unknown = anonymous
        .login("nobody@example.org", "not the password at all")
        .await;
    assert_eq!(unknown.status(), 401);
    assert!(
        unknown.text().await.unwrap().contains(GENERIC_FAILURE),
        "same message for unknown accounts"
    );

    let client = app.client();
    let ok = client.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(ok.status(), 303);
    let cookie = set_cookies(&ok)
        .into_iter()
        .find(|c| c.starts_with("edensync_session="))
        .unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "plain http has no Secure flag");
    let dashboard = client.get("/").await;
    assert_eq!(dashboard.status(), 200);
    let headers = dashboard.headers().clone();
    assert_eq!(headers["x-frame-options"], "DENY");
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'self'")
    );
    let html = dashboard.text().await.unwrap();
    assert!(
        html.contains(&app.node.site_uuid),
        "the dashboard shows the site uuid"
    );
    assert!(html.contains(ADMIN_EMAIL));

    let actions = app.audit_actions();
    assert_eq!(
        actions.iter().filter(|a| *a == "login.failed").count(),
        2,
        "both failures audited: {actions:?}"
    );
    assert!(actions.contains(&"login".to_string()));
    let user = edensync::model::users::find_by_email(&mut app.conn(), ADMIN_EMAIL)
        .unwrap()
        .unwrap();
    assert!(user.last_login_at.is_some());
    assert_eq!(user.failed_logins, 0, "a success resets the failure count");

    // After login, the page asked for first is shown.
    let later = app.client();
    let page = later.get("/login?next=/audit").await.text().await.unwrap();
    let csrf = crate::support::csrf_of(&page).unwrap();
    let response = later
        .post_form(
            "/login",
            &[
                ("csrf", &csrf),
                ("email", ADMIN_EMAIL),
                ("password", ADMIN_PASSWORD),
                ("next", "/audit"),
            ],
        )
        .await;
    assert_eq!(location(&response), "/audit");
    // ...but never another site.
    let page = later.get("/login").await.text().await.unwrap();
    let csrf = crate::support::csrf_of(&page).unwrap();
    let response = later
        .post_form(
            "/login",
            &[
                ("csrf", &csrf),
                ("email", ADMIN_EMAIL),
                ("password", ADMIN_PASSWORD),
                ("next", "//evil.example/"),
            ],
        )
        .await;
    assert_eq!(location(&response), "/");
}
on_both_backends!(login, login_succeeds_and_fails_generically);

async fn lockout_after_five_failures_and_its_expiry(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.add_admin();
    let client = app.client();
    for _ in 0..5 {
        assert_eq!(
            client
                .login(ADMIN_EMAIL, "wrong password, wrong!")
                .await
                .status(),
            401
        );
    }
    // Locked: even the right password is refused, with the same generic message.
    let refused = client.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(refused.status(), 401);
    assert!(refused.text().await.unwrap().contains(GENERIC_FAILURE));
    let user = edensync::model::users::find_by_email(&mut app.conn(), ADMIN_EMAIL)
        .unwrap()
        .unwrap();
    let until = user.locked_until.expect("locked");
    let minutes = (until - edensync::model::now()).num_minutes();
    assert!(
        (14..=15).contains(&minutes),
        "locked for 15 minutes, got {minutes}"
    );
    let actions = app.audit_actions();
    assert!(actions.contains(&"user.lockout".to_string()), "{actions:?}");
    assert!(
        actions.contains(&"login.refused".to_string()),
        "{actions:?}"
    );

    // When the 15 minutes are over, the right password works again.
    diesel::update(users::table)
        .set(users::locked_until.eq(Some(edensync::model::now() - chrono::Duration::seconds(1))))
        .execute(&mut *app.conn())
        .unwrap();
    assert_eq!(
        client.login(ADMIN_EMAIL, ADMIN_PASSWORD).await.status(),
        303
    );
}
on_both_backends!(lockout, lockout_after_five_failures_and_its_expiry);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_guessing_across_accounts_is_throttled() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    app.add_admin();
    let client = app.client();
    for i in 0..20 {
        let response = client
            .login(&format!("guess{i}@example.org"), "password guess 123")
            .await;
        assert_eq!(response.status(), 401);
    }
    let throttled = client.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(throttled.status(), 429);
    assert!(throttled.headers().contains_key("retry-after"));
    assert!(
        throttled
            .text()
            .await
            .unwrap()
            .contains("Too many failed logins from your address")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_accounts_cannot_use_the_console() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    app.add_admin();
    app.add_user("peer@example.org", "peer password 12345", Role::Sync);
    let client = app.client();
    let response = client
        .login("peer@example.org", "peer password 12345")
        .await;
    assert_eq!(response.status(), 401);
    assert!(
        set_cookies(&response)
            .iter()
            .all(|c| !c.starts_with("edensync_session="))
    );
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("cannot use the console")
    );
    assert!(!client.is_logged_in().await);
    // A session row for a sync account (however it came about) is not honoured.
    let user = edensync::model::users::find_by_email(&mut app.conn(), "peer@example.org")
        .unwrap()
        .unwrap();
    let (token, _) =
        edensync::accounts::sessions::start(&mut app.conn(), &user, None, None).unwrap();
    let forged = app.client();
    let response = forged
        .http
        .get(app.url("/"))
        .header("cookie", format!("edensync_session={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
}

async fn forms_without_the_csrf_token_are_refused(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.add_admin();
    let client = app.logged_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let fields = [
        ("email", "new@example.org"),
        ("role", "admin"),
        ("password", ADMIN_PASSWORD),
        ("password_confirm", ADMIN_PASSWORD),
    ];
    let missing = client.post_form("/users", &fields).await;
    assert_eq!(missing.status(), 403);
    let mut wrong = vec![("csrf", "forged-token")];
    wrong.extend_from_slice(&fields);
    assert_eq!(client.post_form("/users", &wrong).await.status(), 403);
    assert_eq!(client.post_form("/logout", &[]).await.status(), 403);
    assert!(client.is_logged_in().await, "a forged logout does nothing");
    assert!(
        edensync::model::users::find_by_email(&mut app.conn(), "new@example.org")
            .unwrap()
            .is_none()
    );
    // With the page's token it works.
    assert_eq!(
        client.submit("/users", "/users", &fields).await.status(),
        303
    );

    // The login form has its own token, bound to a cookie.
    let fresh = app.client();
    let response = fresh
        .post_form(
            "/login",
            &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)],
        )
        .await;
    assert_eq!(response.status(), 403);
    assert!(!fresh.is_logged_in().await);
}
on_both_backends!(csrf, forms_without_the_csrf_token_are_refused);

async fn logout_revokes_the_session(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.add_admin();
    let client = app.client();
    let response = client.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let cookie = set_cookies(&response)
        .into_iter()
        .find(|c| c.starts_with("edensync_session="))
        .unwrap();
    let token = cookie.split(';').next().unwrap().to_string();

    // Logging out by GET is not possible.
    assert_eq!(client.get("/logout").await.status(), 404);
    assert!(client.is_logged_in().await);

    let html = client.get("/").await.text().await.unwrap();
    let csrf = crate::support::csrf_of(&html).unwrap();
    let out = client.post_form("/logout", &[("csrf", &csrf)]).await;
    assert_eq!(out.status(), 303);
    assert_eq!(location(&out), "/login");
    // The old token is worthless, even if a copy of the cookie survived.
    let replay = app
        .client()
        .http
        .get(app.url("/"))
        .header("cookie", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 303);
    let count: i64 = sessions::table
        .count()
        .get_result(&mut *app.conn())
        .unwrap();
    assert_eq!(count, 0);
    assert!(app.audit_actions().contains(&"logout".to_string()));
}
on_both_backends!(logout, logout_revokes_the_session);

async fn password_change_ends_other_sessions(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.add_admin();
    let laptop = app.logged_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let phone = app.logged_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let new_password = "a much better passphrase";

    let wrong_current = laptop
        .submit(
            "/account/password",
            "/account/password",
            &[
                ("current_password", "wrong"),
                ("password", new_password),
                ("password_confirm", new_password),
            ],
        )
        .await;
    assert_eq!(wrong_current.status(), 422);
    assert!(
        wrong_current
            .text()
            .await
            .unwrap()
            .contains("This is not your current password.")
    );
    assert!(phone.is_logged_in().await);

    let changed = laptop
        .submit(
            "/account/password",
            "/account/password",
            &[
                ("current_password", ADMIN_PASSWORD),
                ("password", new_password),
                ("password_confirm", new_password),
            ],
        )
        .await;
    assert_eq!(changed.status(), 303);
    assert!(
        laptop.is_logged_in().await,
        "the session that changed it stays"
    );
    assert!(!phone.is_logged_in().await, "other sessions end");
    assert_eq!(
        app.client()
            .login(ADMIN_EMAIL, ADMIN_PASSWORD)
            .await
            .status(),
        401
    );
    assert_eq!(
        app.client().login(ADMIN_EMAIL, new_password).await.status(),
        303
    );
    assert!(app.audit_actions().contains(&"user.password".to_string()));
}
on_both_backends!(password_change, password_change_ends_other_sessions);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_expire_when_idle_and_after_twelve_hours() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    app.add_admin();
    let idle = app.logged_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let old = app.logged_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let active = app.logged_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let now = edensync::model::now();
    let ids: Vec<i64> = sessions::table
        .select(sessions::id)
        .order(sessions::id)
        .load(&mut *app.conn())
        .unwrap();
    diesel::update(sessions::table.find(ids[0]))
        .set(sessions::last_seen_at.eq(now - chrono::Duration::minutes(31)))
        .execute(&mut *app.conn())
        .unwrap();
    diesel::update(sessions::table.find(ids[1]))
        .set(sessions::expires_at.eq(now - chrono::Duration::seconds(1)))
        .execute(&mut *app.conn())
        .unwrap();
    assert!(!idle.is_logged_in().await, "30 minutes idle ends a session");
    assert!(!old.is_logged_in().await, "12 hours end a session");
    assert!(active.is_logged_in().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookies_are_secure_behind_https() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.public_url = Some("https://sync.example.org".parse().unwrap());
    })
    .await
    .unwrap();
    app.add_admin();
    // The cookie store would not send Secure cookies over plain http: carry
    // the login form's cookie by hand.
    let client = app.client();
    let form = client.get("/login").await;
    let login_cookie = set_cookies(&form)
        .into_iter()
        .find(|c| c.starts_with("edensync_login_csrf="))
        .unwrap();
    assert!(login_cookie.contains("Secure"), "{login_cookie}");
    let csrf = crate::support::csrf_of(&form.text().await.unwrap()).unwrap();
    let response = client
        .http
        .post(app.url("/login"))
        .header("cookie", login_cookie.split(';').next().unwrap())
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", ADMIN_EMAIL),
            ("password", ADMIN_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let cookie = set_cookies(&response)
        .into_iter()
        .find(|c| c.starts_with("edensync_session="))
        .unwrap();
    assert!(cookie.contains("Secure"), "{cookie}");
}

/// After login only a path of this site is followed: what a browser would
/// read as another host goes to `/`, and a line break is no error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_after_login_is_always_on_this_site() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    app.add_admin();
    for (next, expected) in [
        ("/\t/evil.example/", "/"),
        ("/\t\\evil.example", "/"),
        ("/\\evil.example", "/"),
        ("/runs\r\nSet-Cookie: a=b", "/runsSet-Cookie:%20a=b"),
        ("/runs?status=failed", "/runs?status=failed"),
    ] {
        let client = app.client();
        let response = client
            .submit(
                "/login",
                "/login",
                &[
                    ("email", ADMIN_EMAIL),
                    ("password", ADMIN_PASSWORD),
                    ("next", next),
                ],
            )
            .await;
        assert_eq!(response.status(), 303, "{next:?}");
        assert_eq!(location(&response), expected, "{next:?}");
    }
    let page = app.client().get("/login?next=/%09/evil.example/").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        !html.contains("evil.example"),
        "the form does not carry it on"
    );
}
