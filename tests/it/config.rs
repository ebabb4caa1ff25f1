//! Start-up settings: defaults, file and environment, and one clear line
//! naming the setting when a value cannot be used.

use std::collections::HashMap;

use edensync::config::{DatabaseUrl, Settings};

use crate::support::edensync;

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn defaults_follow_the_contract() {
    let s = Settings::from_sources(None, &env(&[])).unwrap();
    assert_eq!(s.data_dir.to_str(), Some("./data"));
    assert_eq!(s.database, DatabaseUrl::Sqlite("./data/edensync.db".into()));
    assert_eq!(s.bind.to_string(), "127.0.0.1:8080");
    assert!(s.public_url.is_none());
    assert!(!s.secure_cookies());
}

#[test]
fn environment_overrides_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("edensync.toml");
    std::fs::write(
        &file,
        "data_dir = \"/srv/edensync\"\nbind = \"0.0.0.0:9000\"\npublic_url = \"https://sync.example.org\"\n",
    )
    .unwrap();
    let s = Settings::from_sources(Some(&file), &env(&[("EDENSYNC_BIND", "127.0.0.1:0")])).unwrap();
    assert_eq!(s.data_dir.to_str(), Some("/srv/edensync"));
    // The database follows the data dir unless named.
    assert_eq!(
        s.database,
        DatabaseUrl::Sqlite("/srv/edensync/edensync.db".into())
    );
    assert_eq!(s.bind.to_string(), "127.0.0.1:0");
    assert!(
        s.secure_cookies(),
        "an https public URL makes cookies Secure"
    );

    let s = Settings::from_sources(
        None,
        &env(&[
            ("EDENSYNC_CONFIG", file.to_str().unwrap()),
            ("EDENSYNC_DATABASE_URL", "postgres://u:pw@db/eden"),
        ]),
    )
    .unwrap();
    assert!(s.database.is_postgres());
    assert_eq!(
        s.database.display(),
        "postgres://u:****@db/eden",
        "passwords are masked"
    );
}

/// Each bad value stops start-up with exit status 2 and one line on stderr
/// that names the setting.
#[test]
fn bad_settings_stop_start_up_with_one_line_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data").display().to_string();
    let a_file = dir.path().join("plain-file");
    std::fs::write(&a_file, "not a directory").unwrap();
    let bad_toml = dir.path().join("bad.toml");
    std::fs::write(&bad_toml, "bnid = \"127.0.0.1:1\"\n").unwrap();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_addr = busy.local_addr().unwrap().to_string();

    let cases: Vec<(Vec<(&str, String)>, &str)> = vec![
        (
            vec![("EDENSYNC_DATABASE_URL", "mysql://x/y".into())],
            "database_url (EDENSYNC_DATABASE_URL)",
        ),
        (
            vec![("EDENSYNC_BIND", "not-an-address".into())],
            "bind (EDENSYNC_BIND)",
        ),
        (
            vec![("EDENSYNC_BIND", busy_addr.clone())],
            "bind (EDENSYNC_BIND)",
        ),
        (
            vec![("EDENSYNC_PUBLIC_URL", "ftp://x".into())],
            "public_url (EDENSYNC_PUBLIC_URL)",
        ),
        (
            vec![("EDENSYNC_DATA_DIR", a_file.display().to_string())],
            "data_dir (EDENSYNC_DATA_DIR)",
        ),
        (
            vec![("EDENSYNC_CONFIG", bad_toml.display().to_string())],
            "config file",
        ),
        (
            vec![("EDENSYNC_LOG", "debug[".into())],
            "log (EDENSYNC_LOG)",
        ),
        (
            vec![("EDENSYNC_ADMIN_EMAIL", "a@example.org".into())],
            "EDENSYNC_ADMIN_EMAIL",
        ),
        (
            vec![("EDENSYNC_SECRET_KEY", "short".into())],
            "EDENSYNC_SECRET_KEY",
        ),
    ];
    for (vars, setting) in cases {
        let mut env: HashMap<&str, String> = vars.into_iter().collect();
        env.entry("EDENSYNC_DATA_DIR")
            .or_insert_with(|| data.clone());
        env.entry("EDENSYNC_BIND")
            .or_insert_with(|| "127.0.0.1:0".into());
        let out = edensync(&["serve"], &env, None);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{setting}: exit status; stderr: {stderr}"
        );
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{setting}: exactly one line, got: {stderr}");
        assert!(
            lines[0].starts_with("edensync: error: ") && lines[0].contains(setting),
            "{setting}: the line names the setting: {stderr}"
        );
        assert!(!stderr.contains("panicked") && !stderr.contains("backtrace"));
    }
    drop(busy);
}

/// An unreachable PostgreSQL is reported with the real connection error.
#[test]
fn unreachable_postgres_reports_the_real_error() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let env: HashMap<&str, String> = [
        ("EDENSYNC_DATA_DIR", dir.path().display().to_string()),
        (
            "EDENSYNC_DATABASE_URL",
            format!("postgres://edensync:secret@127.0.0.1:{port}/edensync"),
        ),
    ]
    .into_iter()
    .collect();
    let out = edensync(&["migrate"], &env, None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot open the database postgres://edensync:****@127.0.0.1"),
        "{stderr}"
    );
    assert!(
        stderr.to_lowercase().contains("connection refused"),
        "the real error: {stderr}"
    );
    assert!(
        !stderr.contains("secret"),
        "the password is not printed: {stderr}"
    );
}
