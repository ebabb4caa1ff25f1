//! The Schedule tab of a repository: its jobs (every N minutes or a cron
//! expression, start, stop, repeats, timeout) with their next run times;
//! add and remove.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use crate::db::DbConnection;
use crate::error::WebError;
use crate::manage::jobs::JobForm;
use crate::manage::schedule;
use crate::manage::{self, ManageError};
use crate::model;
use crate::model::jobs::Job;
use crate::model::repositories::Repository;
use crate::s3xml;
use crate::vocabulary::Trigger;
use crate::web::query::CameFrom;
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

    /// A stored job, to edit.
    fn of(job: &Job) -> PostedJob {
        PostedJob {
            kind: if job.cron.is_some() { "cron" } else { "every" }.into(),
            // 90 s reads 1.5 minutes: saving the form keeps it 90 s.
            every_minutes: job
                .every_seconds
                .map(|s| (s as f64 / 60.0).to_string())
                .unwrap_or_else(|| "10".into()),
            cron: job.cron.clone().unwrap_or_default(),
            start: job
                .start_at
                .map(|t| s3xml::time::format(&t))
                .unwrap_or_default(),
            stop: job
                .stop_at
                .map(|t| s3xml::time::format(&t))
                .unwrap_or_default(),
            repeats: job.repeats.to_string(),
            timeout: job.timeout_secs.to_string(),
            enabled: job.enabled.then(|| "on".into()),
        }
    }

    /// The form for `manage::jobs`, or the field errors of numbers that are
    /// not numbers.
    fn into_form(self) -> Result<JobForm, FormErrors> {
        let mut errors = Vec::new();
        let every = (self.kind != "cron").then(|| {
            match self.every_minutes.trim().replace(',', ".").parse::<f64>() {
                Ok(minutes) if minutes.is_finite() => (minutes * 60.0).round() as i64,
                _ => {
                    errors.push(manage::FieldError {
                        field: "every",
                        message: "must be a number of minutes (1.5 is 90 seconds)".into(),
                    });
                    0
                }
            }
        });
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
    /// The job the form edits; `None`: the form adds one.
    editing: Option<i64>,
    errors: FormErrors,
    cron_form: &'static str,
}

async fn schedule_page(
    req: &HttpRequest,
    state: &AppState,
    who: &AdminSession,
    repository: Repository,
    (form, editing): (PostedJob, Option<i64>),
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
        editing,
        errors,
        cron_form: schedule::CRON_FORM,
    };
    Ok(render_status(req, page, status))
}

/// `?edit=JOB` opens the form on that job.
#[derive(Deserialize)]
pub struct Editing {
    #[serde(default)]
    edit: String,
}

pub async fn schedule(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: AdminSession,
    id: web::Path<i64>,
    query: web::Query<Editing>,
) -> Result<HttpResponse, WebError> {
    let repository = repository(&state, id.into_inner()).await?;
    let repository_id = repository.id;
    // An empty or unknown job opens the form to add one.
    let editing = match query.edit.trim().parse::<i64>() {
        Ok(job_id) => {
            super::db(&state.pool, move |conn| {
                Ok::<_, WebError>(model::jobs::find(conn, job_id)?)
            })
            .await?
        }
        Err(_) => None,
    }
    .filter(|job| job.repository_id == repository_id);
    let form = match &editing {
        Some(job) => (PostedJob::of(job), Some(job.id)),
        None => (PostedJob::fresh(), None),
    };
    schedule_page(
        &req,
        &state,
        &who,
        repository,
        form,
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
    save_job(&req, &state, id.into_inner(), None, posted).await
}

pub async fn update_job(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(i64, i64)>,
    posted: Protected<PostedJob>,
) -> Result<HttpResponse, WebError> {
    let (id, job_id) = path.into_inner();
    save_job(&req, &state, id, Some(job_id), posted).await
}

/// Add a job (`editing` is `None`) or change one; a form with errors comes
/// back with the values as entered and a message next to each field.
async fn save_job(
    req: &HttpRequest,
    state: &AppState,
    id: i64,
    editing: Option<i64>,
    posted: Protected<PostedJob>,
) -> Result<HttpResponse, WebError> {
    let Protected { session: who, form } = posted;
    let repository = repository(state, id).await?;
    let back_with = |errors: FormErrors, form: PostedJob, repository: Repository| {
        schedule_page(
            req,
            state,
            &who,
            repository,
            (form, editing),
            errors,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
    };
    let job_form = match form.clone().into_form() {
        Ok(job_form) => job_form,
        Err(errors) => return back_with(errors, form, repository).await,
    };
    let (actor, target) = (who.actor(), repository.clone());
    let saved = super::db(&state.pool, move |conn| {
        Ok::<_, WebError>(match editing {
            Some(job_id) => job_of(conn, target.id, job_id)
                .and_then(|_| manage::jobs::edit(conn, &actor, job_id, &job_form)),
            None => manage::jobs::add(conn, &actor, &target, &job_form),
        })
    })
    .await?;
    match saved {
        Ok(job) => {
            let verb = if editing.is_some() {
                "Changed to"
            } else {
                "Scheduled"
            };
            Ok(redirect_with_flash(
                &format!("/repositories/{}/schedule", repository.id),
                &format!("{verb}: {}.", manage::jobs::describe(&job)),
            ))
        }
        Err(ManageError::Invalid(errors)) => back_with(FormErrors(errors), form, repository).await,
        Err(e) => Err(manage_error(e)),
    }
}

/// Job `job_id` of repository `id`; another repository's job is not found.
fn job_of(conn: &mut DbConnection, id: i64, job_id: i64) -> Result<Job, ManageError> {
    let job = manage::jobs::find(conn, job_id)?;
    if job.repository_id != id {
        return Err(ManageError::NotFound(format!("no job {job_id} here")));
    }
    Ok(job)
}

/// Run now, from a schedule: the run counts in the schedule's history.
pub async fn run_job(
    state: web::Data<AppState>,
    path: web::Path<(i64, i64)>,
    posted: Protected<NoFields>,
) -> Result<HttpResponse, WebError> {
    let (id, job_id) = path.into_inner();
    super::db(&state.pool, move |conn| {
        job_of(conn, id, job_id).map_err(manage_error)
    })
    .await?;
    super::runs::start(&state, id, Some(job_id), posted, Trigger::Manual).await
}

pub async fn pause_job(
    state: web::Data<AppState>,
    path: web::Path<(i64, i64)>,
    from: web::Query<CameFrom>,
    posted: Protected<NoFields>,
) -> Result<HttpResponse, WebError> {
    set_paused(&state, path.into_inner(), &from.from, posted, true).await
}

pub async fn resume_job(
    state: web::Data<AppState>,
    path: web::Path<(i64, i64)>,
    from: web::Query<CameFrom>,
    posted: Protected<NoFields>,
) -> Result<HttpResponse, WebError> {
    set_paused(&state, path.into_inner(), &from.from, posted, false).await
}

async fn set_paused(
    state: &AppState,
    (id, job_id): (i64, i64),
    from: &str,
    posted: Protected<NoFields>,
    paused: bool,
) -> Result<HttpResponse, WebError> {
    let actor = posted.session.actor();
    let job = super::db(&state.pool, move |conn| {
        job_of(conn, id, job_id)
            .and_then(|_| manage::jobs::set_paused(conn, &actor, job_id, paused))
            .map_err(manage_error)
    })
    .await?;
    let said = match (paused, job.next_run_at) {
        (true, _) => format!(
            "Paused: {}. No run until it is resumed.",
            manage::jobs::describe(&job)
        ),
        (false, Some(next)) => format!(
            "Resumed: {}. Next run at {} UTC.",
            manage::jobs::describe(&job),
            next.format("%Y-%m-%d %H:%M:%S")
        ),
        (false, None) => format!(
            "Resumed: {}, but it has no run left (its stop time or number of runs is reached).",
            manage::jobs::describe(&job)
        ),
    };
    let back = if from == "jobs" {
        "/jobs".to_string()
    } else {
        format!("/repositories/{id}/schedule")
    };
    Ok(redirect_with_flash(&back, &said))
}

pub async fn remove_job(
    state: web::Data<AppState>,
    path: web::Path<(i64, i64)>,
    posted: Protected<NoFields>,
) -> Result<HttpResponse, WebError> {
    let (id, job_id) = path.into_inner();
    let actor = posted.session.actor();
    super::db(&state.pool, move |conn| {
        job_of(conn, id, job_id)
            .and_then(|_| manage::jobs::remove(conn, &actor, job_id))
            .map_err(manage_error)
    })
    .await?;
    Ok(redirect_with_flash(
        &format!("/repositories/{id}/schedule"),
        "The schedule was removed.",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_period_in_seconds_survives_the_form() {
        let now = model::now();
        let job = Job {
            id: 1,
            repository_id: 1,
            enabled: true,
            cron: None,
            every_seconds: Some(90),
            start_at: None,
            stop_at: None,
            repeats: 0,
            times_run: 0,
            timeout_secs: 600,
            next_run_at: None,
            last_run_at: None,
            last_status: None,
            created_at: now,
            updated_at: now,
        };
        let shown = PostedJob::of(&job);
        assert_eq!(shown.every_minutes, "1.5");
        let form = shown.into_form().ok().unwrap();
        assert_eq!(form.every_seconds, Some(90));
        let typed = PostedJob {
            every_minutes: "soon".into(),
            ..PostedJob::fresh()
        };
        assert!(typed.into_form().is_err());
    }
}
