//! The review queue through real syncs: a conflict under THIS (ours kept)
//! and NEWER (the peer's won), a record refused here for its size, a
//! record Eden refused; then accept, retry and dismiss, and the stores
//! checked afterwards. Identical re-pushes queue nothing.

use diesel::prelude::*;
use edensync::audit::Actor;
use edensync::db::schema::tasks;
use edensync::manage;
use edensync::model;
use edensync::model::review_items::{ReviewItem, ReviewQuery};
use edensync::s3xml::{Limits, Reader};
use edensync::store::{self, ImportOptions};
use edensync::vocabulary::{ConflictWinner, Resolution, ReviewAction, ReviewKind};

use crate::support::peers::{
    self, TaskSpec, add_repository, add_task, doc, field, many_orgs, org, record, write_local,
};
use crate::support::stand_in::{Reply, StandIn, eden_refuses_nameless, holds_nameless};
use crate::support::{Backend, TestApp};

const X: &str = "urn:uuid:conflict-x";

fn waiting(app: &TestApp) -> Vec<ReviewItem> {
    model::review_items::search(&mut app.conn(), &ReviewQuery::default(), 100).unwrap()
}

fn decide(app: &TestApp, id: i64, action: ReviewAction) -> manage::review::Decided {
    manage::review::decide(&mut app.conn(), &Actor::cli(), id, action, 4 << 20).unwrap()
}

fn set_mode(app: &TestApp, task: i64, mode: &str) {
    diesel::update(tasks::table.find(task))
        .set(tasks::mode.eq(mode))
        .execute(&mut *app.conn())
        .unwrap();
}

/// X on B, pulled by A; then changed on both sides (A at 11-21, B at
/// 11-22), and pulled again under `policy`.
async fn conflict_under(policy: &str) -> Option<(TestApp, TestApp, i64, i64)> {
    let (a, b, id) = peers::pair(Backend::Sqlite).await?;
    let task = add_task(
        &a,
        id,
        TaskSpec {
            mode: "pull",
            conflict_policy: policy,
            ..TaskSpec::default()
        },
    );
    write_local(&b, &doc(&[org(X, "Alpha", "AL", "2026-11-20T10:00:00")]));
    peers::run(&a, id).await;
    write_local(&a, &doc(&[org(X, "Alpha A", "AL", "2026-11-21T10:00:00")]));
    write_local(&b, &doc(&[org(X, "Alpha B", "AL", "2026-11-22T10:00:00")]));
    peers::run(&a, id).await;
    Some((a, b, id, task))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflict_kept_here_waits_and_accepting_takes_the_peers_version() {
    let Some((a, b, id, task)) = conflict_under("THIS").await else {
        return;
    };
    let items = waiting(&a);
    assert_eq!(items.len(), 1, "{items:?}");
    let item = &items[0];
    assert_eq!(item.kind, ReviewKind::Conflict);
    assert_eq!(item.winner(), Some(ConflictWinner::Local));
    assert_eq!(item.policy.as_deref(), Some("THIS"));
    assert!(
        item.raw_element.contains("Alpha B"),
        "the peer's version: {item:?}"
    );
    assert!(item.stored_version.as_deref().unwrap().contains("Alpha A"));
    assert_eq!(
        field(&a, "org_organisation", X, "name").as_deref(),
        Some("Alpha A")
    );

    let metrics = reqwest::get(a.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("edensync_review_items_waiting{kind=\"conflict\",repository=\"B\"} 1"),
        "{metrics}"
    );

    // Another pull with nothing new, and the same conflict again: one item.
    peers::run(&a, id).await;
    assert_eq!(waiting(&a).len(), 1);

    let decided = decide(&a, item.id, ReviewAction::Accept);
    assert!(decided.resolved, "{decided:?}");
    assert_eq!(
        field(&a, "org_organisation", X, "name").as_deref(),
        Some("Alpha B")
    );
    let stored = record(&a, "org_organisation", X).unwrap();
    assert!(
        stored.modified_on.unwrap() > chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap().into()
    );
    let resolved = model::review_items::find(&mut a.conn(), item.id)
        .unwrap()
        .unwrap();
    assert_eq!(resolved.resolution(), Some(Resolution::Accepted));
    assert!(waiting(&a).is_empty());

    // B has that version: it is not sent back.
    set_mode(&a, task, "push");
    let pushed = peers::run(&a, id).await;
    assert_eq!(
        pushed.counts.pushed_created + pushed.counts.pushed_updated,
        0,
        "{pushed:?}"
    );
    let on_b = record(&b, "org_organisation", X).unwrap();
    assert_eq!(on_b.modified_on.unwrap().to_string(), "2026-11-22 10:00:00");

    // A decision is made once.
    let again = manage::review::decide(
        &mut a.conn(),
        &Actor::cli(),
        item.id,
        ReviewAction::Dismiss,
        1,
    );
    assert!(again.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflict_the_peer_won_keeps_ours_and_accepting_brings_it_back_everywhere() {
    let Some((a, b, id, task)) = conflict_under("NEWER").await else {
        return;
    };
    assert_eq!(
        field(&a, "org_organisation", X, "name").as_deref(),
        Some("Alpha B")
    );
    let items = waiting(&a);
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0].winner(), Some(ConflictWinner::Peer));
    assert!(
        items[0]
            .stored_version
            .as_deref()
            .unwrap()
            .contains("Alpha A")
    );

    decide(&a, items[0].id, ReviewAction::Accept);
    assert_eq!(
        field(&a, "org_organisation", X, "name").as_deref(),
        Some("Alpha A")
    );
    set_mode(&a, task, "push");
    let pushed = peers::run(&a, id).await;
    assert_eq!(pushed.counts.pushed_updated, 1, "{pushed:?}");
    assert_eq!(
        field(&b, "org_organisation", X, "name").as_deref(),
        Some("Alpha A")
    );

    // A later version from the peer resolves a waiting conflict.
    const Y: &str = "urn:uuid:conflict-y";
    set_mode(&a, task, "pull");
    write_local(&b, &doc(&[org(Y, "Yankee", "YK", "2026-11-23T10:00:00")]));
    peers::run(&a, id).await;
    write_local(&a, &doc(&[org(Y, "Yankee A", "YK", "2026-11-24T10:00:00")]));
    write_local(&b, &doc(&[org(Y, "Yankee B", "YK", "2026-11-25T10:00:00")]));
    peers::run(&a, id).await;
    let y = waiting(&a);
    assert_eq!(y.len(), 1, "{y:?}");
    write_local(
        &b,
        &doc(&[org(Y, "Yankee B2", "YK", "2026-11-26T10:00:00")]),
    );
    peers::run(&a, id).await;
    assert!(waiting(&a).is_empty(), "superseded");
    let item = model::review_items::find(&mut a.conn(), y[0].id)
        .unwrap()
        .unwrap();
    assert_eq!(item.resolution(), Some(Resolution::Superseded));
}

/// B holds a record of 2 000 characters (`urn:uuid:big`) and a small one;
/// A pulls them with a record limit of 1 000 bytes: one item waits.
async fn refused_for_size() -> Option<(TestApp, TestApp, i64, ReviewItem)> {
    let (a, b, id) = peers::pair(Backend::Sqlite).await?;
    add_task(
        &a,
        id,
        TaskSpec {
            mode: "pull",
            ..TaskSpec::default()
        },
    );
    write_local(
        &b,
        &doc(&[
            org(
                "urn:uuid:big",
                &"L".repeat(2_000),
                "BG",
                "2026-11-20T10:00:00",
            ),
            org("urn:uuid:small", "Small", "SM", "2026-11-20T10:00:00"),
        ]),
    );
    let report = peers::run_with(&small_records(&a), id).await;
    assert_eq!(report.counts.pulled_rejected, 1, "{report:?}");
    let mut items = waiting(&a);
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].kind, ReviewKind::RefusedHere);
    Some((a, b, id, items.remove(0)))
}

/// An engine that keeps records of at most 1 000 bytes.
fn small_records(app: &TestApp) -> edensync::engine::Engine {
    let mut engine = peers::engine(app);
    engine.max_record_bytes = 1_000;
    engine
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_refused_for_its_size_is_stored_by_a_retry_after_the_limit_is_raised() {
    let Some((a, _b, _id, item)) = refused_for_size().await else {
        return;
    };
    assert!(record(&a, "org_organisation", "urn:uuid:big").is_none());
    // Still too large under the same limit: refused again, still waiting.
    let again = manage::review::decide(
        &mut a.conn(),
        &Actor::cli(),
        item.id,
        ReviewAction::Retry,
        1_000,
    )
    .unwrap();
    assert!(
        !again.resolved && again.message.starts_with("refused again"),
        "{again:?}"
    );
    assert_eq!(waiting(&a).len(), 1, "not queued twice");

    let stored = decide(&a, item.id, ReviewAction::Retry);
    assert!(stored.resolved, "{stored:?}");
    assert_eq!(
        field(&a, "org_organisation", "urn:uuid:big", "name").as_deref(),
        Some("L".repeat(2_000).as_str())
    );
    assert!(waiting(&a).is_empty());
}

/// A record refused for its size that the peer then fixes: the fixed
/// version, new here, resolves the waiting item.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_record_fixed_at_the_peer_resolves_its_item() {
    let Some((a, b, id, item)) = refused_for_size().await else {
        return;
    };
    let engine = small_records(&a);
    write_local(
        &b,
        &doc(&[org(
            "urn:uuid:big",
            "Big, shorter",
            "BG",
            "2026-11-21T10:00:00",
        )]),
    );
    peers::run_with(&engine, id).await;
    assert!(waiting(&a).is_empty(), "resolved by the new version");
    let item = model::review_items::find(&mut a.conn(), item.id)
        .unwrap()
        .unwrap();
    assert_eq!(item.resolution(), Some(Resolution::Superseded));
    assert!(
        manage::review::decide(
            &mut a.conn(),
            &Actor::cli(),
            item.id,
            ReviewAction::Retry,
            4 << 20
        )
        .is_err(),
        "an old version is not imported over the new one"
    );
    assert_eq!(
        field(&a, "org_organisation", "urn:uuid:big", "name").as_deref(),
        Some("Big, shorter")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_eden_refused_is_sent_again_or_dismissed() {
    let Some(a) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let eden = StandIn::start(|request, _| {
        if holds_nameless(request) {
            eden_refuses_nameless()
        } else {
            Reply::Recorded("03_push_initial_response.http")
        }
    })
    .await;
    let repository = peers::eden_push_task(&a, &eden.url);
    write_local(
        &a,
        &doc(&[org("urn:uuid:bad-1", "", "NONAME00", "2026-11-26T09:00:00")]),
    );
    peers::run(&a, repository).await;
    let items = waiting(&a);
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0].kind, ReviewKind::RefusedByPeer);
    assert!(
        items[0].reason.contains("value(s) required"),
        "{}",
        items[0].reason
    );
    assert!(
        manage::review::decide(
            &mut a.conn(),
            &Actor::cli(),
            items[0].id,
            ReviewAction::Accept,
            1
        )
        .is_err(),
        "a refused record has no other version"
    );

    let posts = || {
        eden.requests()
            .iter()
            .filter(|r| r.method == "POST")
            .count()
    };
    let before = posts();
    peers::run(&a, repository).await;
    assert_eq!(posts(), before, "nothing new to send");
    assert!(decide(&a, items[0].id, ReviewAction::Retry).resolved);
    peers::run(&a, repository).await;
    assert_eq!(posts(), before + 1, "sent again");
    // Refused again: a new item, which is dismissed.
    let again = waiting(&a);
    assert_eq!(again.len(), 1);
    assert!(decide(&a, again[0].id, ReviewAction::Dismiss).resolved);
    assert!(waiting(&a).is_empty());
    let history = model::review_items::search(
        &mut a.conn(),
        &ReviewQuery {
            with_resolved: true,
            ..ReviewQuery::default()
        },
        100,
    )
    .unwrap();
    assert_eq!(history.len(), 2, "kept in the history");
}

/// An Eden peer re-pushes its whole table on every run: ten identical
/// re-pushes of 5 000 organisations queue nothing; with three records
/// changed here meanwhile, three conflicts wait, not thirty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_re_pushes_queue_nothing() {
    let Some(a) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let repository = add_repository(
        &a,
        "Eden B",
        "http://127.0.0.1:9/edenb",
        "admin@example.com",
        "testing",
    );
    let table = many_orgs("E", 5_000);
    let options = ImportOptions {
        repository_id: Some(repository),
        // Eden never advances its push watermark: an old msince.
        last_sync: Some(chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap().into()),
        ..ImportOptions::default()
    };
    let push = || {
        let reader = Reader::new(table.as_bytes(), Limits::default()).unwrap();
        store::import(&mut a.conn(), reader, &options).unwrap()
    };
    push();
    for _ in 0..10 {
        push();
    }
    assert!(waiting(&a).is_empty());
    for i in 0..3 {
        let uuid = format!("urn:uuid:E-{i:04}");
        write_local(
            &a,
            &doc(&[org(&uuid, "Changed here", "CH", "2026-11-30T10:00:00")]),
        );
    }
    for _ in 0..10 {
        push();
    }
    assert_eq!(waiting(&a).len(), 3);
}

/// The Review page in a real browser: the badge, the list, both versions
/// side by side, and the decision; screenshots at 1400 and 400 px.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_review_page_shows_both_versions_and_accepts_in_the_browser() {
    use crate::support::browser::{Browser, click, log_in, open, set_width, shot, wait_for_text};
    let Some((a, _b, id, _task)) = conflict_under("THIS").await else {
        return;
    };
    // A refused record too, so the list shows two kinds.
    let long = "L".repeat(2_000);
    write_local(
        &_b,
        &doc(&[org("urn:uuid:big", &long, "BG", "2026-11-27T10:00:00")]),
    );
    let mut engine = peers::engine(&a);
    engine.max_record_bytes = 1_000;
    peers::run_with(&engine, id).await;
    assert_eq!(waiting(&a).len(), 2);
    a.add_admin();
    let Some(browser) = Browser::start().await else {
        return;
    };
    let driver = &browser.driver;
    log_in(driver, &a).await;
    let nav = driver
        .find(thirtyfour::By::Css("nav.mainnav a[href='/review'] .badge"))
        .await
        .unwrap();
    assert_eq!(
        nav.text().await.unwrap(),
        "2",
        "the badge counts what waits"
    );
    let counts = driver
        .find(thirtyfour::By::Id("review-waiting"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        counts.contains("conflict") && counts.contains("refused here"),
        "the dashboard counts per repository, table and kind: {counts}"
    );
    shot(driver, "review-dashboard-1400").await;

    for width in [1400, 400] {
        set_width(driver, width).await;
        open(driver, a.url("/review")).await;
        wait_for_text(driver, "conflict-x").await;
        shot(driver, &format!("review-list-{width}")).await;
    }
    set_width(driver, 1400).await;
    let item = waiting(&a)
        .into_iter()
        .find(|i| i.kind == ReviewKind::Conflict)
        .unwrap();
    open(driver, a.url(&format!("/review/{}", item.id))).await;
    let page = driver.source().await.unwrap();
    assert!(
        page.contains("Alpha A") && page.contains("Alpha B"),
        "both versions"
    );
    assert!(
        page.contains("class=\"differs\""),
        "the difference is marked"
    );
    shot(driver, "review-item-1400").await;
    set_width(driver, 400).await;
    shot(driver, "review-item-400").await;
    set_width(driver, 1400).await;
    click(driver, "button[value='accept']").await;
    wait_for_text(driver, "the other version is now the stored one").await;
    assert_eq!(
        field(&a, "org_organisation", X, "name").as_deref(),
        Some("Alpha B")
    );

    // Filters out of range or not numbers give the page, with a message.
    open(
        driver,
        a.url("/review?older_than_days=999999999999&repository=abc&kind=nonsense"),
    )
    .await;
    wait_for_text(driver, "Repository").await;
    let page = driver.source().await.unwrap();
    assert!(page.contains("abc"), "the bad value is named");

    // The refused one, selected in the list and dismissed.
    open(driver, a.url("/review")).await;
    let refused = waiting(&a);
    assert_eq!(refused.len(), 1);
    click(driver, &format!("input[name='item-{}']", refused[0].id)).await;
    click(driver, "select#action option[value='dismiss']").await;
    click(
        driver,
        "form[action='/review/decide'] button[type='submit']",
    )
    .await;
    wait_for_text(driver, "dismissed").await;
    assert!(waiting(&a).is_empty());
    browser.quit().await;
}

/// The queue from the command line: a record refused by `import` for its
/// size, listed, retried under the same limit (still waiting, exit 3),
/// then stored once the limit is raised; unknown items are refused.
#[test]
fn the_review_commands_list_retry_and_dismiss() {
    use crate::support::cli::Cli;
    let cli = Cli::new();
    let small = |args: &[&str]| {
        let mut env = cli.env().clone();
        env.insert("EDENSYNC_MAX_RECORD_BYTES", "1000".into());
        crate::support::edensync(args, &env, None)
    };
    let file = cli.dir().join("big.xml");
    let long = "L".repeat(2_000);
    std::fs::write(
        &file,
        doc(&[
            org("urn:uuid:big", &long, "BG", "2026-11-20T10:00:00"),
            org("urn:uuid:small", "Small", "SM", "2026-11-20T10:00:00"),
        ]),
    )
    .unwrap();
    let imported = small(&["import", file.to_str().unwrap()]);
    assert_eq!(imported.status.code(), Some(3), "records were refused");
    let listed = cli.json(&["review", "list", "--json"]);
    let items = listed.as_array().unwrap();
    assert_eq!(items.len(), 1, "{listed}");
    assert_eq!(items[0]["kind"], "refused_here");
    let id = items[0]["id"].as_i64().unwrap().to_string();
    let shown = cli.ok(&["review", "show", &id]);
    assert!(shown.contains("over the limit of 1000 bytes"), "{shown}");

    let again = small(&["review", "retry", &id]);
    assert_eq!(again.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&again.stdout).contains("refused again"));
    assert_eq!(cli.count(&["review", "list", "--json"]), 1);

    let stored = cli.ok(&["review", "retry", &id]);
    assert!(stored.contains("imported and stored"), "{stored}");
    assert_eq!(cli.count(&["review", "list", "--json"]), 0);
    let history = cli.json(&["review", "list", "--all", "--json"]);
    assert_eq!(history[0]["resolution"], "retried", "{history}");
    let exported = cli.ok(&["export", "org_organisation"]);
    assert!(exported.contains("urn:uuid:big"));

    let unknown = cli.fails(&["review", "dismiss", "999"], 1);
    assert!(unknown.contains("there is no review item 999"), "{unknown}");
    let resolved = cli.run(&["review", "dismiss", &id], None);
    assert!(!resolved.status.success(), "a decision is made once");
}

/// The two other conflict policies through real syncs: OTHER takes the
/// peer's version, and so does MASTER (B's copy comes from its origin, `mci`
/// 1, ours is a copy of it); both keep ours for review.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicts_under_other_and_master_keep_the_losing_version() {
    for (policy, winner, stored) in [
        ("OTHER", ConflictWinner::Peer, "Alpha B"),
        ("MASTER", ConflictWinner::Peer, "Alpha B"),
    ] {
        let Some((a, _b, _id, _task)) = conflict_under(policy).await else {
            return;
        };
        let items = waiting(&a);
        assert_eq!(items.len(), 1, "{policy}: {items:?}");
        assert_eq!(items[0].winner(), Some(winner), "{policy}");
        assert_eq!(items[0].policy.as_deref(), Some(policy));
        assert_eq!(
            field(&a, "org_organisation", X, "name").as_deref(),
            Some(stored),
            "{policy}"
        );
    }
}

/// `edensync review accept`: a conflict from the hub, decided from the
/// command line; the store holds the other version afterwards.
#[test]
fn a_conflict_is_accepted_from_the_command_line() {
    use crate::support::cli::Cli;
    use edensync::vocabulary::Policy;
    let cli = Cli::with_hub();
    {
        let node = cli.node();
        let mut conn = node.pool.get().unwrap();
        let hub = model::repositories::list(&mut conn).unwrap()[0].id;
        let from_hub =
            |conn: &mut edensync::db::DbConnection, xml: &str, last_sync: Option<&str>| {
                let options = ImportOptions {
                    repository_id: Some(hub),
                    conflict_policy: Some(Policy::This),
                    last_sync: last_sync.map(|t| t.parse().unwrap()),
                    ..ImportOptions::default()
                };
                let reader = Reader::new(xml.as_bytes(), Limits::default()).unwrap();
                store::import(conn, reader, &options).unwrap();
            };
        from_hub(
            &mut conn,
            &doc(&[org(X, "Alpha", "AL", "2026-11-20T10:00:00")]),
            None,
        );
        peers::import_with(
            &mut conn,
            &doc(&[org(X, "Alpha here", "AL", "2026-11-21T10:00:00")]),
        );
        from_hub(
            &mut conn,
            &doc(&[org(X, "Alpha hub", "AL", "2026-11-22T10:00:00")]),
            Some("2026-11-20T10:00:00"),
        );
    }
    let listed = cli.json(&["review", "list", "--kind", "conflict", "--json"]);
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    let id = listed[0]["id"].as_i64().unwrap().to_string();
    let accepted = cli.ok(&["review", "accept", &id]);
    assert!(
        accepted.contains("the other version is now the stored one"),
        "{accepted}"
    );
    assert_eq!(cli.count(&["review", "list", "--json"]), 0);
    let exported = cli.ok(&["export", "org_organisation"]);
    assert!(
        exported.contains("Alpha hub") && !exported.contains("Alpha here"),
        "{exported}"
    );
}

/// The task's switch: a newer version the update policy (THIS) keeps out
/// waits for review, and accepting it stores it; without the switch
/// nothing waits. Set from the command line too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_the_update_policy_keeps_out_wait_when_the_task_asks() {
    for switched in [true, false] {
        let Some((a, b, id)) = peers::pair(Backend::Sqlite).await else {
            return;
        };
        let task = add_task(
            &a,
            id,
            TaskSpec {
                mode: "pull",
                update_policy: "THIS",
                ..TaskSpec::default()
            },
        );
        diesel::update(tasks::table.find(task))
            .set(tasks::review_kept_updates.eq(switched))
            .execute(&mut *a.conn())
            .unwrap();
        write_local(&b, &doc(&[org(X, "Alpha", "AL", "2026-11-20T10:00:00")]));
        peers::run(&a, id).await;
        write_local(&b, &doc(&[org(X, "Alpha 2", "AL", "2026-11-21T10:00:00")]));
        peers::run(&a, id).await;
        assert_eq!(
            field(&a, "org_organisation", X, "name").as_deref(),
            Some("Alpha")
        );
        let items = waiting(&a);
        if !switched {
            assert!(items.is_empty(), "{items:?}");
            continue;
        }
        assert_eq!(items.len(), 1, "{items:?}");
        assert!(
            items[0].reason.contains("the update policy THIS kept ours"),
            "{}",
            items[0].reason
        );
        decide(&a, items[0].id, ReviewAction::Accept);
        assert_eq!(
            field(&a, "org_organisation", X, "name").as_deref(),
            Some("Alpha 2")
        );
    }

    let cli = crate::support::cli::Cli::with_hub();
    cli.ok(&[
        "task",
        "add",
        "hub",
        "org_organisation",
        "--review-kept-updates",
    ]);
    let listed = cli.json(&["task", "list", "hub", "--json"]);
    assert_eq!(listed[0]["review_kept_updates"], true, "{listed}");
}

/// Deleting the record resolves the conflict that waited for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_record_resolves_its_conflict() {
    let Some((a, _b, _id, _task)) = conflict_under("THIS").await else {
        return;
    };
    let items = waiting(&a);
    assert_eq!(items.len(), 1);
    write_local(
        &a,
        &doc(&[peers::deleted(
            "org_organisation",
            X,
            "2026-11-30T10:00:00",
            None,
        )]),
    );
    assert!(waiting(&a).is_empty());
    let item = model::review_items::find(&mut a.conn(), items[0].id)
        .unwrap()
        .unwrap();
    assert_eq!(item.resolution(), Some(Resolution::Superseded));
}
