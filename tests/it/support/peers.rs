//! Two real nodes linked for sync: A (active) has a repository pointing at
//! B (passive), registered through the real endpoint; records are written
//! on either side as local S3XML imports.

use std::collections::BTreeMap;

use diesel::prelude::*;
use edensync::db::schema::{repositories, task_filters, tasks};
use edensync::engine::{Engine, RunReport, RunRequest, Stop, Trigger};
use edensync::model;
use edensync::model::records::StoredRecord;
use edensync::model::users::Role;
use edensync::s3xml::{Limits, Reader};
use edensync::store::{self, ImportOptions, ImportSummary};

use super::TestApp;

pub const PEER_EMAIL: &str = "peer-a@example.org";
pub const PEER_PASSWORD: &str = "peer password 12345";

pub fn engine(app: &TestApp) -> Engine {
    Engine::new(
        app.node.pool.clone(),
        app.node.key.clone(),
        app.node.site_uuid.clone(),
        Some(app.url.clone()),
    )
}

/// Add a repository on `app` for the peer at `url`, with a password stored
/// encrypted as the console would; returns its id.
pub fn add_repository(app: &TestApp, name: &str, url: &str, username: &str, password: &str) -> i64 {
    let now = model::now();
    let mut conn = app.conn();
    diesel::insert_into(repositories::table)
        .values((
            repositories::name.eq(name),
            repositories::url.eq(Some(url)),
            repositories::username.eq(Some(username)),
            repositories::password_enc.eq(Some(app.node.key.encrypt(password))),
            repositories::created_at.eq(now),
            repositories::updated_at.eq(now),
        ))
        .execute(&mut *conn)
        .unwrap();
    repositories::table
        .filter(repositories::name.eq(name))
        .select(repositories::id)
        .first(&mut *conn)
        .unwrap()
}

/// A on `a` syncs with `b`: a sync account on B, a repository on A,
/// registration through B's endpoint, and B accepting A's pushes.
pub async fn link(a: &TestApp, b: &TestApp) -> i64 {
    b.add_user(PEER_EMAIL, PEER_PASSWORD, Role::Sync);
    let id = add_repository(a, "B", &b.url, PEER_EMAIL, PEER_PASSWORD);
    let said = engine(a).register(id).await.expect("registration at B");
    assert!(said.contains("edensync"), "{said}");
    super::super::sync_register::accept_pushes(b, &a.node.site_uuid);
    id
}

/// Two nodes on one backend, A linked to B; `None` when the backend is
/// not available here (the skip was announced).
pub async fn pair(backend: super::Backend) -> Option<(TestApp, TestApp, i64)> {
    let a = TestApp::spawn(backend).await?;
    let b = TestApp::spawn(backend).await?;
    let repository = link(&a, &b).await;
    Some((a, b, repository))
}

/// A loopback URL where nothing listens (a peer that is down).
pub async fn unreachable_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    url
}

#[derive(Clone)]
pub struct TaskSpec<'a> {
    pub table: &'a str,
    pub mode: &'a str,
    pub update_policy: &'a str,
    pub conflict_policy: &'a str,
    pub components: bool,
    pub filters: &'a [(&'a str, &'a str)],
}

impl Default for TaskSpec<'_> {
    fn default() -> Self {
        TaskSpec {
            table: "org_organisation",
            mode: "both",
            update_policy: "NEWER",
            conflict_policy: "NEWER",
            components: false,
            filters: &[],
        }
    }
}

pub fn add_task(app: &TestApp, repository_id: i64, spec: TaskSpec) -> i64 {
    let now = model::now();
    let mut conn = app.conn();
    let position: i64 = tasks::table
        .filter(tasks::repository_id.eq(repository_id))
        .count()
        .get_result(&mut *conn)
        .unwrap();
    diesel::insert_into(tasks::table)
        .values((
            tasks::repository_id.eq(repository_id),
            tasks::position.eq(position as i32 + 1),
            tasks::resource_name.eq(spec.table),
            tasks::mode.eq(spec.mode),
            tasks::update_policy.eq(spec.update_policy),
            tasks::conflict_policy.eq(spec.conflict_policy),
            tasks::components.eq(spec.components),
            tasks::created_at.eq(now),
            tasks::updated_at.eq(now),
        ))
        .execute(&mut *conn)
        .unwrap();
    let id: i64 = tasks::table
        .filter(tasks::repository_id.eq(repository_id))
        .filter(tasks::resource_name.eq(spec.table))
        .select(tasks::id)
        .first(&mut *conn)
        .unwrap();
    for (table, filter) in spec.filters {
        diesel::insert_into(task_filters::table)
            .values((
                task_filters::task_id.eq(id),
                task_filters::table_name.eq(*table),
                task_filters::filter_string.eq(*filter),
            ))
            .execute(&mut *conn)
            .unwrap();
    }
    id
}

/// Write records on a node as its own local changes.
pub fn write_local(app: &TestApp, xml: &str) -> ImportSummary {
    import_with(&mut app.conn(), xml)
}

/// Import a document as local changes on this connection.
pub fn import_with(conn: &mut edensync::db::DbConnection, xml: &str) -> ImportSummary {
    let reader = Reader::new(xml.as_bytes(), Limits::default()).unwrap();
    store::import(conn, reader, &ImportOptions::default()).unwrap()
}

/// A document of `<resource>` elements.
pub fn doc(resources: &[String]) -> String {
    format!(
        "<?xml version='1.0' encoding='utf-8'?><s3xml success=\"true\" results=\"{}\">{}</s3xml>",
        resources.len(),
        resources.concat()
    )
}

/// `n` organisations created here, each with a nested office.
pub fn orgs_with_offices(prefix: &str, n: usize) -> String {
    let orgs: Vec<String> = (0..n)
        .map(|i| {
            format!(
                "<resource name=\"org_organisation\" uuid=\"urn:uuid:{prefix}-{i:05}\" mci=\"0\" created_on=\"2026-11-01T00:00:00\" modified_on=\"2026-11-20T10:00:00\"><data field=\"name\">Organisation {prefix} {i}</data><resource name=\"org_office\" uuid=\"urn:uuid:{prefix}-office-{i:05}\" mci=\"0\" modified_on=\"2026-11-20T10:00:00\"><data field=\"name\">Office of {prefix} {i}</data></resource></resource>"
            )
        })
        .collect();
    doc(&orgs)
}

/// An organisation created here (mci 0) with a name, acronym and time.
pub fn org(uuid: &str, name: &str, acronym: &str, modified: &str) -> String {
    format!(
        "<resource name=\"org_organisation\" uuid=\"{uuid}\" mci=\"0\" created_on=\"2026-11-01T00:00:00\" modified_on=\"{modified}\"><data field=\"name\">{name}</data><data field=\"acronym\" value=\"&quot;{acronym}&quot;\">{acronym}</data></resource>"
    )
}

pub fn deleted(table: &str, uuid: &str, modified: &str, replaced_by: Option<&str>) -> String {
    let replaced = replaced_by
        .map(|r| format!(" replaced_by=\"{r}\""))
        .unwrap_or_default();
    format!(
        "<resource name=\"{table}\" uuid=\"{uuid}\" deleted=\"True\"{replaced} modified_on=\"{modified}\"/>"
    )
}

pub fn record(app: &TestApp, table: &str, uuid: &str) -> Option<StoredRecord> {
    model::records::find(&mut app.conn(), table, uuid).unwrap()
}

/// The text of a record's field as stored.
pub fn field(app: &TestApp, table: &str, uuid: &str, name: &str) -> Option<String> {
    let stored = record(app, table, uuid)?;
    let body = edensync::store::body::Body::from_json(&stored.body).unwrap();
    body.fields.iter().find_map(|f| match f {
        edensync::s3xml::Field::Data(d) if d.field == name => Some(d.text.clone()),
        _ => None,
    })
}

/// Every record of `table` as stored: uuid → (modified_on, deleted, the
/// fields in name order).
pub fn snapshot(app: &TestApp, table: &str) -> BTreeMap<String, String> {
    use edensync::db::schema::records;
    let rows: Vec<(String, Option<chrono::NaiveDateTime>, bool, String)> = records::table
        .filter(records::table_name.eq(table))
        .select((
            records::uuid,
            records::modified_on,
            records::deleted,
            records::body,
        ))
        .load(&mut *app.conn())
        .unwrap();
    rows.into_iter()
        .map(|(uuid, modified_on, deleted, body)| {
            let mut fields: Vec<String> = edensync::store::body::Body::from_json(&body)
                .unwrap()
                .fields
                .iter()
                .map(|f| format!("{f:?}"))
                .collect();
            fields.sort();
            (
                uuid,
                format!("{modified_on:?} deleted={deleted} {fields:?}"),
            )
        })
        .collect()
}

pub fn count(app: &TestApp, table: &str) -> i64 {
    use edensync::db::schema::records;
    records::table
        .filter(records::table_name.eq(table))
        .count()
        .get_result(&mut *app.conn())
        .unwrap()
}

pub async fn run(app: &TestApp, repository_id: i64) -> RunReport {
    run_with(&engine(app), repository_id).await
}

/// A manual run with this engine (tests adjust its page size).
pub async fn run_with(engine: &Engine, repository_id: i64) -> RunReport {
    engine
        .run(RunRequest {
            repository_id,
            trigger: Trigger::Manual,
            job_id: None,
            only_table: None,
            stop: Stop::never(),
            progress: None,
        })
        .await
        .expect("the run is recorded")
}

/// `n` organisations, uuids `urn:uuid:{prefix}-0000` on.
pub fn many_orgs(prefix: &str, n: usize) -> String {
    let orgs: Vec<String> = (0..n)
        .map(|i| {
            org(
                &format!("urn:uuid:{prefix}-{i:04}"),
                &format!("Organisation {prefix} {i}"),
                &format!("{prefix}{i}"),
                "2026-11-20T10:00:00",
            )
        })
        .collect();
    doc(&orgs)
}

/// Point a repository somewhere else (through a proxy or a link).
pub fn set_url(app: &TestApp, id: i64, url: &str) {
    diesel::update(repositories::table.find(id))
        .set(repositories::url.eq(Some(url)))
        .execute(&mut *app.conn())
        .unwrap();
}

/// The uuids of the organisations a node holds, in order.
pub fn stored_uuids(app: &TestApp) -> Vec<String> {
    use edensync::db::schema::records;
    records::table
        .filter(records::table_name.eq("org_organisation"))
        .order(records::uuid.asc())
        .select(records::uuid)
        .load(&mut *app.conn())
        .unwrap()
}

/// An Eden repository at `url` (its application under `/edenb`) with one
/// push task for organisations.
pub fn eden_push_task(app: &TestApp, url: &str) -> i64 {
    let repository = add_repository(
        app,
        "Eden B",
        &format!("{url}/edenb"),
        "admin@example.com",
        "testing",
    );
    add_task(
        app,
        repository,
        TaskSpec {
            mode: "push",
            ..TaskSpec::default()
        },
    );
    repository
}
