//! The settings page: values saved whole or not at all, errors next to
//! their fields, dependent settings in any order, the proxy password
//! write-only and stored encrypted.

use edensync::model;

use crate::support::{ADMIN_EMAIL, ADMIN_PASSWORD, Backend, TestApp, location};

fn fields<'a>(overrides: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut all = vec![
        ("site_name", "edensync"),
        ("proxy_url", ""),
        ("proxy_username", ""),
        ("proxy_password", ""),
        ("connect_timeout_secs", "30"),
        ("read_timeout_secs", "120"),
        ("request_timeout_secs", "600"),
        ("backoff_base_secs", "60"),
        ("backoff_cap_secs", "3600"),
        ("log_retention_days", "90"),
        ("clock_skew_warn_secs", "300"),
    ];
    for (key, value) in overrides {
        if let Some(field) = all.iter_mut().find(|(k, _)| k == key) {
            field.1 = value;
        } else {
            all.push((key, value));
        }
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_are_saved_whole_or_not_at_all() {
    let Some(a) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    a.add_admin();
    let admin = a.logged_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let page = admin.get("/settings").await.text().await.unwrap();
    assert!(page.contains(&a.node.site_uuid), "the site uuid is shown");

    // One bad value: nothing is saved, every message is next to its field.
    let refused = admin
        .submit(
            "/settings",
            "/settings",
            &fields(&[
                ("site_name", "Field hub"),
                ("backoff_cap_secs", "10"),
                ("proxy_url", "not a url"),
            ]),
        )
        .await;
    assert_eq!(refused.status().as_u16(), 422);
    let html = refused.text().await.unwrap();
    assert!(
        html.contains("id=\"backoff_cap_secs-error\"") && html.contains("id=\"proxy_url-error\""),
        "{html}"
    );
    assert!(html.contains("value=\"Field hub\""), "values are kept");
    let config = model::sync_config::get(&mut a.conn()).unwrap().unwrap();
    assert_eq!(config.site_name, "edensync", "nothing was saved");

    // Dependent settings in one go: a proxy with its user and password, and
    // a larger backoff base together with its cap.
    let saved = admin
        .submit(
            "/settings",
            "/settings",
            &fields(&[
                ("site_name", "Field hub"),
                ("proxy_username", "proxy-user"),
                ("proxy_password", "proxy secret 1"),
                ("proxy_url", "http://proxy.example.org:3128"),
                ("backoff_base_secs", "7200"),
                ("backoff_cap_secs", "14400"),
                ("accept_push_from_new_peers", "on"),
            ]),
        )
        .await;
    assert_eq!(location(&saved), "/settings");
    let config = model::sync_config::get(&mut a.conn()).unwrap().unwrap();
    assert_eq!(config.site_name, "Field hub");
    assert_eq!(config.proxy_username.as_deref(), Some("proxy-user"));
    assert_eq!(
        (config.backoff_base_secs, config.backoff_cap_secs),
        (7200, 14400)
    );
    assert!(config.accept_push_from_new_peers);
    let sealed = config.proxy_password_enc.unwrap();
    assert!(!sealed.contains("proxy secret 1"));
    assert_eq!(a.node.key.decrypt(&sealed).unwrap(), "proxy secret 1");

    let page = admin.get("/settings").await.text().await.unwrap();
    assert!(page.contains("setting(s) saved"));
    assert!(
        !page.contains("proxy secret 1"),
        "the proxy password is never shown"
    );
    assert!(page.contains("stored; leave empty to keep it"));
    assert!(
        a.audit_actions().iter().any(|a| a.starts_with("config")),
        "{:?}",
        a.audit_actions()
    );

    assert_eq!(
        a.client().get("/settings").await.status().as_u16(),
        303,
        "login required"
    );
}
