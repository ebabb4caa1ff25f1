//! Repositories: the list, adding one, its configuration page (edit,
//! register again, delete). Validation lives in `manage::repositories`;
//! these handlers turn forms into its form and its errors into messages
//! next to the fields.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use crate::error::WebError;
use crate::manage::repositories::RepositoryForm;
use crate::manage::{ManageError, PasswordChange};
use crate::model;
use crate::model::repositories::Repository;
use crate::web::format::span;
use crate::web::peer_contacts;
use crate::web::query::CameFrom;
use crate::web::repository_health::Health;
use crate::web::session::{AdminSession, NoFields, Protected};
use crate::web::{
    AppState, FormErrors, Layout, redirect_with_error, redirect_with_flash, render, render_status,
};

/// How long saving waits for the peer's answer to the registration.
const REGISTRATION_WAIT: Duration = Duration::from_secs(30);

/// The form as posted: every field a string, checkboxes present or not.
#[derive(Deserialize, Default, Clone)]
pub struct PostedRepository {
    #[serde(default)]
    name: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    folder: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    clear_password: Option<String>,
    #[serde(default)]
    peer_uuid: String,
    #[serde(default)]
    proxy_url: String,
    #[serde(default)]
    proxy_username: String,
    #[serde(default)]
    proxy_password: String,
    #[serde(default)]
    clear_proxy_password: Option<String>,
    #[serde(default)]
    enabled: Option<String>,
    #[serde(default)]
    accept_push: Option<String>,
    /// Comma-separated; empty: all tables.
    #[serde(default)]
    allowed_tables: String,
    /// Comma-separated e-mail addresses of sync accounts.
    #[serde(default)]
    accounts: String,
    #[serde(default)]
    tls_ca_pem: String,
    #[serde(default)]
    tls_accept_invalid: Option<String>,
}

fn optional(text: &str) -> Option<String> {
    Some(text.trim().to_string()).filter(|t| !t.is_empty())
}

fn list_of(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

impl PostedRepository {
    pub(super) fn into_form(self) -> RepositoryForm {
        let password = |new: &str, clear: &Option<String>| match (new.is_empty(), clear) {
            (false, _) => PasswordChange::Set(new.to_string()),
            (true, Some(_)) => PasswordChange::Clear,
            (true, None) => PasswordChange::Keep,
        };
        RepositoryForm {
            name: self.name.trim().to_string(),
            url: optional(&self.url),
            folder: optional(&self.folder),
            username: optional(&self.username),
            password: password(&self.password, &self.clear_password),
            peer_uuid: optional(&self.peer_uuid),
            proxy_url: optional(&self.proxy_url),
            proxy_username: optional(&self.proxy_username),
            proxy_password: password(&self.proxy_password, &self.clear_proxy_password),
            enabled: self.enabled.is_some(),
            accept_push: self.accept_push.is_some(),
            allowed_tables: Some(list_of(&self.allowed_tables)).filter(|t| !t.is_empty()),
            accounts: list_of(&self.accounts),
            tls_ca_pem: optional(&self.tls_ca_pem),
            tls_accept_invalid: self.tls_accept_invalid.is_some(),
        }
    }

    /// What the form shows: a stored repository (passwords never shown).
    fn shown(form: &RepositoryForm) -> PostedRepository {
        PostedRepository {
            name: form.name.clone(),
            url: form.url.clone().unwrap_or_default(),
            folder: form.folder.clone().unwrap_or_default(),
            username: form.username.clone().unwrap_or_default(),
            peer_uuid: form.peer_uuid.clone().unwrap_or_default(),
            proxy_url: form.proxy_url.clone().unwrap_or_default(),
            proxy_username: form.proxy_username.clone().unwrap_or_default(),
            enabled: form.enabled.then(|| "on".into()),
            accept_push: form.accept_push.then(|| "on".into()),
            allowed_tables: form.allowed_tables.clone().unwrap_or_default().join(", "),
            accounts: form.accounts.join(", "),
            tls_ca_pem: form.tls_ca_pem.clone().unwrap_or_default(),
            tls_accept_invalid: form.tls_accept_invalid.then(|| "on".into()),
            ..PostedRepository::default()
        }
    }
}

pub struct RepositoryRow {
    pub repository: Repository,
    pub health: Health,
    pub tasks: usize,
    /// How long ago the peer last reached us or we reached it ("never").
    pub last_contact: String,
    /// What the peer did here: registered, pulls, pushes received.
    pub from_peer: Vec<String>,
    /// Pushes refused while they are not accepted ("2 pushes refused, …").
    pub refused: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "repositories/list.html")]
struct ListPage {
    layout: Layout,
    rows: Vec<RepositoryRow>,
}

pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: AdminSession,
) -> Result<HttpResponse, WebError> {
    let rows = super::db(&state.pool, |conn| {
        let now = model::now();
        let peers = peer_contacts::load(conn)?;
        // A few queries for the whole page, however many repositories.
        let with_runs: std::collections::HashSet<i64> = model::runs::latest_per_repository(conn)?
            .into_iter()
            .map(|r| r.repository_id)
            .collect();
        let mut tasks_of: std::collections::HashMap<i64, usize> = Default::default();
        for task in model::tasks::list_all(conn)? {
            *tasks_of.entry(task.repository_id).or_default() += 1;
        }
        let mut rows = Vec::new();
        for repository in model::repositories::list(conn)? {
            let has_runs = with_runs.contains(&repository.id);
            let tasks = tasks_of.get(&repository.id).copied().unwrap_or(0);
            let last_contact = repository.last_connected_at.map_or_else(
                || "never".to_string(),
                |at| format!("{} ago", span(at, now)),
            );
            let peer = peers.get(&repository.id).cloned().unwrap_or_default();
            rows.push(RepositoryRow {
                health: Health::of(&repository, has_runs),
                from_peer: peer.lines(now),
                refused: peer.waiting(&repository, now),
                repository,
                tasks,
                last_contact,
            });
        }
        Ok::<_, WebError>(rows)
    })
    .await?;
    let page = ListPage {
        layout: Layout::new(&req, "Repositories", "repositories", &who),
        rows,
    };
    Ok(render(&req, page))
}

#[derive(Template, WebTemplate)]
#[template(path = "repositories/form.html")]
pub(super) struct FormPage {
    pub layout: Layout,
    /// `None` for a new repository.
    pub repository: Option<Repository>,
    pub form: PostedRepository,
    pub errors: FormErrors,
    pub password_set: bool,
    pub proxy_password_set: bool,
    pub tasks: usize,
    pub jobs: usize,
    /// What "Test connection" found with the values entered: (works, words).
    pub tested: Option<(bool, String)>,
    /// On the repository's own page: whether it has run yet, for the next
    /// steps shown until it is set up (tables, a first run, a schedule).
    pub ran: Option<bool>,
}

pub async fn new(req: HttpRequest, who: AdminSession) -> Result<HttpResponse, WebError> {
    let form = PostedRepository {
        enabled: Some("on".into()),
        ..PostedRepository::default()
    };
    let page = FormPage {
        layout: Layout::new(&req, "Add a repository", "repositories", &who),
        repository: None,
        form,
        errors: FormErrors::default(),
        password_set: false,
        proxy_password_set: false,
        tasks: 0,
        jobs: 0,
        tested: None,
        ran: None,
    };
    Ok(render(&req, page))
}

pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    posted: Protected<PostedRepository>,
) -> Result<HttpResponse, WebError> {
    let Protected { session: who, form } = posted;
    let actor = who.actor();
    let key = state.key.clone();
    let repository_form = form.clone().into_form();
    let saved = super::db(&state.pool, move |conn| {
        Ok::<_, WebError>(crate::manage::repositories::create(
            conn,
            &actor,
            &key,
            &repository_form,
        ))
    })
    .await?;
    match saved {
        Ok(repository) => Ok(after_save(&state, &repository, "added").await),
        Err(ManageError::Invalid(errors)) => {
            let page = FormPage {
                layout: Layout::new(&req, "Add a repository", "repositories", &who),
                repository: None,
                form,
                errors: FormErrors(errors),
                password_set: false,
                proxy_password_set: false,
                tasks: 0,
                jobs: 0,
                tested: None,
                ran: None,
            };
            Ok(render_status(&req, page, StatusCode::UNPROCESSABLE_ENTITY))
        }
        Err(e) => Err(manage_error(e)),
    }
}

pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: AdminSession,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    let id = id.into_inner();
    let (repository, form, tasks, jobs, ran) = super::db(&state.pool, move |conn| {
        let repository = model::repositories::find(conn, id)?.ok_or(WebError::NotFound)?;
        let form = RepositoryForm::from_repository(conn, &repository).map_err(manage_error)?;
        let tasks = model::tasks::list_for_repository(conn, id)?.len();
        let jobs = model::jobs::list_for_repository(conn, id)?.len();
        let ran = !model::runs::for_repository(conn, id, 1)?.is_empty();
        Ok::<_, WebError>((repository, form, tasks, jobs, ran))
    })
    .await?;
    let page = FormPage {
        layout: Layout::new(&req, &repository.name, "repositories", &who),
        form: PostedRepository::shown(&form),
        errors: FormErrors::default(),
        password_set: repository.password_enc.is_some(),
        proxy_password_set: repository.proxy_password_enc.is_some(),
        repository: Some(repository),
        tasks,
        jobs,
        tested: None,
        ran: Some(ran),
    };
    Ok(render(&req, page))
}

pub async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    posted: Protected<PostedRepository>,
) -> Result<HttpResponse, WebError> {
    let id = id.into_inner();
    let Protected { session: who, form } = posted;
    let actor = who.actor();
    let key = state.key.clone();
    let repository_form = form.clone().into_form();
    let (existing, saved, tasks, jobs) = super::db(&state.pool, move |conn| {
        let existing = model::repositories::find(conn, id)?.ok_or(WebError::NotFound)?;
        let saved =
            crate::manage::repositories::update(conn, &actor, &key, &existing, &repository_form);
        let tasks = model::tasks::list_for_repository(conn, id)?.len();
        let jobs = model::jobs::list_for_repository(conn, id)?.len();
        Ok::<_, WebError>((existing, saved, tasks, jobs))
    })
    .await?;
    match saved {
        Ok(repository) => {
            // New settings may reach another peer, or the same with new
            // credentials: its tables are asked for again.
            state.peer_tables.forget(repository.id);
            Ok(after_save(&state, &repository, "saved").await)
        }
        Err(ManageError::Invalid(errors)) => {
            let page = FormPage {
                layout: Layout::new(&req, &existing.name, "repositories", &who),
                form,
                errors: FormErrors(errors),
                password_set: existing.password_enc.is_some(),
                proxy_password_set: existing.proxy_password_enc.is_some(),
                repository: Some(existing),
                tasks,
                jobs,
                tested: None,
                ran: None,
            };
            Ok(render_status(&req, page, StatusCode::UNPROCESSABLE_ENTITY))
        }
        Err(e) => Err(manage_error(e)),
    }
}

/// Saving with a URL registers at the peer (as Eden does) and says how it
/// went; the repository is saved either way.
async fn after_save(state: &AppState, repository: &Repository, what: &str) -> HttpResponse {
    let page = format!("/repositories/{}", repository.id);
    if let Some(folder) = repository.folder() {
        return redirect_with_flash(
            &page,
            &format!(
                "{} {what}: a folder repository. Its tasks read and write files in {folder}; give each task an input and an output file pattern on the Resources tab.",
                repository.name
            ),
        );
    }
    if repository.url.is_none() {
        return redirect_with_flash(
            &page,
            &format!(
                "{} {what}: a passive-only peer, it calls us (give it our site uuid).",
                repository.name
            ),
        );
    }
    register_and_say(state, repository, what, &page).await
}

async fn register_and_say(
    state: &AppState,
    repository: &Repository,
    what: &str,
    page: &str,
) -> HttpResponse {
    let registered =
        tokio::time::timeout(REGISTRATION_WAIT, state.engine.register(repository.id)).await;
    match registered {
        Ok(Ok(said)) => redirect_with_flash(
            page,
            &format!("{} {what}; registered at the peer: {said}", repository.name),
        ),
        Ok(Err(e)) => redirect_with_error(
            page,
            &format!(
                "{} {what}, but registration at the peer failed: {e}. Use \"Register again\" once the peer is reachable.",
                repository.name
            ),
        ),
        Err(_) => redirect_with_error(
            page,
            &format!(
                "{} {what}, but the peer did not answer the registration within {} s.",
                repository.name,
                REGISTRATION_WAIT.as_secs()
            ),
        ),
    }
}

pub async fn register(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    _posted: Protected<NoFields>,
) -> Result<HttpResponse, WebError> {
    let id = id.into_inner();
    let repository = super::db(&state.pool, move |conn| {
        model::repositories::find(conn, id)?.ok_or(WebError::NotFound)
    })
    .await?;
    let page = format!("/repositories/{id}");
    if repository.url.is_none() {
        return Ok(redirect_with_error(
            &page,
            "A passive-only peer (no URL) registers itself with us.",
        ));
    }
    Ok(register_and_say(&state, &repository, "unchanged", &page).await)
}

/// One click: pushes from this repository's peer are accepted (audited).
pub async fn accept_pushes(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    from: web::Query<CameFrom>,
    posted: Protected<NoFields>,
) -> Result<HttpResponse, WebError> {
    let id = id.into_inner();
    let who = posted.session;
    let actor = who.actor();
    let name = super::db(&state.pool, move |conn| {
        let repository = model::repositories::find(conn, id)?.ok_or(WebError::NotFound)?;
        crate::manage::peers::accept_pushes(conn, &actor, &repository).map_err(manage_error)?;
        Ok::<_, WebError>(repository.name)
    })
    .await?;
    let back = match from.from.as_str() {
        "dashboard" => "/".to_string(),
        "repository" => format!("/repositories/{id}"),
        _ => "/repositories".to_string(),
    };
    Ok(redirect_with_flash(
        &back,
        &format!("Pushes from {name} are accepted from now on: its next push is imported."),
    ))
}

pub async fn delete(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    posted: Protected<NoFields>,
) -> Result<HttpResponse, WebError> {
    let id = id.into_inner();
    let who = posted.session;
    let actor = who.actor();
    let name = super::db(&state.pool, move |conn| {
        let repository = model::repositories::find(conn, id)?.ok_or(WebError::NotFound)?;
        crate::manage::repositories::remove(conn, &actor, &repository).map_err(manage_error)?;
        Ok::<_, WebError>(repository.name)
    })
    .await?;
    Ok(redirect_with_flash(
        "/repositories",
        &format!("{name} removed, with its tasks, jobs, runs and log."),
    ))
}

pub fn manage_error(e: ManageError) -> WebError {
    match e {
        ManageError::NotFound(_) => WebError::NotFound,
        ManageError::Invalid(errors) => WebError::BadRequest(
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        ),
        ManageError::Failed(message) => WebError::BadRequest(message),
        ManageError::Db(e) => e.into(),
    }
}
