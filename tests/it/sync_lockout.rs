//! Guessing a password on the sync API is as slow as on the console, from
//! any number of addresses; a locked account is locked everywhere; and the
//! peer syncing from its usual address is not locked out by the guessing.

use edensync::model::users::Role;

use crate::support::{ADMIN_EMAIL, ADMIN_PASSWORD, Backend, TestApp};

const PEER: &str = "peer@example.org";
const PASSWORD: &str = "peer password 12345";

/// A registration (any authenticated request would do) as if from `address`.
async fn request_from(app: &TestApp, address: &str, email: &str, password: &str) -> u16 {
    reqwest::Client::new()
        .post(app.url("/sync/repository/register.json"))
        .header("X-Forwarded-For", address)
        .basic_auth(email, Some(password))
        .body(r#"{"uuid": "urn:uuid:lock-peer"}"#)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guesses_from_anywhere_lock_the_account_but_not_its_peer() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await
    else {
        return;
    };
    app.add_user(PEER, PASSWORD, Role::Sync);
    // The peer syncs from its usual address.
    assert_eq!(request_from(&app, "10.0.0.1", PEER, PASSWORD).await, 200);

    // Five guesses spread over three addresses lock the account...
    for (i, address) in ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.2", "10.0.0.3"]
        .iter()
        .enumerate()
    {
        assert_eq!(
            request_from(&app, address, PEER, &format!("guess {i}")).await,
            401
        );
    }
    // ...so the right password from a new address no longer opens it...
    assert_eq!(request_from(&app, "10.0.0.5", PEER, PASSWORD).await, 401);
    // ...while the peer at its usual address goes on syncing.
    assert_eq!(request_from(&app, "10.0.0.1", PEER, PASSWORD).await, 200);
    // A stale password at the usual address does not lock anything more.
    assert_eq!(
        request_from(&app, "10.0.0.1", PEER, "old password").await,
        401
    );
    assert_eq!(request_from(&app, "10.0.0.1", PEER, PASSWORD).await, 200);

    // An administrator locked on the console is locked on the sync API too.
    app.add_admin();
    for _ in 0..5 {
        app.client().login(ADMIN_EMAIL, "wrong password").await;
    }
    let console = app.client().login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_ne!(console.status(), 303, "the console lock holds");
    assert_eq!(
        request_from(&app, "10.0.0.9", ADMIN_EMAIL, ADMIN_PASSWORD).await,
        401,
        "and holds on the sync API"
    );
}
