//! The logged-in administrator's own account: change password.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use crate::accounts::{self, AccountError, password};
use crate::error::WebError;
use crate::web::session::{AdminSession, Protected};
use crate::web::{AppState, Layout, db, redirect_with_flash, render_status};

#[derive(Template, WebTemplate)]
#[template(path = "account/password.html")]
struct PasswordPage {
    layout: Layout,
    errors: PasswordErrors,
}

#[derive(Default)]
struct PasswordErrors {
    current: Option<String>,
    password: Option<String>,
    confirm: Option<String>,
}

fn page(
    req: &HttpRequest,
    who: &AdminSession,
    errors: PasswordErrors,
    status: StatusCode,
) -> HttpResponse {
    let page = PasswordPage {
        layout: Layout::new(req, "Change your password", "account", who),
        errors,
    };
    render_status(req, page, status)
}

pub async fn password_form(req: HttpRequest, who: AdminSession) -> HttpResponse {
    page(&req, &who, PasswordErrors::default(), StatusCode::OK)
}

#[derive(Deserialize)]
pub struct ChangePasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
}

/// Changing one's password ends every other session of the account; the
/// one in use stays logged in.
pub async fn change_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    posted: Protected<ChangePasswordForm>,
) -> Result<HttpResponse, WebError> {
    let Protected { session: who, form } = posted;
    let mut errors = PasswordErrors::default();
    if form.password != form.password_confirm {
        errors.confirm = Some("The two passwords differ.".into());
        return Ok(page(&req, &who, errors, StatusCode::UNPROCESSABLE_ENTITY));
    }
    let actor = who.actor();
    let user = who.user.clone();
    let keep = Some(who.session_id);
    let outcome = db(&state.pool, move |conn| {
        if !password::verify(&form.current_password, &user.password_hash) {
            return Ok::<_, WebError>(Err(None));
        }
        Ok(accounts::set_password(conn, &actor, &user, &form.password, keep).map_err(Some))
    })
    .await?;
    match outcome {
        Ok(ended) => Ok(redirect_with_flash(
            "/account/password",
            &format!("Your password is changed; {ended} other session(s) ended."),
        )),
        Err(None) => {
            errors.current = Some("This is not your current password.".into());
            Ok(page(&req, &who, errors, StatusCode::UNPROCESSABLE_ENTITY))
        }
        Err(Some(AccountError::WeakPassword(m))) => {
            errors.password = Some(m);
            Ok(page(&req, &who, errors, StatusCode::UNPROCESSABLE_ENTITY))
        }
        Err(Some(other)) => Err(other.into()),
    }
}
