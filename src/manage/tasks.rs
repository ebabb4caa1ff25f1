//! Tasks: the tables a repository syncs, in order, with their policies and
//! filters.

use diesel::Connection;

use super::{FieldErrors, ManageError};
use crate::audit::{self, Actor};
use crate::db::DbConnection;
use crate::model;
use crate::model::repositories::Repository;
use crate::model::task_filters::TaskFilter;
use crate::model::tasks::{Task, TaskSettings};
use crate::store::policy::{Policy, Strategy};
use crate::store::{self, Filter};
use crate::vocabulary::TaskMode;

/// A task as an administrator enters it.
#[derive(Debug, Clone)]
pub struct TaskForm {
    /// The table (Eden's resource name), e.g. `org_organisation`.
    pub table: String,
    /// pull, push, both or none.
    pub mode: String,
    /// Any of create,update,delete,merge.
    pub strategy: String,
    /// THIS, OTHER, NEWER or MASTER.
    pub update_policy: String,
    pub conflict_policy: String,
    /// Whether components travel with their master records.
    pub components: bool,
    /// Whether incoming versions the update policy does not take wait in
    /// the review queue (conflicts always do).
    pub review_kept_updates: bool,
    /// `TABLE:EXPR` or just `EXPR` (for the task's table), e.g.
    /// `~.acronym__like=RO*` or `org_office:~.name__like=A*`.
    pub filters: Vec<String>,
    /// Folder repositories: the files a pull imports (a glob in the
    /// folder, e.g. `org_organisation-*.xml`).
    pub infile_pattern: Option<String>,
    /// Folder repositories: the file a push writes (e.g.
    /// `org_organisation-$timestamp.xml`; `.gz` compresses).
    pub outfile_pattern: Option<String>,
    /// Folder repositories: delete a file once it is imported.
    pub delete_input_files: bool,
}

impl TaskForm {
    /// A new task's form with Eden's defaults: both ways, every method,
    /// NEWER / NEWER, no components, no filters.
    pub fn new(table: &str) -> TaskForm {
        TaskForm {
            table: table.to_string(),
            mode: TaskMode::Both.as_str().into(),
            strategy: Strategy::ALL.to_text(),
            update_policy: Policy::Newer.as_str().into(),
            conflict_policy: Policy::Newer.as_str().into(),
            components: false,
            review_kept_updates: false,
            filters: Vec::new(),
            infile_pattern: None,
            outfile_pattern: None,
            delete_input_files: false,
        }
    }

    /// The form of a stored task, to edit.
    pub fn from_task(task: &Task, filters: &[TaskFilter]) -> TaskForm {
        TaskForm {
            table: task.resource_name.clone(),
            mode: task.mode.as_str().into(),
            strategy: task.strategy.to_text(),
            update_policy: task.update_policy.as_str().into(),
            conflict_policy: task.conflict_policy.as_str().into(),
            components: task.components,
            review_kept_updates: task.review_kept_updates,
            filters: filters
                .iter()
                .map(|f| format!("{}:{}", f.table_name, f.filter_string))
                .collect(),
            infile_pattern: task.infile_pattern.clone(),
            outfile_pattern: task.outfile_pattern.clone(),
            delete_input_files: task.delete_input_files,
        }
    }
}

/// Split `TABLE:EXPR` (or `EXPR`, for `task_table`) into the table and the
/// filter expression, and check the expression. A colon inside the
/// expression (`~.name=a:b`) is not mistaken for the table separator, since
/// what precedes it is not a table name.
pub fn parse_filter(task_table: &str, text: &str) -> Result<(String, String), String> {
    let text = text.trim();
    let (table, expr) = match text.split_once(':') {
        Some((table, expr)) if store::is_valid_table_name(table.trim()) => {
            (table.trim(), expr.trim())
        }
        _ => (task_table, text),
    };
    Filter::parse(expr).map_err(|e| e.to_string())?;
    Ok((table.to_string(), expr.to_string()))
}

/// A repository's task for a table.
pub fn find(
    conn: &mut DbConnection,
    repository: &Repository,
    table: &str,
) -> Result<Task, ManageError> {
    model::tasks::find(conn, repository.id, table.trim())?.ok_or_else(|| {
        ManageError::NotFound(format!(
            "the repository {} has no task for the table {}",
            repository.name,
            table.trim()
        ))
    })
}

/// A repository's tasks in the order they run, each with its filters.
pub fn list(
    conn: &mut DbConnection,
    repository: &Repository,
) -> Result<Vec<(Task, Vec<TaskFilter>)>, ManageError> {
    let tasks = model::tasks::list_for_repository(conn, repository.id)?;
    let mut listed = Vec::with_capacity(tasks.len());
    for task in tasks {
        let filters = model::task_filters::list_for_task(conn, task.id)?;
        listed.push((task, filters));
    }
    Ok(listed)
}

/// Add a task after the repository's last one (tasks run in the order added).
pub fn add(
    conn: &mut DbConnection,
    actor: &Actor,
    repository: &Repository,
    form: &TaskForm,
) -> Result<Task, ManageError> {
    conn.transaction(|conn| {
        let valid = validate(form, repository)?;
        if model::tasks::find(conn, repository.id, &valid.table)?.is_some() {
            return Err(ManageError::invalid(
                "table",
                format!(
                    "the repository {} already has a task for {}",
                    repository.name, valid.table
                ),
            ));
        }
        let position = model::tasks::next_position(conn, repository.id)?;
        let task = model::tasks::insert(
            conn,
            repository.id,
            &valid.table,
            position,
            &valid.settings,
            model::now(),
        )?;
        model::task_filters::replace(conn, task.id, &valid.filters)?;
        audit::record(
            conn,
            actor,
            "task.add",
            Some(&target(repository, &task)),
            Some(&describe(&valid)),
        )?;
        Ok(task)
    })
}

/// Change a task's settings and filters. New filters select other records,
/// so the push watermark is reset and the next push sends everything that
/// now matches (as Eden does). A task's table cannot change.
pub fn update(
    conn: &mut DbConnection,
    actor: &Actor,
    repository: &Repository,
    task: &Task,
    form: &TaskForm,
) -> Result<Task, ManageError> {
    conn.transaction(|conn| {
        let valid = validate(form, repository)?;
        if valid.table != task.resource_name {
            return Err(ManageError::invalid(
                "table",
                "cannot be changed; add a task for the other table instead",
            ));
        }
        let before: Vec<(String, String)> = model::task_filters::list_for_task(conn, task.id)?
            .into_iter()
            .map(|f| (f.table_name, f.filter_string))
            .collect();
        model::tasks::update_settings(conn, task.id, &valid.settings)?;
        let filters_changed = before != valid.filters;
        let pulled_before = task.last_pull.is_some() || task.last_pull_seq.is_some();
        if filters_changed {
            model::task_filters::replace(conn, task.id, &valid.filters)?;
            model::tasks::clear_push_watermark(conn, task.id, model::now())?;
            if pulled_before {
                model::tasks::mark_filters_changed(conn, task.id, model::now())?;
            }
        }
        let mut detail = describe(&valid);
        if filters_changed {
            detail.push_str("; filters changed: push watermark reset");
            if pulled_before {
                detail.push_str(", a re-pull offered");
            }
        }
        audit::record(
            conn,
            actor,
            "task.edit",
            Some(&target(repository, task)),
            Some(&detail),
        )?;
        model::tasks::find_by_id(conn, task.id)?
            .ok_or_else(|| ManageError::NotFound(format!("task {}", target(repository, task))))
    })
}

/// Remove a repository's task for a table (its filters go with it).
pub fn remove(
    conn: &mut DbConnection,
    actor: &Actor,
    repository: &Repository,
    table: &str,
) -> Result<Task, ManageError> {
    conn.transaction(|conn| {
        let task = find(conn, repository, table)?;
        model::tasks::delete(conn, task.id)?;
        audit::record(
            conn,
            actor,
            "task.remove",
            Some(&target(repository, &task)),
            None,
        )?;
        Ok(task)
    })
}

/// Forget a task's watermarks so that the next run pulls (`pull`) and/or
/// pushes (`push`) everything again; neither flag means both.
pub fn reset(
    conn: &mut DbConnection,
    actor: &Actor,
    repository: &Repository,
    table: &str,
    pull: bool,
    push: bool,
) -> Result<Task, ManageError> {
    let (pull, push) = if pull || push {
        (pull, push)
    } else {
        (true, true)
    };
    conn.transaction(|conn| {
        let task = find(conn, repository, table)?;
        let now = model::now();
        if pull {
            model::tasks::clear_pull_watermark(conn, task.id, now)?;
        }
        if push {
            model::tasks::clear_push_watermark(conn, task.id, now)?;
        }
        let detail = match (pull, push) {
            (true, true) => "pull and push",
            (true, false) => "pull",
            _ => "push",
        };
        audit::record(
            conn,
            actor,
            "task.reset",
            Some(&target(repository, &task)),
            Some(detail),
        )?;
        model::tasks::find_by_id(conn, task.id)?
            .ok_or_else(|| ManageError::NotFound(format!("task {}", target(repository, &task))))
    })
}

/// A form that passed every check.
struct Valid {
    table: String,
    settings: TaskSettings,
    filters: Vec<(String, String)>,
}

fn validate(form: &TaskForm, repository: &Repository) -> Result<Valid, ManageError> {
    let mut errors = FieldErrors::default();
    let table = form.table.trim().to_string();
    if table.is_empty() {
        errors.add("table", "is required");
    } else if !store::is_valid_table_name(&table) {
        errors.add(
            "table",
            format!("'{table}' is not a table name (like org_organisation)"),
        );
    }
    // What fails to parse is reported; its placeholder is never stored.
    let mode = TaskMode::parse(&form.mode).unwrap_or_else(|e| {
        errors.add("mode", e.to_string());
        TaskMode::None
    });
    let strategy = match Strategy::parse(&form.strategy) {
        Ok(s) if s == Strategy::NONE => {
            errors.add(
                "strategy",
                "name at least one of create, update, delete, merge",
            );
            s
        }
        Ok(s) => s,
        Err(e) => {
            errors.add("strategy", e.to_string());
            Strategy::NONE
        }
    };
    let mut policy = |field: &'static str, text: &str| {
        Policy::parse(text).unwrap_or_else(|e| {
            errors.add(field, e.to_string());
            Policy::Newer
        })
    };
    let update_policy = policy("update_policy", &form.update_policy);
    let conflict_policy = policy("conflict_policy", &form.conflict_policy);
    let mut filters = Vec::new();
    for text in form.filters.iter().filter(|f| !f.trim().is_empty()) {
        match parse_filter(&table, text) {
            Ok(filter) => filters.push(filter),
            Err(e) => errors.add("filters", e),
        }
    }
    let infile_pattern = form
        .infile_pattern
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string);
    let outfile_pattern = form
        .outfile_pattern
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string);
    check_file_patterns(
        &mut errors,
        repository,
        mode,
        infile_pattern.as_deref(),
        outfile_pattern.as_deref(),
    );
    errors.finish()?;
    Ok(Valid {
        table,
        settings: TaskSettings {
            mode,
            strategy,
            update_policy,
            conflict_policy,
            components: form.components,
            review_kept_updates: form.review_kept_updates,
            infile_pattern,
            outfile_pattern,
            delete_input_files: form.delete_input_files,
            updated_at: model::now(),
        },
        filters,
    })
}

/// A folder repository's task reads files by a pattern when it pulls and
/// writes them by one when it pushes; other repositories take none.
fn check_file_patterns(
    errors: &mut FieldErrors,
    repository: &Repository,
    mode: TaskMode,
    infile: Option<&str>,
    outfile: Option<&str>,
) {
    if repository.folder().is_none() {
        for (field, given) in [("infile_pattern", infile), ("outfile_pattern", outfile)] {
            if given.is_some() {
                errors.add(field, "only for folder repositories (this one has a URL)");
            }
        }
        return;
    }
    match infile {
        None if mode.pulls() => errors.add(
            "infile_pattern",
            "is required to pull from a folder (e.g. org_organisation-*.xml)",
        ),
        Some(pattern) => {
            if let Err(message) = crate::engine::folder::check_input_pattern(pattern) {
                errors.add("infile_pattern", message);
            }
        }
        None => {}
    }
    match outfile {
        None if mode.pushes() => errors.add(
            "outfile_pattern",
            "is required to push to a folder (e.g. org_organisation-$timestamp.xml)",
        ),
        Some(pattern) => {
            if let Err(message) = crate::engine::folder::check_output_pattern(pattern) {
                errors.add("outfile_pattern", message);
            }
        }
        None => {}
    }
}

/// `repository/table`, how the audit log names a task.
fn target(repository: &Repository, task: &Task) -> String {
    format!("{}/{}", repository.name, task.resource_name)
}

fn describe(valid: &Valid) -> String {
    let s = &valid.settings;
    let mut detail = format!(
        "mode {}; strategy {}; update {}; conflict {}",
        s.mode, s.strategy, s.update_policy, s.conflict_policy
    );
    if s.review_kept_updates {
        detail.push_str("; versions kept out by the update policy wait for review");
    }
    if s.components {
        detail.push_str("; components");
    }
    if let Some(pattern) = &s.infile_pattern {
        detail.push_str(&format!("; reads {pattern}"));
    }
    if let Some(pattern) = &s.outfile_pattern {
        detail.push_str(&format!("; writes {pattern}"));
    }
    if s.delete_input_files {
        detail.push_str("; deletes imported files");
    }
    for (table, filter) in &valid.filters {
        detail.push_str(&format!("; filter {table}:{filter}"));
    }
    detail
}
