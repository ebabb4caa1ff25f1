//! The record store: importing real Eden documents, Eden's policies, the
//! deviations where we do what Eden meant, seq and the reference index.

use chrono::NaiveDateTime;
use edensync::app::{self, Node};
use edensync::db::DbConnection;
use edensync::model;
use edensync::s3xml::{Limits, Reader};
use edensync::store::body::Body;
use edensync::store::policy::{Policy, Strategy};
use edensync::store::{ImportOptions, ImportSummary, import};

use crate::s3xml::fixture;
use crate::support::{Backend, settings_for};

pub struct Store {
    pub node: Node,
    _dir: tempfile::TempDir,
}

impl Store {
    pub fn new() -> Store {
        Store::on(Backend::Sqlite).unwrap()
    }

    /// A store on the given backend; `None` when it is not available here.
    pub fn on(backend: Backend) -> Option<Store> {
        let dir = tempfile::tempdir().unwrap();
        let node = app::open(settings_for(dir.path(), backend)?).unwrap();
        Some(Store { node, _dir: dir })
    }

    pub fn conn(&self) -> edensync::db::PooledConnection {
        self.node.pool.get().unwrap()
    }

    pub fn import(&self, doc: &[u8], options: &ImportOptions) -> ImportSummary {
        let reader = Reader::new(doc, Limits::default()).unwrap();
        import(&mut self.conn(), reader, options).unwrap()
    }

    pub fn record(&self, table: &str, uuid: &str) -> model::records::StoredRecord {
        model::records::find(&mut self.conn(), table, uuid)
            .unwrap()
            .unwrap_or_else(|| panic!("{table} {uuid} stored"))
    }

    pub fn maybe(&self, table: &str, uuid: &str) -> Option<model::records::StoredRecord> {
        model::records::find(&mut self.conn(), table, uuid).unwrap()
    }
}

fn t(text: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S").unwrap()
}

fn body(record: &model::records::StoredRecord) -> Body {
    Body::from_json(&record.body).unwrap()
}

fn text_of(record: &model::records::StoredRecord, field: &str) -> String {
    body(record)
        .fields
        .iter()
        .find_map(|f| match f {
            edensync::s3xml::Field::Data(d) if d.field == field => Some(d.text.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

#[test]
fn initial_pull_is_stored_with_components_and_tombstones() {
    let store = Store::new();
    let options = ImportOptions {
        resource: Some("org_organisation".into()),
        ..ImportOptions::default()
    };
    let summary = store.import(&fixture("02_pull_initial.xml"), &options);
    assert_eq!(summary.records, 3);
    assert_eq!(summary.created.len(), 2);
    assert_eq!(
        summary.deleted.len(),
        1,
        "the deleted stub of an unknown record is kept as a tombstone"
    );
    assert!(summary.rejected.is_empty());

    let org = store.record(
        "org_organisation",
        "urn:uuid:14943033-0745-4cb7-9500-709647960d2a",
    );
    assert_eq!(org.mci, 1, "mci stored as received");
    assert_eq!(org.created_on, Some(t("2026-11-26T06:19:04")));
    assert_eq!(
        org.modified_on,
        Some(t("2026-11-26T06:19:04")),
        "the origin's clock is kept"
    );
    assert_eq!(text_of(&org, "name"), "Remote Org One");
    let components = model::records::components_of(&mut store.conn(), org.id).unwrap();
    let tables: Vec<&str> = components.iter().map(|c| c.table_name.as_str()).collect();
    assert_eq!(tables, ["org_site", "org_office"]);
    let tombstone = store.record(
        "org_organisation",
        "urn:uuid:40321318-475a-48dd-bb12-c1bf5d20502a",
    );
    assert!(tombstone.deleted);

    // Every write took its own seq, in document order.
    let office = &components[1];
    assert!(org.seq < components[0].seq && components[0].seq < office.seq);
    assert_eq!(
        summary.max_seq,
        Some(model::records::current_seq(&mut store.conn()).unwrap())
    );
    assert_eq!(
        summary.youngest_master_mtime,
        Some(t("2026-11-26T06:19:04"))
    );

    // Importing the same document again changes nothing and keeps every seq.
    let before = model::records::current_seq(&mut store.conn()).unwrap();
    let again = store.import(&fixture("02_pull_initial.xml"), &options);
    assert_eq!(again.written, 0);
    assert_eq!(
        again.updated.len(),
        2,
        "unchanged masters are listed as updated, as Eden does"
    );
    assert_eq!(store.record("org_organisation", &org.uuid).seq, org.seq);
    let after = model::records::current_seq(&mut store.conn()).unwrap();
    assert_eq!(after, before);
}

#[test]
fn references_dependencies_and_the_reference_index() {
    let store = Store::new();
    let options = ImportOptions {
        resource: Some("org_office".into()),
        ..ImportOptions::default()
    };
    let summary = store.import(&fixture("07_pull_org_office_with_references.xml"), &options);
    assert_eq!(
        summary.records, 2,
        "dependencies are stored but not counted as masters"
    );
    assert_eq!(summary.written, 5);
    let office = store.record(
        "org_office",
        "urn:uuid:068652a7-7494-49aa-9fbb-80cb61d20a4e",
    );
    let refs = model::records::refs_of(&mut store.conn(), office.id).unwrap();
    assert_eq!(
        refs,
        [
            (
                "organisation_id".to_string(),
                "org_organisation".to_string(),
                "urn:uuid:cab88aa7-f46e-4dfa-bfb0-87fb98abf43b".to_string()
            ),
            (
                "location_id".to_string(),
                "gis_location".to_string(),
                "urn:uuid:df0336ad-957f-4207-98fb-e1bedcf5a2a2".to_string()
            ),
        ]
    );
    store.record(
        "gis_location",
        "urn:uuid:df0336ad-957f-4207-98fb-e1bedcf5a2a2",
    );
}

#[test]
fn password_hashes_are_never_stored() {
    let store = Store::new();
    store.import(
        &fixture("08_pull_pr_person_components_dependencies.xml"),
        &ImportOptions::default(),
    );
    let user = store.record("auth_user", "urn:uuid:b1a85243-9be9-4ce3-8d35-15c233b83ba2");
    assert!(body(&user).fields.iter().all(|f| f.name() != "password"));
    assert!(!user.body.contains("sha512$") && !user.body.contains("pbkdf2"));
    assert!(body(&user).fields.iter().any(|f| f.name() == "email"));
}

#[test]
fn inline_references_and_tuids_are_resolved_within_the_document() {
    let store = Store::new();
    store.import(
        &fixture("12_fixture_inline_reference_mtime.xml"),
        &ImportOptions::default(),
    );
    let facility = store.record("org_facility", "MTFAC");
    let org = store.record("org_organisation", "MTORG");
    assert_eq!(
        org.modified_on,
        Some(t("1988-08-13T10:00:00")),
        "modified_on preserved"
    );
    assert!(
        org.id < facility.id,
        "the referenced record is stored first"
    );
    let refs = model::records::refs_of(&mut store.conn(), facility.id).unwrap();
    assert_eq!(
        refs,
        [(
            "organisation_id".to_string(),
            "org_organisation".to_string(),
            "MTORG".to_string()
        )]
    );

    store.import(
        &fixture("13_fixture_tuid_references.xml"),
        &ImportOptions::default(),
    );
    let master = store.record("tuid_master", "TUIDMASTER");
    let refs = model::records::refs_of(&mut store.conn(), master.id).unwrap();
    assert_eq!(refs.len(), 2);
    let type1 = &refs[0].2;
    let type2 = &refs[1].2;
    assert_ne!(type1, type2, "tuid namespaces are per table");
    assert_eq!(
        text_of(&store.record("tuid_type_1", type1), "name"),
        "Test 1-a"
    );
    assert_eq!(
        text_of(&store.record("tuid_type_2", type2), "name"),
        "Test 2-a"
    );
}

#[test]
fn merges_mark_the_duplicate_and_repoint_references() {
    let store = Store::new();
    store.import(
        &fixture("11_fixture_component_nesting.xml"),
        &ImportOptions::default(),
    );
    let referrer = br#"<s3xml><resource name="org_office" uuid="OFFICE9" modified_on="2026-01-01T00:00:00">
        <reference field="organisation_id" resource="org_organisation" uuid="TESTIMPORTMERGEORG2">Org 2</reference>
    </resource></s3xml>"#;
    store.import(referrer, &ImportOptions::default());
    let before = store.record("org_office", "OFFICE9");

    let summary = store.import(
        &fixture("10_fixture_merge_replaced_by.xml"),
        &ImportOptions::default(),
    );
    assert_eq!(summary.deleted.len(), 1);
    let duplicate = store.record("org_organisation", "TESTIMPORTMERGEORG2");
    assert!(duplicate.deleted);
    assert_eq!(
        duplicate.replaced_by.as_deref(),
        Some("TESTIMPORTMERGEORG1")
    );
    assert_eq!(
        text_of(&duplicate, "name"),
        "TestImportMergeOrg2",
        "the last body stays"
    );
    let after = store.record("org_office", "OFFICE9");
    assert!(after.seq > before.seq, "a re-pointed record really changed");
    let refs = model::records::refs_of(&mut store.conn(), after.id).unwrap();
    assert_eq!(refs[0].2, "TESTIMPORTMERGEORG1");
}

#[test]
fn strategy_filters_methods_and_bad_records_are_rejected_and_kept() {
    let store = Store::new();
    let create_only = ImportOptions {
        strategy: Strategy::parse("create").unwrap(),
        ..ImportOptions::default()
    };
    store.import(br#"<s3xml><resource name="org_organisation" uuid="A" modified_on="2026-01-01T00:00:00"><data field="name">one</data></resource></s3xml>"#, &create_only);
    let summary = store.import(
        br#"<s3xml><resource name="org_organisation" uuid="A" modified_on="2026-02-01T00:00:00"><data field="name">two</data></resource>
        <resource name="org_organisation" uuid="B" deleted="True" modified_on="2026-02-01T00:00:00"/></s3xml>"#,
        &create_only,
    );
    assert_eq!(summary.skipped, 2);
    assert_eq!(
        text_of(&store.record("org_organisation", "A"), "name"),
        "one"
    );
    assert!(store.maybe("org_organisation", "B").is_none());

    let summary = store.import(
        br#"<s3xml><resource name="Bad Table" uuid="X"/><resource name="org_organisation" uuid="Y" modified_on="soon"/>
        <resource name="org_organisation" uuid="Z"><data field="name">fine</data></resource></s3xml>"#,
        &ImportOptions { resource: Some("org_organisation".into()), ..ImportOptions::default() },
    );
    assert_eq!(summary.rejected.len(), 2);
    assert!(
        summary.rejected[0]
            .reason
            .contains("not a valid table name")
    );
    assert!(summary.rejected[1].reason.contains("modified_on 'soon'"));
    assert_eq!(summary.created.len(), 1);
    let mut conn = store.conn();
    let raw: Vec<String> = {
        use diesel::prelude::*;
        use edensync::db::schema::review_items::dsl::*;
        review_items.select(raw_element).load(&mut *conn).unwrap()
    };
    assert_eq!(raw.len(), 2);
    assert!(
        raw[1].contains("uuid=\"Y\""),
        "the raw element is kept for review: {}",
        raw[1]
    );
}

// ---- Policies: the matrix, and the deviations from Eden ----

const ORIGIN: i64 = 1;
const OTHER_PEER: i64 = 2;

/// Scenarios: the local copy (a copy, mci 2, from OTHER_PEER unless said)
/// and the incoming one (from its origin, mci 1).
#[derive(Debug, Clone, Copy)]
enum Scenario {
    RemoteNewer,
    LocalNewer,
    BothModified,
    RemoteDeleted,
}

fn add_peer(conn: &mut DbConnection, id: i64) {
    use diesel::connection::SimpleConnection;
    conn.batch_execute(&format!(
        "INSERT INTO repositories (id, name, created_at, updated_at) VALUES ({id}, 'peer{id}', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
    ))
    .unwrap();
}

/// Run one scenario; returns (field updated?, deleted?).
fn run(
    scenario: Scenario,
    update: Policy,
    conflict: Policy,
    local_from: i64,
    local_mci: i32,
) -> (bool, bool) {
    let store = Store::new();
    add_peer(&mut store.conn(), ORIGIN);
    add_peer(&mut store.conn(), OTHER_PEER);
    let (local_time, remote_time, last_sync) = match scenario {
        Scenario::RemoteNewer | Scenario::RemoteDeleted => (
            "2026-01-01T10:00:00",
            "2026-01-01T12:00:00",
            "2026-01-01T11:00:00",
        ),
        Scenario::LocalNewer => (
            "2026-01-01T12:00:00",
            "2026-01-01T10:00:00",
            "2026-01-01T11:00:00",
        ),
        Scenario::BothModified => (
            "2026-01-01T12:00:00",
            "2026-01-01T13:00:00",
            "2026-01-01T11:00:00",
        ),
    };
    let local = format!(
        r#"<s3xml><resource name="org_organisation" uuid="R" mci="{local_mci}" modified_on="{local_time}"><data field="name">local</data></resource></s3xml>"#
    );
    store.import(
        local.as_bytes(),
        &ImportOptions {
            repository_id: Some(local_from),
            ..ImportOptions::default()
        },
    );
    let incoming = match scenario {
        Scenario::RemoteDeleted => format!(
            r#"<s3xml><resource name="org_organisation" uuid="R" deleted="True" modified_on="{remote_time}"/></s3xml>"#
        ),
        _ => format!(
            r#"<s3xml><resource name="org_organisation" uuid="R" mci="1" modified_on="{remote_time}"><data field="name">remote</data></resource></s3xml>"#
        ),
    };
    store.import(
        incoming.as_bytes(),
        &ImportOptions {
            update_policy: update,
            conflict_policy: Some(conflict),
            last_sync: Some(t(last_sync)),
            repository_id: Some(ORIGIN),
            ..ImportOptions::default()
        },
    );
    let record = store.record("org_organisation", "R");
    (text_of(&record, "name") == "remote", record.deleted)
}

#[test]
fn policy_matrix_matches_eden() {
    use Policy::*;
    use Scenario::*;
    let policies = [This, Other, Newer, Master];
    for update in policies {
        for conflict in policies {
            for scenario in [RemoteNewer, LocalNewer, BothModified, RemoteDeleted] {
                // What Eden does: without a conflict the update policy alone
                // decides; in a conflict the conflict policy must accept first.
                let update_ok = match (update, scenario) {
                    (This, _) => false,
                    (Other, _) => true,
                    (Newer, LocalNewer) => false,
                    (Newer, _) => true,
                    // The incoming copy is from its origin (mci 1), the local one a copy.
                    (Master, RemoteDeleted) => false,
                    (Master, _) => true,
                };
                let conflict_ok = match (scenario, conflict) {
                    (BothModified, This) => false,
                    (BothModified, _) => true, // OTHER; NEWER (remote newer); MASTER (from origin)
                    _ => true,
                };
                let expected = update_ok && conflict_ok;
                let (updated, deleted) = run(scenario, update, conflict, OTHER_PEER, 2);
                let outcome = if scenario as u8 == RemoteDeleted as u8 {
                    deleted
                } else {
                    updated
                };
                assert_eq!(
                    outcome, expected,
                    "update {update:?}, conflict {conflict:?}, {scenario:?}"
                );
                if !matches!(scenario, RemoteDeleted) {
                    assert!(!deleted);
                }
            }
        }
    }
}

/// Deviation: Eden crashes creating a record with mci ≠ 1 under MASTER; we create it.
#[test]
fn deviation_master_creates_copies() {
    let store = Store::new();
    let options = ImportOptions {
        update_policy: Policy::Master,
        ..ImportOptions::default()
    };
    let summary = store.import(
        br#"<s3xml><resource name="org_organisation" uuid="C" mci="2" modified_on="2026-01-01T00:00:00"><data field="name">relayed</data></resource></s3xml>"#,
        &options,
    );
    assert_eq!(summary.created.len(), 1);
    let record = store.record("org_organisation", "C");
    assert_eq!(
        (record.mci, text_of(&record, "name").as_str()),
        (2, "relayed")
    );
}

/// Deviation: Eden never applies deletes under MASTER (stubs carry no mci);
/// we apply them when the record's current version came from that peer.
#[test]
fn deviation_master_applies_deletes_from_the_peer_the_record_came_from() {
    let (_, deleted) = run(
        Scenario::RemoteDeleted,
        Policy::Master,
        Policy::Master,
        ORIGIN,
        2,
    );
    assert!(deleted, "the current version came from the deleting peer");
    let (_, deleted) = run(
        Scenario::RemoteDeleted,
        Policy::Master,
        Policy::Master,
        OTHER_PEER,
        2,
    );
    assert!(
        !deleted,
        "a delete from another peer is not applied under MASTER"
    );
}

/// Deviation: Eden's MASTER conflict rule accepts remote data when the local
/// copy is the original (mci 0); we keep the original.
#[test]
fn deviation_master_conflict_keeps_the_original() {
    let store = Store::new();
    add_peer(&mut store.conn(), ORIGIN);
    // mci 0 in the store: this node is the record's origin.
    store.import(
        br#"<s3xml><resource name="org_organisation" uuid="O" mci="0" modified_on="2026-01-01T12:00:00"><data field="name">ours</data></resource></s3xml>"#,
        &ImportOptions::default(),
    );
    store.import(
        br#"<s3xml><resource name="org_organisation" uuid="O" mci="2" modified_on="2026-01-01T13:00:00"><data field="name">theirs</data></resource></s3xml>"#,
        &ImportOptions {
            update_policy: Policy::Other,
            conflict_policy: Some(Policy::Master),
            last_sync: Some(t("2026-01-01T11:00:00")),
            repository_id: Some(ORIGIN),
            ..ImportOptions::default()
        },
    );
    assert_eq!(
        text_of(&store.record("org_organisation", "O"), "name"),
        "ours"
    );
}

#[test]
fn absent_fields_keep_their_value_and_deleted_records_come_back_when_newer() {
    let store = Store::new();
    store.import(
        br#"<s3xml><resource name="org_organisation" uuid="K" modified_on="2026-01-01T00:00:00"><data field="name">n</data><data field="acronym" value="&quot;K&quot;">K</data></resource></s3xml>"#,
        &ImportOptions::default(),
    );
    store.import(
        br#"<s3xml><resource name="org_organisation" uuid="K" modified_on="2026-01-02T00:00:00"><data field="name">renamed</data></resource></s3xml>"#,
        &ImportOptions::default(),
    );
    let record = store.record("org_organisation", "K");
    assert_eq!(text_of(&record, "name"), "renamed");
    assert_eq!(
        text_of(&record, "acronym"),
        "K",
        "an absent field keeps its stored value"
    );
    assert_eq!(record.modified_on, Some(t("2026-01-02T00:00:00")));

    store.import(br#"<s3xml><resource name="org_organisation" uuid="K" deleted="True" modified_on="2026-01-03T00:00:00"/></s3xml>"#, &ImportOptions::default());
    let deleted = store.record("org_organisation", "K");
    assert!(deleted.deleted);
    assert_eq!(
        deleted.modified_on,
        Some(t("2026-01-03T00:00:00")),
        "the deleting site's time is kept"
    );
    // A stale copy does not bring it back under NEWER...
    store.import(br#"<s3xml><resource name="org_organisation" uuid="K" modified_on="2026-01-02T12:00:00"><data field="name">stale</data></resource></s3xml>"#, &ImportOptions::default());
    assert!(store.record("org_organisation", "K").deleted);
    // ...a newer one does.
    store.import(br#"<s3xml><resource name="org_organisation" uuid="K" modified_on="2026-01-04T00:00:00"><data field="name">back</data></resource></s3xml>"#, &ImportOptions::default());
    let record = store.record("org_organisation", "K");
    assert!(!record.deleted);
    assert_eq!(text_of(&record, "name"), "back");
}
