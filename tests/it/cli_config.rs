//! Configuring repositories, tasks, jobs and settings from the command line,
//! with the real binary on a real SQLite file.

use std::collections::HashMap;
use std::process::Output;

use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;
use edensync::app::Node;
use edensync::audit::Actor;
use edensync::db::schema::tasks;
use edensync::manage;
use edensync::model::users::Role;
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::support::{Backend, edensync, settings_for};

const PEER_PASSWORD: &str = "peer secret password";

/// A data directory and the edensync binary run against it.
struct Cli {
    dir: TempDir,
    env: HashMap<&'static str, String>,
}

impl Cli {
    fn new() -> Cli {
        let dir = tempfile::tempdir().unwrap();
        let env = [("EDENSYNC_DATA_DIR", dir.path().display().to_string())]
            .into_iter()
            .collect();
        Cli { dir, env }
    }

    fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        edensync(args, &self.env, stdin)
    }

    /// Run a command that must succeed; its standard output.
    fn ok(&self, args: &[&str]) -> String {
        self.ok_with(args, None)
    }

    fn ok_with(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.run(args, stdin);
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Run a command that must fail with this exit status; its one-line message.
    fn fails(&self, args: &[&str], code: i32) -> String {
        self.fails_with(args, None, code)
    }

    fn fails_with(&self, args: &[&str], stdin: Option<&str>, code: i32) -> String {
        let out = self.run(args, stdin);
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?} printed on stdout");
        stderr
    }

    fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(args)).unwrap()
    }

    /// The node, opened in this process, to look at the database directly.
    fn node(&self) -> Node {
        edensync::app::open(settings_for(self.dir.path(), Backend::Sqlite).unwrap()).unwrap()
    }

    fn add_account(&self, email: &str, role: &str) {
        self.ok_with(
            &["user", "add", email, "--role", role, "--password-stdin"],
            Some("an account password 1"),
        );
    }

    fn audit(&self) -> Vec<(String, String, String)> {
        let node = self.node();
        edensync::model::audit_log::list(&mut node.pool.get().unwrap(), None, 1000)
            .unwrap()
            .into_iter()
            .map(|e| {
                (
                    e.action,
                    e.target.unwrap_or_default(),
                    e.detail.unwrap_or_default(),
                )
            })
            .collect()
    }
}

/// Exactly one line, prefixed as every error of the command line is.
fn assert_one_line_error(stderr: &str) {
    assert!(stderr.starts_with("edensync: error: "), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
}

fn time(value: &Value) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(value.as_str().unwrap(), "%Y-%m-%dT%H:%M:%S%.f").unwrap()
}

#[test]
fn repositories_from_the_command_line() {
    let cli = Cli::new();
    cli.add_account("peer@example.org", "sync");
    cli.add_account("ops@example.org", "admin");

    let added = cli.ok_with(
        &[
            "repository",
            "add",
            "hub",
            "--url",
            "https://eden.example.org/eden",
            "--username",
            "admin@eden.example.org",
            "--password-stdin",
            "--peer-uuid",
            "urn:uuid:11111111-2222-3333-4444-555555555555",
            "--accept-push",
            "--account",
            "peer@example.org",
            "--tables",
            "org_organisation,org_office",
            "--no-register",
        ],
        Some(&format!("{PEER_PASSWORD}\n")),
    );
    assert!(added.starts_with("added repository hub (id "), "{added}");
    let passive = cli.ok(&["repository", "add", "field"]);
    assert!(passive.contains("passive only"), "{passive}");

    // Duplicates and bad values: exit 2, every problem in one line.
    let taken = cli.fails(
        &[
            "repository",
            "add",
            "hub",
            "--url",
            "https://other.example.org",
        ],
        2,
    );
    assert_one_line_error(&taken);
    assert!(
        taken.contains("name: a repository named 'hub' already exists"),
        "{taken}"
    );
    let same_url = cli.fails(
        &[
            "repository",
            "add",
            "hub2",
            "--url",
            "https://eden.example.org/eden",
        ],
        2,
    );
    assert!(
        same_url
            .contains("url: another repository already has the URL https://eden.example.org/eden"),
        "{same_url}"
    );
    let same_uuid = cli.fails(
        &[
            "repository",
            "add",
            "hub3",
            "--peer-uuid",
            "urn:uuid:11111111-2222-3333-4444-555555555555",
        ],
        2,
    );
    assert!(
        same_uuid.contains("peer_uuid: another repository already has"),
        "{same_uuid}"
    );
    let everything_wrong = cli.fails(
        &[
            "repository",
            "add",
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
        2,
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
    let long_name = "n".repeat(101);
    let too_long = cli.fails(&["repository", "add", &long_name], 2);
    assert!(
        too_long.contains("name: must be at most 100 characters"),
        "{too_long}"
    );
    let credentials_in_url = cli.fails(
        &[
            "repository",
            "add",
            "creds",
            "--url",
            "https://bob:pw@eden.example.org",
        ],
        2,
    );
    assert!(credentials_in_url.contains("url: must not contain a username or password"));
    let not_a_url = cli.fails(&["repository", "add", "broken", "--url", "https://"], 2);
    assert!(not_a_url.contains("url: "), "{not_a_url}");
    // A password is never asked for without a terminal, and needs a username.
    let no_tty = cli.fails(
        &[
            "repository",
            "add",
            "x",
            "--url",
            "https://x.example.org",
            "--username",
            "bob",
        ],
        2,
    );
    assert!(no_tty.contains("--password-stdin"), "{no_tty}");
    let no_username = cli.fails_with(
        &[
            "repository",
            "add",
            "x",
            "--url",
            "https://x.example.org",
            "--password-stdin",
        ],
        Some("a password"),
        2,
    );
    assert!(
        no_username.contains("username: is required with a password"),
        "{no_username}"
    );
    let empty_password = cli.fails_with(
        &[
            "repository",
            "add",
            "x",
            "--username",
            "bob",
            "--password-stdin",
        ],
        Some("\n"),
        2,
    );
    assert!(empty_password.contains("empty"), "{empty_password}");

    // Listing: never a password, only whether one is set.
    let list_text = cli.ok(&["repository", "list", "--json"]);
    assert!(!list_text.contains(PEER_PASSWORD));
    let list: Value = serde_json::from_str(&list_text).unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2, "the refused ones were not saved");
    let field = &list[0];
    assert_eq!(field["name"], "field");
    assert_eq!(field["url"], Value::Null);
    assert_eq!(field["password_set"], false);
    assert_eq!(field["enabled"], true);
    assert_eq!(field["accept_push"], false);
    assert_eq!(field["allowed_tables"], Value::Null);
    let hub = &list[1];
    assert_eq!(hub["name"], "hub");
    assert_eq!(hub["url"], "https://eden.example.org/eden");
    assert_eq!(hub["username"], "admin@eden.example.org");
    assert_eq!(hub["password_set"], true);
    assert_eq!(
        hub["peer_uuid"],
        "urn:uuid:11111111-2222-3333-4444-555555555555"
    );
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
            "{keys:?}"
        );
    }
    let show_text = cli.ok(&["repository", "show", "hub", "--json"]);
    assert!(!show_text.contains(PEER_PASSWORD));
    let show: Value = serde_json::from_str(&show_text).unwrap();
    assert_eq!(show["password_set"], true);
    assert_eq!(show["tasks"], json!([]));
    assert_eq!(show["jobs"], json!([]));
    let human = cli.ok(&["repository", "show", "hub"]);
    assert!(!human.contains(PEER_PASSWORD));
    assert!(
        human
            .lines()
            .any(|l| l.starts_with("password_set") && l.ends_with("true"))
    );
    let table = cli.ok(&["repository", "list"]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("ID   NAME"), "{table}");
    let hub_line = lines.iter().find(|l| l.contains(" hub ")).unwrap();
    assert!(hub_line.contains("https://eden.example.org/eden"));
    assert!(hub_line.contains("enabled"));
    assert_eq!(
        hub_line.find("https://"),
        lines[0].find("URL"),
        "columns are aligned: {table}"
    );

    // Stored encrypted under the node's key, never in plain text.
    let node = cli.node();
    let stored = edensync::model::repositories::find_by_name(&mut node.pool.get().unwrap(), "hub")
        .unwrap()
        .unwrap();
    let sealed = stored.password_enc.clone().unwrap();
    assert!(!sealed.contains(PEER_PASSWORD));
    assert_eq!(node.key.decrypt(&sealed).unwrap(), PEER_PASSWORD);

    // Editing changes only what is given; a proxy's credentials are stored apart.
    cli.ok(&[
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
    ]);
    let show_text = cli.ok(&["repository", "show", &stored.id.to_string(), "--json"]);
    assert!(!show_text.contains("pr@xy") && !show_text.contains("pr%40xy"));
    let show: Value = serde_json::from_str(&show_text).unwrap();
    assert_eq!(show["url"], "https://eden2.example.org/eden");
    assert_eq!(show["proxy_url"], "http://proxy.example.org:3128/");
    assert_eq!(show["proxy_username"], "proxyuser");
    assert_eq!(show["proxy_password_set"], true);
    assert_eq!(show["accept_push"], false);
    assert_eq!(show["enabled"], false);
    assert_eq!(show["allowed_tables"], Value::Null);
    assert_eq!(show["password_set"], true, "kept when not given");
    assert_eq!(show["username"], "admin@eden.example.org");
    assert_eq!(show["accounts"], json!(["peer@example.org"]));
    let edited = edensync::model::repositories::find(&mut node.pool.get().unwrap(), stored.id)
        .unwrap()
        .unwrap();
    assert_eq!(
        edited.password_enc, stored.password_enc,
        "the password was kept"
    );
    assert_eq!(
        node.key
            .decrypt(edited.proxy_password_enc.as_deref().unwrap())
            .unwrap(),
        "pr@xy"
    );
    cli.ok(&[
        "repository",
        "edit",
        &stored.id.to_string(),
        "--enabled",
        "--account",
        "",
    ]);
    let show = cli.json(&["repository", "show", "hub", "--json"]);
    assert_eq!(show["enabled"], true);
    assert_eq!(show["accounts"], json!([]));
    cli.ok_with(
        &["repository", "edit", "hub", "--password-stdin"],
        Some("a new peer password"),
    );
    let changed = edensync::model::repositories::find(&mut node.pool.get().unwrap(), stored.id)
        .unwrap()
        .unwrap();
    assert_eq!(
        node.key
            .decrypt(changed.password_enc.as_deref().unwrap())
            .unwrap(),
        "a new peer password"
    );
    let conflicting = cli.fails(&["repository", "edit", "hub", "--enabled", "--disabled"], 2);
    assert!(conflicting.contains("cannot be used with"), "{conflicting}");
    let same_url_on_edit = cli.fails(
        &[
            "repository",
            "edit",
            "field",
            "--url",
            "https://eden2.example.org/eden",
        ],
        2,
    );
    assert!(same_url_on_edit.contains("url: another repository already has the URL"));
    let missing = cli.fails(&["repository", "edit", "ghost", "--enabled"], 1);
    assert_one_line_error(&missing);
    assert!(missing.contains("no repository named 'ghost'"), "{missing}");
    cli.fails(&["repository", "show", "ghost"], 1);

    // Removing takes the tasks and jobs along.
    cli.ok(&["task", "add", "field", "org_organisation"]);
    cli.ok(&["job", "add", "field", "--every", "3600"]);
    let field_id =
        edensync::model::repositories::find_by_name(&mut node.pool.get().unwrap(), "field")
            .unwrap()
            .unwrap()
            .id;
    let removed = cli.ok(&["repository", "remove", "field"]);
    assert!(removed.contains("removed repository field"), "{removed}");
    let mut conn = node.pool.get().unwrap();
    assert!(
        edensync::model::repositories::find(&mut conn, field_id)
            .unwrap()
            .is_none()
    );
    assert!(
        edensync::model::tasks::list_for_repository(&mut conn, field_id)
            .unwrap()
            .is_empty()
    );
    assert!(
        edensync::model::jobs::list_for_repository(&mut conn, field_id)
            .unwrap()
            .is_empty()
    );
    cli.fails(&["repository", "remove", "field"], 1);

    // Every change is audited, never with a password.
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
        assert!(
            !detail.contains(PEER_PASSWORD) && !detail.contains("pr@xy"),
            "{detail}"
        );
    }
}

#[test]
fn tasks_from_the_command_line() {
    let cli = Cli::new();
    cli.ok(&[
        "repository",
        "add",
        "hub",
        "--url",
        "https://eden.example.org/eden",
    ]);

    let first = cli.ok(&["task", "add", "hub", "org_organisation"]);
    assert!(first.contains("position 1"), "{first}");
    let second = cli.ok(&[
        "task",
        "add",
        "hub",
        "org_office",
        "--mode",
        "pull",
        "--strategy",
        "update,create",
        "--update-policy",
        "master",
        "--conflict-policy",
        "OTHER",
        "--components",
        "--filter",
        "~.name__like=A*",
        "--filter",
        "org_organisation:~.acronym__like=RO*",
    ]);
    assert!(second.contains("position 2"), "{second}");

    let duplicate = cli.fails(
        &["task", "add", "hub", "org_organisation", "--mode", "push"],
        2,
    );
    assert_one_line_error(&duplicate);
    assert!(
        duplicate.contains("table: the repository hub already has a task for org_organisation"),
        "{duplicate}"
    );
    let everything_wrong = cli.fails(
        &[
            "task",
            "add",
            "hub",
            "BadTable",
            "--mode",
            "sideways",
            "--strategy",
            "create,fly",
            "--update-policy",
            "LATEST",
            "--conflict-policy",
            "",
            "--filter",
            "name=x",
        ],
        2,
    );
    assert_one_line_error(&everything_wrong);
    for expected in [
        "table: 'BadTable' is not a table name",
        "mode: 'sideways' is not a mode (pull, push, both or none)",
        "strategy: 'fly' is not a method",
        "update_policy: 'LATEST' is not a policy",
        "conflict_policy: '' is not a policy",
        "filters: filter 'name=x': the field must be written ~.field",
    ] {
        assert!(
            everything_wrong.contains(expected),
            "{expected}: {everything_wrong}"
        );
    }
    let no_method = cli.fails(&["task", "add", "hub", "org_sector", "--strategy", ""], 2);
    assert!(
        no_method.contains("strategy: name at least one"),
        "{no_method}"
    );
    let unknown_operator = cli.fails(
        &[
            "task",
            "add",
            "hub",
            "org_sector",
            "--filter",
            "org_sector:~.name__near=x",
        ],
        2,
    );
    assert!(
        unknown_operator.contains("unknown operator __near"),
        "{unknown_operator}"
    );
    cli.fails(&["task", "add", "ghost", "org_sector"], 1);

    let list = cli.json(&["task", "list", "hub", "--json"]);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2, "refused tasks were not saved");
    assert_eq!(list[0]["table"], "org_organisation");
    assert_eq!(list[0]["position"], 1);
    assert_eq!(list[0]["mode"], "both");
    assert_eq!(list[0]["strategy"], "create,update,delete,merge");
    assert_eq!(list[0]["update_policy"], "NEWER");
    assert_eq!(list[0]["conflict_policy"], "NEWER");
    assert_eq!(list[0]["components"], false);
    assert_eq!(list[0]["filters"], json!([]));
    assert_eq!(list[1]["table"], "org_office");
    assert_eq!(list[1]["mode"], "pull");
    assert_eq!(list[1]["strategy"], "create,update");
    assert_eq!(list[1]["update_policy"], "MASTER");
    assert_eq!(list[1]["conflict_policy"], "OTHER");
    assert_eq!(list[1]["components"], true);
    assert_eq!(
        list[1]["filters"],
        json!([
            {"table": "org_office", "filter": "~.name__like=A*"},
            {"table": "org_organisation", "filter": "~.acronym__like=RO*"}
        ])
    );
    let human = cli.ok(&["task", "list", "hub"]);
    let lines: Vec<&str> = human.lines().collect();
    assert!(lines[0].starts_with("POS  TABLE"), "{human}");
    assert!(lines[1].starts_with("1    org_organisation"), "{human}");
    assert!(lines[2].contains("MASTER/OTHER") && lines[2].contains("org_office:~.name__like=A*"));

    // Watermarks as a run would leave them.
    let node = cli.node();
    let mut pooled = node.pool.get().unwrap();
    let conn = &mut *pooled;
    let hub = manage::repositories::find(conn, "hub").unwrap();
    let pulled = NaiveDateTime::parse_from_str("2026-11-26 06:00:00", "%Y-%m-%d %H:%M:%S").unwrap();
    let set_watermarks = |conn: &mut edensync::db::DbConnection, table: &str| {
        diesel::update(tasks::table.filter(tasks::resource_name.eq(table)))
            .set((
                tasks::last_pull.eq(Some(pulled)),
                tasks::last_pull_seq.eq(Some(10i64)),
                tasks::last_push.eq(Some(pulled)),
                tasks::last_push_seq.eq(Some(20i64)),
            ))
            .execute(conn)
            .unwrap();
    };
    let watermarks = |conn: &mut edensync::db::DbConnection, table: &str| {
        let t = manage::tasks::find(conn, &hub, table).unwrap();
        (
            t.last_pull.is_some(),
            t.last_pull_seq.is_some(),
            t.last_push.is_some(),
            t.last_push_seq.is_some(),
        )
    };
    set_watermarks(conn, "org_organisation");
    assert_eq!(
        watermarks(conn, "org_organisation"),
        (true, true, true, true)
    );
    let reset = cli.ok(&["task", "reset", "hub", "org_organisation", "--pull"]);
    assert!(reset.contains("pulls everything again"), "{reset}");
    assert_eq!(
        watermarks(conn, "org_organisation"),
        (false, false, true, true)
    );
    set_watermarks(conn, "org_organisation");
    cli.ok(&["task", "reset", "hub", "org_organisation", "--push"]);
    assert_eq!(
        watermarks(conn, "org_organisation"),
        (true, true, false, false)
    );
    set_watermarks(conn, "org_organisation");
    cli.ok(&["task", "reset", "hub", "org_organisation"]);
    assert_eq!(
        watermarks(conn, "org_organisation"),
        (false, false, false, false)
    );
    cli.fails(&["task", "reset", "hub", "org_sector"], 1);

    // New filters select other records: the push watermark is reset, the
    // pull watermark kept. Other changes keep both.
    set_watermarks(conn, "org_office");
    let office = manage::tasks::find(conn, &hub, "org_office").unwrap();
    let filters = edensync::model::task_filters::list_for_task(conn, office.id).unwrap();
    let mut form = manage::tasks::TaskForm::from_task(&office, &filters);
    form.mode = "both".into();
    manage::tasks::update(conn, &Actor::cli(), &hub, &office, &form).unwrap();
    assert_eq!(watermarks(conn, "org_office"), (true, true, true, true));
    form.filters = vec!["~.name__like=B*".into()];
    let updated = manage::tasks::update(conn, &Actor::cli(), &hub, &office, &form).unwrap();
    assert_eq!(updated.mode, edensync::vocabulary::TaskMode::Both);
    assert_eq!(watermarks(conn, "org_office"), (true, true, false, false));
    let list = cli.json(&["task", "list", "hub", "--json"]);
    assert_eq!(
        list[1]["filters"],
        json!([{"table": "org_office", "filter": "~.name__like=B*"}])
    );
    form.table = "org_sector".into();
    let moved = manage::tasks::update(conn, &Actor::cli(), &hub, &office, &form).unwrap_err();
    assert!(
        moved.to_string().contains("table: cannot be changed"),
        "{moved}"
    );

    // Removing; a task added later runs last.
    let removed = cli.ok(&["task", "remove", "hub", "org_organisation"]);
    assert!(removed.contains("removed task org_organisation from hub"));
    let gone = cli.fails(&["task", "remove", "hub", "org_organisation"], 1);
    assert!(
        gone.contains("has no task for the table org_organisation"),
        "{gone}"
    );
    cli.ok(&["task", "add", "hub", "org_organisation"]);
    let list = cli.json(&["task", "list", "hub", "--json"]);
    assert_eq!(list[0]["table"], "org_office");
    assert_eq!(list[1]["table"], "org_organisation");
    assert_eq!(list[1]["position"], 3);
    let show = cli.json(&["repository", "show", "hub", "--json"]);
    assert_eq!(show["tasks"].as_array().unwrap().len(), 2);

    let actions: Vec<String> = cli.audit().into_iter().map(|(a, _, _)| a).collect();
    for action in ["task.add", "task.edit", "task.reset", "task.remove"] {
        assert!(actions.contains(&action.to_string()), "{action} audited");
    }
}

#[test]
fn jobs_from_the_command_line() {
    let cli = Cli::new();
    cli.ok(&[
        "repository",
        "add",
        "hub",
        "--url",
        "https://eden.example.org/eden",
    ]);

    let before = chrono::Utc::now().naive_utc();
    let every = cli.ok(&["job", "add", "hub", "--every", "600"]);
    let after = chrono::Utc::now().naive_utc();
    assert!(every.starts_with("added job "), "{every}");
    let cron = cli.ok(&[
        "job",
        "add",
        "hub",
        "--cron",
        "0 */10 * * * *",
        "--start",
        "2030-01-01T00:00:00",
        "--stop",
        "2030-01-02T00:00:00",
        "--repeats",
        "3",
        "--timeout",
        "120",
        "--disabled",
    ]);
    assert!(cron.contains("next run 2030-01-01 00:00:00 UTC"), "{cron}");

    let list = cli.json(&["job", "list", "--json"]);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    let periodic = &list[0];
    assert_eq!(periodic["repository"], "hub");
    assert_eq!(periodic["every_seconds"], 600);
    assert_eq!(periodic["cron"], Value::Null);
    assert_eq!(periodic["enabled"], true);
    assert_eq!(periodic["timeout_secs"], 600, "the default timeout");
    assert_eq!(periodic["repeats"], 0);
    assert_eq!(periodic["times_run"], 0);
    let next = time(&periodic["next_run_at"]);
    assert!(
        next >= before + TimeDelta::seconds(599) && next <= after + TimeDelta::seconds(601),
        "next run {next} is ten minutes after it was added"
    );
    let scheduled = &list[1];
    assert_eq!(scheduled["cron"], "0 */10 * * * *");
    assert_eq!(scheduled["every_seconds"], Value::Null);
    assert_eq!(scheduled["next_run_at"], "2030-01-01T00:00:00");
    assert_eq!(scheduled["start_at"], "2030-01-01T00:00:00");
    assert_eq!(scheduled["stop_at"], "2030-01-02T00:00:00");
    assert_eq!(scheduled["repeats"], 3);
    assert_eq!(scheduled["timeout_secs"], 120);
    assert_eq!(scheduled["enabled"], false);
    let human = cli.ok(&["job", "list"]);
    let lines: Vec<&str> = human.lines().collect();
    assert!(lines[0].starts_with("ID   REPOSITORY"), "{human}");
    assert!(lines[1].contains("every 600 s"), "{human}");
    assert!(lines[2].contains("0 */10 * * * *") && lines[2].contains("2030-01-01 00:00:00"));
    let show = cli.json(&["repository", "show", "hub", "--json"]);
    assert_eq!(show["jobs"].as_array().unwrap().len(), 2);

    // Refused schedules: exit 2 and what is wrong.
    let five_fields = cli.fails(&["job", "add", "hub", "--cron", "*/10 * * * *"], 2);
    assert_one_line_error(&five_fields);
    assert!(
        five_fields.contains("cron: '*/10 * * * *' is not a cron expression"),
        "{five_fields}"
    );
    assert!(
        five_fields.contains("expected SEC MIN HOUR DOM MON DOW, e.g. 0 */10 * * * *"),
        "{five_fields}"
    );
    let out_of_range = cli.fails(&["job", "add", "hub", "--cron", "0 0 25 * * *"], 2);
    assert!(out_of_range.contains("cron: "), "{out_of_range}");
    let never = cli.fails(&["job", "add", "hub", "--cron", "0 0 0 30 2 *"], 2);
    assert!(
        never.contains("cron: the schedule has no run time"),
        "{never}"
    );
    cli.fails(
        &[
            "job",
            "add",
            "hub",
            "--every",
            "60",
            "--cron",
            "0 * * * * *",
        ],
        2,
    );
    cli.fails(&["job", "add", "hub"], 2);
    let zero = cli.fails(&["job", "add", "hub", "--every", "0"], 2);
    assert!(zero.contains("every: must be at least 1 second"), "{zero}");
    let no_timeout = cli.fails(&["job", "add", "hub", "--every", "60", "--timeout", "0"], 2);
    assert!(
        no_timeout.contains("timeout: must be a positive number"),
        "{no_timeout}"
    );
    let past = cli.fails(
        &[
            "job",
            "add",
            "hub",
            "--every",
            "60",
            "--stop",
            "2020-01-01T00:00:00",
        ],
        2,
    );
    assert!(past.contains("stop: is in the past"), "{past}");
    let bad_dates = cli.fails(
        &[
            "job", "add", "hub", "--every", "60", "--start", "tomorrow", "--stop", "soon",
        ],
        2,
    );
    assert!(
        bad_dates.contains("start: 'tomorrow' is not a date and time"),
        "{bad_dates}"
    );
    assert!(
        bad_dates.contains("stop: 'soon' is not a date and time"),
        "{bad_dates}"
    );
    let backwards = cli.fails(
        &[
            "job",
            "add",
            "hub",
            "--every",
            "60",
            "--start",
            "2031-01-01T00:00:00",
            "--stop",
            "2030-01-01T00:00:00",
        ],
        2,
    );
    assert!(
        backwards.contains("stop: must be after the start"),
        "{backwards}"
    );
    cli.fails(&["job", "add", "ghost", "--every", "60"], 1);
    assert_eq!(
        cli.json(&["job", "list", "--json"])
            .as_array()
            .unwrap()
            .len(),
        2
    );

    let id = periodic["id"].as_i64().unwrap().to_string();
    let removed = cli.ok(&["job", "remove", &id]);
    assert!(removed.contains(&format!("removed job {id}")), "{removed}");
    let missing = cli.fails(&["job", "remove", &id], 1);
    assert!(missing.contains(&format!("no job {id}")), "{missing}");
    assert_eq!(
        cli.json(&["job", "list", "--json"])
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let actions: Vec<String> = cli.audit().into_iter().map(|(a, _, _)| a).collect();
    assert!(actions.contains(&"job.add".to_string()));
    assert!(actions.contains(&"job.remove".to_string()));
}

#[test]
fn settings_from_the_command_line() {
    let cli = Cli::new();
    let defaults = cli.json(&["config", "show", "--json"]);
    assert_eq!(defaults["read_timeout_secs"], 120);
    assert_eq!(defaults["clock_skew_warn_secs"], 300);

    let set = cli.ok(&["config", "set", "site_name", "Hub One"]);
    assert_eq!(set.trim(), "site_name = Hub One");
    for (key, value) in [
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
    ] {
        cli.ok(&["config", "set", key, value]);
    }
    let proxy_password = "proxy secret";
    let set = cli.ok_with(
        &["config", "set", "proxy_password", "-"],
        Some(&format!("{proxy_password}\n")),
    );
    assert_eq!(set.trim(), "proxy_password = ****");
    let shown_text = cli.ok(&["config", "show", "--json"]);
    assert!(!shown_text.contains(proxy_password));
    let shown: Value = serde_json::from_str(&shown_text).unwrap();
    assert_eq!(shown["site_name"], "Hub One");
    assert_eq!(shown["connect_timeout_secs"], 15);
    assert_eq!(shown["read_timeout_secs"], 90);
    assert_eq!(shown["request_timeout_secs"], 900);
    assert_eq!(shown["log_retention_days"], 30);
    assert_eq!(shown["clock_skew_warn_secs"], 120);
    assert_eq!(shown["backoff_cap_secs"], 7200);
    assert_eq!(shown["backoff_base_secs"], 30);
    assert_eq!(shown["accept_push_from_new_peers"], true);
    assert_eq!(shown["proxy_url"], "http://proxy.example.org:3128");
    assert_eq!(shown["proxy_username"], "bob");
    assert_eq!(shown["proxy_password"], "****");
    let node = cli.node();
    let config = edensync::model::sync_config::get(&mut node.pool.get().unwrap())
        .unwrap()
        .unwrap();
    let sealed = config.proxy_password_enc.unwrap();
    assert!(!sealed.contains(proxy_password));
    assert_eq!(node.key.decrypt(&sealed).unwrap(), proxy_password);

    // Refused values: exit 2, the key and the reason; nothing changes.
    let cases: [(&[&str], &str); 12] = [
        (
            &["connect_timeout_secs", "0"],
            "connect_timeout_secs: '0' is not a whole number of at least 1",
        ),
        (
            &["read_timeout_secs", "-5"],
            "read_timeout_secs: '-5' is not a whole number",
        ),
        (
            &["log_retention_days", "many"],
            "log_retention_days: 'many' is not a whole number",
        ),
        (
            &["backoff_base_secs", "9000"],
            "backoff_base_secs: must not exceed backoff_cap_secs (7200)",
        ),
        (
            &["backoff_cap_secs", "10"],
            "backoff_cap_secs: must be at least backoff_base_secs (30)",
        ),
        (
            &["accept_push_from_new_peers", "maybe"],
            "accept_push_from_new_peers: 'maybe' is not true or false",
        ),
        (
            &["proxy_url", "ftp://proxy"],
            "proxy_url: must start with http:// or https://",
        ),
        (&["site_name", ""], "site_name: is required"),
        (
            &["bind", "0.0.0.0:80"],
            "bind: is set in the settings file (bind) or with EDENSYNC_BIND",
        ),
        (&["database_url", "postgres://x/y"], "EDENSYNC_DATABASE_URL"),
        (
            &["site_uuid", "urn:uuid:x"],
            "site_uuid: is this node's identity",
        ),
        (&["colour", "blue"], "unknown setting 'colour'"),
    ];
    for (args, expected) in cases {
        let mut command = vec!["config", "set"];
        command.extend_from_slice(args);
        let stderr = cli.fails(&command, 2);
        assert_one_line_error(&stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
    for key in ["data_dir", "public_url", "secret_key", "log"] {
        let stderr = cli.fails(&["config", "set", key, "x"], 2);
        assert!(stderr.contains(&format!("{key}: is")), "{stderr}");
    }
    let unchanged = cli.json(&["config", "show", "--json"]);
    assert_eq!(unchanged["connect_timeout_secs"], 15);
    assert_eq!(unchanged["backoff_base_secs"], 30);
    assert_eq!(unchanged["site_name"], "Hub One");

    // The proxy settings depend on each other; an empty value clears one.
    let empty = cli.fails_with(&["config", "set", "proxy_password", "-"], Some("\n"), 2);
    assert!(empty.contains("empty"), "{empty}");
    let still_used = cli.fails(&["config", "set", "proxy_username", ""], 2);
    assert!(still_used.contains("proxy_username: is required while proxy_password is set"));
    assert_eq!(
        cli.ok(&["config", "set", "proxy_password", ""]).trim(),
        "proxy_password = (not set)"
    );
    cli.ok(&["config", "set", "proxy_username", ""]);
    cli.ok(&["config", "set", "proxy_url", ""]);
    let cleared = cli.json(&["config", "show", "--json"]);
    assert_eq!(cleared["proxy_url"], Value::Null);
    assert_eq!(cleared["proxy_username"], Value::Null);
    assert_eq!(cleared["proxy_password"], Value::Null);
    let no_proxy = cli.fails(&["config", "set", "proxy_username", "bob"], 2);
    assert!(no_proxy.contains("set proxy_url first"), "{no_proxy}");

    let audit = cli.audit();
    assert!(
        audit
            .iter()
            .any(|(a, t, d)| a == "config.set" && t == "site_name" && d == "Hub One")
    );
    assert!(
        audit
            .iter()
            .any(|(a, t, d)| a == "config.set" && t == "proxy_password" && d == "****")
    );
    assert!(audit.iter().all(|(_, _, d)| !d.contains(proxy_password)));
}

/// The same operations through the library, on SQLite and on PostgreSQL:
/// inserts read back, `RETURNING` for jobs, cascades on removal.
async fn configuration_on_each_backend(backend: Backend) {
    let Some(app) = crate::support::TestApp::spawn(backend).await else {
        return;
    };
    app.add_user("peer@example.org", "peer password 12345", Role::Sync);
    let mut pooled = app.conn();
    let conn = &mut *pooled;
    let actor = Actor::cli();
    let key = &app.node.key;

    let mut form = manage::repositories::RepositoryForm::new("hub");
    form.url = Some("https://eden.example.org/eden".into());
    form.username = Some("admin@eden.example.org".into());
    form.password = manage::PasswordChange::Set(PEER_PASSWORD.into());
    form.allowed_tables = Some(vec!["org_organisation".into()]);
    form.accounts = vec!["peer@example.org".into()];
    let hub = manage::repositories::create(conn, &actor, key, &form).unwrap();
    assert_eq!(
        key.decrypt(hub.password_enc.as_deref().unwrap()).unwrap(),
        PEER_PASSWORD
    );
    assert_eq!(
        manage::repositories::accounts(conn, &hub).unwrap(),
        vec!["peer@example.org".to_string()]
    );
    let taken = manage::repositories::create(conn, &actor, key, &form).unwrap_err();
    assert_eq!(taken.to_string().matches("already").count(), 2, "{taken}");

    let mut edit = manage::repositories::RepositoryForm::from_repository(conn, &hub).unwrap();
    edit.password = manage::PasswordChange::Clear;
    edit.username = None;
    edit.accounts.clear();
    let edited = manage::repositories::update(conn, &actor, key, &hub, &edit).unwrap();
    assert_eq!(edited.password_enc, None);
    assert!(
        manage::repositories::accounts(conn, &hub)
            .unwrap()
            .is_empty()
    );

    let mut task_form = manage::tasks::TaskForm::new("org_organisation");
    task_form.filters = vec!["~.acronym__like=RO*".into()];
    let task = manage::tasks::add(conn, &actor, &hub, &task_form).unwrap();
    assert_eq!(task.position, 1);
    let office = manage::tasks::add(
        conn,
        &actor,
        &hub,
        &manage::tasks::TaskForm::new("org_office"),
    )
    .unwrap();
    assert_eq!(office.position, 2);

    let job = manage::jobs::add(
        conn,
        &actor,
        &hub,
        &manage::jobs::JobForm {
            cron: Some("0 0 6 * * *".into()),
            ..manage::jobs::JobForm::default()
        },
    )
    .unwrap();
    assert_eq!(job.cron.as_deref(), Some("0 0 6 * * *"));
    let next = job.next_run_at.unwrap();
    assert_eq!(next.format("%H:%M:%S").to_string(), "06:00:00");
    assert_eq!(
        manage::jobs::find(conn, job.id).unwrap().next_run_at,
        Some(next)
    );

    manage::settings::set(conn, &actor, key, "site_name", "Hub").unwrap();
    manage::settings::set(conn, &actor, key, "read_timeout_secs", "45").unwrap();
    let config = edensync::model::sync_config::get(conn).unwrap().unwrap();
    assert_eq!(
        (config.site_name.as_str(), config.read_timeout_secs),
        ("Hub", 45)
    );

    manage::repositories::remove(conn, &actor, &hub).unwrap();
    assert!(
        edensync::model::tasks::list_for_repository(conn, hub.id)
            .unwrap()
            .is_empty()
    );
    assert!(
        edensync::model::task_filters::list_for_task(conn, task.id)
            .unwrap()
            .is_empty()
    );
    assert!(edensync::model::jobs::find(conn, job.id).unwrap().is_none());
}

crate::on_both_backends!(library, configuration_on_each_backend);
