//! `edensync secrets rotate` (every stored password re-encrypted under a
//! new key, an interrupted rotation finished at the next start) and
//! `edensync backup FILE` (a consistent copy of a live SQLite store).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use diesel::ExpressionMethods;
use edensync::app;
use edensync::audit::Actor;
use edensync::manage;
use edensync::secrets::SecretKey;

use crate::support::peers::{add_repository, count, doc, import_with, org};
use crate::support::{Backend, TestApp, edensync, settings_for};

const PEER_SECRET: &str = "the peer's password 1";
const PROXY_SECRET: &str = "the proxy's password 2";

fn stored_passwords(node: &app::Node, key: &SecretKey) -> (String, String) {
    let mut conn = node.pool.get().unwrap();
    let repository = edensync::model::repositories::find_by_name(&mut conn, "peer")
        .unwrap()
        .unwrap();
    let config = edensync::model::sync_config::get(&mut conn)
        .unwrap()
        .unwrap();
    (
        key.decrypt(&repository.password_enc.unwrap()).unwrap(),
        key.decrypt(&config.proxy_password_enc.unwrap()).unwrap(),
    )
}

/// A store with a peer password and a default proxy password.
fn store_with_secrets(dir: &std::path::Path) -> app::Node {
    let node = app::open(settings_for(dir, Backend::Sqlite).unwrap()).unwrap();
    let mut conn = node.pool.get().unwrap();
    for (key, value) in [
        ("proxy_url", "http://proxy.example.org:3128"),
        ("proxy_username", "proxy-user"),
        ("proxy_password", PROXY_SECRET),
    ] {
        manage::settings::set(&mut conn, &Actor::cli(), &node.key, key, value).unwrap();
    }
    let sealed = node.key.encrypt(PEER_SECRET);
    diesel::RunQueryDsl::execute(
        diesel::insert_into(edensync::db::schema::repositories::table).values((
            edensync::db::schema::repositories::name.eq("peer"),
            edensync::db::schema::repositories::url.eq(Some("http://peer.example.org")),
            edensync::db::schema::repositories::username.eq(Some("peer@example.org")),
            edensync::db::schema::repositories::password_enc.eq(Some(sealed)),
            edensync::db::schema::repositories::created_at.eq(edensync::model::now()),
            edensync::db::schema::repositories::updated_at.eq(edensync::model::now()),
        )),
        &mut *conn,
    )
    .unwrap();
    drop(conn);
    node
}

#[test]
fn rotation_reencrypts_every_password_and_replaces_the_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let node = store_with_secrets(dir.path());
    let old_key = node.key.clone();
    drop(node);
    let env: HashMap<&str, String> =
        [("EDENSYNC_DATA_DIR", dir.path().display().to_string())].into();

    let out = edensync(&["secrets", "rotate"], &env, None);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("re-encrypted 2 stored password(s)"),
        "{stdout}"
    );
    assert!(!dir.path().join("secret.key.new").exists());

    let node = app::open(settings_for(dir.path(), Backend::Sqlite).unwrap()).unwrap();
    assert_ne!(node.key.check_value(), old_key.check_value(), "a new key");
    assert_eq!(
        stored_passwords(&node, &node.key),
        (PEER_SECRET.to_string(), PROXY_SECRET.to_string())
    );
    let mut conn = node.pool.get().unwrap();
    let repository = edensync::model::repositories::find_by_name(&mut conn, "peer")
        .unwrap()
        .unwrap();
    assert!(
        old_key.decrypt(&repository.password_enc.unwrap()).is_err(),
        "the old key opens nothing any more"
    );
    drop(conn);
    drop(node);

    // A rotation that committed but stopped before its rename: the new key
    // still waits in secret.key.new, the old one in secret.key.
    let key_file = dir.path().join("secret.key");
    let new_key = std::fs::read_to_string(&key_file).unwrap();
    std::fs::write(dir.path().join("secret.key.new"), &new_key).unwrap();
    std::fs::write(&key_file, format!("{}\n", old_key.to_text())).unwrap();
    let node = app::open(settings_for(dir.path(), Backend::Sqlite).unwrap()).unwrap();
    assert_eq!(std::fs::read_to_string(&key_file).unwrap(), new_key);
    assert!(!dir.path().join("secret.key.new").exists());
    assert_eq!(stored_passwords(&node, &node.key).0, PEER_SECRET);
}

#[test]
fn rotation_with_the_key_in_the_environment_leaves_the_new_key_in_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let old_key = SecretKey::generate();
    let mut settings = settings_for(dir.path(), Backend::Sqlite).unwrap();
    settings.secret_key = Some(old_key.to_text());
    let node = app::open(settings.clone()).unwrap();
    let sealed = node.key.encrypt(PROXY_SECRET);
    let mut conn = node.pool.get().unwrap();
    for (key, value) in [
        ("proxy_url", "http://proxy.example.org:3128"),
        ("proxy_username", "proxy-user"),
    ] {
        manage::settings::set(&mut conn, &Actor::cli(), &node.key, key, value).unwrap();
    }
    edensync::model::sync_config::set_proxy_password_enc(&mut conn, Some(&sealed)).unwrap();
    drop(conn);
    drop(node);

    let env: HashMap<&str, String> = [
        ("EDENSYNC_DATA_DIR", dir.path().display().to_string()),
        ("EDENSYNC_SECRET_KEY", old_key.to_text()),
    ]
    .into();
    let out = edensync(&["secrets", "rotate"], &env, None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("secret.key.new"), "{stdout}");
    let pending = dir.path().join("secret.key.new");
    let new_key = std::fs::read_to_string(&pending)
        .unwrap()
        .trim()
        .to_string();
    assert!(!stdout.contains(&new_key), "the key is not printed");
    assert!(
        !dir.path().join("secret.key").exists(),
        "no key file written"
    );

    let refused = app::open(settings.clone()).err().unwrap().to_string();
    assert!(
        refused.contains("was rotated") && refused.contains("secret.key.new"),
        "{refused}"
    );
    settings.secret_key = Some(new_key);
    let node = app::open(settings).unwrap();
    let config = edensync::model::sync_config::get(&mut node.pool.get().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(
        node.key
            .decrypt(&config.proxy_password_enc.unwrap())
            .unwrap(),
        PROXY_SECRET
    );
}

/// A backup taken while records are written is a whole, consistent store
/// that opens with the node's key file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_copies_a_live_store_consistently() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    add_repository(
        &app,
        "peer",
        "http://peer.example.org",
        "peer@example.org",
        PEER_SECRET,
    );
    let data_dir = app.node.settings.data_dir.clone();
    let env: HashMap<&str, String> = [("EDENSYNC_DATA_DIR", data_dir.display().to_string())].into();

    let writing = Arc::new(AtomicBool::new(true));
    let writer = {
        let writing = writing.clone();
        let pool = app.node.pool.clone();
        std::thread::spawn(move || {
            let mut n = 0;
            while writing.load(Ordering::Relaxed) {
                let xml = doc(&[org(
                    &format!("urn:uuid:backup-{n}"),
                    &format!("Organisation {n}"),
                    "BK",
                    "2026-11-20T10:00:00",
                )]);
                let mut conn = pool.get().unwrap();
                import_with(&mut conn, &xml);
                n += 1;
            }
            n
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let target_dir = tempfile::tempdir().unwrap();
    let target = target_dir.path().join("edensync.db");
    let out = tokio::task::spawn_blocking({
        let env = env.clone();
        let target = target.clone();
        move || edensync(&["backup", target.to_str().unwrap()], &env, None)
    })
    .await
    .unwrap();
    writing.store(false, Ordering::Relaxed);
    let written = writer.join().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("secret.key"),
        "the key is mentioned: {stdout}"
    );

    // Restore: the copy and the key file in a fresh data directory.
    std::fs::copy(
        data_dir.join("secret.key"),
        target_dir.path().join("secret.key"),
    )
    .unwrap();
    let restored = app::open(settings_for(target_dir.path(), Backend::Sqlite).unwrap()).unwrap();
    let mut conn = restored.pool.get().unwrap();
    let integrity: Vec<IntegrityRow> =
        diesel::RunQueryDsl::load(diesel::sql_query("PRAGMA integrity_check"), &mut *conn).unwrap();
    assert_eq!(integrity[0].integrity_check, "ok");
    let copied = edensync::model::records::table_counts(&mut conn)
        .unwrap()
        .into_iter()
        .find(|(table, _)| table == "org_organisation")
        .map_or(0, |(_, n)| n);
    assert!(
        copied > 0 && copied <= written as i64,
        "{copied} of {written}"
    );
    let repository = edensync::model::repositories::find_by_name(&mut conn, "peer")
        .unwrap()
        .unwrap();
    assert_eq!(
        restored
            .key
            .decrypt(&repository.password_enc.unwrap())
            .unwrap(),
        PEER_SECRET
    );
    assert!(count(&app, "org_organisation") >= copied);

    // A backup never overwrites.
    let again = edensync(&["backup", target.to_str().unwrap()], &env, None);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("never overwrites"));
}

#[derive(diesel::QueryableByName)]
struct IntegrityRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    integrity_check: String,
}

/// While `serve` runs on a data directory, a second `serve` and a key
/// rotation are refused (the server holds the key in memory).
#[test]
fn a_running_server_blocks_rotation_and_a_second_server() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let node = store_with_secrets(dir.path());
    let key = node.key.check_value();
    drop(node);
    let env: HashMap<&str, String> = [
        ("EDENSYNC_DATA_DIR", dir.path().display().to_string()),
        ("EDENSYNC_BIND", "127.0.0.1:0".to_string()),
    ]
    .into();
    let mut server = Command::new(env!("CARGO_BIN_EXE_edensync"))
        .args(["serve", "--no-scheduler"])
        .env_clear()
        .envs(&env)
        .env("EDENSYNC_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    assert!(
        lines
            .next()
            .unwrap()
            .unwrap()
            .starts_with("edensync listening on")
    );

    let rotate = edensync(&["secrets", "rotate"], &env, None);
    assert_eq!(rotate.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&rotate.stderr).contains("stop it first"));
    let second = edensync(&["serve"], &env, None);
    assert_eq!(second.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&second.stderr).contains("another edensync serve"));

    server.kill().unwrap();
    let _ = server.wait();
    let node = app::open(settings_for(dir.path(), Backend::Sqlite).unwrap()).unwrap();
    assert_eq!(node.key.check_value(), key, "the key is unchanged");
    drop(node);
    assert!(
        edensync(&["secrets", "rotate"], &env, None)
            .status
            .success()
    );
}

/// Two processes on one PostgreSQL database with data directories of their
/// own: the second, with another key, refuses to start and says how to
/// share the key; with the first one's key it starts.
#[test]
fn a_second_process_with_another_key_refuses_to_start() {
    let first_dir = tempfile::tempdir().unwrap();
    let Some(first) = crate::support::settings_for(first_dir.path(), Backend::Postgres) else {
        return;
    };
    let node = edensync::app::open(first.clone()).unwrap();
    let second_dir = tempfile::tempdir().unwrap();
    let mut second = edensync::config::Settings::for_data_dir(second_dir.path());
    second.database = first.database.clone();
    let refused = edensync::app::open(second.clone()).err().expect("refused");
    let message = refused.to_string();
    assert!(
        message.contains("every edensync process on one database must use the same key")
            && message.contains("Copy secret.key"),
        "{message}"
    );
    // The first process's key still opens the database.
    assert_eq!(
        edensync::app::open(first).unwrap().key.check_value(),
        node.key.check_value()
    );
    std::fs::copy(
        first_dir.path().join("secret.key"),
        second_dir.path().join("secret.key"),
    )
    .unwrap();
    assert_eq!(
        edensync::app::open(second).unwrap().key.check_value(),
        node.key.check_value()
    );
}

/// A key file lost before any password was stored: the node refuses to
/// start with a new key until `secrets adopt` makes it the database's.
#[test]
fn a_lost_key_with_nothing_encrypted_can_be_adopted() {
    let cli = crate::support::cli::Cli::new();
    std::fs::remove_file(cli.dir().join("secret.key")).unwrap();
    let refused = cli.fails(&["config", "show"], 2);
    assert!(refused.contains("edensync secrets adopt"), "{refused}");
    let adopted = cli.ok(&["secrets", "adopt"]);
    assert!(adopted.contains("now the database's key"), "{adopted}");
    cli.ok(&["config", "show"]);
}
