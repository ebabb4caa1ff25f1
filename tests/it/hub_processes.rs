//! Several `edensync serve` processes on one PostgreSQL: each due job runs
//! once, runs spread over the processes, a killed process's run is taken
//! over, sessions and sync calls work on any process.

use std::collections::{BTreeSet, HashMap};
use std::process::Child;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use edensync::config::DatabaseUrl;
use edensync::engine::RunStatus;
use edensync::model;
use edensync::model::runs::Run;
use edensync::model::users::Role;

use crate::scheduler::{add_job, wait_for};
use crate::support::peers::{self, TaskSpec, add_repository, add_task, count, many_orgs};
use crate::support::stand_in::{Reply, StandIn};
use crate::support::{
    ADMIN_EMAIL, ADMIN_PASSWORD, Backend, Client, TestApp, browser_http, serve_process,
};

/// A process of the hub: the child and where it listens.
struct Process {
    child: Child,
    url: String,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `edensync serve` on the hub's database with the hub's secret key and a
/// data directory of its own (as on another host).
fn start_process(hub: &TestApp, dir: &std::path::Path, scheduler: bool) -> Process {
    let DatabaseUrl::Postgres(database) = &hub.node.settings.database else {
        panic!("the hub runs on PostgreSQL");
    };
    let env = HashMap::from([
        ("PATH", std::env::var("PATH").unwrap_or_default()),
        ("EDENSYNC_DATA_DIR", dir.display().to_string()),
        ("EDENSYNC_DATABASE_URL", database.clone()),
        ("EDENSYNC_SECRET_KEY", hub.node.key.to_text()),
        ("EDENSYNC_MAX_RUNS_AT_ONCE", "2".to_string()),
    ]);
    let (child, url) = serve_process(&env, scheduler);
    Process { child, url }
}

fn runs(hub: &TestApp) -> Vec<Run> {
    model::runs::list(&mut hub.conn(), None, None, None, 100_000).unwrap()
}

/// The process id in a run's holder (`host:pid:run`).
fn pid_of(run: &Run) -> u32 {
    let holder = run.holder.as_deref().expect("a run has a holder");
    holder.split(':').nth(1).unwrap().parse().unwrap()
}

fn pull_task() -> TaskSpec<'static> {
    TaskSpec {
        mode: "pull",
        ..TaskSpec::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_on_one_postgresql_share_the_work_and_take_over_a_killed_one() {
    // The in-test node makes the database and the key, and serves as the
    // console's view of it; it runs no scheduler.
    let Some(hub) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    let dirs: Vec<_> = (0..4).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut schedulers: Vec<Process> = dirs[..3]
        .iter()
        .map(|d| start_process(&hub, d.path(), true))
        .collect();
    let web = start_process(&hub, dirs[3].path(), false);

    // 1. Nine repositories due every 2 s: each firing runs once, somewhere.
    let fast = crate::scheduler::slow_peer(Duration::from_millis(200)).await;
    let mut jobs = Vec::new();
    for n in 0..9 {
        let url = format!("{}/site{n}", fast.url);
        let id = add_repository(
            &hub,
            &format!("Site {n}"),
            &url,
            "x@example.org",
            "a password",
        );
        add_task(&hub, id, pull_task());
        jobs.push(add_job(&hub, id, 2, 0, None, 60));
    }
    tokio::time::sleep(Duration::from_secs(12)).await;
    for &job in &jobs {
        model::jobs::set_enabled(&mut hub.conn(), job, false, None, model::now()).unwrap();
    }
    wait_for(
        "the runs in progress to end",
        Duration::from_secs(20),
        || runs(&hub).iter().all(|r| r.finished_at.is_some()),
    )
    .await;
    let all = runs(&hub);
    for &job in &jobs {
        let fired = model::jobs::find(&mut hub.conn(), job)
            .unwrap()
            .unwrap()
            .times_run;
        let ran: Vec<&Run> = all.iter().filter(|r| r.job_id == Some(job)).collect();
        assert!(fired >= 4, "job {job} fired {fired} times in 12 s");
        assert_eq!(
            ran.len() as i32,
            fired,
            "each firing of job {job} runs once"
        );
        for run in ran {
            assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
        }
    }
    let pids: BTreeSet<u32> = all.iter().map(pid_of).collect();
    let ours: BTreeSet<u32> = schedulers.iter().map(|p| p.child.id()).collect();
    assert_eq!(pids, ours, "runs spread over the three processes");

    // 2. A process killed in a run: another takes the repository over once
    // the dead one's heartbeat has stopped, and pulls what it did not.
    let slow = Arc::new(AtomicBool::new(true));
    let peer = {
        let slow = slow.clone();
        StandIn::start(move |_, _| {
            let answer = Reply::Recorded("02_pull_initial_response.http");
            if slow.load(Ordering::SeqCst) {
                Reply::Slow(Duration::from_secs(60), Box::new(answer))
            } else {
                answer
            }
        })
        .await
    };
    let stuck = add_repository(&hub, "Stuck", &peer.url, "x@example.org", "a password");
    add_task(&hub, stuck, pull_task());
    add_job(&hub, stuck, 2, 0, None, 120);
    let in_progress = |hub: &TestApp| {
        runs(hub)
            .into_iter()
            .find(|r| r.repository_id == stuck && r.status == RunStatus::Running)
    };
    wait_for("a run of Stuck", Duration::from_secs(20), || {
        in_progress(&hub).is_some()
    })
    .await;
    let killed_run = in_progress(&hub).unwrap();
    let victim = schedulers
        .iter()
        .position(|p| p.child.id() == pid_of(&killed_run))
        .expect("the run is one of the three processes'");
    let killed_pid = pid_of(&killed_run);
    drop(schedulers.remove(victim)); // SIGKILL
    slow.store(false, Ordering::SeqCst);
    let taken_over = |hub: &TestApp| {
        runs(hub).into_iter().find(|r| {
            r.repository_id == stuck && r.status == RunStatus::Succeeded && pid_of(r) != killed_pid
        })
    };
    wait_for(
        "another process to run Stuck",
        Duration::from_secs(40),
        || taken_over(&hub).is_some(),
    )
    .await;
    let dead = model::runs::find(&mut hub.conn(), killed_run.id)
        .unwrap()
        .unwrap();
    assert_eq!(dead.status, RunStatus::Failed, "{dead:?}");
    assert!(dead.error.unwrap().contains("killed or crashed"));
    assert_eq!(
        count(&hub, "org_organisation"),
        3,
        "the pull was done after all"
    );

    // 3. A push received by one process is pulled from another.
    let field = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let to_hub = peers::link(&field, &hub).await;
    peers::set_url(&field, to_hub, &web.url);
    add_task(
        &field,
        to_hub,
        TaskSpec {
            mode: "push",
            ..TaskSpec::default()
        },
    );
    peers::write_local(&field, &many_orgs("field", 40));
    let pushed = peers::run(&field, to_hub).await;
    assert_eq!(pushed.status, RunStatus::Succeeded, "{pushed:?}");
    let other = TestApp::spawn(Backend::Sqlite).await.unwrap();
    hub.add_user("other-site@example.org", peers::PEER_PASSWORD, Role::Sync);
    let from_hub = add_repository(
        &other,
        "Hub",
        &schedulers[0].url,
        "other-site@example.org",
        peers::PEER_PASSWORD,
    );
    peers::engine(&other).register(from_hub).await.unwrap();
    add_task(&other, from_hub, pull_task());
    let pulled = peers::run(&other, from_hub).await;
    assert_eq!(pulled.status, RunStatus::Succeeded, "{pulled:?}");
    assert_eq!(count(&other, "org_organisation"), 43);

    // 4. A console session opened on one process works on every other.
    hub.add_admin();
    let http = browser_http();
    let on = |process: &str| Client {
        base: process.to_string(),
        http: http.clone(),
    };
    let login = on(&schedulers[0].url)
        .login(ADMIN_EMAIL, ADMIN_PASSWORD)
        .await;
    assert_eq!(login.status(), 303);
    assert!(on(&schedulers[1].url).is_logged_in().await);
    assert!(on(&web.url).is_logged_in().await);
    let logout = on(&web.url).submit("/", "/logout", &[]).await;
    assert_eq!(logout.status(), 303);
    assert!(
        !on(&schedulers[0].url).is_logged_in().await,
        "logged out everywhere"
    );
}
