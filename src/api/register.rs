//! A peer announcing itself (`register.json`): the repository for its uuid
//! is created or updated. A `sync` account may only act as the repositories
//! it is bound to; the repository it registers is bound to it. A new peer's
//! pushes are refused until an administrator accepts them, unless the
//! setting "accept pushes from newly registered peers" is on.

use diesel::Connection;

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};

use super::body::read_small_body;
use super::error::{ProtocolError, eden_json};
use super::{access, authenticate, with_conn};
use crate::db::DbConnection;
use crate::model;
use crate::model::sync_log::NewLogEntry;
use crate::model::users::{Role, User};
use crate::state::AppState;
use crate::vocabulary::LogResult;

/// New repositories created by registration per hour, whoever registers:
/// enough for a deployment bringing sites online, far too few to fill the
/// node with junk.
const NEW_REGISTRATIONS_PER_HOUR: i64 = 60;

/// Registration bodies are small JSON objects.
const MAX_REGISTRATION_BYTES: usize = 64 * 1024;

/// What edensync peers learn at registration (Eden ignores extra keys):
/// pulls page by `since_seq` + `limit`, answers are gzip-compressed on
/// request, and documents may be JSON lines both ways.
const CAPABILITIES: &[&str] = &["since_seq", "limit", "gzip", "ndjson"];

/// `repository/{file}`: only `register.json` is served. Creates or updates
/// the peer's repository by its uuid and answers with ours.
pub(super) async fn register(
    req: HttpRequest,
    state: web::Data<AppState>,
    file: String,
    payload: web::Payload,
) -> Result<HttpResponse, ProtocolError> {
    let account = authenticate(&req, &state).await?;
    let (name, extension) = file.rsplit_once('.').unwrap_or((file.as_str(), ""));
    if name != "register" {
        return Err(ProtocolError::NotFound("Not found".into()));
    }
    if extension != "json" {
        return Err(ProtocolError::UnsupportedFormat);
    }
    if req.method() != Method::POST && req.method() != Method::PUT {
        return Err(ProtocolError::MethodNotAllowed);
    }
    let body = read_small_body(payload, MAX_REGISTRATION_BYTES).await?;
    let RegistrationBody {
        uuid,
        name,
        api_type,
    } = parse_body(&body).map_err(ProtocolError::BadRequest)?;
    let site_uuid = state.site_uuid.clone();
    let Some(peer_uuid) = uuid else {
        // Eden answers this with HTTP 200 and a failure inside.
        let mut answer = eden_json(false, 400, "No repository identifier specified");
        answer.insert("sender".into(), site_uuid.into());
        return Ok(HttpResponse::Ok().json(answer));
    };
    let outcome = with_conn(&state, move |conn, _| {
        let request = Registration {
            peer_uuid: &peer_uuid,
            name: name.as_deref(),
            api_type: api_type.as_deref(),
        };
        register_peer(conn, &account, &request)
    })
    .await?;
    let mut answer = eden_json(true, 200, outcome.message());
    answer.insert("sender".into(), site_uuid.into());
    answer.insert("server".into(), crate::SERVER_NAME.into());
    answer.insert("capabilities".into(), CAPABILITIES.to_vec().into());
    Ok(HttpResponse::Ok().json(answer))
}

pub struct Registration<'a> {
    pub peer_uuid: &'a str,
    pub name: Option<&'a str>,
    pub api_type: Option<&'a str>,
}

/// The body of `register.json` as a peer sends it: JSON whatever the
/// Content-Type says (Eden sends it as application/x-www-form-urlencoded).
#[derive(Debug, Default, PartialEq)]
pub struct RegistrationBody {
    /// `None`: no uuid given (Eden answers that with a failure inside a 200).
    pub uuid: Option<String>,
    pub name: Option<String>,
    pub api_type: Option<String>,
}

/// The longest peer uuid accepted (Eden's are `urn:uuid:` and 36 characters).
pub const MAX_PEER_UUID_CHARS: usize = 255;
/// Names longer than this are cut (they only label the repository).
pub const MAX_PEER_NAME_CHARS: usize = 100;
const MAX_API_TYPE_CHARS: usize = 32;

/// Read a registration body; the error is the message for a 400.
pub fn parse_body(body: &[u8]) -> Result<RegistrationBody, String> {
    let parsed: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("Invalid parameters: {e}"))?;
    let text = |key: &str| {
        parsed
            .get(key)
            .and_then(serde_json::Value::as_str)
            .map(str::trim)
            .filter(|t| !t.is_empty())
    };
    let uuid = match text("uuid") {
        Some(uuid)
            if uuid.chars().count() > MAX_PEER_UUID_CHARS
                || uuid.chars().any(|c| c.is_whitespace() || c.is_control()) =>
        {
            return Err(format!(
                "Invalid parameters: uuid must be one word of at most {MAX_PEER_UUID_CHARS} characters"
            ));
        }
        uuid => uuid.map(str::to_string),
    };
    let api_type = match text("apitype") {
        Some(api) if api.chars().count() > MAX_API_TYPE_CHARS || !api.is_ascii() => {
            return Err("Invalid parameters: apitype is not an API type".into());
        }
        api => api.map(str::to_string),
    };
    // A label only: keep what can be shown, cut to length.
    let name = text("name")
        .map(|n| {
            n.chars()
                .filter(|c| !c.is_control())
                .take(MAX_PEER_NAME_CHARS)
                .collect::<String>()
        })
        .filter(|n| !n.trim().is_empty());
    Ok(RegistrationBody {
        uuid,
        name,
        api_type,
    })
}

/// What Eden answers, by case.
pub enum Registered {
    Created,
    Updated,
}

impl Registered {
    pub fn message(&self) -> &'static str {
        match self {
            Registered::Created => "Registration successful",
            Registered::Updated => "Registration update successful",
        }
    }
}

pub fn register_peer(
    conn: &mut DbConnection,
    account: &User,
    request: &Registration,
) -> Result<Registered, ProtocolError> {
    let now = model::now();
    let api_type = request.api_type.filter(|a| !a.is_empty()).unwrap_or("eden");
    conn.transaction(|conn| {
        let existing = match model::repositories::find_by_peer_uuid(conn, request.peer_uuid)? {
            Some(existing) => Some(existing),
            None => claimable(conn, account, request.peer_uuid)?,
        };
        let (repository_id, outcome) = match existing {
            Some(existing) => {
                access::ensure_acts_as(conn, account, Some(&existing), Some(request.peer_uuid))?;
                model::repositories::update_registered(conn, existing.id, api_type, now)?;
                (existing.id, Registered::Updated)
            }
            None => {
                ensure_may_register_another(conn, account, now)?;
                let wanted = request
                    .name
                    .filter(|n| !n.trim().is_empty())
                    .unwrap_or(request.peer_uuid);
                // Commands take a repository's name or id: a number is an id.
                let wanted = &if wanted.chars().all(|c| c.is_ascii_digit()) {
                    format!("peer {wanted}")
                } else {
                    wanted.to_string()
                };
                let name = if model::repositories::name_taken(conn, wanted)? {
                    format!("{wanted} ({})", request.peer_uuid)
                } else {
                    wanted.to_string()
                };
                let accept_push =
                    model::sync_config::get(conn)?.is_some_and(|c| c.accept_push_from_new_peers);
                let created = model::repositories::insert_registered(
                    conn,
                    &name,
                    request.peer_uuid,
                    api_type,
                    accept_push,
                    now,
                )?;
                (created.id, Registered::Created)
            }
        };
        if account.role() == Some(Role::Sync) {
            model::repositories::bind_account(conn, repository_id, account.id)?;
        }
        model::sync_log::insert(
            conn,
            &NewLogEntry {
                logged_at: now,
                repository_id: Some(repository_id),
                run_id: None,
                resource_name: Some("none"),
                mode: "register/incoming",
                action: "none",
                result: LogResult::Success,
                remote: false,
                message: outcome.message(),
            },
        )?;
        Ok(outcome)
    })
}

/// The repository an administrator set up for this sync account without the
/// peer's uuid: the account's first registration gives it that uuid.
fn claimable(
    conn: &mut DbConnection,
    account: &User,
    peer_uuid: &str,
) -> Result<Option<model::repositories::Repository>, ProtocolError> {
    if account.role() != Some(Role::Sync) {
        return Ok(None);
    }
    let mut bound = model::repositories::bound_to(conn, account.id)?;
    if bound.len() != 1 || bound[0].peer_uuid.is_some() {
        return Ok(None);
    }
    let repository = bound.remove(0);
    model::repositories::set_peer_uuid(conn, repository.id, peer_uuid)?;
    Ok(Some(model::repositories::Repository {
        peer_uuid: Some(peer_uuid.to_string()),
        ..repository
    }))
}

/// A sync account stands for one peer: it registers one repository (an
/// administrator may bind it to more). And new registrations are throttled.
fn ensure_may_register_another(
    conn: &mut DbConnection,
    account: &User,
    now: chrono::NaiveDateTime,
) -> Result<(), ProtocolError> {
    if account.role() == Some(Role::Sync)
        && !model::repositories::bound_to(conn, account.id)?.is_empty()
    {
        return Err(ProtocolError::Forbidden(format!(
            "The account {} already acts as another repository: one sync account stands for one peer (an administrator can add an account for this one)",
            account.email
        )));
    }
    let hour_ago = now - chrono::Duration::hours(1);
    let recent = model::sync_log::count_since(
        conn,
        "register/incoming",
        Registered::Created.message(),
        hour_ago,
    )?;
    if recent >= NEW_REGISTRATIONS_PER_HOUR {
        return Err(ProtocolError::Throttled {
            message: format!("{recent} new peers registered in the last hour: try again later"),
            retry_after_secs: 600,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{MAX_PEER_NAME_CHARS, RegistrationBody, parse_body};

    #[test]
    fn registration_bodies() {
        assert_eq!(
            parse_body(br#"{"uuid": " urn:uuid:a ", "name": "Field office\n", "apitype": "eden"}"#),
            Ok(RegistrationBody {
                uuid: Some("urn:uuid:a".into()),
                name: Some("Field office".into()),
                api_type: Some("eden".into()),
            })
        );
        assert_eq!(parse_body(br#"{"uuid": "  "}"#).unwrap().uuid, None);
        assert_eq!(parse_body(br#"{"uuid": 7}"#).unwrap().uuid, None);
        assert!(
            parse_body(b"uuid=urn:uuid:a")
                .unwrap_err()
                .starts_with("Invalid parameters")
        );
        assert!(parse_body(br#"{"uuid": "two words"}"#).is_err());
        let long = format!(r#"{{"uuid": "{}"}}"#, "u".repeat(256));
        assert!(parse_body(long.as_bytes()).is_err());
        let named = format!(r#"{{"uuid": "x", "name": "{}"}}"#, "n".repeat(500));
        let name = parse_body(named.as_bytes()).unwrap().name.unwrap();
        assert_eq!(name.chars().count(), MAX_PEER_NAME_CHARS);
    }
}
