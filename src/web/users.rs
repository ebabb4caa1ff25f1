//! Accounts in the console: list and add administrators and sync accounts,
//! reset passwords, disable, unlock, see and revoke sessions; the audit log.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use chrono::NaiveDateTime;
use serde::Deserialize;

use crate::web::query::{QueryNumber, problems};

use crate::accounts::{self, AccountError, sessions};
use crate::error::WebError;
use crate::model;
use crate::model::audit_log::AuditEntry;
use crate::model::sessions::Session;
use crate::model::users::{Role, User};
use crate::web::session::{AdminSession, NoFields, Protected};
use crate::web::{
    AppState, Layout, db, redirect_with_error, redirect_with_flash, render, render_status,
};

/// A user as the pages show it.
pub struct UserRow {
    pub id: i64,
    pub email: String,
    pub role: String,
    pub status: String,
    pub locked: bool,
    pub disabled: bool,
    pub last_login: String,
    pub created: String,
}

pub fn format_time(t: Option<NaiveDateTime>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "never".into())
}

impl UserRow {
    fn new(user: &User, now: NaiveDateTime) -> Self {
        let locked = user.is_locked(now);
        let status = if user.disabled {
            "disabled".to_string()
        } else if locked {
            format!("locked until {}", format_time(user.locked_until))
        } else {
            "active".to_string()
        };
        UserRow {
            id: user.id,
            email: user.email.clone(),
            role: user.role.clone(),
            status,
            locked,
            disabled: user.disabled,
            last_login: format_time(user.last_login_at),
            created: format_time(Some(user.created_at)),
        }
    }
}

#[derive(Default)]
pub struct NewUserErrors {
    email: Option<String>,
    password: Option<String>,
    confirm: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "users/list.html")]
struct UsersPage {
    layout: Layout,
    users: Vec<UserRow>,
    form: NewUserForm,
    errors: NewUserErrors,
}

#[derive(Deserialize, Default)]
pub struct NewUserForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
}

async fn users_page(
    req: &HttpRequest,
    state: &AppState,
    who: &AdminSession,
    form: NewUserForm,
    errors: NewUserErrors,
    status: StatusCode,
) -> Result<HttpResponse, WebError> {
    let users = db(&state.pool, model::users::list).await?;
    let now = model::now();
    let page = UsersPage {
        layout: Layout::new(req, "Users", "users", who),
        users: users.iter().map(|u| UserRow::new(u, now)).collect(),
        form: NewUserForm {
            password: String::new(),
            password_confirm: String::new(),
            ..form
        },
        errors,
    };
    Ok(render_status(req, page, status))
}

pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: AdminSession,
) -> Result<HttpResponse, WebError> {
    let form = NewUserForm {
        role: "admin".into(),
        ..NewUserForm::default()
    };
    users_page(
        &req,
        &state,
        &who,
        form,
        NewUserErrors::default(),
        StatusCode::OK,
    )
    .await
}

pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    posted: Protected<NewUserForm>,
) -> Result<HttpResponse, WebError> {
    let Protected { session: who, form } = posted;
    let mut errors = NewUserErrors::default();
    let role = Role::parse(&form.role);
    if role.is_none() {
        return Err(WebError::BadRequest(
            "Choose the role admin or sync.".into(),
        ));
    }
    if form.password != form.password_confirm {
        errors.confirm = Some("The two passwords differ.".into());
    } else {
        let actor = who.actor();
        let (email, password) = (form.email.clone(), form.password.clone());
        let role = role.unwrap_or(Role::Sync);
        let added = db(&state.pool, move |conn| {
            Ok::<_, WebError>(accounts::add_user(conn, &actor, &email, &password, role))
        })
        .await?;
        match added {
            Ok(user) => {
                let message = format!("Added {} ({}).", user.email, user.role);
                return Ok(redirect_with_flash("/users", &message));
            }
            Err(e @ (AccountError::InvalidEmail(_) | AccountError::EmailTaken(_))) => {
                errors.email = Some(e.to_string())
            }
            Err(AccountError::WeakPassword(m)) => errors.password = Some(m),
            Err(other) => return Err(other.into()),
        }
    }
    users_page(
        &req,
        &state,
        &who,
        form,
        errors,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

/// A session as the user page shows it.
pub struct SessionRow {
    pub id: i64,
    pub created: String,
    pub last_seen: String,
    pub ip: String,
    pub user_agent: String,
    pub current: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "users/show.html")]
struct UserPage {
    layout: Layout,
    user: UserRow,
    is_self: bool,
    sessions: Vec<SessionRow>,
    password_error: Option<String>,
    confirm_error: Option<String>,
}

async fn load_user(state: &AppState, id: i64) -> Result<(User, Vec<Session>), WebError> {
    db(&state.pool, move |conn| {
        let user = model::users::find(conn, id)?.ok_or(WebError::NotFound)?;
        let sessions = model::sessions::list_for_user(conn, id)?;
        Ok::<_, WebError>((user, sessions))
    })
    .await
}

async fn user_page(
    req: &HttpRequest,
    state: &AppState,
    who: &AdminSession,
    id: i64,
    password_error: Option<String>,
    confirm_error: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, WebError> {
    let (user, user_sessions) = load_user(state, id).await?;
    let now = model::now();
    let sessions = user_sessions
        .iter()
        .filter(|s| sessions::is_live(s, now))
        .map(|s| SessionRow {
            id: s.id,
            created: format_time(Some(s.created_at)),
            last_seen: format_time(Some(s.last_seen_at)),
            ip: s.ip.clone().unwrap_or_default(),
            user_agent: s.user_agent.clone().unwrap_or_default(),
            current: s.id == who.session_id,
        })
        .collect();
    let page = UserPage {
        layout: Layout::new(req, &user.email, "users", who),
        is_self: user.id == who.user.id,
        user: UserRow::new(&user, now),
        sessions,
        password_error,
        confirm_error,
    };
    Ok(render_status(req, page, status))
}

pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: AdminSession,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    user_page(
        &req,
        &state,
        &who,
        id.into_inner(),
        None,
        None,
        StatusCode::OK,
    )
    .await
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
}

pub async fn reset_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    posted: Protected<PasswordForm>,
) -> Result<HttpResponse, WebError> {
    let id = id.into_inner();
    let Protected { session: who, form } = posted;
    if form.password != form.password_confirm {
        let differ = Some("The two passwords differ.".to_string());
        return user_page(
            &req,
            &state,
            &who,
            id,
            None,
            differ,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let actor = who.actor();
    let keep = Some(who.session_id);
    let changed = db(&state.pool, move |conn| {
        let user = model::users::find(conn, id)?.ok_or(WebError::NotFound)?;
        Ok::<_, WebError>(
            accounts::set_password(conn, &actor, &user, &form.password, keep).map(|n| (user, n)),
        )
    })
    .await?;
    match changed {
        Ok((user, ended)) => {
            let message = format!(
                "Password of {} changed; {ended} session(s) ended.",
                user.email
            );
            Ok(redirect_with_flash(&format!("/users/{id}"), &message))
        }
        Err(AccountError::WeakPassword(m)) => {
            user_page(
                &req,
                &state,
                &who,
                id,
                Some(m),
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(other) => Err(other.into()),
    }
}

/// Run an account action on user `id` and redirect back with its outcome.
async fn user_action<F>(
    state: &AppState,
    id: i64,
    who: &AdminSession,
    done: &str,
    action: F,
) -> Result<HttpResponse, WebError>
where
    F: FnOnce(
            &mut crate::db::DbConnection,
            &crate::audit::Actor,
            &User,
        ) -> Result<(), AccountError>
        + Send
        + 'static,
{
    let actor = who.actor();
    let outcome = db(&state.pool, move |conn| {
        let user = model::users::find(conn, id)?.ok_or(WebError::NotFound)?;
        Ok::<_, WebError>(action(conn, &actor, &user).map(|_| user.email))
    })
    .await?;
    let back = format!("/users/{id}");
    match outcome {
        Ok(email) => Ok(redirect_with_flash(&back, &format!("{email}: {done}"))),
        Err(AccountError::Refused(why)) => Ok(redirect_with_error(&back, &why)),
        Err(other) => Err(other.into()),
    }
}

pub async fn disable(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    posted: Protected<NoFields>,
) -> Result<HttpResponse, WebError> {
    user_action(
        &state,
        id.into_inner(),
        &posted.session,
        "disabled, sessions ended.",
        |c, a, u| accounts::set_disabled(c, a, u, true),
    )
    .await
}

pub async fn enable(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    posted: Protected<NoFields>,
) -> Result<HttpResponse, WebError> {
    user_action(
        &state,
        id.into_inner(),
        &posted.session,
        "enabled.",
        |c, a, u| accounts::set_disabled(c, a, u, false),
    )
    .await
}

pub async fn unlock(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    posted: Protected<NoFields>,
) -> Result<HttpResponse, WebError> {
    user_action(
        &state,
        id.into_inner(),
        &posted.session,
        "unlocked.",
        accounts::unlock,
    )
    .await
}

pub async fn revoke_session(
    state: web::Data<AppState>,
    path: web::Path<(i64, i64)>,
    posted: Protected<NoFields>,
) -> Result<HttpResponse, WebError> {
    let (id, session_id) = path.into_inner();
    user_action(
        &state,
        id,
        &posted.session,
        "session ended.",
        move |c, a, u| {
            if sessions::revoke(c, a, u, session_id)? {
                Ok(())
            } else {
                Err(AccountError::Refused(
                    "That session has already ended.".into(),
                ))
            }
        },
    )
    .await
}

#[derive(Template, WebTemplate)]
#[template(path = "users/audit.html")]
struct AuditPage {
    layout: Layout,
    entries: Vec<AuditEntry>,
    older: Option<i64>,
}

#[derive(Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    before: QueryNumber,
}

const AUDIT_PAGE_SIZE: i64 = 100;

pub async fn audit(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: AdminSession,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, WebError> {
    let before = query.before.value();
    let entries = db(&state.pool, move |conn| {
        model::audit_log::list(conn, before, AUDIT_PAGE_SIZE)
    })
    .await?;
    let older = (entries.len() as i64 == AUDIT_PAGE_SIZE)
        .then(|| entries.last().map(|e| e.id))
        .flatten();
    let mut layout = Layout::new(&req, "Audit log", "audit", &who);
    layout.flash = problems(&[("Page", &query.before)]).or(layout.flash);
    let page = AuditPage {
        layout,
        entries,
        older,
    };
    Ok(render(&req, page))
}
