//! Schedules in people's words ("every 5 minutes"), edited, paused,
//! resumed and run now, from a repository's Schedule tab and from the
//! Schedules screen that lists every job with its status, last run,
//! average run and next run. In a real browser, at 1400 and 400 px.

use thirtyfour::prelude::*;

use edensync::engine::{RunRequest, Stop, Trigger};
use edensync::model;

use crate::support::Backend;
use crate::support::browser::{
    click, flash, logged_in, open, set_width, shot, text_of, type_into, wait_for, wait_for_text,
};
use crate::support::peers::{self, TaskSpec, add_task};

/// The Schedules screen's row of job `id`, as text.
async fn row(driver: &WebDriver, id: i64) -> String {
    driver
        .find(By::Id(format!("job-{id}")))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedules_are_added_edited_paused_resumed_and_run_from_one_screen() {
    let Some((a, _b, id)) = peers::pair(Backend::Sqlite).await else {
        return;
    };
    a.add_admin();
    add_task(&a, id, TaskSpec::default());
    let Some(browser) = logged_in(&a).await else {
        return;
    };
    let driver = &browser.driver;

    // Added on the repository's tab, said back in words.
    open(driver, a.url(&format!("/repositories/{id}/schedule"))).await;
    type_into(driver, "every_minutes", "5").await;
    click(driver, "#job-form button[type='submit']").await;
    let said = flash(driver, "Scheduled").await;
    assert!(said.contains("Scheduled: every 5 minutes"), "{said}");
    let job = model::jobs::list(&mut a.conn()).unwrap().remove(0);

    // A run the job started, for its average.
    peers::engine(&a)
        .run(RunRequest {
            repository_id: id,
            trigger: Trigger::Schedule,
            job_id: Some(job.id),
            only_table: None,
            stop: Stop::never(),
            progress: None,
        })
        .await
        .unwrap();

    for width in [1400, 400] {
        set_width(driver, width).await;
        open(driver, a.url("/jobs")).await;
        let line = row(driver, job.id).await;
        assert!(line.contains("every 5 minutes"), "{line}");
        assert!(line.contains("active"), "{line}");
        assert!(line.contains(" over 1 run"), "the average: {line}");
        assert!(line.contains(" ago (succeeded)"), "the last run: {line}");
        assert!(
            line.contains("in 4 min") || line.contains("in 5 min"),
            "{line}"
        );
        shot(driver, &format!("schedules-{width}")).await;
    }

    // Paused from the Schedules screen: no next run, and back there.
    set_width(driver, 1400).await;
    click(driver, &format!("#job-{} button.secondary", job.id)).await;
    let said = flash(driver, "Paused").await;
    assert!(said.contains("No run until it is resumed"), "{said}");
    assert!(driver.current_url().await.unwrap().path() == "/jobs");
    let line = row(driver, job.id).await;
    assert!(line.contains("paused"), "{line}");
    let paused = model::jobs::find(&mut a.conn(), job.id).unwrap().unwrap();
    assert!(
        !paused.enabled && paused.next_run_at.is_none(),
        "{paused:?}"
    );
    shot(driver, "schedules-paused-1400").await;

    click(driver, &format!("#job-{} button.secondary", job.id)).await;
    let said = flash(driver, "Resumed").await;
    assert!(said.contains("Next run at"), "{said}");
    assert!(row(driver, job.id).await.contains("active"));

    // Edited: the form comes filled; a bad value comes back next to its
    // field with what was typed; a good one is saved and said in words.
    click(driver, &format!("#job-{} a[href*='edit=']", job.id)).await;
    wait_for_text(driver, "Change the schedule").await;
    let minutes = wait_for(driver, "#every_minutes").await;
    assert_eq!(minutes.value().await.unwrap().as_deref(), Some("5"));
    type_into(driver, "every_minutes", "soon").await;
    click(driver, "#job-form button[type='submit']").await;
    let error = text_of(driver, "every-error").await;
    assert!(error.contains("must be a number of minutes"), "{error}");
    let kept = wait_for(driver, "#every_minutes").await;
    assert_eq!(kept.value().await.unwrap().as_deref(), Some("soon"));
    shot(driver, "schedule-edit-error-1400").await;
    type_into(driver, "every_minutes", "15").await;
    click(driver, "#job-form button[type='submit']").await;
    let said = flash(driver, "Changed to").await;
    assert!(said.contains("Changed to: every 15 minutes"), "{said}");
    let edited = model::jobs::find(&mut a.conn(), job.id).unwrap().unwrap();
    assert_eq!(edited.every_seconds, Some(900));
    assert_eq!(
        edited.times_run, paused.times_run,
        "runs so far still count"
    );
    assert_eq!(
        model::jobs::list(&mut a.conn()).unwrap().len(),
        1,
        "changed, not added"
    );

    // Run now: a run of the schedule's, so it counts in its history.
    open(driver, a.url("/jobs")).await;
    let runs_before = model::runs::list(&mut a.conn(), None, None, None, 10)
        .unwrap()
        .len();
    click(driver, &format!("#job-{} button:not(.secondary)", job.id)).await;
    flash(driver, "run").await;
    let mut runs = Vec::new();
    for _ in 0..100 {
        runs = model::runs::list(&mut a.conn(), None, None, None, 10).unwrap();
        if runs.len() > runs_before {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(runs.len(), runs_before + 1);
    assert_eq!(runs[0].job_id, Some(job.id), "{:?}", runs[0]);

    let audit: Vec<String> = model::audit_log::list(&mut a.conn(), None, 50)
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    for action in ["job.add", "job.pause", "job.resume", "job.edit"] {
        assert!(audit.contains(&action.to_string()), "{action}: {audit:?}");
    }
    browser.quit().await;
}
