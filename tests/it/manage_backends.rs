//! The operations behind `edensync repository|task|job|config` (the library's
//! `manage`), on SQLite and on PostgreSQL: inserts read back, `RETURNING`
//! for jobs, cascades on removal. Two nodes per backend, as each PostgreSQL
//! node is a database created and migrated for it.

use edensync::audit::Actor;
use edensync::db::DbConnection;
use edensync::manage::jobs::JobForm;
use edensync::manage::repositories::RepositoryForm;
use edensync::manage::tasks::TaskForm;
use edensync::manage::{self, PasswordChange};
use edensync::model::repositories::Repository;
use edensync::model::task_filters;
use edensync::model::users::Role;
use edensync::secrets::SecretKey;

use crate::on_both_backends;
use crate::store::Store;
use crate::support::Backend;

const PEER_PASSWORD: &str = "peer secret password";

/// hub: a URL, credentials, one table and the sync account peer@example.org.
fn hub_form() -> RepositoryForm {
    let mut form = RepositoryForm::new("hub");
    form.url = Some("https://eden.example.org/eden".into());
    form.username = Some("admin@eden.example.org".into());
    form.password = PasswordChange::Set(PEER_PASSWORD.into());
    form.allowed_tables = Some(vec!["org_organisation".into()]);
    form.accounts = vec!["peer@example.org".into()];
    form
}

/// The account peer@example.org and the repository hub.
fn create_hub(conn: &mut DbConnection, key: &SecretKey) -> Repository {
    let actor = Actor::system();
    edensync::accounts::add_user(
        conn,
        &actor,
        "peer@example.org",
        "peer password 12345",
        Role::Sync,
    )
    .unwrap();
    manage::repositories::create(conn, &Actor::cli(), key, &hub_form()).unwrap()
}

async fn repositories_keep_a_sealed_password_and_their_accounts(backend: Backend) {
    let Some(store) = Store::on(backend) else {
        return;
    };
    let (conn, key) = (&mut *store.conn(), &store.node.key);
    let hub = create_hub(conn, key);
    let sealed = hub.password_enc.as_deref().unwrap();
    assert_eq!(key.decrypt(sealed).unwrap(), PEER_PASSWORD);
    let accounts = manage::repositories::accounts(conn, &hub).unwrap();
    assert_eq!(accounts, vec!["peer@example.org".to_string()]);

    let taken = manage::repositories::create(conn, &Actor::cli(), key, &hub_form()).unwrap_err();
    assert_eq!(taken.to_string().matches("already").count(), 2, "{taken}");

    let mut edit = RepositoryForm::from_repository(conn, &hub).unwrap();
    edit.password = PasswordChange::Clear;
    edit.username = None;
    edit.accounts.clear();
    let edited = manage::repositories::update(conn, &Actor::cli(), key, &hub, &edit).unwrap();
    assert_eq!(edited.password_enc, None);
    assert!(
        manage::repositories::accounts(conn, &hub)
            .unwrap()
            .is_empty()
    );
}

on_both_backends!(
    repositories,
    repositories_keep_a_sealed_password_and_their_accounts
);

async fn settings_tasks_and_jobs_read_back_and_removal_cascades(backend: Backend) {
    let Some(store) = Store::on(backend) else {
        return;
    };
    let (conn, key) = (&mut *store.conn(), &store.node.key);
    manage::settings::set(conn, &Actor::cli(), key, "site_name", "Hub").unwrap();
    manage::settings::set(conn, &Actor::cli(), key, "read_timeout_secs", "45").unwrap();
    let config = edensync::model::sync_config::get(conn).unwrap().unwrap();
    assert_eq!(
        (config.site_name.as_str(), config.read_timeout_secs),
        ("Hub", 45)
    );

    let hub = create_hub(conn, key);
    let mut organisation = TaskForm::new("org_organisation");
    organisation.filters = vec!["~.acronym__like=RO*".into()];
    let organisation = manage::tasks::add(conn, &Actor::cli(), &hub, &organisation).unwrap();
    assert_eq!(organisation.position, 1);
    let office = TaskForm::new("org_office");
    let office = manage::tasks::add(conn, &Actor::cli(), &hub, &office).unwrap();
    assert_eq!(office.position, 2);

    let morning = JobForm {
        cron: Some("0 0 6 * * *".into()),
        ..JobForm::default()
    };
    let job = manage::jobs::add(conn, &Actor::cli(), &hub, &morning).unwrap();
    assert_eq!(job.cron.as_deref(), Some("0 0 6 * * *"));
    let next = job.next_run_at.unwrap();
    assert_eq!(next.format("%H:%M:%S").to_string(), "06:00:00");
    let stored = manage::jobs::find(conn, job.id).unwrap();
    assert_eq!(stored.next_run_at, Some(next), "as RETURNING gave it");

    let filters = |conn: &mut DbConnection| task_filters::list_for_task(conn, organisation.id);
    assert_eq!(filters(conn).unwrap().len(), 1);
    manage::repositories::remove(conn, &Actor::cli(), &hub).unwrap();
    let tasks = edensync::model::tasks::list_for_repository(conn, hub.id).unwrap();
    assert!(tasks.is_empty(), "{tasks:?}");
    assert!(filters(conn).unwrap().is_empty());
    assert!(edensync::model::jobs::find(conn, job.id).unwrap().is_none());
}

on_both_backends!(
    settings_tasks_and_jobs,
    settings_tasks_and_jobs_read_back_and_removal_cascades
);
