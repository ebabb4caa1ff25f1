//! First start: data dir, site identity, secret key, the one-time setup link
//! and the non-interactive bootstrap of the first administrator.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use diesel::prelude::*;
use edensync::app;
use edensync::db::schema::{setup_tokens, sync_config};

use crate::on_both_backends;
use crate::support::{ADMIN_EMAIL, ADMIN_PASSWORD, Backend, TestApp, location, settings_for};

/// `edensync serve` on a free port with only `data_dir` and the log filter
/// set; its stdout lines arrive on the receiver.
fn serve(
    data_dir: &std::path::Path,
    log: &str,
    stderr: Stdio,
) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_edensync"))
        .arg("serve")
        .env_clear()
        .env("EDENSYNC_DATA_DIR", data_dir)
        .env("EDENSYNC_BIND", "127.0.0.1:0")
        .env("EDENSYNC_LOG", log)
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (child, rx)
}

#[test]
fn first_start_creates_data_dir_identity_and_private_key() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("new").join("data");
    let settings = settings_for(&data, Backend::Sqlite).unwrap();
    let node = app::open(settings.clone()).unwrap();

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let key_mode = std::fs::metadata(data.join("secret.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(key_mode & 0o777, 0o600, "the secret key is private");
        let dir_mode = std::fs::metadata(&data).unwrap().permissions().mode();
        assert_eq!(dir_mode & 0o077, 0, "the data dir is private");
    }
    assert!(data.join("edensync.db").exists());
    let uuid = node
        .site_uuid
        .strip_prefix("urn:uuid:")
        .expect("urn:uuid: prefix");
    let parsed = uuid::Uuid::parse_str(uuid).unwrap();
    assert_eq!(parsed.get_version_num(), 4);

    let again = app::open(settings).unwrap();
    assert_eq!(
        again.site_uuid, node.site_uuid,
        "the identity is created once"
    );
    assert_eq!(
        again.key.check_value(),
        node.key.check_value(),
        "the key is kept"
    );
}

/// The real binary prints the parseable ready line (with the real port for
/// port 0) and the setup link, and serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_prints_where_it_listens_and_the_setup_link() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, rx) = serve(dir.path(), "warn", Stdio::null());
    let listening = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("ready line");
    let setup = rx.recv_timeout(Duration::from_secs(5)).expect("setup line");
    let base = listening
        .strip_prefix("edensync listening on ")
        .expect("parseable ready line")
        .to_string();
    let port: u16 = base.rsplit(':').next().unwrap().parse().unwrap();
    assert_ne!(port, 0, "the real port is printed");
    assert!(setup.contains(&format!("{base}/setup?token=")), "{setup}");

    let health: serde_json::Value = reqwest::get(format!("{base}/healthz"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["database"]["status"], "ok");
    assert_eq!(health["version"], edensync::VERSION);

    let link = setup.rsplit(' ').next().unwrap();
    let page = reqwest::get(link).await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Create administrator"));
    child.kill().unwrap();
    let _ = child.wait();
}

/// Nobody reads what `serve` prints (its reader went away, as with
/// `edensync serve | head -1`): the server serves on regardless.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_outlives_a_closed_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let port = {
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        free.local_addr().unwrap().port()
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_edensync"))
        .arg("serve")
        .env_clear()
        .env("EDENSYNC_DATA_DIR", dir.path())
        .env("EDENSYNC_BIND", format!("127.0.0.1:{port}"))
        .env("EDENSYNC_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Closed before the server writes its ready line and setup link.
    drop(child.stdout.take());
    let health = format!("http://127.0.0.1:{port}/healthz");
    let mut answered = None;
    for _ in 0..300 {
        if let Ok(response) = reqwest::get(&health).await {
            answered = Some(response.status().as_u16());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(answered, Some(200), "the server answers");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        child.try_wait().unwrap().is_none(),
        "the server is still running"
    );
    assert_eq!(reqwest::get(&health).await.unwrap().status(), 200);
    child.kill().unwrap();
    let _ = child.wait();
}

async fn setup_link_works_exactly_once(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let link = app
        .setup_url
        .clone()
        .expect("a setup link without an administrator");
    let path = link.strip_prefix(&app.url).unwrap().to_string();
    let token = path.split("token=").nth(1).unwrap().to_string();
    let client = app.client();

    assert_eq!(client.get(&path).await.status(), 200);
    // Bad input keeps the token usable and the typed e-mail.
    let bad = client
        .post_form(
            "/setup",
            &[
                ("token", &token),
                ("email", "first@example.org"),
                ("password", "short"),
                ("password_confirm", "short"),
            ],
        )
        .await;
    assert_eq!(bad.status(), 422);
    let html = bad.text().await.unwrap();
    assert!(
        html.contains("Use at least 12 characters."),
        "field message"
    );
    assert!(html.contains("value=\"first@example.org\""), "value kept");
    let differ = client
        .post_form(
            "/setup",
            &[
                ("token", &token),
                ("email", "first@example.org"),
                ("password", ADMIN_PASSWORD),
                ("password_confirm", "something else entirely"),
            ],
        )
        .await;
    assert_eq!(differ.status(), 422);
    assert!(
        differ
            .text()
            .await
            .unwrap()
            .contains("The two passwords differ.")
    );

    let done = client
        .post_form(
            "/setup",
            &[
                ("token", &token),
                ("email", ADMIN_EMAIL),
                ("password", ADMIN_PASSWORD),
                ("password_confirm", ADMIN_PASSWORD),
            ],
        )
        .await;
    assert_eq!(done.status(), 303);
    assert_eq!(location(&done), "/");
    let dashboard = client.get("/").await;
    assert_eq!(dashboard.status(), 200, "setup logs the administrator in");
    let admin = edensync::model::users::find_by_email(&mut app.conn(), ADMIN_EMAIL)
        .unwrap()
        .unwrap();
    assert!(
        admin.last_login_at.is_some(),
        "being logged in by setup counts as a login"
    );
    assert!(
        dashboard
            .text()
            .await
            .unwrap()
            .contains(&app.node.site_uuid)
    );

    // The token is spent: neither the page nor another post works.
    let other = app.client();
    let page = other.get(&path).await;
    assert_eq!(page.status(), 403);
    assert!(page.text().await.unwrap().contains("Setup is complete"));
    let again = other
        .post_form(
            "/setup",
            &[
                ("token", &token),
                ("email", "intruder@example.org"),
                ("password", ADMIN_PASSWORD),
                ("password_confirm", ADMIN_PASSWORD),
            ],
        )
        .await;
    assert_eq!(again.status(), 403);
    assert!(
        edensync::model::users::find_by_email(&mut app.conn(), "intruder@example.org")
            .unwrap()
            .is_none()
    );
    assert!(app.audit_actions().contains(&"setup".to_string()));

    // With an administrator, a restart prints no link.
    let restarted = app::start(app.node.clone()).unwrap();
    assert!(restarted.setup_url.is_none());
}
on_both_backends!(setup_link, setup_link_works_exactly_once);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_or_unknown_setup_links_are_refused() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let client = app.client();
    assert_eq!(client.get("/setup?token=made-up").await.status(), 403);
    assert_eq!(client.get("/setup").await.status(), 403);
    let path = app
        .setup_url
        .clone()
        .unwrap()
        .strip_prefix(&app.url)
        .unwrap()
        .to_string();
    diesel::update(setup_tokens::table)
        .set(setup_tokens::expires_at.eq(edensync::model::now() - chrono::Duration::seconds(1)))
        .execute(&mut *app.conn())
        .unwrap();
    let page = client.get(&path).await;
    assert_eq!(page.status(), 403);
    assert!(page.text().await.unwrap().contains("expired"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administrator_from_the_environment() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.admin_email = Some("Ops@Example.org ".into());
        s.admin_password = Some(ADMIN_PASSWORD.into());
    })
    .await
    .unwrap();
    assert!(
        app.setup_url.is_none(),
        "no setup link once an administrator exists"
    );
    let client = app.logged_in("ops@example.org", ADMIN_PASSWORD).await;
    assert!(client.is_logged_in().await);
}

/// A missing or wrong key never silently replaces the one stored secrets
/// were encrypted with.
#[test]
fn secret_key_must_match_stored_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let settings = settings_for(dir.path(), Backend::Sqlite).unwrap();
    let node = app::open(settings.clone()).unwrap();
    let key_file = dir.path().join("secret.key");
    let original_key = std::fs::read_to_string(&key_file).unwrap();

    // Without stored secrets a lost key is replaced only when told to: a
    // different key may as well be another process's on the same database.
    std::fs::remove_file(&key_file).unwrap();
    drop(node);
    let refused = app::open(settings.clone())
        .err()
        .expect("refused")
        .to_string();
    assert!(refused.contains("edensync secrets adopt"), "{refused}");
    app::adopt_key(&settings).unwrap();
    let node = app::open(settings.clone()).unwrap();
    let sealed = node.key.encrypt("proxy password");
    assert_ne!(sealed, "proxy password");
    assert_eq!(node.key.decrypt(&sealed).unwrap(), "proxy password");
    diesel::update(sync_config::table)
        .set(sync_config::proxy_password_enc.eq(Some(&sealed)))
        .execute(&mut *node.pool.get().unwrap())
        .unwrap();
    let current_key = std::fs::read_to_string(&key_file).unwrap();
    assert_ne!(current_key, original_key);

    std::fs::remove_file(&key_file).unwrap();
    let missing = app::open(settings.clone())
        .err()
        .expect("missing key refused")
        .to_string();
    assert!(
        missing.contains("secret key missing") && missing.contains("1 stored password"),
        "{missing}"
    );
    assert!(
        !key_file.exists(),
        "no new key was generated over the secrets"
    );

    std::fs::write(&key_file, &original_key).unwrap();
    let wrong = app::open(settings.clone())
        .err()
        .expect("wrong key refused")
        .to_string();
    assert!(wrong.contains("wrong secret key"), "{wrong}");

    std::fs::write(&key_file, &current_key).unwrap();
    let node = app::open(settings.clone()).unwrap();
    assert_eq!(node.key.decrypt(&sealed).unwrap(), "proxy password");
    assert!(
        edensync::secrets::SecretKey::generate()
            .decrypt(&sealed)
            .is_err()
    );

    // The key may also come from the environment.
    let mut from_env = settings;
    from_env.secret_key = Some(current_key.trim().to_string());
    std::fs::remove_file(&key_file).unwrap();
    assert!(app::open(from_env).is_ok());
}

#[test]
fn bad_key_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("secret.key"), "garbage").unwrap();
    let env: HashMap<&str, String> = [("EDENSYNC_DATA_DIR", dir.path().display().to_string())]
        .into_iter()
        .collect();
    let out = crate::support::edensync(&["config", "show"], &env, None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("secret key file") && stderr.contains("base64"),
        "{stderr}"
    );
}

/// `serve`'s log written to a file (as systemd's journal or a redirect
/// gets it): plain text, no terminal colour codes, and the scheduler
/// library's start-up chatter left out at INFO.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_logs_plain_text_when_not_on_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("serve.log");
    let log_file = std::fs::File::create(&log_path).unwrap();
    let (mut child, rx) = serve(&dir.path().join("data"), "info", log_file.into());
    rx.recv_timeout(Duration::from_secs(30))
        .expect("ready line");
    // The scheduler ticks every second: give it a few.
    tokio::time::sleep(Duration::from_secs(3)).await;
    child.kill().unwrap();
    let _ = child.wait();
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.contains("INFO"), "info lines are written: {log}");
    assert!(!log.contains('\u{1b}'), "no colour codes: {log:?}");
    assert!(!log.contains("Uninited"), "{log}");
    assert!(!log.contains("tokio_cron_scheduler"), "{log}");
}
