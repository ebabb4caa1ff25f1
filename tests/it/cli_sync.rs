//! `edensync repository add` (registering at the peer), `repository
//! register` and `edensync sync` with the real binary against a real node:
//! progress on stderr, summary on stdout, and the exit statuses scripts rely
//! on (0 done, 1 failed, 4 another run in progress).

use std::collections::HashMap;
use std::process::Output;

use diesel::prelude::*;
use edensync::db::schema::repositories;
use edensync::model::users::Role;

use crate::support::peers::{PEER_EMAIL, PEER_PASSWORD, doc, org, record, write_local};
use crate::support::{Backend, TestApp, edensync};

struct Active {
    dir: tempfile::TempDir,
    env: HashMap<&'static str, String>,
}

impl Active {
    fn new() -> Active {
        let dir = tempfile::tempdir().unwrap();
        let env = [("EDENSYNC_DATA_DIR", dir.path().display().to_string())]
            .into_iter()
            .collect();
        Active { dir, env }
    }

    fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        edensync(args, &self.env, stdin)
    }

    fn ok(&self, args: &[&str], stdin: Option<&str>) -> (String, String) {
        let out = self.run(args, stdin);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        (
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    }

    fn site_uuid(&self) -> String {
        let (out, _) = self.ok(&["config", "show", "--json"], None);
        let config: serde_json::Value = serde_json::from_str(&out).unwrap();
        config["site_uuid"].as_str().unwrap().to_string()
    }

    fn conn(&self) -> edensync::db::PooledConnection {
        let url = edensync::config::DatabaseUrl::Sqlite(self.dir.path().join("edensync.db"));
        edensync::db::open_pool(&url).unwrap().get().unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_from_the_command_line() {
    let Some(b) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    b.add_user(PEER_EMAIL, PEER_PASSWORD, Role::Sync);
    write_local(
        &b,
        &doc(&[org("urn:uuid:b-1", "Remote", "RM1", "2026-11-20T10:00:00")]),
    );
    let a = Active::new();
    let (out, _) = a.ok(
        &[
            "repository",
            "add",
            "B",
            "--url",
            &b.url,
            "--username",
            PEER_EMAIL,
            "--password-stdin",
        ],
        Some(PEER_PASSWORD),
    );
    assert!(
        out.contains("registered at the peer: Registration successful (edensync"),
        "{out}"
    );
    super::sync_register::accept_pushes(&b, &a.site_uuid());
    a.ok(&["task", "add", "B", "org_organisation"], None);
    let file = a.dir.path().join("local.xml");
    std::fs::write(
        &file,
        doc(&[org("urn:uuid:a-1", "Local", "LC1", "2026-11-20T11:00:00")]),
    )
    .unwrap();
    a.ok(&["import", file.to_str().unwrap()], None);

    let (out, progress) = a.ok(&["sync", "B", "--json"], None);
    let summary: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(summary["status"], "succeeded", "{out}");
    assert_eq!(summary["pulled_created"], 1);
    assert_eq!(summary["pushed_created"], 1);
    assert_eq!(summary["tasks"][0]["table"], "org_organisation");
    assert!(
        progress.contains("org_organisation: pulling from B"),
        "{progress}"
    );
    assert!(record(&b, "org_organisation", "urn:uuid:a-1").is_some());

    let (out, _) = a.ok(&["sync", "B"], None);
    assert!(
        out.contains(": succeeded") && out.contains("pulled: 0 created"),
        "{out}"
    );

    // Another run holds the lease: exit 4, a skipped run recorded.
    diesel::update(repositories::table.filter(repositories::name.eq("B")))
        .set((
            repositories::lease_holder.eq(Some("another-host:1")),
            repositories::lease_expires_at
                .eq(Some(edensync::model::now() + chrono::Duration::minutes(5))),
        ))
        .execute(&mut *a.conn())
        .unwrap();
    let skipped = a.run(&["sync", "B"], None);
    assert_eq!(skipped.status.code(), Some(4), "{skipped:?}");
    assert!(String::from_utf8_lossy(&skipped.stderr).contains("another run of B is in progress"));

    // A peer that cannot be reached: saved anyway, registration reported,
    // and a failing sync exits 1 with the reason.
    let dead = crate::support::peers::unreachable_url().await;
    let out = a.run(
        &[
            "repository",
            "add",
            "Dead",
            "--url",
            &dead,
            "--username",
            PEER_EMAIL,
            "--password-stdin",
        ],
        Some(PEER_PASSWORD),
    );
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("registration at the peer failed")
            && stderr.contains("repository register Dead"),
        "{stderr}"
    );
    a.ok(&["task", "add", "Dead", "org_organisation"], None);
    let failed = a.run(&["sync", "Dead"], None);
    assert_eq!(failed.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(
        stderr.contains("cannot be reached") && !stderr.contains(PEER_PASSWORD),
        "{stderr}"
    );
    let again = a.run(&["repository", "register", "Dead"], None);
    assert_eq!(again.status.code(), Some(1));
}
