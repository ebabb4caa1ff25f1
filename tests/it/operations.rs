//! Watching a node: `/metrics` (and its bearer token), `/healthz` (database,
//! scheduler heartbeat, runs in progress), request ids, and logs that never
//! carry a password, a token or an Authorization header.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use edensync::audit::Actor;
use edensync::manage;

use crate::on_both_backends;
use crate::support::peers::{
    PEER_PASSWORD, TaskSpec, add_task, doc, org, pair, run_with, write_local,
};
use crate::support::{ADMIN_EMAIL, ADMIN_PASSWORD, Backend, TestApp};

/// The value of one sample line of a Prometheus text page, e.g.
/// `edensync_runs_total{repository="B",status="succeeded"}`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

async fn scrape(app: &TestApp, token: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(app.url("/metrics"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

async fn metrics_report_runs_records_and_requests(backend: Backend) {
    let Some((a, b, repository)) = pair(backend).await else {
        return;
    };
    add_task(&a, repository, TaskSpec::default());
    write_local(
        &b,
        &doc(&[org("urn:uuid:m-1", "Metered", "MT", "2026-11-20T10:00:00")]),
    );
    write_local(
        &a,
        &doc(&[org("urn:uuid:m-2", "Counted", "CT", "2026-11-20T10:00:00")]),
    );
    let report = run_with(&a.engine, repository).await;
    assert_eq!(report.status.as_str(), "succeeded", "{:?}", report.error);

    let page = scrape(&a, None).await;
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = page.text().await.unwrap();
    let runs = r#"edensync_runs_total{repository="B",status="succeeded"}"#;
    assert_eq!(sample(&text, runs), Some(1.0), "{text}");
    let pulled = r#"edensync_records_total{direction="pulled",outcome="created",repository="B"}"#;
    assert_eq!(sample(&text, pulled), Some(1.0), "{text}");
    let pushed = r#"edensync_records_total{direction="pushed",outcome="created",repository="B"}"#;
    assert_eq!(sample(&text, pushed), Some(1.0), "{text}");
    let bytes_in = r#"edensync_bytes_total{direction="in",repository="B"}"#;
    assert!(sample(&text, bytes_in).unwrap() > 0.0, "{text}");
    let durations = r#"edensync_run_duration_seconds_count{repository="B"}"#;
    assert_eq!(sample(&text, durations), Some(1.0), "{text}");
    let success = r#"edensync_repository_last_success_timestamp_seconds{repository="B"}"#;
    let now = chrono::Utc::now().timestamp() as f64;
    assert!(
        (now - sample(&text, success).unwrap()).abs() < 120.0,
        "{text}"
    );
    let failures = r#"edensync_repository_consecutive_failures{repository="B"}"#;
    assert_eq!(sample(&text, failures), Some(0.0), "{text}");
    assert_eq!(sample(&text, "edensync_runs_in_progress"), Some(0.0));
    // No scheduler in this test server: its heartbeat reads 0.
    assert_eq!(
        sample(&text, "edensync_scheduler_heartbeat_timestamp_seconds"),
        Some(0.0)
    );

    // The peer's requests were counted by route pattern on B.
    let text = scrape(&b, None).await.text().await.unwrap();
    let register = r#"edensync_http_requests_total{method="POST",route="/sync/repository/{file}",status="200"}"#;
    assert_eq!(sample(&text, register), Some(1.0), "{text}");
    let pulls = r#"edensync_http_requests_total{method="GET",route="/sync/sync.xml",status="200"}"#;
    assert!(sample(&text, pulls).unwrap() >= 1.0, "{text}");
    // And what the peer took and gave, by the repository B knows A as.
    let served = |prefix: &str| {
        text.lines()
            .filter(|l| l.starts_with(prefix))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>()
    };
    assert_eq!(
        served(r#"edensync_served_records_total{direction="sent",outcome="sent""#),
        1.0,
        "{text}"
    );
    assert_eq!(
        served(r#"edensync_served_records_total{direction="received",outcome="written""#),
        1.0,
        "{text}"
    );
}
on_both_backends!(
    metrics_report_runs_records_and_requests_on,
    metrics_report_runs_records_and_requests
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_metrics_token_is_required_once_set() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let token = "scrape-me-0123456789";
    let short = manage::settings::set(
        &mut app.conn(),
        &Actor::cli(),
        &app.node.key,
        "metrics_token",
        "short",
    );
    assert!(
        short.unwrap_err().to_string().contains("at least 16"),
        "a short token is refused"
    );
    manage::settings::set(
        &mut app.conn(),
        &Actor::cli(),
        &app.node.key,
        "metrics_token",
        token,
    )
    .unwrap();
    // A made-up method is counted, under "other".
    let odd = reqwest::Client::new()
        .request(
            reqwest::Method::from_bytes(b"FROBNICATE").unwrap(),
            app.url("/healthz"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(odd.status(), 404);
    let refused = scrape(&app, None).await;
    assert_eq!(refused.status(), 401);
    assert!(
        refused.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    assert_eq!(
        scrape(&app, Some("wrong-token-0123456789")).await.status(),
        401
    );
    let page = scrape(&app, Some(token)).await;
    assert_eq!(page.status(), 200);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("edensync_http_requests_total")
    );
    // Only a hash is stored.
    let config = edensync::model::sync_config::get(&mut app.conn())
        .unwrap()
        .unwrap();
    assert!(!config.metrics_token_hash.unwrap().contains(token));

    manage::settings::set(
        &mut app.conn(),
        &Actor::cli(),
        &app.node.key,
        "metrics_token",
        "",
    )
    .unwrap();
    assert_eq!(scrape(&app, None).await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_reports_a_stale_scheduler_as_unhealthy() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let health = |app: &TestApp| {
        let url = app.url("/healthz");
        async move {
            let response = reqwest::get(url).await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<serde_json::Value>().await.unwrap())
        }
    };
    let (status, body) = health(&app).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scheduler"]["status"], "disabled");
    assert_eq!(body["runs"]["in_progress"], 0);

    let now = chrono::Utc::now().timestamp();
    app.engine.metrics.scheduler_tick(now - 300);
    let (status, body) = health(&app).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "unhealthy");
    assert_eq!(body["scheduler"]["status"], "stale");
    assert!(body["scheduler"]["heartbeat_age_secs"].as_i64().unwrap() >= 300);

    app.engine.metrics.scheduler_tick(now);
    let (status, body) = health(&app).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scheduler"]["status"], "ok");
}

/// The real binary, logging at debug level as JSON: every line is a JSON
/// object, request lines carry the request id the client sees, and no
/// password, setup token or Authorization header appears anywhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_are_json_with_request_ids_and_never_carry_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_edensync"))
        .arg("serve")
        .env_clear()
        .env("EDENSYNC_DATA_DIR", dir.path())
        .env("EDENSYNC_BIND", "127.0.0.1:0")
        .env("EDENSYNC_LOG", "debug")
        .env("EDENSYNC_LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let mut lines = stdout.lines().map_while(Result::ok);
    let base = lines
        .next()
        .unwrap()
        .strip_prefix("edensync listening on ")
        .unwrap()
        .to_string();
    let setup_link = lines.next().unwrap();
    let setup_token = setup_link.split("token=").nth(1).unwrap().to_string();
    let stderr = child.stderr.take().unwrap();
    let log = std::thread::spawn(move || {
        BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<_>>()
    });

    let http = crate::support::browser_http();
    // The setup page with its token, then the first administrator.
    let page = http
        .get(format!("{base}/setup?token={setup_token}"))
        .header("X-Request-Id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(page.headers()["x-request-id"], "trace-me-42");
    assert_eq!(page.status(), 200);
    let created = http
        .post(format!("{base}/setup"))
        .form(&[
            ("token", setup_token.as_str()),
            ("email", ADMIN_EMAIL),
            ("password", ADMIN_PASSWORD),
            ("password_confirm", ADMIN_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 303, "setup succeeds");
    // A peer with an unknown account on the sync API, then a wrong login.
    let denied = reqwest::Client::new()
        .get(format!(
            "{base}/sync/sync.xml?resource=org_organisation&repository=urn:uuid:x"
        ))
        .basic_auth("peer@example.org", Some(PEER_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 401);
    let generated = denied.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(generated.len(), 32, "a fresh id when the client sends none");
    let wrong = "not-the-password-987654";
    let stranger = crate::support::browser_http();
    let html = stranger
        .get(format!("{base}/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = crate::support::csrf_of(&html).unwrap();
    let refused = stranger
        .post(format!("{base}/login"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", ADMIN_EMAIL),
            ("password", wrong),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401, "the form again, with an error");

    // SIGTERM: the server shuts down gracefully and exits 0.
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = child.wait().unwrap();
    assert!(status.success(), "graceful exit on SIGTERM: {status:?}");
    let log = log.join().unwrap();
    assert!(log.len() > 5, "debug logging wrote lines: {log:?}");

    let basic = crate::support::basic_credentials("peer@example.org", PEER_PASSWORD);
    for line in &log {
        let value: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        assert!(value["level"].is_string(), "{line}");
        for secret in [ADMIN_PASSWORD, PEER_PASSWORD, wrong, &setup_token, &basic] {
            assert!(!line.contains(secret), "a secret reached the log: {line}");
        }
        assert!(
            !line.to_ascii_lowercase().contains("authorization: basic"),
            "{line}"
        );
    }
    let requests: Vec<&String> = log
        .iter()
        .filter(|l| l.contains("edensync::http"))
        .collect();
    assert!(
        requests
            .iter()
            .any(|l| l.contains("trace-me-42") && l.contains("/setup?token=****")),
        "the request line carries the client's id and a masked token: {requests:?}"
    );
    assert!(
        requests
            .iter()
            .any(|l| l.contains(&generated) && l.contains("\"status\":401")),
        "{requests:?}"
    );
}

/// Behind a trusted reverse proxy the client is the last untrusted address
/// in `X-Forwarded-For`; from anywhere else the header is ignored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_address_behind_a_trusted_proxy() {
    async fn session_ip(app: &TestApp, forwarded: &str) -> Option<String> {
        let http = crate::support::browser_http();
        let html = http
            .get(app.url("/login"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let csrf = crate::support::csrf_of(&html).unwrap();
        let response = http
            .post(app.url("/login"))
            .header("X-Forwarded-For", forwarded)
            .form(&[
                ("csrf", csrf.as_str()),
                ("email", ADMIN_EMAIL),
                ("password", ADMIN_PASSWORD),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303);
        let user = edensync::model::users::find_by_email(&mut app.conn(), ADMIN_EMAIL)
            .unwrap()
            .unwrap();
        edensync::model::sessions::list_for_user(&mut app.conn(), user.id)
            .unwrap()
            .into_iter()
            .next()
            .and_then(|s| s.ip)
    }
    let forwarded = "198.51.100.9, 203.0.113.7";

    let direct = TestApp::spawn(Backend::Sqlite).await.unwrap();
    direct.add_admin();
    assert_eq!(
        session_ip(&direct, forwarded).await.as_deref(),
        Some("127.0.0.1")
    );

    let proxied = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await
    .unwrap();
    proxied.add_admin();
    assert_eq!(
        session_ip(&proxied, forwarded).await.as_deref(),
        Some("203.0.113.7")
    );
}
