//! Field links, through the project's link simulator (support/link.rs),
//! scaled down: pages shrink until they fit between a link's cuts, so a
//! sync that a fixed page size never completes finishes with every record
//! once; a link that stalls for longer than the HTTP stack's default user
//! timeout and then moves again does not fail the transfer. Each field
//! profile, scaled down, moves organisations with offices both ways and
//! leaves both stores the same record for record.

use std::time::Duration;

use edensync::engine::RunStatus;
use edensync::model;

use crate::support::link::{Link, Profile};
use crate::support::peers::{
    self, TaskSpec, add_task, count, many_orgs, orgs_with_offices, set_url, snapshot, stored_uuids,
    write_local,
};
use crate::support::stand_in::{Reply, StandIn};
use crate::support::{Backend, TestApp};

/// A 2G-like link, faster in proportion: a page of 300 organisations
/// (3.7 KB gzip and the headers, over 4 s at 1 KB/s) takes longer than the
/// longest time between two cuts (3.75 s), so a fixed page sent again
/// whole is lost at every try. The pull's page goes on from where each cut
/// stopped it (or, should the serving node not keep it, comes in smaller
/// pages); the push's pages shrink to fit between the cuts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_shrink_to_fit_between_the_cuts_of_a_slow_link() {
    let Some((a, b, id)) = peers::pair(Backend::Sqlite).await else {
        return;
    };
    add_task(&a, id, TaskSpec::default());
    write_local(&b, &many_orgs("B", 300));
    write_local(&a, &many_orgs("A", 100));
    let link = Link::start(
        &b.url,
        Profile {
            name: "slow and cut",
            bytes_per_sec: Some(1_000),
            rtt: Duration::from_millis(50),
            cut_every: Some(Duration::from_millis(2_500)),
            stall: None,
        },
    )
    .await;
    set_url(&a, id, &link.url);
    let mut engine = peers::engine(&a);
    engine.page_size = 300;
    engine.page_time = Duration::from_secs(1);
    let run = peers::run_with(&engine, id).await;
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    assert_eq!(run.counts.pulled_created, 300, "every record once: {run:?}");
    // A push whose answer the link lost is sent again, and the peer's
    // answer lists the records again (as Eden's does), stored once.
    let pushed = run.counts.pushed_created + run.counts.pushed_updated;
    assert!(pushed >= 100, "{run:?}");
    assert_eq!(count(&a, "org_organisation"), 400);
    assert_eq!(count(&b, "org_organisation"), 400);
    assert_eq!(stored_uuids(&a), stored_uuids(&b));
    let log = model::sync_log::recent(&mut a.conn(), 500).unwrap();
    let pages = log.iter().filter(|l| l.action == "import").count();
    let went_on = log
        .iter()
        .any(|l| l.message.contains("going on from where the answer stopped"));
    assert!(
        went_on || pages > 2,
        "the pull went on after a cut, or came in smaller pages: {log:?}"
    );
    assert!(
        link.traffic.cuts.load(std::sync::atomic::Ordering::Relaxed) > 0,
        "the link did drop"
    );
}

/// A link that stops moving for 35 s (a satellite fade) and then moves
/// again: the push waits, and completes. The HTTP stack's default gave up
/// after 30 s of unacknowledged bytes ("Connection timed out (os error
/// 110)") although the link was not dead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_that_stalls_and_moves_again_does_not_time_out() {
    let Some(a) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let eden = StandIn::start(|_, _| Reply::Recorded("03_push_initial_response.http")).await;
    let link = Link::start(
        &eden.url,
        Profile {
            stall: Some((8 * 1024, Duration::from_secs(35))),
            ..Profile::clean()
        },
    )
    .await;
    let repository = peers::eden_push_task(&a, &link.url);
    write_local(&a, &many_orgs("A", 3_000));
    let mut engine = peers::engine(&a);
    engine.eden_push_size = 3_000;
    let started = std::time::Instant::now();
    let run = peers::run_with(&engine, repository).await;
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    assert!(
        started.elapsed() >= Duration::from_secs(35),
        "the link stalled"
    );
    assert_eq!(eden.requests().len(), 1, "sent once, not again");
}

/// Every field profile, ten times faster in every respect (pages sized to
/// 1.5 s instead of 15): 600 organisations with an office each are pulled
/// and 600 others pushed, and both stores end the same, record for record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_profile_moves_every_record_both_ways() {
    for profile in [Profile::flaky(), Profile::vsat(), Profile::two_g()] {
        let profile = profile.scaled(10);
        let Some((a, b, id)) = peers::pair(Backend::Sqlite).await else {
            return;
        };
        add_task(
            &a,
            id,
            TaskSpec {
                components: true,
                ..TaskSpec::default()
            },
        );
        write_local(&b, &orgs_with_offices("B", 600));
        write_local(&a, &orgs_with_offices("A", 600));
        let link = Link::start(&b.url, profile.clone()).await;
        set_url(&a, id, &link.url);
        let mut engine = peers::engine(&a);
        engine.page_time = Duration::from_millis(1_500);
        let run = peers::run_with(&engine, id).await;
        assert_eq!(
            run.status,
            RunStatus::Succeeded,
            "{}: {run:?}",
            profile.name
        );
        for table in ["org_organisation", "org_office"] {
            let (here, there) = (snapshot(&a, table), snapshot(&b, table));
            assert_eq!(here.len(), 1_200, "{} {table}", profile.name);
            assert_eq!(here, there, "{} {table}", profile.name);
        }
    }
}

/// A page the link cuts goes on from where it stopped: the serving node
/// keeps the answer until it is delivered whole, and the rest is asked
/// for, so nothing that came moves twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_page_goes_on_from_where_it_stopped() {
    use crate::support::stand_in::Cutter;
    let Some((a, b, id)) = peers::pair(Backend::Sqlite).await else {
        return;
    };
    add_task(
        &a,
        id,
        TaskSpec {
            mode: "pull",
            ..TaskSpec::default()
        },
    );
    write_local(&b, &many_orgs("B", 2_000));
    // The first connection's answer is cut after 20 000 bytes.
    let cutter = Cutter::start(&b.url, 0, None, Some(20_000)).await;
    set_url(&a, id, &cutter.url);
    let run = peers::run_with(&peers::engine(&a), id).await;
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    assert_eq!(run.counts.pulled_created, 2_000, "{run:?}");
    assert_eq!(
        snapshot(&a, "org_organisation"),
        snapshot(&b, "org_organisation")
    );
    let log = model::sync_log::recent(&mut a.conn(), 50).unwrap();
    assert_eq!(
        log.iter().filter(|l| l.action == "retry").count(),
        1,
        "the link dropped once: {log:?}"
    );
    assert_eq!(run.counts.bytes_lost, 0, "what came was kept: {run:?}");
    assert!(
        log.iter()
            .any(|l| l.message.contains("going on from where the answer stopped")),
        "{log:?}"
    );

    // The run page shows the link: its pace, the drop, nothing moved twice.
    use crate::support::browser::{Browser, log_in, open, set_width, shot, wait_for_text};
    a.add_admin();
    let Some(browser) = Browser::start().await else {
        return;
    };
    let driver = &browser.driver;
    log_in(driver, &a).await;
    for width in [1400, 400] {
        set_width(driver, width).await;
        open(driver, a.url(&format!("/runs/{}", run.run_id))).await;
        wait_for_text(driver, "1 time, each ridden out").await;
        wait_for_text(driver, "0 B (0 % of what moved)").await;
        shot(driver, &format!("run-link-{width}")).await;
    }
    browser.quit().await;
}
