//! `edensync task add|list|reset|remove` with the real binary on a real
//! SQLite file; a task's edit (the console's, there is no `task edit`)
//! through the library on the same file.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use edensync::audit::Actor;
use edensync::db::DbConnection;
use edensync::db::schema::tasks;
use edensync::manage::{self, ManageError, tasks::TaskForm};
use edensync::model::tasks::Task;
use serde_json::{Value, json};

use crate::support::cli::{Cli, HUB_URL, Template, assert_one_line_error};

/// org_office with every option other than its default.
const OFFICE_WITH_EVERY_OPTION: &[&str] = &[
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
];

/// hub with org_organisation (the defaults), then org_office (every option).
static TWO_TASKS: Template = Template::new(|cli| {
    cli.add_repository("hub", HUB_URL);
    cli.ok(&["task", "add", "hub", "org_organisation"]);
    cli.ok(OFFICE_WITH_EVERY_OPTION);
});

fn task_list(cli: &Cli) -> Value {
    cli.json(&["task", "list", "hub", "--json"])
}

/// Watermarks as a run would leave them, on both sides.
fn set_watermarks(conn: &mut DbConnection, table: &str) {
    let pulled = NaiveDateTime::parse_from_str("2026-11-26 06:00:00", "%Y-%m-%d %H:%M:%S").unwrap();
    diesel::update(tasks::table.filter(tasks::resource_name.eq(table)))
        .set((
            tasks::last_pull.eq(Some(pulled)),
            tasks::last_pull_seq.eq(Some(10i64)),
            tasks::last_push.eq(Some(pulled)),
            tasks::last_push_seq.eq(Some(20i64)),
        ))
        .execute(conn)
        .unwrap();
}

/// Which of (last pull, its seq, last push, its seq) hub's task has.
fn watermarks(conn: &mut DbConnection, table: &str) -> (bool, bool, bool, bool) {
    let hub = manage::repositories::find(conn, "hub").unwrap();
    let t = manage::tasks::find(conn, &hub, table).unwrap();
    (
        t.last_pull.is_some(),
        t.last_pull_seq.is_some(),
        t.last_push.is_some(),
        t.last_push_seq.is_some(),
    )
}

/// Change hub's task as the console does.
fn edit(
    conn: &mut DbConnection,
    table: &str,
    change: impl FnOnce(&mut TaskForm),
) -> Result<Task, ManageError> {
    let hub = manage::repositories::find(conn, "hub").unwrap();
    let task = manage::tasks::find(conn, &hub, table).unwrap();
    let filters = edensync::model::task_filters::list_for_task(conn, task.id).unwrap();
    let mut form = TaskForm::from_task(&task, &filters);
    change(&mut form);
    manage::tasks::update(conn, &Actor::cli(), &hub, &task, &form)
}

#[test]
fn tasks_run_in_the_order_added_with_the_defaults_or_the_options_given() {
    let cli = Cli::with_hub();
    let first = cli.ok(&["task", "add", "hub", "org_organisation"]);
    assert!(first.contains("position 1"), "{first}");
    let second = cli.ok(OFFICE_WITH_EVERY_OPTION);
    assert!(second.contains("position 2"), "{second}");

    let list = task_list(&cli);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
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
}

#[test]
fn the_task_list_is_a_table_in_run_order() {
    let cli = TWO_TASKS.cli();
    let human = cli.ok(&["task", "list", "hub"]);
    let lines: Vec<&str> = human.lines().collect();
    assert!(lines[0].starts_with("POS  TABLE"), "{human}");
    assert!(lines[1].starts_with("1    org_organisation"), "{human}");
    assert!(
        lines[2].contains("MASTER/OTHER") && lines[2].contains("org_office:~.name__like=A*"),
        "{human}"
    );
}

#[test]
fn a_second_task_for_a_table_or_one_for_an_unknown_repository_is_refused() {
    let cli = Cli::with_hub();
    cli.ok(&["task", "add", "hub", "org_organisation"]);
    let duplicate = cli.fails(
        &["task", "add", "hub", "org_organisation", "--mode", "push"],
        2,
    );
    assert_one_line_error(&duplicate);
    assert!(
        duplicate.contains("table: the repository hub already has a task for org_organisation"),
        "{duplicate}"
    );
    cli.fails(&["task", "add", "ghost", "org_sector"], 1);
    assert_eq!(
        task_list(&cli).as_array().unwrap().len(),
        1,
        "nothing saved"
    );
}

#[test]
fn every_problem_of_a_new_task_is_reported_in_one_line() {
    let cli = Cli::with_hub();
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
    let near = "org_sector:~.name__near=x";
    let unknown_operator = cli.fails(&["task", "add", "hub", "org_sector", "--filter", near], 2);
    assert!(
        unknown_operator.contains("unknown operator __near"),
        "{unknown_operator}"
    );
    assert_eq!(task_list(&cli), json!([]), "nothing saved");
}

#[test]
fn resetting_a_task_forgets_the_pull_the_push_or_both_watermarks() {
    let cli = Cli::with_hub();
    cli.ok(&["task", "add", "hub", "org_organisation"]);
    let node = cli.node();
    let conn = &mut *node.pool.get().unwrap();
    let table = "org_organisation";
    set_watermarks(conn, table);
    assert_eq!(watermarks(conn, table), (true, true, true, true));

    let reset = cli.ok(&["task", "reset", "hub", table, "--pull"]);
    assert!(reset.contains("pulls everything again"), "{reset}");
    assert_eq!(watermarks(conn, table), (false, false, true, true));
    set_watermarks(conn, table);
    cli.ok(&["task", "reset", "hub", table, "--push"]);
    assert_eq!(watermarks(conn, table), (true, true, false, false));
    set_watermarks(conn, table);
    cli.ok(&["task", "reset", "hub", table]);
    assert_eq!(watermarks(conn, table), (false, false, false, false));

    cli.fails(&["task", "reset", "hub", "org_sector"], 1);
}

#[test]
fn new_filters_reset_the_push_watermark_other_changes_keep_both() {
    let cli = TWO_TASKS.cli();
    let node = cli.node();
    let conn = &mut *node.pool.get().unwrap();
    set_watermarks(conn, "org_office");

    edit(conn, "org_office", |form| form.mode = "both".into()).unwrap();
    assert_eq!(watermarks(conn, "org_office"), (true, true, true, true));

    // New filters select other records: the peer must be sent them all.
    let updated = edit(conn, "org_office", |form| {
        form.filters = vec!["~.name__like=B*".into()];
    })
    .unwrap();
    assert_eq!(updated.mode, edensync::vocabulary::TaskMode::Both);
    assert_eq!(watermarks(conn, "org_office"), (true, true, false, false));
    assert_eq!(
        task_list(&cli)[1]["filters"],
        json!([{"table": "org_office", "filter": "~.name__like=B*"}])
    );
}

#[test]
fn a_task_cannot_be_moved_to_another_table() {
    let cli = Cli::with_hub();
    cli.ok(&["task", "add", "hub", "org_office"]);
    let node = cli.node();
    let conn = &mut *node.pool.get().unwrap();
    let moved = edit(conn, "org_office", |form| form.table = "org_sector".into()).unwrap_err();
    assert!(
        moved.to_string().contains("table: cannot be changed"),
        "{moved}"
    );
    assert_eq!(task_list(&cli)[0]["table"], "org_office");
}

#[test]
fn a_removed_task_is_gone_and_one_added_again_runs_last() {
    let cli = TWO_TASKS.cli();
    let removed = cli.ok(&["task", "remove", "hub", "org_organisation"]);
    assert!(
        removed.contains("removed task org_organisation from hub"),
        "{removed}"
    );
    let gone = cli.fails(&["task", "remove", "hub", "org_organisation"], 1);
    assert!(
        gone.contains("has no task for the table org_organisation"),
        "{gone}"
    );

    cli.ok(&["task", "add", "hub", "org_organisation"]);
    let list = task_list(&cli);
    assert_eq!(list[0]["table"], "org_office");
    assert_eq!(list[1]["table"], "org_organisation");
    assert_eq!(list[1]["position"], 3);
    let show = cli.json(&["repository", "show", "hub", "--json"]);
    assert_eq!(show["tasks"].as_array().unwrap().len(), 2);
}

#[test]
fn every_task_change_is_audited() {
    let cli = Cli::with_hub();
    cli.ok(&["task", "add", "hub", "org_organisation"]);
    let node = cli.node();
    let conn = &mut *node.pool.get().unwrap();
    edit(conn, "org_organisation", |form| form.mode = "pull".into()).unwrap();
    cli.ok(&["task", "reset", "hub", "org_organisation"]);
    cli.ok(&["task", "remove", "hub", "org_organisation"]);

    let actions = cli.audit_actions();
    for action in ["task.add", "task.edit", "task.reset", "task.remove"] {
        assert!(actions.contains(&action.to_string()), "{action} audited");
    }
}
