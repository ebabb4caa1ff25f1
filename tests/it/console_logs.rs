//! The log viewer: filters by repository, table, mode, result, time and
//! text; keyset pages; purge with the CSRF token; peer text escaped.

use edensync::model;
use edensync::model::sync_log::NewLogEntry;

use crate::support::peers::add_repository;
use crate::support::{ADMIN_EMAIL, ADMIN_PASSWORD, Backend, TestApp, location};

fn log(
    app: &TestApp,
    repository: Option<i64>,
    table: &str,
    mode: &str,
    result: &str,
    message: &str,
    at: chrono::NaiveDateTime,
) {
    model::sync_log::insert(
        &mut app.conn(),
        &NewLogEntry {
            logged_at: at,
            repository_id: repository,
            run_id: None,
            resource_name: Some(table),
            mode,
            action: "import",
            result: edensync::vocabulary::LogResult::parse(result).unwrap(),
            remote: false,
            message,
        },
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filter_page_and_purge_the_log() {
    let Some(a) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let hub = add_repository(
        &a,
        "Hub",
        "http://127.0.0.1:9/eden",
        "x@example.org",
        "whatever password",
    );
    let field = add_repository(
        &a,
        "Field",
        "http://127.0.0.1:9/field",
        "x@example.org",
        "whatever password",
    );
    let now = model::now();
    let old = now - chrono::Duration::days(40);
    log(
        &a,
        Some(hub),
        "org_organisation",
        "pull/outgoing",
        "success",
        "Data imported successfully (3 records)",
        now,
    );
    log(
        &a,
        Some(field),
        "org_office",
        "push/outgoing",
        "fatal",
        "Field refused the push: <script>x</script>",
        now,
    );
    log(
        &a,
        Some(hub),
        "org_office",
        "pull/outgoing",
        "error",
        "Peer repository unavailable: 100%_sure",
        old,
    );
    for i in 0..120 {
        log(
            &a,
            Some(field),
            "pr_person",
            "pull/incoming",
            "success",
            &format!("Data sent to peer ({i} records)"),
            now,
        );
    }
    a.add_admin();
    let admin = a.logged_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;

    let by_repository = admin
        .get(&format!("/logs?repository={hub}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(by_repository.contains("Data imported successfully (3 records)"));
    assert!(!by_repository.contains("Data sent to peer"));
    let by_result = admin.get("/logs?result=fatal").await.text().await.unwrap();
    assert!(by_result.contains("Field refused the push"));
    assert!(
        !by_result.contains("<script>x</script>"),
        "peer text is escaped"
    );
    assert!(!by_result.contains("Data imported"));
    let by_text = admin
        .get("/logs?text=100%25_sure")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        by_text.contains("Peer repository unavailable"),
        "LIKE wildcards are taken literally"
    );
    assert!(
        !admin
            .get("/logs?text=100%25Xsure")
            .await
            .text()
            .await
            .unwrap()
            .contains("Peer repository unavailable")
    );
    let by_mode_and_table = admin
        .get("/logs?mode=pull/outgoing&table=org_office")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        by_mode_and_table.contains("Peer repository unavailable")
            && !by_mode_and_table.contains("Data imported")
    );
    let since = (now - chrono::Duration::days(1))
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string();
    let recent = admin
        .get(&format!("/logs?from={since}&table=org_office"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        !recent.contains("Peer repository unavailable"),
        "the time range applies"
    );

    // 123 rows: a first page of 100 and a link to the older ones. The 120
    // rows of one step read as one line, each row kept inside it.
    let first = admin.get("/logs").await.text().await.unwrap();
    assert_eq!(
        first.matches("Data sent to peer (").count(),
        100,
        "100 rows"
    );
    assert_eq!(
        first.matches("<tr>").count(),
        2,
        "header + one line for them"
    );
    let start = first.find("/logs?before=").expect("a link to older rows");
    let link = &first[start..first[start..].find('"').unwrap() + start];
    let second = admin.get(link).await.text().await.unwrap();
    assert_eq!(
        second.matches("Data sent to peer (").count(),
        20,
        "{second}"
    );
    assert_eq!(
        second.matches("<tr>").count(),
        5,
        "header + one line for the 20 rows of one step + the 3 others"
    );

    // Purging needs the token; then removes only what is older.
    assert_eq!(
        admin
            .post_form("/logs/purge", &[("days", "30")])
            .await
            .status()
            .as_u16(),
        403
    );
    let purged = admin
        .submit("/logs", "/logs/purge", &[("days", "30")])
        .await;
    assert_eq!(location(&purged), "/logs");
    let left = model::sync_log::search(&mut a.conn(), &Default::default(), 1000).unwrap();
    assert_eq!(left.len(), 122);
    assert!(
        admin
            .get("/logs")
            .await
            .text()
            .await
            .unwrap()
            .contains("1 log row(s) older than 30 days removed")
    );
}

/// A pull of many pages logs a row per page; the run page and the log
/// viewer show them as one line that says how many, each row a click away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_rows_of_one_step_are_one_line_with_each_row_a_click_away() {
    use crate::support::browser::{click, logged_in, open, set_width, shot};
    use crate::support::peers::{self, TaskSpec};

    let Some((a, b, id)) = peers::pair(Backend::Sqlite).await else {
        return;
    };
    a.add_admin();
    peers::add_task(
        &a,
        id,
        TaskSpec {
            mode: "pull",
            ..TaskSpec::default()
        },
    );
    peers::write_local(&b, &peers::many_orgs("B", 600));
    let mut engine = peers::engine(&a);
    engine.page_size = 100;
    let report = peers::run_with(&engine, id).await;
    let pages = model::sync_log::for_run(&mut a.conn(), report.run_id)
        .unwrap()
        .iter()
        .filter(|row| row.action == "import")
        .count();
    assert!(pages >= 3, "several pages: {pages}");

    let Some(browser) = logged_in(&a).await else {
        return;
    };
    let driver = &browser.driver;
    for (page, table) in [
        (format!("/runs/{}", report.run_id), "run-log"),
        (format!("/logs?repository={id}"), "log-rows"),
    ] {
        for width in [1400, 400] {
            set_width(driver, width).await;
            open(driver, a.url(&page)).await;
            let html = driver.source().await.unwrap();
            assert_eq!(
                html.matches("<details class=\"repeated\">").count(),
                1,
                "{html}"
            );
            assert!(html.contains(&format!("{pages} rows like this")), "{html}");
            let rows = html.matches("Data imported successfully").count();
            assert_eq!(rows, pages, "each row is kept, inside the line: {html}");
            click(driver, &format!("#{table} details.repeated summary")).await;
            shot(driver, &format!("{table}-repeated-{width}")).await;
        }
    }
    browser.quit().await;
}
