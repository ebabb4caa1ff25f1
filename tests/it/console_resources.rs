//! A repository's Resources and Schedule tabs: tables with their policies
//! and filters (errors next to the fields), watermark resets, schedules
//! with their next run times (an invalid cron expression said clearly).

use edensync::model;

use crate::support::peers::add_repository;
use crate::support::{ADMIN_EMAIL, ADMIN_PASSWORD, Backend, TestApp, location};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_and_schedules_of_a_repository() {
    let Some(a) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let id = add_repository(
        &a,
        "Hub",
        "http://127.0.0.1:9/eden",
        "someone@example.org",
        "whatever password",
    );
    a.add_admin();
    let admin = a.logged_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let resources = format!("/repositories/{id}/resources");

    let refused = admin
        .submit(
            &resources,
            &resources,
            &[
                ("table", "Not A Table"),
                ("mode", "both"),
                ("create", "on"),
                ("update_policy", "NEWER"),
                ("conflict_policy", "NEWER"),
                ("filters", "acronym RO*"),
            ],
        )
        .await;
    assert_eq!(refused.status().as_u16(), 422);
    let html = refused.text().await.unwrap();
    assert!(
        html.contains("id=\"table-error\"") && html.contains("id=\"filters-error\""),
        "{html}"
    );
    assert!(html.contains("value=\"Not A Table\""));

    let added = admin
        .submit(
            &resources,
            &resources,
            &[
                ("table", "org_organisation"),
                ("mode", "pull"),
                ("create", "on"),
                ("update", "on"),
                ("update_policy", "MASTER"),
                ("conflict_policy", "THIS"),
                ("components", "on"),
                ("filters", "~.acronym__like=RO*\norg_office:~.name__like=A*"),
            ],
        )
        .await;
    assert_eq!(location(&added), resources);
    let html = admin.get(&resources).await.text().await.unwrap();
    assert!(
        html.contains("<code>org_organisation</code>") && html.contains("MASTER / THIS"),
        "{html}"
    );
    assert!(html.contains("~.acronym__like=RO*") && html.contains("org_office:~.name__like=A*"));
    let task = model::tasks::find(&mut a.conn(), id, "org_organisation")
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            task.mode.as_str(),
            task.strategy.to_text().as_str(),
            task.components
        ),
        ("pull", "create,update", true)
    );

    // Re-pull everything forgets the pull watermark.
    diesel_set_last_pull(&a, task.id);
    let reset = admin
        .submit(
            &resources,
            &format!("{resources}/org_organisation/repull"),
            &[],
        )
        .await;
    assert_eq!(location(&reset), resources);
    let task = model::tasks::find(&mut a.conn(), id, "org_organisation")
        .unwrap()
        .unwrap();
    assert!(task.last_pull.is_none() && task.last_pull_seq.is_none());

    let schedule = format!("/repositories/{id}/schedule");
    let refused = admin
        .submit(
            &schedule,
            &schedule,
            &[
                ("kind", "cron"),
                ("cron", "*/10 * * * *"),
                ("repeats", "0"),
                ("timeout", "600"),
                ("enabled", "on"),
            ],
        )
        .await;
    assert_eq!(refused.status().as_u16(), 422);
    let html = refused.text().await.unwrap();
    assert!(
        html.contains("id=\"cron-error\"") && html.contains("SEC MIN HOUR DOM MON DOW"),
        "{html}"
    );
    let refused = admin
        .submit(
            &schedule,
            &schedule,
            &[
                ("kind", "every"),
                ("every_minutes", "ten"),
                ("repeats", "0"),
                ("timeout", "600"),
            ],
        )
        .await;
    assert_eq!(refused.status().as_u16(), 422);
    assert!(refused.text().await.unwrap().contains("id=\"every-error\""));

    let added = admin
        .submit(
            &schedule,
            &schedule,
            &[
                ("kind", "cron"),
                ("cron", "0 */10 * * * *"),
                ("repeats", "0"),
                ("timeout", "300"),
                ("enabled", "on"),
            ],
        )
        .await;
    assert_eq!(location(&added), schedule);
    let html = admin.get(&schedule).await.text().await.unwrap();
    assert!(
        html.contains("<td data-label=\"Schedule\">every 10 minutes, timeout 300 s</td>"),
        "{html}"
    );
    let job = model::jobs::list_for_repository(&mut a.conn(), id)
        .unwrap()
        .remove(0);
    assert!(job.next_run_at.is_some());
    let next_times: usize = ["00", "10", "20", "30", "40", "50"]
        .iter()
        .map(|minute| html.matches(&format!(":{minute}:00</time><br>")).count())
        .sum();
    assert_eq!(next_times, 3, "the next three run times are shown: {html}");

    let removed = admin
        .submit(&schedule, &format!("{schedule}/{}/remove", job.id), &[])
        .await;
    assert_eq!(location(&removed), schedule);
    assert!(
        model::jobs::list_for_repository(&mut a.conn(), id)
            .unwrap()
            .is_empty()
    );
    let removed = admin
        .submit(
            &resources,
            &format!("{resources}/org_organisation/remove"),
            &[],
        )
        .await;
    assert_eq!(location(&removed), resources);
    assert!(
        model::tasks::find(&mut a.conn(), id, "org_organisation")
            .unwrap()
            .is_none()
    );
}

fn diesel_set_last_pull(app: &TestApp, task_id: i64) {
    use diesel::prelude::*;
    use edensync::db::schema::tasks;
    diesel::update(tasks::table.find(task_id))
        .set((
            tasks::last_pull.eq(Some(model::now())),
            tasks::last_pull_seq.eq(Some(42_i64)),
        ))
        .execute(&mut *app.conn())
        .unwrap();
}

/// A task is changed in place: the form comes filled in with its values
/// (the table fixed), errors show next to the fields, and a change of
/// filters resets the push watermark.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_is_edited_in_place() {
    let Some(a) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let id = add_repository(
        &a,
        "Hub",
        "http://127.0.0.1:9/eden",
        "someone@example.org",
        "whatever password",
    );
    crate::support::peers::add_task(
        &a,
        id,
        crate::support::peers::TaskSpec {
            filters: &[("org_organisation", "~.acronym__like=RO*")],
            ..Default::default()
        },
    );
    let task = model::tasks::find(&mut a.conn(), id, "org_organisation")
        .unwrap()
        .unwrap();
    model::tasks::set_push_watermark(&mut a.conn(), task.id, Some(model::now()), 42).unwrap();
    a.add_admin();
    let admin = a.logged_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let edit = format!("/repositories/{id}/resources?edit=org_organisation");
    let html = admin.get(&edit).await.text().await.unwrap();
    assert!(
        html.contains("Change <code>org_organisation</code>"),
        "{html}"
    );
    assert!(html.contains("value=\"org_organisation\" readonly"));
    assert!(html.contains(">~.acronym__like=RO*</textarea>"), "{html}");
    assert!(html.contains("<option value=\"NEWER\" selected>"));

    let action = format!("/repositories/{id}/resources/org_organisation");
    let refused = admin
        .submit(
            &edit,
            &action,
            &[
                ("mode", "sideways"),
                ("update_policy", "NEWER"),
                ("conflict_policy", "NEWER"),
            ],
        )
        .await;
    assert_eq!(refused.status().as_u16(), 422);
    let html = refused.text().await.unwrap();
    assert!(html.contains("id=\"mode-error\""), "{html}");
    assert!(html.contains("Change <code>org_organisation</code>"));

    let saved = admin
        .submit(
            &edit,
            &action,
            &[
                ("mode", "pull"),
                ("create", "on"),
                ("update_policy", "THIS"),
                ("conflict_policy", "OTHER"),
                ("filters", "~.acronym__like=XY*"),
            ],
        )
        .await;
    assert_eq!(saved.status().as_u16(), 303);
    assert_eq!(location(&saved), format!("/repositories/{id}/resources"));
    let task = model::tasks::find(&mut a.conn(), id, "org_organisation")
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            task.mode.as_str(),
            task.strategy.to_text().as_str(),
            task.update_policy.as_str(),
            task.conflict_policy.as_str()
        ),
        ("pull", "create", "THIS", "OTHER")
    );
    assert_eq!(
        task.last_push_seq, None,
        "new filters: everything is pushed again"
    );
    let filters = model::task_filters::list_for_task(&mut a.conn(), task.id).unwrap();
    assert_eq!(filters[0].filter_string, "~.acronym__like=XY*");
    assert!(a.audit_actions().contains(&"task.edit".to_string()));

    // Without the CSRF token nothing changes.
    let forged = admin
        .post_form(
            &action,
            &[
                ("mode", "none"),
                ("update_policy", "NEWER"),
                ("conflict_policy", "NEWER"),
            ],
        )
        .await;
    assert_ne!(forged.status().as_u16(), 303);
    let task = model::tasks::find(&mut a.conn(), id, "org_organisation")
        .unwrap()
        .unwrap();
    assert_eq!(task.mode, edensync::vocabulary::TaskMode::Pull);
}
