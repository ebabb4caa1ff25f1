//! `task ...`: the tables a repository syncs, in order.

use clap::Subcommand;
use serde_json::json;

use super::CliError;
use super::output::{print_json, time_text};
use crate::app::Node;
use crate::audit::Actor;
use crate::db::DbError;
use crate::manage;
use crate::manage::tasks::TaskForm;
use crate::model::task_filters::TaskFilter;
use crate::model::tasks::Task;
use crate::vocabulary::{Policy, TaskMode};

#[derive(Subcommand)]
pub(super) enum TaskCommand {
    /// Add a task: a table to sync with the repository, run after the
    /// repository's other tasks (a second task for the same table is refused).
    Add {
        /// The repository's name or id.
        repository: String,
        /// The table, e.g. org_organisation.
        table: String,
        /// pull, push, both or none.
        #[arg(long, default_value = TaskMode::Both.as_str())]
        mode: String,
        /// The import methods allowed: any of create,update,delete,merge.
        #[arg(long, default_value = "create,update,delete,merge")]
        strategy: String,
        /// THIS, OTHER, NEWER or MASTER.
        #[arg(long, default_value = Policy::Newer.as_str())]
        update_policy: String,
        /// THIS, OTHER, NEWER or MASTER.
        #[arg(long, default_value = Policy::Newer.as_str())]
        conflict_policy: String,
        /// Sync components with their master records.
        #[arg(long)]
        components: bool,
        /// Keep incoming versions the update policy does not take in the
        /// review queue (conflicts always wait there).
        #[arg(long)]
        review_kept_updates: bool,
        /// A filter, TABLE:EXPR or EXPR for the task's table, e.g.
        /// '~.acronym__like=RO*' or 'org_office:~.name__like=A*' (repeatable).
        #[arg(long = "filter", value_name = "TABLE:EXPR", allow_hyphen_values = true)]
        filters: Vec<String>,
        /// Folder repositories: the files a pull imports, a pattern in the
        /// folder such as 'org_organisation-*.xml' (oldest first).
        #[arg(long, value_name = "PATTERN")]
        infile_pattern: Option<String>,
        /// Folder repositories: the file a push writes, such as
        /// 'org_organisation-$timestamp.xml' ($year $month $day $hour
        /// $minute $second $timestamp, UTC; a name ending in .gz is gzip).
        #[arg(long, value_name = "PATTERN")]
        outfile_pattern: Option<String>,
        /// Folder repositories: delete each file once it is imported.
        #[arg(long)]
        delete_input_files: bool,
    },
    /// List a repository's tasks in the order they run.
    List {
        /// The repository's name or id.
        repository: String,
        #[arg(long)]
        json: bool,
    },
    /// Remove a task.
    Remove {
        /// The repository's name or id.
        repository: String,
        table: String,
    },
    /// Forget a task's watermarks: the next run pulls and/or pushes
    /// everything again (neither flag: both).
    Reset {
        /// The repository's name or id.
        repository: String,
        table: String,
        #[arg(long)]
        pull: bool,
        #[arg(long)]
        push: bool,
    },
}

pub(super) fn run(command: TaskCommand, node: Node) -> Result<(), CliError> {
    let mut conn = node.pool.get().map_err(DbError::from)?;
    let conn = &mut *conn;
    let actor = Actor::cli();
    match command {
        TaskCommand::Add {
            repository,
            table,
            mode,
            strategy,
            update_policy,
            conflict_policy,
            components,
            review_kept_updates,
            filters,
            infile_pattern,
            outfile_pattern,
            delete_input_files,
        } => {
            let r = manage::repositories::find(conn, &repository)?;
            let form = TaskForm {
                table,
                mode,
                strategy,
                update_policy,
                conflict_policy,
                components,
                review_kept_updates,
                filters,
                infile_pattern,
                outfile_pattern,
                delete_input_files,
            };
            let added = manage::tasks::add(conn, &actor, &r, &form)?;
            println!(
                "added task {} to {} (position {})",
                added.resource_name, r.name, added.position
            );
        }
        TaskCommand::List { repository, json } => {
            let r = manage::repositories::find(conn, &repository)?;
            let tasks = manage::tasks::list(conn, &r)?;
            if json {
                print_json(&tasks.iter().map(|(t, f)| task_json(t, f)).collect());
            } else {
                print_tasks(&tasks);
            }
        }
        TaskCommand::Remove { repository, table } => {
            let r = manage::repositories::find(conn, &repository)?;
            let removed = manage::tasks::remove(conn, &actor, &r, &table)?;
            println!("removed task {} from {}", removed.resource_name, r.name);
        }
        TaskCommand::Reset {
            repository,
            table,
            pull,
            push,
        } => {
            let r = manage::repositories::find(conn, &repository)?;
            let reset = manage::tasks::reset(conn, &actor, &r, &table, pull, push)?;
            let what = match (pull, push) {
                (true, false) => "pulls everything again",
                (false, true) => "pushes everything again",
                _ => "pulls and pushes everything again",
            };
            println!(
                "reset task {} of {}: the next run {what}",
                reset.resource_name, r.name
            );
        }
    }
    Ok(())
}

pub(super) fn task_json(t: &Task, filters: &[TaskFilter]) -> serde_json::Value {
    json!({
        "id": t.id,
        "position": t.position,
        "table": t.resource_name,
        "mode": t.mode.as_str(),
        "strategy": t.strategy.to_text(),
        "update_policy": t.update_policy.as_str(),
        "conflict_policy": t.conflict_policy.as_str(),
        "components": t.components,
        "review_kept_updates": t.review_kept_updates,
        "infile_pattern": t.infile_pattern,
        "outfile_pattern": t.outfile_pattern,
        "delete_input_files": t.delete_input_files,
        "filters": filters
            .iter()
            .map(|f| json!({"table": f.table_name, "filter": f.filter_string}))
            .collect::<Vec<_>>(),
        "last_pull": t.last_pull,
        "last_pull_seq": t.last_pull_seq,
        "last_push": t.last_push,
        "last_push_seq": t.last_push_seq,
    })
}

pub(super) fn print_tasks(tasks: &[(Task, Vec<TaskFilter>)]) {
    println!(
        "{:<4} {:<28} {:<5} {:<27} {:<15} {:<19} {:<19} FILTERS",
        "POS", "TABLE", "MODE", "STRATEGY", "UPDATE/CONFLICT", "LAST PULL", "LAST PUSH"
    );
    for (t, filters) in tasks {
        let filters: Vec<String> = filters
            .iter()
            .map(|f| format!("{}:{}", f.table_name, f.filter_string))
            .collect();
        println!(
            "{:<4} {:<28} {:<5} {:<27} {:<15} {:<19} {:<19} {}",
            t.position,
            t.resource_name,
            t.mode,
            t.strategy,
            format!("{}/{}", t.update_policy, t.conflict_policy),
            time_text(t.last_pull),
            time_text(t.last_push),
            if filters.is_empty() {
                "-".to_string()
            } else {
                filters.join(" ")
            }
        );
    }
}
