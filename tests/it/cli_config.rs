//! `edensync config show|set` with the real binary on a real SQLite file:
//! the node's settings, what is refused, and the proxy password.

use serde_json::Value;

use crate::support::cli::{Cli, assert_one_line_error};

const PROXY_PASSWORD: &str = "proxy secret";

fn set(cli: &Cli, key: &str, value: &str) -> String {
    cli.ok(&["config", "set", key, value])
}

fn settings(cli: &Cli) -> Value {
    cli.json(&["config", "show", "--json"])
}

/// A proxy with a username and a password (read from stdin, as it must
/// be); what setting the password printed.
fn set_proxy(cli: &Cli) -> String {
    set(cli, "proxy_url", "http://proxy.example.org:3128");
    set(cli, "proxy_username", "bob");
    cli.ok_with(
        &["config", "set", "proxy_password", "-"],
        Some(&format!("{PROXY_PASSWORD}\n")),
    )
}

/// `config set KEY VALUE`, which must be refused (exit 2) in one line.
fn refused(cli: &Cli, key: &str, value: &str) -> String {
    let stderr = cli.fails(&["config", "set", key, value], 2);
    assert_one_line_error(&stderr);
    stderr
}

#[test]
fn settings_start_at_their_defaults_and_show_what_is_set() {
    let cli = Cli::new();
    let defaults = settings(&cli);
    assert_eq!(defaults["read_timeout_secs"], 120);
    assert_eq!(defaults["clock_skew_warn_secs"], 300);

    let site_name = set(&cli, "site_name", "Hub One");
    assert_eq!(site_name.trim(), "site_name = Hub One");
    let values = [
        ("connect_timeout_secs", "15"),
        ("read_timeout_secs", "90"),
        ("request_timeout_secs", "900"),
        ("log_retention_days", "30"),
        ("clock_skew_warn_secs", "120"),
        ("backoff_cap_secs", "7200"),
        ("backoff_base_secs", "30"),
        ("accept_push_from_new_peers", "true"),
        ("proxy_url", "http://proxy.example.org:3128"),
        ("proxy_username", "bob"),
    ];
    for (key, value) in values {
        set(&cli, key, value);
    }
    let shown = settings(&cli);
    assert_eq!(shown["site_name"], "Hub One");
    for (key, value) in values {
        let expected: Value = serde_json::from_str(value).unwrap_or(Value::from(value));
        assert_eq!(shown[key], expected, "{key}");
    }
    assert!(
        cli.audit()
            .iter()
            .any(|(a, t, d)| a == "config.set" && t == "site_name" && d == "Hub One")
    );
}

#[test]
fn the_proxy_password_is_read_from_stdin_stored_sealed_and_shown_masked() {
    let cli = Cli::new();
    assert_eq!(set_proxy(&cli).trim(), "proxy_password = ****");
    let shown = cli.ok(&["config", "show", "--json"]);
    assert!(!shown.contains(PROXY_PASSWORD), "{shown}");
    let shown: Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(shown["proxy_password"], "****");

    let node = cli.node();
    let config = edensync::model::sync_config::get(&mut node.pool.get().unwrap())
        .unwrap()
        .unwrap();
    let sealed = config.proxy_password_enc.unwrap();
    assert!(!sealed.contains(PROXY_PASSWORD));
    assert_eq!(node.key.decrypt(&sealed).unwrap(), PROXY_PASSWORD);

    let audit = cli.audit();
    assert!(
        audit
            .iter()
            .any(|(a, t, d)| a == "config.set" && t == "proxy_password" && d == "****")
    );
    assert!(audit.iter().all(|(_, _, d)| !d.contains(PROXY_PASSWORD)));

    let empty = cli.fails_with(&["config", "set", "proxy_password", "-"], Some("\n"), 2);
    assert!(empty.contains("empty"), "{empty}");
}

#[test]
fn a_refused_value_exits_2_naming_the_setting_and_changes_nothing() {
    let cli = Cli::new();
    set(&cli, "site_name", "Hub One");
    set(&cli, "connect_timeout_secs", "15");
    set(&cli, "backoff_cap_secs", "7200");
    set(&cli, "backoff_base_secs", "30");

    let cases = [
        (
            ["connect_timeout_secs", "0"],
            "connect_timeout_secs: '0' is not a whole number of at least 1",
        ),
        (
            ["read_timeout_secs", "-5"],
            "read_timeout_secs: '-5' is not a whole number",
        ),
        (
            ["log_retention_days", "many"],
            "log_retention_days: 'many' is not a whole number",
        ),
        (
            ["backoff_base_secs", "9000"],
            "backoff_base_secs: must not exceed backoff_cap_secs (7200)",
        ),
        (
            ["backoff_cap_secs", "10"],
            "backoff_cap_secs: must be at least backoff_base_secs (30)",
        ),
        (
            ["accept_push_from_new_peers", "maybe"],
            "accept_push_from_new_peers: 'maybe' is not true or false",
        ),
        (
            ["proxy_url", "ftp://proxy"],
            "proxy_url: must start with http:// or https://",
        ),
        (["site_name", ""], "site_name: is required"),
    ];
    for ([key, value], expected) in cases {
        let stderr = refused(&cli, key, value);
        assert!(stderr.contains(expected), "{key} {value:?}: {stderr}");
    }
    let unchanged = settings(&cli);
    assert_eq!(unchanged["connect_timeout_secs"], 15);
    assert_eq!(unchanged["backoff_base_secs"], 30);
    assert_eq!(unchanged["backoff_cap_secs"], 7200);
    assert_eq!(unchanged["site_name"], "Hub One");
}

#[test]
fn the_node_identity_and_what_the_environment_sets_cannot_be_set_here() {
    let cli = Cli::new();
    let cases = [
        (
            ["bind", "0.0.0.0:80"],
            "bind: is set in the settings file (bind) or with EDENSYNC_BIND",
        ),
        (["database_url", "postgres://x/y"], "EDENSYNC_DATABASE_URL"),
        (
            ["site_uuid", "urn:uuid:x"],
            "site_uuid: is this node's identity",
        ),
        (["colour", "blue"], "unknown setting 'colour'"),
    ];
    for ([key, value], expected) in cases {
        let stderr = refused(&cli, key, value);
        assert!(stderr.contains(expected), "{key}: {stderr}");
    }
    for key in ["data_dir", "public_url", "secret_key", "log"] {
        let stderr = cli.fails(&["config", "set", key, "x"], 2);
        assert!(stderr.contains(&format!("{key}: is")), "{stderr}");
    }
}

#[test]
fn proxy_settings_depend_on_each_other_and_an_empty_value_clears_one() {
    let cli = Cli::new();
    set_proxy(&cli);
    let still_used = refused(&cli, "proxy_username", "");
    assert!(
        still_used.contains("proxy_username: is required while proxy_password is set"),
        "{still_used}"
    );
    let cleared = set(&cli, "proxy_password", "");
    assert_eq!(cleared.trim(), "proxy_password = (not set)");
    set(&cli, "proxy_username", "");
    set(&cli, "proxy_url", "");
    let cleared = settings(&cli);
    assert_eq!(cleared["proxy_url"], Value::Null);
    assert_eq!(cleared["proxy_username"], Value::Null);
    assert_eq!(cleared["proxy_password"], Value::Null);

    let no_proxy = cli.fails(&["config", "set", "proxy_username", "bob"], 2);
    assert!(no_proxy.contains("set proxy_url first"), "{no_proxy}");
}

#[test]
fn several_settings_are_saved_together_whatever_their_order() {
    let cli = Cli::new();
    // Alone, a base above today's cap (3600 s) is refused; with the new cap
    // in the same command, the order does not matter.
    refused(&cli, "backoff_base_secs", "5000");
    let out = cli.ok(&[
        "config",
        "set",
        "backoff_base_secs",
        "5000",
        "backoff_cap_secs",
        "7200",
    ]);
    assert!(out.contains("backoff_base_secs = 5000"), "{out}");
    assert!(out.contains("backoff_cap_secs = 7200"), "{out}");
    let shown = settings(&cli);
    assert_eq!(shown["backoff_base_secs"], 5000);
    assert_eq!(shown["backoff_cap_secs"], 7200);
}

#[test]
fn one_bad_pair_saves_none_of_the_others() {
    let cli = Cli::new();
    let stderr = cli.fails(
        &[
            "config",
            "set",
            "site_name",
            "Never saved",
            "log_retention_days",
            "many",
        ],
        2,
    );
    assert_one_line_error(&stderr);
    assert!(stderr.contains("log_retention_days"), "{stderr}");
    assert_ne!(settings(&cli)["site_name"], "Never saved");

    let odd = cli.fails(&["config", "set", "site_name", "A", "read_timeout_secs"], 2);
    assert!(odd.contains("read_timeout_secs has no value"), "{odd}");
}
