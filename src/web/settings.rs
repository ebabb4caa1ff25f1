//! The settings page: this node's name and identity, the default proxy,
//! timeouts, backoff, log retention, whether newly registered peers may
//! push, the clock-skew margin, the bearer token of `/metrics`. Each value is validated by
//! `manage::settings`; the form is saved whole or not at all
//! (`manage::settings::set_all_or_none`).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use crate::error::WebError;
use crate::manage::{self, ManageError};
use crate::model;
use crate::model::sync_config::SyncConfig;
use crate::web::repositories::manage_error;
use crate::web::session::{AdminSession, Protected};
use crate::web::{AppState, FormErrors, Layout, redirect_with_flash, render_status};

#[derive(Deserialize, Default, Clone)]
pub struct PostedSettings {
    #[serde(default)]
    site_name: String,
    #[serde(default)]
    proxy_url: String,
    #[serde(default)]
    proxy_username: String,
    #[serde(default)]
    proxy_password: String,
    #[serde(default)]
    clear_proxy_password: Option<String>,
    #[serde(default)]
    connect_timeout_secs: String,
    #[serde(default)]
    read_timeout_secs: String,
    #[serde(default)]
    request_timeout_secs: String,
    #[serde(default)]
    backoff_base_secs: String,
    #[serde(default)]
    backoff_cap_secs: String,
    #[serde(default)]
    log_retention_days: String,
    #[serde(default)]
    accept_push_from_new_peers: Option<String>,
    #[serde(default)]
    clock_skew_warn_secs: String,
    #[serde(default)]
    metrics_token: String,
    #[serde(default)]
    clear_metrics_token: Option<String>,
}

impl PostedSettings {
    fn of(config: &SyncConfig) -> PostedSettings {
        PostedSettings {
            site_name: config.site_name.clone(),
            proxy_url: config.proxy_url.clone().unwrap_or_default(),
            proxy_username: config.proxy_username.clone().unwrap_or_default(),
            proxy_password: String::new(),
            clear_proxy_password: None,
            connect_timeout_secs: config.connect_timeout_secs.to_string(),
            read_timeout_secs: config.read_timeout_secs.to_string(),
            request_timeout_secs: config.request_timeout_secs.to_string(),
            backoff_base_secs: config.backoff_base_secs.to_string(),
            backoff_cap_secs: config.backoff_cap_secs.to_string(),
            log_retention_days: config.log_retention_days.to_string(),
            accept_push_from_new_peers: config.accept_push_from_new_peers.then(|| "on".into()),
            clock_skew_warn_secs: config.clock_skew_warn_secs.to_string(),
            metrics_token: String::new(),
            clear_metrics_token: None,
        }
    }

    /// The settings that differ from what is stored, as `config set` keys.
    fn changes(&self, current: &PostedSettings) -> Vec<(&'static str, String)> {
        let pairs = [
            ("site_name", &self.site_name, &current.site_name),
            ("proxy_url", &self.proxy_url, &current.proxy_url),
            (
                "proxy_username",
                &self.proxy_username,
                &current.proxy_username,
            ),
            (
                "connect_timeout_secs",
                &self.connect_timeout_secs,
                &current.connect_timeout_secs,
            ),
            (
                "read_timeout_secs",
                &self.read_timeout_secs,
                &current.read_timeout_secs,
            ),
            (
                "request_timeout_secs",
                &self.request_timeout_secs,
                &current.request_timeout_secs,
            ),
            (
                "backoff_base_secs",
                &self.backoff_base_secs,
                &current.backoff_base_secs,
            ),
            (
                "backoff_cap_secs",
                &self.backoff_cap_secs,
                &current.backoff_cap_secs,
            ),
            (
                "log_retention_days",
                &self.log_retention_days,
                &current.log_retention_days,
            ),
            (
                "clock_skew_warn_secs",
                &self.clock_skew_warn_secs,
                &current.clock_skew_warn_secs,
            ),
        ];
        let mut changes: Vec<(&'static str, String)> = pairs
            .into_iter()
            .filter(|(_, new, old)| new.trim() != old.trim())
            .map(|(key, new, _)| (key, new.trim().to_string()))
            .collect();
        if !self.proxy_password.is_empty() {
            changes.push(("proxy_password", self.proxy_password.clone()));
        } else if self.clear_proxy_password.is_some() {
            changes.push(("proxy_password", String::new()));
        }
        if !self.metrics_token.trim().is_empty() {
            changes.push(("metrics_token", self.metrics_token.clone()));
        } else if self.clear_metrics_token.is_some() {
            changes.push(("metrics_token", String::new()));
        }
        let accept = self.accept_push_from_new_peers.is_some();
        if accept != current.accept_push_from_new_peers.is_some() {
            changes.push(("accept_push_from_new_peers", accept.to_string()));
        }
        changes
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "settings/index.html")]
struct SettingsPage {
    layout: Layout,
    site_uuid: String,
    form: PostedSettings,
    proxy_password_set: bool,
    metrics_token_set: bool,
    errors: FormErrors,
}

async fn config(state: &AppState) -> Result<SyncConfig, WebError> {
    super::db(&state.pool, |conn| {
        model::sync_config::get(conn)?
            .ok_or_else(|| WebError::Internal("sync_config row missing".into()))
    })
    .await
}

pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: AdminSession,
) -> Result<HttpResponse, WebError> {
    let config = config(&state).await?;
    let page = SettingsPage {
        layout: Layout::new(&req, "Settings", "settings", &who),
        site_uuid: config.site_uuid.clone(),
        form: PostedSettings::of(&config),
        proxy_password_set: config.proxy_password_enc.is_some(),
        metrics_token_set: config.metrics_token_hash.is_some(),
        errors: FormErrors::default(),
    };
    Ok(render_status(&req, page, StatusCode::OK))
}

pub async fn save(
    req: HttpRequest,
    state: web::Data<AppState>,
    posted: Protected<PostedSettings>,
) -> Result<HttpResponse, WebError> {
    let Protected { session: who, form } = posted;
    let current = config(&state).await?;
    let changes = form.changes(&PostedSettings::of(&current));
    if changes.is_empty() {
        return Ok(redirect_with_flash("/settings", "Nothing changed."));
    }
    let actor = who.actor();
    let key = state.key.clone();
    let saved = super::db(&state.pool, move |conn| {
        let pairs: Vec<(&str, &str)> = changes.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Ok::<_, WebError>(manage::settings::set_all_or_none(
            conn, &actor, &key, &pairs,
        ))
    })
    .await?;
    match saved {
        Ok(saved) => Ok(redirect_with_flash(
            "/settings",
            &format!("{} setting(s) saved.", saved.len()),
        )),
        Err(ManageError::Invalid(errors)) => {
            let page = SettingsPage {
                layout: Layout::new(&req, "Settings", "settings", &who),
                site_uuid: current.site_uuid.clone(),
                form,
                proxy_password_set: current.proxy_password_enc.is_some(),
                metrics_token_set: current.metrics_token_hash.is_some(),
                errors: FormErrors(errors),
            };
            Ok(render_status(&req, page, StatusCode::UNPROCESSABLE_ENTITY))
        }
        Err(e) => Err(manage_error(e)),
    }
}
