//! The Schedule tab of a repository: its jobs (every N minutes or a cron
//! expression, start, stop, repeats, timeout) with their next run times;
//! add and remove.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use crate::error::WebError;
use crate::manage::jobs::JobForm;
use crate::manage::schedule;
use crate::manage::{self, ManageError};
use crate::model;
use crate::model::jobs::Job;
use crate::model::repositories::Repository;
use crate::web::repositories::manage_error;
use crate::web::resources::repository;
use crate::web::session::{AdminSession, NoFields, Protected};
use crate::web::{AppState, FormErrors, Layout, redirect_with_flash, render_status};

#[derive(Deserialize, Default, Clone)]
pub struct PostedJob {
    /// `every` or `cron`.
    #[serde(default)]
    kind: String,
    #[serde(default)]
    every_minutes: String,
    #[serde(default)]
    cron: String,
    #[serde(default)]
    start: String,
    #[serde(default)]
    stop: String,
    #[serde(default)]
    repeats: String,
    #[serde(default)]
    timeout: String,
    #[serde(default)]
    enabled: Option<String>,
}

impl PostedJob {
    fn fresh() -> PostedJob {
        PostedJob {
            kind: "every".into(),
            every_minutes: "10".into(),
            repeats: "0".into(),
            timeout: manage::jobs::DEFAULT_TIMEOUT_SECS.to_string(),
            enabled: Some("on".into()),
            ..PostedJob::default()
        }
    }

    /// The form for `manage::jobs`, or the field errors of numbers that are
    /// not numbers.
    fn into_form(self) -> Result<JobForm, FormErrors> {
        let mut errors = Vec::new();
        let mut number = |field: &'static str, text: &str, what: &str| -> i64 {
            match text.trim().parse::<i64>() {
                Ok(n) => n,
                Err(_) => {
                    errors.push(manage::FieldError {
                        field,
                        message: format!("must be a whole number of {what}"),
                    });
                    0
                }
            }
        };
        let every =
            (self.kind != "cron").then(|| number("every", &self.every_minutes, "minutes") * 60);
        let repeats = number("repeats", &self.repeats, "runs (0: unlimited)");
        let timeout = number("timeout", &self.timeout, "seconds");
        if !errors.is_empty() {
            return Err(FormErrors(errors));
        }
        Ok(JobForm {
            every_seconds: every,
            cron: (self.kind == "cron").then(|| self.cron.trim().to_string()),
            start: Some(self.start.trim().to_string()).filter(|s| !s.is_empty()),
            stop: Some(self.stop.trim().to_string()).filter(|s| !s.is_empty()),
            repeats,
            timeout_secs: timeout,
            enabled: self.enabled.is_some(),
        })
    }
}

/// A job as the schedule tab shows it.
pub struct JobRow {
    pub job: Job,
    pub described: String,
    pub next: Vec<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "repositories/schedule.html")]
struct SchedulePage {
    layout: Layout,
    repository: Repository,
    jobs: Vec<JobRow>,
    form: PostedJob,
    errors: FormErrors,
    cron_form: &'static str,
}

async fn schedule_page(
    req: &HttpRequest,
    state: &AppState,
    who: &AdminSession,
    repository: Repository,
    form: PostedJob,
    errors: FormErrors,
    status: StatusCode,
) -> Result<HttpResponse, WebError> {
    let id = repository.id;
    let jobs = super::db(&state.pool, move |conn| {
        Ok::<_, WebError>(model::jobs::list_for_repository(conn, id)?)
    })
    .await?;
    let now = model::now();
    let jobs = jobs
        .into_iter()
        .map(|job| {
            let next = match manage::jobs::schedule_of(&job) {
                Ok(spec) if job.enabled => schedule::upcoming(&spec, now, job.times_run, 3)
                    .iter()
                    .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                    .collect(),
                _ => Vec::new(),
            };
            JobRow {
                described: manage::jobs::describe(&job),
                next,
                job,
            }
        })
        .collect();
    let page = SchedulePage {
        layout: Layout::new(
            req,
            &format!("{}: schedule", repository.name),
            "repositories",
            who,
        ),
        repository,
        jobs,
        form,
        errors,
        cron_form: schedule::CRON_FORM,
    };
    Ok(render_status(req, page, status))
}

pub async fn schedule(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: AdminSession,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    let repository = repository(&state, id.into_inner()).await?;
    schedule_page(
        &req,
        &state,
        &who,
        repository,
        PostedJob::fresh(),
        FormErrors::default(),
        StatusCode::OK,
    )
    .await
}

pub async fn add_job(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    posted: Protected<PostedJob>,
) -> Result<HttpResponse, WebError> {
    let Protected { session: who, form } = posted;
    let repository = repository(&state, id.into_inner()).await?;
    let job_form = match form.clone().into_form() {
        Ok(job_form) => job_form,
        Err(errors) => {
            return schedule_page(
                &req,
                &state,
                &who,
                repository,
                form,
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let (actor, target) = (who.actor(), repository.clone());
    let added = super::db(&state.pool, move |conn| {
        Ok::<_, WebError>(manage::jobs::add(conn, &actor, &target, &job_form))
    })
    .await?;
    match added {
        Ok(job) => Ok(redirect_with_flash(
            &format!("/repositories/{}/schedule", repository.id),
            &format!("Scheduled: {}.", manage::jobs::describe(&job)),
        )),
        Err(ManageError::Invalid(errors)) => {
            schedule_page(
                &req,
                &state,
                &who,
                repository,
                form,
                FormErrors(errors),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(manage_error(e)),
    }
}

pub async fn remove_job(
    state: web::Data<AppState>,
    path: web::Path<(i64, i64)>,
    posted: Protected<NoFields>,
) -> Result<HttpResponse, WebError> {
    let (id, job_id) = path.into_inner();
    let actor = posted.session.actor();
    super::db(&state.pool, move |conn| {
        let job = manage::jobs::find(conn, job_id).map_err(manage_error)?;
        if job.repository_id != id {
            return Err(WebError::NotFound);
        }
        manage::jobs::remove(conn, &actor, job_id).map_err(manage_error)
    })
    .await?;
    Ok(redirect_with_flash(
        &format!("/repositories/{id}/schedule"),
        "The schedule was removed.",
    ))
}
