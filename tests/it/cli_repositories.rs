//! `edensync repository add|list|show|edit|remove` with the real binary on a
//! real SQLite file: what is stored, what is refused, what is never shown.

use edensync::db::DbConnection;
use edensync::model::{jobs, repositories, tasks};
use serde_json::{Value, json};

use crate::support::cli::{Cli, HUB_URL, Template, assert_one_line_error};

const PEER_PASSWORD: &str = "peer secret password";
const HUB_UUID: &str = "urn:uuid:11111111-2222-3333-4444-555555555555";

/// One edit of hub changing several things at once, a proxy with
/// credentials among them.
const EDIT_WITH_PROXY: &[&str] = &[
    "repository",
    "edit",
    "hub",
    "--proxy",
    "http://proxyuser:pr%40xy@proxy.example.org:3128",
    "--no-accept-push",
    "--disabled",
    "--tables",
    "",
    "--url",
    "https://eden2.example.org/eden",
];

/// The sync account peer@example.org and the repository hub with every
/// option given; what `repository add` printed.
fn add_hub(cli: &Cli) -> String {
    cli.add_account("peer@example.org", "sync");
    cli.ok_with(
        &[
            "repository",
            "add",
            "hub",
            "--url",
            HUB_URL,
            "--username",
            "admin@eden.example.org",
            "--password-stdin",
            "--peer-uuid",
            HUB_UUID,
            "--accept-push",
            "--account",
            "peer@example.org",
            "--tables",
            "org_organisation,org_office",
            "--no-register",
        ],
        Some(&format!("{PEER_PASSWORD}\n")),
    )
}

static HUB_WITH_EVERY_OPTION: Template = Template::new(|cli| {
    add_hub(cli);
});

fn hub_with_every_option() -> Cli {
    HUB_WITH_EVERY_OPTION.cli()
}

fn show(cli: &Cli, name_or_id: &str) -> Value {
    cli.json(&["repository", "show", name_or_id, "--json"])
}

fn repository_count(cli: &Cli) -> usize {
    cli.count(&["repository", "list", "--json"])
}

/// `repository add` with these arguments, which must be refused (exit 2).
fn refused_add(cli: &Cli, args: &[&str], stdin: Option<&str>) -> String {
    cli.fails_with(&[&["repository", "add"][..], args].concat(), stdin, 2)
}

#[test]
fn a_repository_keeps_every_option_given_and_a_bare_one_is_passive() {
    let cli = Cli::new();
    let added = add_hub(&cli);
    assert!(added.starts_with("added repository hub (id "), "{added}");
    let passive = cli.ok(&["repository", "add", "field"]);
    assert!(passive.contains("passive only"), "{passive}");

    let list = cli.json(&["repository", "list", "--json"]);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    let field = &list[0];
    assert_eq!(field["name"], "field");
    assert_eq!(field["url"], Value::Null);
    assert_eq!(field["password_set"], false);
    assert_eq!(field["enabled"], true);
    assert_eq!(field["accept_push"], false);
    assert_eq!(field["allowed_tables"], Value::Null);
    let hub = &list[1];
    assert_eq!(hub["name"], "hub");
    assert_eq!(hub["url"], HUB_URL);
    assert_eq!(hub["username"], "admin@eden.example.org");
    assert_eq!(hub["password_set"], true);
    assert_eq!(hub["peer_uuid"], HUB_UUID);
    assert_eq!(hub["accept_push"], true);
    assert_eq!(
        hub["allowed_tables"],
        json!(["org_organisation", "org_office"])
    );
    assert_eq!(hub["accounts"], json!(["peer@example.org"]));
    for r in list {
        let keys: Vec<&String> = r.as_object().unwrap().keys().collect();
        assert!(
            !keys
                .iter()
                .any(|k| k.contains("password") && !k.ends_with("_set")),
            "only whether a password is set is listed: {keys:?}"
        );
    }
}

#[test]
fn the_peer_password_is_never_shown_only_whether_one_is_set() {
    let cli = hub_with_every_option();
    let list = cli.ok(&["repository", "list", "--json"]);
    assert!(!list.contains(PEER_PASSWORD), "{list}");

    let shown = cli.ok(&["repository", "show", "hub", "--json"]);
    assert!(!shown.contains(PEER_PASSWORD), "{shown}");
    let shown: Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(shown["password_set"], true);
    assert_eq!(shown["tasks"], json!([]));
    assert_eq!(shown["jobs"], json!([]));

    let human = cli.ok(&["repository", "show", "hub"]);
    assert!(!human.contains(PEER_PASSWORD), "{human}");
    assert!(
        human
            .lines()
            .any(|l| l.starts_with("password_set") && l.ends_with("true")),
        "{human}"
    );
}

#[test]
fn the_peer_password_is_stored_encrypted_under_the_node_key() {
    let cli = hub_with_every_option();
    let node = cli.node();
    let stored = repositories::find_by_name(&mut node.pool.get().unwrap(), "hub")
        .unwrap()
        .unwrap();
    let sealed = stored.password_enc.unwrap();
    assert!(!sealed.contains(PEER_PASSWORD));
    assert_eq!(node.key.decrypt(&sealed).unwrap(), PEER_PASSWORD);
}

#[test]
fn the_list_is_a_table_with_aligned_columns() {
    let cli = Cli::with_hub();
    cli.ok(&["repository", "add", "field"]);
    let table = cli.ok(&["repository", "list"]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("ID   NAME"), "{table}");
    let hub_line = lines.iter().find(|l| l.contains(" hub ")).unwrap();
    assert!(hub_line.contains(HUB_URL), "{table}");
    assert!(hub_line.contains("enabled"), "{table}");
    assert_eq!(
        hub_line.find("https://"),
        lines[0].find("URL"),
        "columns are aligned: {table}"
    );
}

#[test]
fn a_taken_name_url_or_peer_uuid_is_refused() {
    let cli = hub_with_every_option();
    let taken = refused_add(&cli, &["hub", "--url", "https://other.example.org"], None);
    assert_one_line_error(&taken);
    assert!(
        taken.contains("name: a repository named 'hub' already exists"),
        "{taken}"
    );
    let same_url = refused_add(&cli, &["hub2", "--url", HUB_URL], None);
    assert!(
        same_url.contains(&format!(
            "url: another repository already has the URL {HUB_URL}"
        )),
        "{same_url}"
    );
    let same_uuid = refused_add(&cli, &["hub3", "--peer-uuid", HUB_UUID], None);
    assert!(
        same_uuid.contains("peer_uuid: another repository already has"),
        "{same_uuid}"
    );
    assert_eq!(repository_count(&cli), 1, "the refused ones were not saved");
}

#[test]
fn every_problem_of_a_new_repository_is_reported_in_one_line() {
    let cli = Cli::new();
    cli.add_account("ops@example.org", "admin");
    let everything_wrong = refused_add(
        &cli,
        &[
            "12345",
            "--url",
            "ftp://eden.example.org",
            "--tables",
            "org_organisation,BadTable",
            "--account",
            "ops@example.org",
            "--account",
            "ghost@example.org",
            "--proxy",
            "proxy.example.org:3128",
        ],
        None,
    );
    assert_one_line_error(&everything_wrong);
    for expected in [
        "name: must not be only digits",
        "url: must start with http:// or https://",
        "allowed_tables: 'BadTable' is not a table name",
        "accounts: ops@example.org is not a sync account (its role is admin)",
        "accounts: no account ghost@example.org",
        "proxy_url: must start with http:// or https://",
    ] {
        assert!(
            everything_wrong.contains(expected),
            "{expected}: {everything_wrong}"
        );
    }
    let too_long = refused_add(&cli, &[&"n".repeat(101)], None);
    assert!(
        too_long.contains("name: must be at most 100 characters"),
        "{too_long}"
    );
    let credentials = ["creds", "--url", "https://bob:pw@eden.example.org"];
    let credentials_in_url = refused_add(&cli, &credentials, None);
    assert!(
        credentials_in_url.contains("url: must not contain a username or password"),
        "{credentials_in_url}"
    );
    let not_a_url = refused_add(&cli, &["broken", "--url", "https://"], None);
    assert!(not_a_url.contains("url: "), "{not_a_url}");
    assert_eq!(repository_count(&cli), 0, "the refused ones were not saved");
}

#[test]
fn a_peer_password_is_read_only_from_stdin_and_needs_a_username() {
    let cli = Cli::new();
    let url = "https://x.example.org";
    let no_tty = refused_add(&cli, &["x", "--url", url, "--username", "bob"], None);
    assert!(no_tty.contains("--password-stdin"), "{no_tty}");
    let no_username = refused_add(
        &cli,
        &["x", "--url", url, "--password-stdin"],
        Some("a password"),
    );
    assert!(
        no_username.contains("username: is required with a password"),
        "{no_username}"
    );
    let empty_password = refused_add(
        &cli,
        &["x", "--username", "bob", "--password-stdin"],
        Some("\n"),
    );
    assert!(empty_password.contains("empty"), "{empty_password}");
    assert_eq!(repository_count(&cli), 0, "the refused ones were not saved");
}

#[test]
fn editing_changes_only_what_is_given_and_seals_the_proxy_password() {
    let cli = hub_with_every_option();
    let node = cli.node();
    let find = || {
        repositories::find_by_name(&mut node.pool.get().unwrap(), "hub")
            .unwrap()
            .unwrap()
    };
    let before = find();

    cli.ok(EDIT_WITH_PROXY);
    let shown = cli.ok(&["repository", "show", &before.id.to_string(), "--json"]);
    assert!(
        !shown.contains("pr@xy") && !shown.contains("pr%40xy"),
        "{shown}"
    );
    let shown: Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(shown["url"], "https://eden2.example.org/eden");
    assert_eq!(shown["proxy_url"], "http://proxy.example.org:3128/");
    assert_eq!(shown["proxy_username"], "proxyuser");
    assert_eq!(shown["proxy_password_set"], true);
    assert_eq!(shown["accept_push"], false);
    assert_eq!(shown["enabled"], false);
    assert_eq!(shown["allowed_tables"], Value::Null);
    assert_eq!(shown["password_set"], true, "kept when not given");
    assert_eq!(shown["username"], "admin@eden.example.org");
    assert_eq!(shown["accounts"], json!(["peer@example.org"]));

    let after = find();
    assert_eq!(
        after.password_enc, before.password_enc,
        "the password was kept"
    );
    let proxy_password = after.proxy_password_enc.as_deref().unwrap();
    assert_eq!(node.key.decrypt(proxy_password).unwrap(), "pr@xy");
}

#[test]
fn editing_enables_clears_the_accounts_and_replaces_the_password() {
    let cli = hub_with_every_option();
    cli.ok(&["repository", "edit", "hub", "--disabled"]);
    let disabled = show(&cli, "hub");
    assert_eq!(disabled["enabled"], false);

    let id = disabled["id"].to_string();
    cli.ok(&["repository", "edit", &id, "--enabled", "--account", ""]);
    let shown = show(&cli, "hub");
    assert_eq!(shown["enabled"], true);
    assert_eq!(shown["accounts"], json!([]));

    cli.ok_with(
        &["repository", "edit", "hub", "--password-stdin"],
        Some("a new peer password"),
    );
    let node = cli.node();
    let changed = repositories::find_by_name(&mut node.pool.get().unwrap(), "hub")
        .unwrap()
        .unwrap();
    let sealed = changed.password_enc.as_deref().unwrap();
    assert_eq!(node.key.decrypt(sealed).unwrap(), "a new peer password");
}

#[test]
fn a_refused_edit_exits_2_and_an_unknown_repository_exits_1() {
    let cli = Cli::with_hub();
    cli.ok(&["repository", "add", "field"]);

    let conflicting = cli.fails(&["repository", "edit", "hub", "--enabled", "--disabled"], 2);
    assert!(conflicting.contains("cannot be used with"), "{conflicting}");
    let same_url = cli.fails(&["repository", "edit", "field", "--url", HUB_URL], 2);
    assert!(
        same_url.contains("url: another repository already has the URL"),
        "{same_url}"
    );
    assert_eq!(show(&cli, "field")["url"], Value::Null, "nothing changed");

    let missing = cli.fails(&["repository", "edit", "ghost", "--enabled"], 1);
    assert_one_line_error(&missing);
    assert!(missing.contains("no repository named 'ghost'"), "{missing}");
    cli.fails(&["repository", "show", "ghost"], 1);
}

#[test]
fn removing_a_repository_takes_its_tasks_and_jobs_along() {
    let cli = Cli::new();
    cli.ok(&["repository", "add", "field"]);
    cli.ok(&["task", "add", "field", "org_organisation"]);
    cli.ok(&["job", "add", "field", "--every", "3600"]);
    let node = cli.node();
    let mut pooled = node.pool.get().unwrap();
    let conn = &mut *pooled;
    let field_id = repositories::find_by_name(conn, "field")
        .unwrap()
        .unwrap()
        .id;
    let its_tasks = |conn: &mut DbConnection| tasks::list_for_repository(conn, field_id).unwrap();
    let its_jobs = |conn: &mut DbConnection| jobs::list_for_repository(conn, field_id).unwrap();
    assert_eq!(its_tasks(conn).len(), 1);
    assert_eq!(its_jobs(conn).len(), 1);

    let removed = cli.ok(&["repository", "remove", "field"]);
    assert!(removed.contains("removed repository field"), "{removed}");
    assert!(repositories::find(conn, field_id).unwrap().is_none());
    assert!(its_tasks(conn).is_empty());
    assert!(its_jobs(conn).is_empty());
    cli.fails(&["repository", "remove", "field"], 1);
}

#[test]
fn every_repository_change_is_audited_never_with_a_password() {
    let cli = hub_with_every_option();
    cli.ok(EDIT_WITH_PROXY);
    cli.ok_with(
        &["repository", "edit", "hub", "--password-stdin"],
        Some("a new peer password"),
    );
    cli.ok(&["repository", "add", "field"]);
    cli.ok(&["repository", "remove", "field"]);

    let audit = cli.audit();
    for action in ["repository.add", "repository.edit", "repository.remove"] {
        assert!(
            audit.iter().any(|(a, _, _)| a == action),
            "{action} audited"
        );
    }
    let edit = audit
        .iter()
        .find(|(a, _, d)| a == "repository.edit" && d.contains("proxy_password"))
        .expect("the proxy edit is audited");
    assert!(
        edit.2.contains("url") && edit.2.contains("enabled"),
        "{edit:?}"
    );
    for (_, _, detail) in &audit {
        for secret in [PEER_PASSWORD, "pr@xy", "a new peer password"] {
            assert!(!detail.contains(secret), "{detail}");
        }
    }
}
