//! Exports: what was imported comes back out as Eden wrote it (mci + 1),
//! selected by msince or seq, filtered, with components and dependencies.

use std::collections::HashMap;

use edensync::s3xml::reader::read_all;
use edensync::s3xml::{Field, Record};
use edensync::store::{ExportRequest, Filter, ImportOptions, export};

use crate::on_both_backends;
use crate::s3xml::fixture;
use crate::store::Store;
use crate::support::{Backend, edensync};

fn export_doc(store: &Store, request: &ExportRequest) -> (edensync::store::ExportOutcome, Vec<u8>) {
    export(&mut store.conn(), request, Vec::new()).unwrap()
}

fn request(table: &str) -> ExportRequest {
    ExportRequest {
        table: table.into(),
        components: true,
        ..ExportRequest::default()
    }
}

fn without_passwords(mut record: Record) -> Record {
    if record.table == "auth_user" {
        record.fields.retain(|f| f.name() != "password");
    }
    record
}

/// What a relay must give back: the same record with mci + 1, and nothing
/// the original did not carry (no `mci`, `created_on` or `modified_on`
/// invented).
fn as_exported(mut record: Record) -> Record {
    record.mci = if record.deleted {
        None
    } else {
        record.mci.map(|mci| mci + 1)
    };
    if record.deleted {
        record.created_on = None;
        record.attributes.clear();
        record.fields.clear();
    }
    record.components = record.components.into_iter().map(as_exported).collect();
    without_passwords(record)
}

async fn every_vector_survives_import_and_export(backend: Backend) {
    for name in [
        "02_pull_initial.xml",
        "03_push_initial.xml",
        "04_pull_msince.xml",
        "05_push_with_deletion.xml",
        "06_pull_filters_mcomponents.xml",
        "07_pull_org_office_with_references.xml",
        "08_pull_pr_person_components_dependencies.xml",
        "11_fixture_component_nesting.xml",
    ] {
        let Some(store) = Store::on(backend) else {
            return;
        };
        let doc = fixture(name);
        let summary = store.import(&doc, &ImportOptions::default());
        assert!(
            summary.rejected.is_empty(),
            "{name}: {:?}",
            summary.rejected
        );
        let (_, originals) = read_all(&doc[..]).unwrap();
        let mut by_table: HashMap<String, Vec<Record>> = HashMap::new();
        for record in originals {
            by_table
                .entry(record.table.clone())
                .or_default()
                .push(record);
        }
        for (table, originals) in by_table {
            let (outcome, bytes) = export_doc(&store, &request(&table));
            let (root, exported) = read_all(&bytes[..]).unwrap();
            assert_eq!(root.results, Some(outcome.results));
            let exported: HashMap<(String, String), Record> = exported
                .into_iter()
                .map(|r| ((r.table.clone(), r.uuid.clone().unwrap()), r))
                .collect();
            for original in originals {
                let key = (original.table.clone(), original.uuid.clone().unwrap());
                let back = exported
                    .get(&key)
                    .unwrap_or_else(|| panic!("{name}: {key:?} exported"));
                let mut expected = as_exported(original);
                let mut back = back.clone();
                expected.components.sort_by(|a, b| a.uuid.cmp(&b.uuid));
                back.components.sort_by(|a, b| a.uuid.cmp(&b.uuid));
                assert_eq!(
                    back, expected,
                    "{name}: {key:?} comes back as it was sent, mci + 1, nothing added"
                );
            }
        }
    }
}

on_both_backends!(round_trip, every_vector_survives_import_and_export);

fn org(uuid: &str, acronym: &str, modified: &str) -> String {
    format!(
        r#"<resource name="org_organisation" uuid="{uuid}" mci="1" modified_on="{modified}"><data field="name">Org {uuid}</data><data field="acronym" value="&quot;{acronym}&quot;">{acronym}</data></resource>"#
    )
}

async fn selection_by_msince_seq_and_filters(backend: Backend) {
    let Some(store) = Store::on(backend) else {
        return;
    };
    let doc = format!(
        "<s3xml>{}{}{}{}</s3xml>",
        org("A", "RO1", "2026-01-01T00:00:00"),
        org("B", "RO2", "2026-02-01T00:00:00"),
        org("C", "XY", "2026-03-01T00:00:00"),
        r#"<resource name="org_organisation" uuid="D" deleted="True" modified_on="2026-03-02T00:00:00"/>"#,
    );
    store.import(doc.as_bytes(), &ImportOptions::default());
    let uuids = |bytes: &[u8]| -> Vec<String> {
        read_all(bytes)
            .unwrap()
            .1
            .into_iter()
            .map(|r| r.uuid.unwrap())
            .collect()
    };

    let (outcome, bytes) = export_doc(&store, &request("org_organisation"));
    assert_eq!(outcome.results, 4);
    assert_eq!(
        uuids(&bytes),
        ["A", "B", "C", "D"],
        "deleted stubs are included"
    );

    // msince: modified (by its origin) or stored here at or after the time.
    let mut by_time = request("org_organisation");
    by_time.msince = edensync::s3xml::time::parse("2099-01-01T00:00:00");
    assert_eq!(export_doc(&store, &by_time).0.results, 0);
    let (_, bytes) = export_doc(&store, &by_time);
    assert!(
        String::from_utf8(bytes)
            .unwrap()
            .contains("<s3xml success=\"false\" results=\"0\"/>")
    );
    by_time.msince = Some(edensync::model::now() - chrono::Duration::hours(1));
    assert_eq!(
        export_doc(&store, &by_time).0.results,
        4,
        "stored after msince counts too"
    );

    // Paging by seq, as between edensync nodes.
    let mut paged = request("org_organisation");
    paged.limit = Some(3);
    // A document pushed to Eden is bounded the same way, with Eden's root.
    let (outcome, bytes) = export_doc(&store, &paged);
    assert_eq!((outcome.results, outcome.more), (3, true));
    let root = read_all(&bytes[..]).unwrap().0;
    assert_eq!(
        (root.attribute("more"), root.attribute("next_seq")),
        (None, None)
    );
    paged.paged_reader = true;
    let (outcome, bytes) = export_doc(&store, &paged);
    assert_eq!((outcome.results, outcome.more), (3, true));
    let root = read_all(&bytes[..]).unwrap().0;
    assert_eq!(root.attribute("more"), Some("true"));
    let next: i64 = root.attribute("next_seq").unwrap().parse().unwrap();
    paged.since_seq = Some(next);
    let (outcome, bytes) = export_doc(&store, &paged);
    assert_eq!((outcome.results, outcome.more), (1, false));
    assert_eq!(uuids(&bytes), ["D"]);

    // Filters.
    let filtered = |filters: &[&str]| {
        let mut r = request("org_organisation");
        r.filters = filters.iter().map(|f| Filter::parse(f).unwrap()).collect();
        uuids(&export_doc(&store, &r).1)
    };
    assert_eq!(
        filtered(&["~.acronym__like=RO*"]),
        ["A", "B"],
        "D never had a body to match"
    );
    // Filters see a deleted record's last body: its deletion still travels.
    store.import(
        br#"<s3xml><resource name="org_organisation" uuid="A" deleted="True" modified_on="2026-04-01T00:00:00"/></s3xml>"#,
        &ImportOptions::default(),
    );
    assert_eq!(filtered(&["~.acronym__like=RO*"]), ["B", "A"]);
    assert_eq!(filtered(&["~.acronym__like=RO*", "~.deleted=False"]), ["B"]);
    assert_eq!(filtered(&["~.acronym=ro2,XY"]), ["B", "C"]);
    assert_eq!(filtered(&["~.acronym__ne=XY", "~.deleted=False"]), ["B"]);
    assert_eq!(
        filtered(&["~.name__ge=Org B", "~.deleted=False"]),
        ["B", "C"]
    );
    for bad in ["acronym=x", "~.acronym__nearly=x", "~.acronym", "Bad.x=1"] {
        let message = Filter::parse(bad).unwrap_err().to_string();
        assert!(message.starts_with(&format!("filter '{bad}'")), "{message}");
    }
}

on_both_backends!(selection, selection_by_msince_seq_and_filters);

#[test]
fn components_nest_and_dependencies_follow() {
    let store = Store::new();
    store.import(
        &fixture("07_pull_org_office_with_references.xml"),
        &ImportOptions::default(),
    );
    let (outcome, bytes) = export_doc(&store, &request("org_office"));
    assert_eq!((outcome.results, outcome.dependencies), (2, 3));
    let (root, records) = read_all(&bytes[..]).unwrap();
    assert_eq!(root.results, Some(2));
    let tables: Vec<&str> = records.iter().map(|r| r.table.as_str()).collect();
    assert_eq!(
        tables,
        [
            "org_office",
            "org_office",
            "org_organisation",
            "org_organisation",
            "gis_location"
        ]
    );

    // A table held only as components cannot be exported as masters.
    let store = Store::new();
    store.import(
        &fixture("11_fixture_component_nesting.xml"),
        &ImportOptions::default(),
    );
    let (outcome, _) = export_doc(&store, &request("org_office"));
    assert_eq!((outcome.results, outcome.not_exportable), (0, 1));
    let (_, bytes) = export_doc(&store, &request("org_organisation"));
    let (_, records) = read_all(&bytes[..]).unwrap();
    assert_eq!(
        records[1].components[0].uuid.as_deref(),
        Some("TESTIMPORTMERGEOFFICE2")
    );
    assert!(matches!(records[1].fields[0], Field::Data(_)));
}

#[test]
fn import_and_export_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("EDENSYNC_DATA_DIR", dir.path().display().to_string())]
        .into_iter()
        .collect();
    let path = dir.path().join("02.xml");
    std::fs::write(&path, fixture("02_pull_initial.xml")).unwrap();

    let out = edensync(&["import", path.to_str().unwrap()], &env, None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .starts_with("3 record(s): 2 created, 0 updated, 1 deleted")
    );
    assert!(path.exists(), "the imported file is left alone");

    let out = edensync(
        &["export", "org_organisation", "--filter", "~.deleted=False"],
        &env,
        None,
    );
    assert!(out.status.success());
    let (root, records) = read_all(&out.stdout[..]).unwrap();
    assert_eq!(root.results, Some(2));
    assert!(records.iter().all(|r| r.mci == Some(2)));

    // From stdin; rejected records give exit status 3 and are named.
    let doc = r#"<s3xml><resource name="org_organisation" uuid="N"><data field="name">x</data></resource><resource name="org_organisation" uuid="M" modified_on="never"/></s3xml>"#;
    let out = edensync(&["import", "-", "--json"], &env, Some(doc));
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["created"].as_array().unwrap().len(), 1);
    assert_eq!(summary["rejected"][0]["uuid"], "M");

    // A document broken at its end changes nothing.
    let broken = r#"<s3xml><resource name="org_organisation" uuid="P"><data field="name">x</data></resource><resource name="org_organisation" uuid="Q">"#;
    let out = edensync(&["import", "-"], &env, Some(broken));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("XML error at line 1"));
    let out = edensync(&["export", "org_organisation"], &env, None);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("uuid=\"P\""));

    let bad = edensync(
        &["export", "org_organisation", "--filter", "~.x__zz=1"],
        &env,
        None,
    );
    assert_eq!(bad.status.code(), Some(2));
    let bad = edensync(
        &["import", "-", "--update-policy", "SOMETIMES"],
        &env,
        Some(doc),
    );
    assert_eq!(bad.status.code(), Some(2));
}

/// Eden's next `msince` is the youngest `modified_on` it received plus one
/// second: an answer served with that msince is selected exactly by seq.
async fn pulls_by_a_known_msince_are_exact(backend: Backend) {
    use edensync::store::serve_pull;
    let Some(store) = Store::on(backend) else {
        return;
    };
    {
        use diesel::connection::SimpleConnection;
        store
            .conn()
            .batch_execute("INSERT INTO repositories (name, created_at, updated_at) VALUES ('eden', '2026-01-01 00:00:00', '2026-01-01 00:00:00')")
            .unwrap();
    }
    let peer = {
        use diesel::prelude::*;
        use edensync::db::schema::repositories::dsl::*;
        repositories
            .select(id)
            .first::<i64>(&mut *store.conn())
            .unwrap()
    };
    let doc = format!(
        "<s3xml>{}{}</s3xml>",
        org("A", "A", "2026-01-01T10:00:00"),
        org("B", "B", "2026-01-01T11:00:00")
    );
    store.import(doc.as_bytes(), &ImportOptions::default());
    let uuids = |bytes: &[u8]| -> Vec<String> {
        read_all(bytes)
            .unwrap()
            .1
            .into_iter()
            .map(|r| r.uuid.unwrap())
            .collect()
    };
    let pull = |msince: Option<&str>| {
        let mut request = request("org_organisation");
        request.msince = msince.map(|m| edensync::s3xml::time::parse_strict(m).unwrap());
        let (outcome, bytes) =
            serve_pull(&mut store.conn(), &request, Some(peer), Vec::new()).unwrap();
        (outcome.exact, uuids(&bytes))
    };

    assert_eq!(pull(None), (false, vec!["A".to_string(), "B".to_string()]));
    // A record relayed with an old timestamp after that answer.
    let relayed = format!("<s3xml>{}</s3xml>", org("C", "C", "2025-06-01T00:00:00"));
    store.import(relayed.as_bytes(), &ImportOptions::default());
    // Eden asks with msince = 11:00:00 + 1 s: only C, found by seq.
    assert_eq!(
        pull(Some("2026-01-01T11:00:01")),
        (true, vec!["C".to_string()])
    );
    // Nothing new: an empty answer, and the same question stays exact.
    assert_eq!(pull(Some("2025-06-01T00:00:01")), (true, vec![]));
    assert_eq!(pull(Some("2025-06-01T00:00:01")), (true, vec![]));
    // An msince we never implied falls back to times (stored here since).
    let (exact, sent) = pull(Some("2026-01-01T00:00:00"));
    assert!(!exact);
    assert_eq!(sent, ["A", "B", "C"]);
}
on_both_backends!(exact_pulls, pulls_by_a_known_msince_are_exact);

#[test]
fn dependencies_are_followed_through_several_levels_once() {
    let store = Store::new();
    let doc = br#"<s3xml>
        <resource name="t_a" uuid="A1" modified_on="2026-01-01T00:00:00"><reference field="b_id" resource="t_b" uuid="B1">b</reference></resource>
        <resource name="t_a" uuid="A2" modified_on="2026-01-01T00:00:00"><reference field="b_id" resource="t_b" uuid="B1">b</reference><reference field="a_id" resource="t_a" uuid="A1">a</reference></resource>
        <resource name="t_b" uuid="B1" modified_on="2026-01-01T00:00:00"><reference field="c_id" resource="t_c" uuid="C1">c</reference></resource>
        <resource name="t_c" uuid="C1" modified_on="2026-01-01T00:00:00"><reference field="a_id" resource="t_a" uuid="A1">loop</reference></resource>
    </s3xml>"#;
    store.import(doc, &ImportOptions::default());
    let (outcome, bytes) = export_doc(&store, &request("t_a"));
    assert_eq!((outcome.results, outcome.dependencies), (2, 2));
    let order: Vec<String> = read_all(&bytes[..])
        .unwrap()
        .1
        .into_iter()
        .map(|r| r.uuid.unwrap())
        .collect();
    assert_eq!(
        order,
        ["A1", "A2", "B1", "C1"],
        "each record once, masters not repeated, cycles end"
    );
}
