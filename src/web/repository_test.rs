//! "Test connection": on a repository's page (its saved settings) and on
//! its form (the values entered, before saving). Nothing is saved and no
//! record moves; the answer says what was reached, or why not and what to
//! change.

use actix_web::{HttpRequest, HttpResponse, web};

use crate::error::WebError;
use crate::manage::ManageError;
use crate::model;
use crate::model::repositories::Repository;
use crate::web::repositories::{FormPage, PostedRepository, manage_error};
use crate::web::session::{NoFields, Protected};
use crate::web::{AppState, FormErrors, Layout, redirect_with_error, redirect_with_flash, render};

/// How long a test waits for the peer.
const TEST_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Test the saved settings; the answer comes back as the page's message.
pub async fn test_saved(
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
    let (works, words) = test(&state, &repository).await;
    Ok(if works {
        redirect_with_flash(&page, &words)
    } else {
        redirect_with_error(&page, &words)
    })
}

/// Test the values entered in the form of a new repository.
pub async fn test_new(
    req: HttpRequest,
    state: web::Data<AppState>,
    posted: Protected<PostedRepository>,
) -> Result<HttpResponse, WebError> {
    test_entered(req, state, None, posted).await
}

/// Test the values entered in an existing repository's form.
pub async fn test_edited(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    posted: Protected<PostedRepository>,
) -> Result<HttpResponse, WebError> {
    test_entered(req, state, Some(id.into_inner()), posted).await
}

/// The form again, with what the test found above it and the values as
/// entered (the password must be typed again to save: it never goes back
/// to the browser).
async fn test_entered(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: Option<i64>,
    posted: Protected<PostedRepository>,
) -> Result<HttpResponse, WebError> {
    let Protected { session: who, form } = posted;
    let key = state.key.clone();
    let entered_form = form.clone().into_form();
    let (existing, entered, tasks, jobs) = super::db(&state.pool, move |conn| {
        let existing = match id {
            Some(id) => Some(model::repositories::find(conn, id)?.ok_or(WebError::NotFound)?),
            None => None,
        };
        let entered =
            crate::manage::repositories::as_entered(conn, &key, &entered_form, existing.as_ref());
        let tasks = id.map_or(Ok(0), |id| {
            model::tasks::list_for_repository(conn, id).map(|t| t.len())
        })?;
        let jobs = id.map_or(Ok(0), |id| {
            model::jobs::list_for_repository(conn, id).map(|j| j.len())
        })?;
        Ok::<_, WebError>((existing, entered, tasks, jobs))
    })
    .await?;
    let (errors, tested) = match entered {
        Ok(repository) => (Vec::new(), Some(test(&state, &repository).await)),
        Err(ManageError::Invalid(errors)) => (errors, None),
        Err(e) => return Err(manage_error(e)),
    };
    let title = existing
        .as_ref()
        .map_or("Add a repository".to_string(), |r| r.name.clone());
    let page = FormPage {
        layout: Layout::new(&req, &title, "repositories", &who),
        form,
        errors: FormErrors(errors),
        password_set: existing.as_ref().is_some_and(|r| r.password_enc.is_some()),
        proxy_password_set: existing
            .as_ref()
            .is_some_and(|r| r.proxy_password_enc.is_some()),
        repository: existing,
        tasks,
        jobs,
        tested,
        ran: None,
    };
    Ok(render(&req, page))
}

/// Run the test: (works, what was found or what failed, in words).
async fn test(state: &AppState, repository: &Repository) -> (bool, String) {
    if let Some(folder) = repository.folder() {
        return test_folder(folder);
    }
    if repository.url.is_none() {
        return (
            false,
            "A passive-only peer (no URL) cannot be tested from here: it calls us. Its last contact shows on the repositories list.".into(),
        );
    }
    match tokio::time::timeout(TEST_WAIT, state.engine.test_connection(repository)).await {
        Ok(Ok(found)) => (true, found),
        Ok(Err(e)) => (
            false,
            format!(
                "The connection test failed: {}.",
                e.full_text().trim_end_matches('.')
            ),
        ),
        Err(_) => (
            false,
            format!(
                "The connection test failed: {} did not answer within {} s. Check the URL, the proxy, and that the peer is running.",
                repository.name,
                TEST_WAIT.as_secs()
            ),
        ),
    }
}

/// A folder repository works when the folder is there (the stick is
/// mounted) and this node can write into it.
fn test_folder(folder: &str) -> (bool, String) {
    let path = std::path::Path::new(folder);
    if !path.is_dir() {
        return (
            false,
            format!("{folder} is not there: is the stick or the shared folder mounted?"),
        );
    }
    let files = match std::fs::read_dir(path) {
        Ok(entries) => entries.filter_map(Result::ok).count(),
        Err(e) => return (false, format!("{folder} cannot be read: {e}")),
    };
    match tempfile::NamedTempFile::new_in(path) {
        Ok(_) => (
            true,
            format!("{folder} can be read and written ({files} entries in it now)."),
        ),
        Err(e) => (false, format!("{folder} can be read but not written: {e}")),
    }
}
