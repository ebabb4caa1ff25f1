//! A repository's Resources tab: its tasks (which tables, which way, which
//! policies, which filters); the Schedule tab is `schedule.rs`. Validation
//! lives in `manage::tasks`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use crate::error::WebError;
use crate::manage::tasks::TaskForm;
use crate::manage::{self, ManageError};
use crate::model;
use crate::model::repositories::Repository;
use crate::model::task_filters::TaskFilter;
use crate::model::tasks::Task;
use crate::vocabulary::{Method, Policy, Strategy, TaskMode};
use crate::web::peer_tables::PeerTables;
use crate::web::repositories::manage_error;
use crate::web::session::{AdminSession, NoFields, Protected};
use crate::web::{AppState, FormErrors, Layout, redirect_with_flash, render_status};

/// The policies with what they mean, from this node's point of view.
pub const POLICIES: [(&str, &str); 4] = [
    (
        Policy::Newer.as_str(),
        "the more recently changed version wins",
    ),
    (
        Policy::This.as_str(),
        "keep our version, ignore the peer's changes",
    ),
    (Policy::Other.as_str(), "take the peer's version"),
    (
        Policy::Master.as_str(),
        "only the record's original site may change it",
    ),
];
pub const MODES: [(&str, &str); 4] = [
    (TaskMode::Both.as_str(), "pull, then push"),
    (TaskMode::Pull.as_str(), "pull only"),
    (TaskMode::Push.as_str(), "push only"),
    (TaskMode::None.as_str(), "paused"),
];

pub(super) async fn repository(state: &AppState, id: i64) -> Result<Repository, WebError> {
    super::db(&state.pool, move |conn| {
        model::repositories::find(conn, id)?.ok_or(WebError::NotFound)
    })
    .await
}

// ---- Resources (tasks)

#[derive(Deserialize, Default, Clone)]
pub struct PostedTask {
    #[serde(default)]
    table: String,
    #[serde(default)]
    mode: String,
    #[serde(default)]
    create: Option<String>,
    #[serde(default)]
    update: Option<String>,
    #[serde(default)]
    delete: Option<String>,
    #[serde(default)]
    merge: Option<String>,
    #[serde(default)]
    update_policy: String,
    #[serde(default)]
    conflict_policy: String,
    #[serde(default)]
    components: Option<String>,
    #[serde(default)]
    review_kept_updates: Option<String>,
    /// One filter per line: `~.acronym__like=RO*` or `org_office:~.name=x`.
    #[serde(default)]
    filters: String,
    /// Folder repositories only.
    #[serde(default)]
    infile_pattern: String,
    #[serde(default)]
    outfile_pattern: String,
    #[serde(default)]
    delete_input_files: Option<String>,
}

impl PostedTask {
    fn fresh() -> PostedTask {
        let on = || Some("on".to_string());
        PostedTask {
            mode: TaskMode::Both.as_str().into(),
            create: on(),
            update: on(),
            delete: on(),
            merge: on(),
            update_policy: Policy::Newer.as_str().into(),
            conflict_policy: Policy::Newer.as_str().into(),
            ..PostedTask::default()
        }
    }

    /// A stored task's values, to edit. Filters on the task's own table are
    /// shown without the table prefix, as they are typed.
    fn of(form: TaskForm) -> PostedTask {
        // A stored task's strategy always reads.
        let strategy = Strategy::parse(&form.strategy).unwrap_or(Strategy::NONE);
        let on = |method| strategy.allows(method).then(|| "on".to_string());
        let own = format!("{}:", form.table);
        PostedTask {
            create: on(Method::Create),
            update: on(Method::Update),
            delete: on(Method::Delete),
            merge: on(Method::Merge),
            components: form.components.then(|| "on".into()),
            review_kept_updates: form.review_kept_updates.then(|| "on".into()),
            infile_pattern: form.infile_pattern.unwrap_or_default(),
            outfile_pattern: form.outfile_pattern.unwrap_or_default(),
            delete_input_files: form.delete_input_files.then(|| "on".into()),
            filters: form
                .filters
                .iter()
                .map(|f| f.strip_prefix(&own).unwrap_or(f).to_string())
                .collect::<Vec<_>>()
                .join("\n"),
            table: form.table,
            mode: form.mode,
            update_policy: form.update_policy,
            conflict_policy: form.conflict_policy,
        }
    }

    /// The ticked methods.
    fn strategy(&self) -> Strategy {
        Strategy {
            create: self.create.is_some(),
            update: self.update.is_some(),
            delete: self.delete.is_some(),
            merge: self.merge.is_some(),
        }
    }

    fn has(&self, method: &Method) -> bool {
        self.strategy().allows(*method)
    }

    fn into_form(self) -> TaskForm {
        let strategy = self.strategy().to_text();
        TaskForm {
            table: self.table.trim().to_string(),
            mode: self.mode,
            strategy,
            update_policy: self.update_policy,
            conflict_policy: self.conflict_policy,
            components: self.components.is_some(),
            review_kept_updates: self.review_kept_updates.is_some(),
            infile_pattern: Some(self.infile_pattern.trim().to_string()).filter(|p| !p.is_empty()),
            outfile_pattern: Some(self.outfile_pattern.trim().to_string())
                .filter(|p| !p.is_empty()),
            delete_input_files: self.delete_input_files.is_some(),
            filters: self
                .filters
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect(),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "repositories/resources.html")]
struct ResourcesPage {
    layout: Layout,
    repository: Repository,
    tasks: Vec<(Task, Vec<TaskFilter>)>,
    form: PostedTask,
    /// The table whose task the form changes; `None`: the form adds one.
    editing: Option<String>,
    errors: FormErrors,
    policies: [(&'static str, &'static str); 4],
    modes: [(&'static str, &'static str); 4],
    methods: &'static [Method],
    /// The peer's own tables, for an edensync peer.
    peer_tables: PeerTables,
}

/// What the task form shows: values, the task it changes (none: it adds
/// one), and the errors of the last attempt.
struct TaskFormView {
    form: PostedTask,
    editing: Option<String>,
    errors: FormErrors,
}

async fn resources_page(
    req: &HttpRequest,
    state: &AppState,
    who: &AdminSession,
    repository: Repository,
    shown: TaskFormView,
    status: StatusCode,
) -> Result<HttpResponse, WebError> {
    let TaskFormView {
        form,
        editing,
        errors,
    } = shown;
    let listed = repository.clone();
    let tasks = super::db(&state.pool, move |conn| {
        manage::tasks::list(conn, &listed).map_err(manage_error)
    })
    .await?;
    let synced: Vec<&str> = tasks
        .iter()
        .map(|(t, _)| t.resource_name.as_str())
        .collect();
    let peer_tables = PeerTables::load(state, &repository, &synced).await;
    let page = ResourcesPage {
        layout: Layout::new(
            req,
            &format!("{}: resources", repository.name),
            "repositories",
            who,
        ),
        repository,
        tasks,
        form,
        editing,
        errors,
        policies: POLICIES,
        modes: MODES,
        methods: Method::ALL,
        peer_tables,
    };
    Ok(render_status(req, page, status))
}

#[derive(Deserialize)]
pub struct ResourcesQuery {
    /// The table whose task to edit in the form.
    edit: Option<String>,
    /// A table picked from the peer's list, to add.
    table: Option<String>,
}

pub async fn resources(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: AdminSession,
    id: web::Path<i64>,
    query: web::Query<ResourcesQuery>,
) -> Result<HttpResponse, WebError> {
    let repository = repository(&state, id.into_inner()).await?;
    let query = query.into_inner();
    let picked = query.table;
    let (form, editing) = match query.edit.filter(|t| !t.is_empty()) {
        Some(table) => {
            let target = repository.clone();
            let stored = super::db(&state.pool, move |conn| {
                let task = manage::tasks::find(conn, &target, &table).map_err(manage_error)?;
                let filters = model::task_filters::list_for_task(conn, task.id)?;
                Ok::<_, WebError>(TaskForm::from_task(&task, &filters))
            })
            .await?;
            let table = stored.table.clone();
            (PostedTask::of(stored), Some(table))
        }
        None => (
            PostedTask {
                table: picked.unwrap_or_default(),
                ..PostedTask::fresh()
            },
            None,
        ),
    };
    resources_page(
        &req,
        &state,
        &who,
        repository,
        TaskFormView {
            form,
            editing,
            errors: FormErrors::default(),
        },
        StatusCode::OK,
    )
    .await
}

/// `POST /repositories/{id}/resources/{table}`: change a task in place.
pub async fn update_task(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(i64, String)>,
    posted: Protected<PostedTask>,
) -> Result<HttpResponse, WebError> {
    let (id, table) = path.into_inner();
    save_task(req, state, id, Some(table), posted).await
}

/// `POST /repositories/{id}/resources`: add a task.
pub async fn add_task(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    posted: Protected<PostedTask>,
) -> Result<HttpResponse, WebError> {
    save_task(req, state, id.into_inner(), None, posted).await
}

/// Add a task, or change the one for `editing`; on invalid input the form
/// again, with the errors next to the fields.
async fn save_task(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: i64,
    editing: Option<String>,
    posted: Protected<PostedTask>,
) -> Result<HttpResponse, WebError> {
    let Protected { session: who, form } = posted;
    let repository = repository(&state, id).await?;
    // When editing, the table is the one in the address, whatever the form says.
    let form = match &editing {
        Some(table) => PostedTask {
            table: table.clone(),
            ..form
        },
        None => form,
    };
    let (actor, task_form, target, table) = (
        who.actor(),
        form.clone().into_form(),
        repository.clone(),
        editing.clone(),
    );
    let saved = super::db(&state.pool, move |conn| {
        Ok::<_, WebError>(match table {
            Some(table) => {
                let task = manage::tasks::find(conn, &target, &table).map_err(manage_error)?;
                manage::tasks::update(conn, &actor, &target, &task, &task_form)
            }
            None => manage::tasks::add(conn, &actor, &target, &task_form),
        })
    })
    .await?;
    match saved {
        Ok(task) => {
            let said = if editing.is_some() {
                let repull = if task.filters_changed_at.is_some() {
                    " Its filters changed after it had pulled: the next push sends all they select, but pulls only bring what changes from now on. Use \"Re-pull everything\" in its row to fetch the rest."
                } else {
                    ""
                };
                format!(
                    "{} with {} was changed.{repull}",
                    task.resource_name, repository.name
                )
            } else {
                format!(
                    "{} is synced with {} now ({}).",
                    task.resource_name, repository.name, task.mode
                )
            };
            Ok(redirect_with_flash(
                &format!("/repositories/{}/resources", repository.id),
                &said,
            ))
        }
        Err(ManageError::Invalid(errors)) => {
            resources_page(
                &req,
                &state,
                &who,
                repository,
                TaskFormView {
                    form,
                    editing,
                    errors: FormErrors(errors),
                },
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(manage_error(e)),
    }
}

/// What a task's buttons do.
#[derive(Clone, Copy)]
enum TaskAction {
    Remove,
    RepullEverything,
    RepushEverything,
}

impl TaskAction {
    fn parse(text: &str) -> Option<TaskAction> {
        match text {
            "remove" => Some(TaskAction::Remove),
            "repull" => Some(TaskAction::RepullEverything),
            "repush" => Some(TaskAction::RepushEverything),
            _ => None,
        }
    }
}

/// `POST /repositories/{id}/resources/{table}/{remove|repull|repush}`.
pub async fn task_action(
    state: web::Data<AppState>,
    path: web::Path<(i64, String, String)>,
    posted: Protected<NoFields>,
) -> Result<HttpResponse, WebError> {
    let (id, table, action) = path.into_inner();
    let action = TaskAction::parse(&action).ok_or(WebError::NotFound)?;
    let repository = repository(&state, id).await?;
    let (actor, target, t) = (posted.session.actor(), repository.clone(), table.clone());
    super::db(&state.pool, move |conn| {
        match action {
            TaskAction::Remove => manage::tasks::remove(conn, &actor, &target, &t),
            TaskAction::RepullEverything => {
                manage::tasks::reset(conn, &actor, &target, &t, true, false)
            }
            TaskAction::RepushEverything => {
                manage::tasks::reset(conn, &actor, &target, &t, false, true)
            }
        }
        .map_err(manage_error)
    })
    .await?;
    let said = match action {
        TaskAction::Remove => format!("{table} is no longer synced with {}.", repository.name),
        TaskAction::RepullEverything => format!("The next run pulls all of {table} again."),
        TaskAction::RepushEverything => format!("The next run pushes all of {table} again."),
    };
    Ok(redirect_with_flash(
        &format!("/repositories/{id}/resources"),
        &said,
    ))
}
