//! The console's view of syncing: the dashboard's repository health, "Sync
//! now" and "Retry now", the runs list with its filters and a run's page
//! with its log lines (live while it runs). Peer data and names are escaped.

use std::time::Duration;

use edensync::engine::{RunStatus, Trigger};
use edensync::model;

use crate::support::peers::{self, TaskSpec, add_repository, add_task, doc, org, write_local};
use crate::support::{ADMIN_EMAIL, ADMIN_PASSWORD, Backend, TestApp, location};

async fn wait_for_finished_run(app: &TestApp, repository_id: i64) -> model::runs::Run {
    for _ in 0..100 {
        let runs = model::runs::for_repository(&mut app.conn(), repository_id, 1).unwrap();
        if let Some(run) = runs
            .into_iter()
            .next()
            .filter(|r| r.status != RunStatus::Running)
        {
            return run;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the run did not finish");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_now_and_follow_the_run() {
    let Some((a, b, id)) = crate::support::peers::pair(Backend::Sqlite).await else {
        return;
    };
    add_task(&a, id, TaskSpec::default());
    write_local(
        &b,
        &doc(&[org(
            "urn:uuid:b-1",
            "Remote <b>bold</b>",
            "RM1",
            "2026-11-20T10:00:00",
        )]),
    );
    a.add_admin();
    let admin = a.logged_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;

    let dashboard = admin.get("/").await.text().await.unwrap();
    assert!(dashboard.contains("never run"), "{dashboard}");
    assert!(dashboard.contains(&format!("action=\"/repositories/{id}/sync\"")));

    // Without the CSRF token nothing starts.
    let forged = admin
        .post_form(&format!("/repositories/{id}/sync"), &[])
        .await;
    assert!(forged.status().is_client_error(), "{}", forged.status());
    assert!(
        model::runs::for_repository(&mut a.conn(), id, 1)
            .unwrap()
            .is_empty()
    );

    let started = admin
        .submit("/", &format!("/repositories/{id}/sync"), &[])
        .await;
    assert_eq!(started.status().as_u16(), 303);
    assert_eq!(location(&started), format!("/runs?repository={id}"));
    let run = wait_for_finished_run(&a, id).await;
    assert_eq!(run.status, RunStatus::Succeeded);
    assert_eq!(run.trigger_kind, Trigger::Manual);

    let page = admin
        .get(&format!("/runs/{}", run.id))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("succeeded") && page.contains("Data imported successfully (1 records: 1 new"),
        "{page}"
    );
    assert!(
        !page.contains("data-live"),
        "a finished run does not refresh"
    );
    let list = admin
        .get(&format!("/runs?repository={id}&status=succeeded"))
        .await
        .text()
        .await
        .unwrap();
    assert!(list.contains(&format!("href=\"/runs/{}\"", run.id)));
    let none = admin.get("/runs?status=failed").await.text().await.unwrap();
    assert!(!none.contains(&format!("href=\"/runs/{}\"", run.id)));
    let dashboard = admin.get("/").await.text().await.unwrap();
    assert!(dashboard.contains("badge-ok\">ok<"), "{dashboard}");
    assert!(a.audit_actions().contains(&"repository.sync".to_string()));

    // A run in progress refreshes itself (and says how to without JavaScript).
    let holder = "test-holder";
    let running = model::runs::insert(
        &mut a.conn(),
        id,
        None,
        Trigger::Manual,
        RunStatus::Running,
        holder,
        model::now(),
    )
    .unwrap();
    let page = admin
        .get(&format!("/runs/{running}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("data-live=\"2\"") && page.contains(">Refresh</a>"),
        "{page}"
    );
    let dashboard = admin.get("/").await.text().await.unwrap();
    assert!(dashboard.contains("In progress"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_repositories_show_why_and_can_be_retried() {
    let Some(a) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let dead = crate::support::peers::unreachable_url().await;
    let id = add_repository(
        &a,
        "<script>alert(1)</script>",
        &dead,
        "someone@example.org",
        "whatever password",
    );
    add_task(&a, id, TaskSpec::default());
    let report = peers::run(&a, id).await;
    assert_eq!(report.status, RunStatus::Failed);
    a.add_admin();
    let admin = a.logged_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;

    let dashboard = admin.get("/").await.text().await.unwrap();
    assert!(
        !dashboard.contains("<script>alert(1)</script>"),
        "names are escaped"
    );
    assert!(
        dashboard.contains("&#60;script&#62;alert(1)&#60;/script&#62;")
            || dashboard.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{dashboard}"
    );
    assert!(
        dashboard.contains("badge-retrying\">retrying<"),
        "{dashboard}"
    );
    assert!(dashboard.contains("retry in "));
    assert!(
        dashboard.contains("cannot be reached"),
        "the reason is shown"
    );
    assert!(dashboard.contains(&format!("action=\"/repositories/{id}/retry\"")));

    let retried = admin
        .submit("/", &format!("/repositories/{id}/retry"), &[])
        .await;
    assert_eq!(retried.status().as_u16(), 303);
    let mut finished = 0;
    for _ in 0..100 {
        finished = model::runs::for_repository(&mut a.conn(), id, 10)
            .unwrap()
            .iter()
            .filter(|r| r.trigger_kind == Trigger::Retry && r.status != RunStatus::Running)
            .count();
        if finished > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(finished, 1, "the retry ran");
    let stored = model::repositories::find(&mut a.conn(), id)
        .unwrap()
        .unwrap();
    assert_eq!(stored.consecutive_failures, 2);

    // Unknown runs are a 404; the pages need a login.
    assert_eq!(admin.get("/runs/99999").await.status().as_u16(), 404);
    let anonymous = a.client();
    assert_eq!(anonymous.get("/runs").await.status().as_u16(), 303);
}
