//! Logging in and out, and the one-time setup of the first administrator.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use crate::accounts::sessions::{random_token, tokens_equal};
use crate::accounts::setup::{self, SetupError};
use crate::accounts::{self, AccountError, LoginRefusal, sessions};
use crate::error::WebError;
use crate::web::session::{
    LOGIN_CSRF_COOKIE, NoFields, Protected, SESSION_COOKIE, console_cookie, removal_cookie,
};
use crate::web::{AppState, Layout, client_ip, db, redirect, redirect_with_flash, render_status};

/// Shown for a wrong password, an unknown address and a locked account
/// alike, so the form reveals nothing about which accounts exist.
const LOGIN_FAILED: &str = "The e-mail address or password is not correct, or the account is \
                            temporarily locked after too many failed attempts.";

#[derive(Template, WebTemplate)]
#[template(path = "auth/login.html")]
struct LoginPage {
    layout: Layout,
    csrf: String,
    email: String,
    next: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

fn user_agent(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Only a path of this site is followed after login (no open redirect).
/// The path is read as a browser reads it (tabs and newlines dropped,
/// backslashes as slashes): whatever would leave this origin goes to `/`,
/// and what remains is written back percent-encoded, fit for a header.
fn safe_next(next: Option<&str>) -> String {
    let base = url::Url::parse("http://edensync.invalid/").expect("a valid base URL");
    let local = next
        .filter(|n| n.starts_with('/'))
        .and_then(|n| base.join(n).ok())
        .filter(|u| u.origin() == base.origin())
        // A path that starts with two slashes (`/.//evil.example`) would be
        // read as another host once written back.
        .filter(|u| !u.path().starts_with("//"));
    match local {
        Some(u) => match u.query() {
            Some(query) => format!("{}?{query}", u.path()),
            None => u.path().to_string(),
        },
        None => "/".to_string(),
    }
}

fn login_page(
    req: &HttpRequest,
    state: &AppState,
    email: &str,
    next: &str,
    error: Option<&str>,
    status: StatusCode,
) -> HttpResponse {
    let csrf = random_token();
    let page = LoginPage {
        layout: Layout::public(req, "Log in"),
        csrf: csrf.clone(),
        email: email.to_string(),
        next: next.to_string(),
        error: error.map(str::to_string),
    };
    let mut response = render_status(req, page, status);
    let _ = response.add_cookie(&console_cookie(
        LOGIN_CSRF_COOKIE,
        csrf,
        state.secure_cookies,
    ));
    response
}

pub async fn login_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<NextQuery>,
) -> HttpResponse {
    let next = safe_next(query.next.as_deref());
    login_page(&req, &state, "", &next, None, StatusCode::OK)
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
    next: Option<String>,
}

pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, WebError> {
    let form = form.into_inner();
    let next = safe_next(form.next.as_deref());
    let ip = client_ip(&req);

    if let Some(ip) = ip
        && let Err(wait) = state.login_throttle.check(ip)
    {
        let minutes = wait.as_secs().div_ceil(60).max(1);
        return Err(WebError::TooManyRequests {
            message: format!(
                "Too many failed logins from your address. Try again in {minutes} minute(s)."
            ),
            retry_after_secs: wait.as_secs().max(1),
        });
    }
    let cookie_csrf = req
        .cookie(LOGIN_CSRF_COOKIE)
        .map(|c| c.value().to_string())
        .unwrap_or_default();
    if cookie_csrf.is_empty() || !tokens_equal(&cookie_csrf, &form.csrf) {
        let message = "Your login form expired. Please enter your password again.";
        return Ok(login_page(
            &req,
            &state,
            &form.email,
            &next,
            Some(message),
            StatusCode::FORBIDDEN,
        ));
    }

    let ip_text = ip.map(|ip| ip.to_string());
    let user_agent = user_agent(&req);
    let old_session = req.cookie(SESSION_COOKIE).map(|c| c.value().to_string());
    let (email, password) = (form.email.clone(), form.password);
    let outcome = db(&state.pool, move |conn| {
        let outcome = accounts::console_login(conn, &email, &password, ip_text.clone())?;
        let user = match outcome {
            Ok(user) => user,
            Err(refusal) => return Ok::<_, AccountError>(Err(refusal)),
        };
        // A new token at every login: a session id planted before login
        // (fixation) is worth nothing afterwards.
        if let Some(old) = old_session
            && let Some((old, _)) = sessions::resolve(conn, &old)?
        {
            crate::model::sessions::delete(conn, old.id)?;
        }
        let (token, _) = sessions::start(conn, &user, ip_text.as_deref(), user_agent.as_deref())?;
        Ok(Ok((user, token)))
    })
    .await?;

    match outcome {
        Ok((_user, token)) => {
            let mut response = redirect(&next);
            let _ =
                response.add_cookie(&console_cookie(SESSION_COOKIE, token, state.secure_cookies));
            let _ = response.add_cookie(&removal_cookie(LOGIN_CSRF_COOKIE));
            Ok(response)
        }
        Err(refusal) => {
            if let Some(ip) = ip {
                state.login_throttle.record_failure(ip);
            }
            let message = match refusal {
                LoginRefusal::BadCredentials | LoginRefusal::Locked => LOGIN_FAILED,
                LoginRefusal::NotConsoleAccount => {
                    "This is a sync account: it authenticates peers on the sync API and cannot \
                     use the console. Log in with an administrator account."
                }
            };
            Ok(login_page(
                &req,
                &state,
                &form.email,
                &next,
                Some(message),
                StatusCode::UNAUTHORIZED,
            ))
        }
    }
}

pub async fn logout(
    state: web::Data<AppState>,
    posted: Protected<NoFields>,
) -> Result<HttpResponse, WebError> {
    let session = posted.session;
    let actor = session.actor();
    let session_id = session.session_id;
    db(&state.pool, move |conn| {
        sessions::end(conn, &actor, session_id)
    })
    .await?;
    let mut response = redirect_with_flash("/login", "You are logged out.");
    let _ = response.add_cookie(&removal_cookie(SESSION_COOKIE));
    Ok(response)
}

#[derive(Template, WebTemplate)]
#[template(path = "auth/setup.html")]
struct SetupPage {
    layout: Layout,
    token: String,
    email: String,
    errors: SetupErrors,
    /// Why the link cannot be used; the form is not shown then.
    unusable: Option<String>,
}

#[derive(Default)]
struct SetupErrors {
    email: Option<String>,
    password: Option<String>,
    confirm: Option<String>,
}

#[derive(Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
}

pub async fn setup_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<TokenQuery>,
) -> Result<HttpResponse, WebError> {
    let token = query.into_inner().token;
    let check = token.clone();
    let problem = db(&state.pool, move |conn| setup::check_token(conn, &check)).await?;
    let status = if problem.is_some() {
        StatusCode::FORBIDDEN
    } else {
        StatusCode::OK
    };
    let unusable = problem.map(|p| p.to_string());
    let page = SetupPage {
        layout: Layout::public(&req, "Set up edensync"),
        token,
        email: String::new(),
        errors: SetupErrors::default(),
        unusable,
    };
    Ok(render_status(&req, page, status))
}

#[derive(Deserialize)]
pub struct SetupForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
}

pub async fn setup(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<SetupForm>,
) -> Result<HttpResponse, WebError> {
    let form = form.into_inner();
    let mut errors = SetupErrors::default();
    if form.password != form.password_confirm {
        errors.confirm = Some("The two passwords differ.".into());
    }
    let ip = client_ip(&req).map(|ip| ip.to_string());
    let user_agent = user_agent(&req);

    let mut unusable = None;
    if errors.confirm.is_none() {
        let (token, email, password) = (
            form.token.clone(),
            form.email.clone(),
            form.password.clone(),
        );
        let outcome: Result<String, SetupError> = db(&state.pool, move |conn| {
            let outcome =
                setup::complete(conn, &token, &email, &password, ip.clone()).and_then(|user| {
                    let (session, _) =
                        sessions::start(conn, &user, ip.as_deref(), user_agent.as_deref())?;
                    Ok(session)
                });
            Ok::<_, WebError>(outcome)
        })
        .await?;
        match outcome {
            Ok(token) => {
                let mut response =
                    redirect_with_flash("/", "Welcome: edensync is set up and you are logged in.");
                let _ = response.add_cookie(&console_cookie(
                    SESSION_COOKIE,
                    token,
                    state.secure_cookies,
                ));
                return Ok(response);
            }
            Err(SetupError::Account(
                e @ (AccountError::InvalidEmail(_) | AccountError::EmailTaken(_)),
            )) => errors.email = Some(e.to_string()),
            Err(SetupError::Account(AccountError::WeakPassword(m))) => errors.password = Some(m),
            Err(SetupError::Account(AccountError::Db(e))) => return Err(e.into()),
            Err(other) => unusable = Some(other.to_string()),
        }
    }
    let status = if unusable.is_some() {
        StatusCode::FORBIDDEN
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = SetupPage {
        layout: Layout::public(&req, "Set up edensync"),
        token: form.token,
        email: form.email,
        errors,
        unusable,
    };
    Ok(render_status(&req, page, status))
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_paths_of_this_site_survive() {
        for (next, expected) in [
            (Some("/audit"), "/audit"),
            (
                Some("/logs?repository=2&q=a b"),
                "/logs?repository=2&q=a%20b",
            ),
            (Some("//evil.example/"), "/"),
            (Some("/\t/evil.example/"), "/"),
            (Some("/\tevil.example"), "/evil.example"),
            (Some("/\t\\evil.example"), "/"),
            (Some("/\\evil.example"), "/"),
            (Some("/\n/evil.example"), "/"),
            (Some("/a\r\nSet-Cookie: x=1"), "/aSet-Cookie:%20x=1"),
            (Some("https://evil.example/"), "/"),
            (Some("/.//evil.example/"), "/"),
            (Some("/%2e//evil.example"), "/"),
            (Some("/a/..//evil.example"), "/"),
            (Some("javascript:alert(1)"), "/"),
            (None, "/"),
        ] {
            assert_eq!(safe_next(next), expected, "{next:?}");
        }
    }
}
