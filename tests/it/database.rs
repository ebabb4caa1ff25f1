//! The database: migrations on both backends create the whole data model,
//! are idempotent, and enforce the constraints later layers rely on.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::Text;
use edensync::db::{self, DbConnection};
use edensync::model;
use edensync::model::users::Role;

use crate::on_both_backends;
use crate::support::{Backend, settings_for};

const TABLES: &[&str] = &[
    "users",
    "sessions",
    "setup_tokens",
    "sync_config",
    "repositories",
    "repository_accounts",
    "tasks",
    "task_filters",
    "jobs",
    "runs",
    "sync_log",
    "record_seq",
    "records",
    "record_refs",
    "served_watermarks",
    "review_items",
    "audit_log",
    "hourly_records",
];

/// Indexes later queries depend on (records by table+uuid is the unique
/// constraint itself).
const INDEXES: &[&str] = &[
    "records_table_seq",
    "records_table_modified",
    "sync_log_time",
    "sync_log_repository",
    "served_watermarks_lookup",
    "jobs_next_run",
    "repositories_next_retry",
    "runs_repository_latest",
    "runs_status_latest",
];

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

fn index_names(conn: &mut DbConnection) -> Vec<String> {
    let sql = match conn {
        DbConnection::Sqlite(_) => "SELECT name FROM sqlite_master WHERE type = 'index'",
        DbConnection::Pg(_) => {
            "SELECT indexname AS name FROM pg_indexes WHERE schemaname = 'public'"
        }
    };
    diesel::sql_query(sql)
        .load::<Name>(conn)
        .unwrap()
        .into_iter()
        .map(|n| n.name)
        .collect()
}

/// The migrations shipped (the same names for both backends).
fn migration_count() -> usize {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
    let names = |backend: &str| {
        let mut names: Vec<String> = std::fs::read_dir(format!("{dir}/{backend}"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(names("sqlite"), names("postgres"));
    names("sqlite").len()
}

async fn migrations_create_the_data_model_once(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(settings) = settings_for(dir.path(), backend) else {
        return;
    };
    let pool = db::open_pool(&settings.database).unwrap();
    let mut conn = pool.get().unwrap();

    let first = db::run_migrations(&mut conn).unwrap();
    assert_eq!(first.len(), migration_count(), "every migration is applied");
    let second = db::run_migrations(&mut conn).unwrap();
    assert!(
        second.is_empty(),
        "running migrations again applies nothing"
    );

    for table in TABLES {
        conn.batch_execute(&format!("SELECT COUNT(*) FROM {table}"))
            .unwrap_or_else(|e| panic!("table {table} missing on {backend:?}: {e}"));
    }
    let indexes = index_names(&mut conn);
    for index in INDEXES {
        assert!(
            indexes.iter().any(|i| i == index),
            "index {index} missing on {backend:?}"
        );
    }
    let seq: i64 = edensync::db::schema::record_seq::table
        .select(edensync::db::schema::record_seq::value)
        .first(&mut conn)
        .unwrap();
    assert_eq!(seq, 0, "the seq counter row starts at 0");

    // Unique constraints: e-mail, (table, uuid) of records, (repository, resource) of tasks.
    let now = model::now();
    model::users::insert(&mut conn, "a@example.org", "h", Role::Admin, now).unwrap();
    assert!(model::users::insert(&mut conn, "a@example.org", "h", Role::Sync, now).is_err());
    let insert_record = "INSERT INTO records (table_name, uuid, body, seq, stored_at) \
                         VALUES ('org_organisation', 'urn:uuid:1', '[]', 1, '2026-11-26 06:00:00')";
    conn.batch_execute(insert_record).unwrap();
    assert!(
        conn.batch_execute(insert_record).is_err(),
        "(table, uuid) is unique"
    );
    conn.batch_execute(
        "INSERT INTO repositories (name, created_at, updated_at) VALUES ('peer', '2026-11-26 06:00:00', '2026-11-26 06:00:00')",
    )
    .unwrap();
    let insert_task = "INSERT INTO tasks (repository_id, position, resource_name, created_at, updated_at) \
                       SELECT id, 1, 'org_office', '2026-11-26 06:00:00', '2026-11-26 06:00:00' FROM repositories";
    conn.batch_execute(insert_task).unwrap();
    assert!(
        conn.batch_execute(insert_task).is_err(),
        "one task per table and repository"
    );
    // Foreign keys are enforced (SQLite needs them switched on per connection).
    assert!(
        conn.batch_execute(
            "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, last_seen_at, expires_at) \
             VALUES ('x', 999999, 'c', '2026-11-26 06:00:00', '2026-11-26 06:00:00', '2026-11-26 06:00:00')"
        )
        .is_err(),
        "a session of a missing user is refused on {backend:?}"
    );
    if let DbConnection::Sqlite(c) = &mut *conn {
        // A new SQLite store has the larger pages its imports are fast with.
        #[derive(diesel::QueryableByName)]
        struct PageSize {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            page_size: i64,
        }
        let size: PageSize = diesel::sql_query("PRAGMA page_size").get_result(c).unwrap();
        assert_eq!(size.page_size, 8192);
    }
}
on_both_backends!(migrations, migrations_create_the_data_model_once);

/// The hourly counts add up within an hour (one statement: processes on
/// one PostgreSQL do not lose each other's), and old hours go.
async fn hourly_counts_add_up_and_old_hours_go(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(settings) = settings_for(dir.path(), backend) else {
        return;
    };
    let pool = db::open_pool(&settings.database).unwrap();
    let mut conn = pool.get().unwrap();
    db::run_migrations(&mut conn).unwrap();
    let at =
        |text: &str| chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").unwrap();
    model::hourly_records::add(&mut conn, at("2026-12-04 13:59:59.999"), 5, 0).unwrap();
    model::hourly_records::add(&mut conn, at("2026-12-04 14:00:00.0"), 3, 1).unwrap();
    model::hourly_records::add(&mut conn, at("2026-12-04 14:59:59.5"), 0, 6).unwrap();
    model::hourly_records::add(&mut conn, at("2026-12-04 15:00:00.0"), 0, 0).unwrap();
    let hours = model::hourly_records::since(&mut conn, at("2026-12-04 13:30:00.0")).unwrap();
    assert_eq!(
        hours,
        vec![
            (at("2026-12-04 13:00:00.0"), 5, 0),
            (at("2026-12-04 14:00:00.0"), 3, 7),
        ],
        "on {backend:?}"
    );
    model::hourly_records::purge_before(&mut conn, at("2026-12-04 14:10:00.0")).unwrap();
    let left = model::hourly_records::since(&mut conn, at("2026-12-01 00:00:00.0")).unwrap();
    assert_eq!(left, vec![(at("2026-12-04 14:00:00.0"), 3, 7)]);
}
on_both_backends!(hourly_counts, hourly_counts_add_up_and_old_hours_go);

#[test]
fn migrate_command_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let env = [(
        "EDENSYNC_DATA_DIR",
        dir.path().join("d").display().to_string(),
    )]
    .into_iter()
    .collect();
    let first = crate::support::edensync(&["migrate"], &env, None);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let applied = format!("applied {} migration(s)", migration_count());
    assert!(String::from_utf8_lossy(&first.stdout).starts_with(&applied));
    let second = crate::support::edensync(&["migrate"], &env, None);
    assert!(second.status.success());
    assert!(String::from_utf8_lossy(&second.stdout).starts_with("database is up to date"));
}
