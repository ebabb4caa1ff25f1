//! The test harness: real edensync servers on port 0 with their own
//! database (SQLite in a temp dir, or a fresh PostgreSQL database).

pub mod browser;
pub mod cli;
pub mod eden_table;
pub mod link;
pub mod peers;
pub mod postgres;
pub mod stand_in;
pub mod tls;

use std::collections::HashMap;
use std::path::Path;

use actix_web::dev::ServerHandle;
use edensync::app::{self, Node};
use edensync::config::{DatabaseUrl, Settings};
use edensync::db::PooledConnection;
use edensync::model::users::{Role, User};
use reqwest::Response;
use tempfile::TempDir;

pub const ADMIN_EMAIL: &str = "admin@example.org";
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";

/// Skip a test that needs something missing, loudly; fail instead when
/// `EDENSYNC_TEST_REQUIRE_ALL=1` (CI), so nothing is silently not tested.
pub fn skip_or_fail(why: &str) {
    if std::env::var("EDENSYNC_TEST_REQUIRE_ALL").is_ok_and(|v| v == "1") {
        panic!("{why} (EDENSYNC_TEST_REQUIRE_ALL=1 requires it)");
    }
    eprintln!("\n!!!!!!!! SKIPPED: {why} !!!!!!!!\n");
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Settings for a node in `dir` on the given backend; `None` when that
/// backend is not available here (the skip was announced).
pub fn settings_for(dir: &Path, backend: Backend) -> Option<Settings> {
    let mut settings = Settings::for_data_dir(dir);
    settings.bind = "127.0.0.1:0".parse().unwrap();
    settings.log = "warn".into();
    if backend == Backend::Postgres {
        settings.database = DatabaseUrl::Postgres(postgres::fresh_database_url()?);
    }
    Some(settings)
}

pub struct TestApp {
    pub url: String,
    pub node: Node,
    pub setup_url: Option<String>,
    /// The server's own engine (its metrics are what `/metrics` shows).
    pub engine: edensync::engine::Engine,
    /// Kept so the data directory lives as long as the server.
    _dir: TempDir,
    handle: ServerHandle,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        Self::spawn_with(backend, |_| {}).await
    }

    pub async fn spawn_with(
        backend: Backend,
        adjust: impl FnOnce(&mut Settings),
    ) -> Option<TestApp> {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = settings_for(dir.path(), backend)?;
        adjust(&mut settings);
        let node = tokio::task::spawn_blocking(move || app::open(settings))
            .await
            .unwrap()
            .expect("node opens");
        let running = app::start(node.clone()).expect("server starts");
        let handle = running.handle.clone();
        tokio::spawn(running.server);
        Some(TestApp {
            url: running.listen_url,
            node,
            setup_url: running.setup_url,
            engine: running.engine,
            _dir: dir,
            handle,
        })
    }

    pub fn conn(&self) -> PooledConnection {
        self.node.pool.get().unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    pub fn add_user(&self, email: &str, password: &str, role: Role) -> User {
        edensync::accounts::add_user(
            &mut self.conn(),
            &edensync::audit::Actor::system(),
            email,
            password,
            role,
        )
        .unwrap()
    }

    pub fn add_admin(&self) -> User {
        self.add_user(ADMIN_EMAIL, ADMIN_PASSWORD, Role::Admin)
    }

    /// The audit actions recorded so far, oldest first.
    pub fn audit_actions(&self) -> Vec<String> {
        let mut entries = edensync::model::audit_log::list(&mut self.conn(), None, 1000).unwrap();
        entries.reverse();
        entries.into_iter().map(|e| e.action).collect()
    }

    /// A fresh browser-like client: its own cookies, redirects not followed.
    pub fn client(&self) -> Client {
        Client {
            base: self.url.clone(),
            http: browser_http(),
        }
    }

    /// A client logged in as the given account (asserts the login worked).
    pub async fn logged_in(&self, email: &str, password: &str) -> Client {
        let client = self.client();
        let response = client.login(email, password).await;
        assert_eq!(response.status(), 303, "login of {email} should succeed");
        client
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // The stop command is sent at once; nothing needs to wait for it.
        drop(self.handle.stop(false));
    }
}

pub struct Client {
    pub base: String,
    pub http: reqwest::Client,
}

impl Client {
    pub async fn get(&self, path: &str) -> Response {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
    }

    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        self.http
            .post(format!("{}{path}", self.base))
            .form(fields)
            .send()
            .await
            .unwrap()
    }

    /// GET a page, take its CSRF token and post the form with it.
    pub async fn submit(&self, page: &str, action: &str, fields: &[(&str, &str)]) -> Response {
        let html = self.get(page).await.text().await.unwrap();
        let csrf = csrf_of(&html).unwrap_or_else(|| panic!("no CSRF token on {page}"));
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_form(action, &all).await
    }

    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.submit(
            "/login",
            "/login",
            &[("email", email), ("password", password)],
        )
        .await
    }

    /// Whether this client's session still opens the dashboard.
    pub async fn is_logged_in(&self) -> bool {
        let response = self.get("/").await;
        match response.status().as_u16() {
            200 => true,
            303 => false,
            other => panic!("unexpected status {other} for the dashboard"),
        }
    }
}

/// An HTTP client as a browser is one: its own cookies, redirects not followed.
pub fn browser_http() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// HTTP Basic credentials as they travel: `user:password` in base64.
pub fn basic_credentials(user: &str, password: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}

/// The value of the first `name="csrf"` hidden field of a page.
pub fn csrf_of(html: &str) -> Option<String> {
    let start = html.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_string())
}

pub fn location(response: &Response) -> String {
    response
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

pub fn set_cookies(response: &Response) -> Vec<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect()
}

/// Run the edensync binary with a clean EDENSYNC_* environment.
pub fn edensync(
    args: &[&str],
    env: &HashMap<&str, String>,
    stdin: Option<&str>,
) -> std::process::Output {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_edensync"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("EDENSYNC_LOG", "warn")
        .envs(env)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run edensync");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    child.wait_with_output().unwrap()
}

/// `edensync serve --no-scheduler` on a free port with this environment;
/// the child and the URL it listens on.
pub fn serve_binary(env: &HashMap<&str, String>) -> (std::process::Child, String) {
    serve_process(env, false)
}

/// `edensync serve` (with its scheduler, or `--no-scheduler`) on a free
/// port with this environment; the child and the URL it listens on.
pub fn serve_process(
    env: &HashMap<&str, String>,
    scheduler: bool,
) -> (std::process::Child, String) {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut command = Command::new(env!("CARGO_BIN_EXE_edensync"));
    command.arg("serve");
    if !scheduler {
        command.arg("--no-scheduler");
    }
    let mut child = command
        .env_clear()
        .envs(env)
        .env("EDENSYNC_BIND", "127.0.0.1:0")
        .env("EDENSYNC_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = lines.next().unwrap().unwrap();
    let url = ready
        .strip_prefix("edensync listening on ")
        .unwrap()
        .to_string();
    (child, url)
}

/// Define a test twice: on SQLite and on a real PostgreSQL.
#[macro_export]
macro_rules! on_both_backends {
    ($name:ident, $body:path) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $body($crate::support::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $body($crate::support::Backend::Postgres).await
            }
        }
    };
}
