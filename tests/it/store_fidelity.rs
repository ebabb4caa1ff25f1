//! What was received is what is given back: no attribute invented, display
//! texts kept current, and counts that report only real changes.

use edensync::model;
use edensync::s3xml::{Field, Format, Record, reader::read_all};
use edensync::store::{ExportRequest, ImportOptions, export};

use crate::on_both_backends;
use crate::s3xml::fixture;
use crate::store::Store;
use crate::support::Backend;

fn export_as(store: &Store, table: &str, format: Format) -> Vec<u8> {
    let request = ExportRequest {
        table: table.into(),
        components: true,
        format,
        ..ExportRequest::default()
    };
    export(&mut store.conn(), &request, Vec::new()).unwrap().1
}

fn component<'r>(record: &'r Record, table: &str) -> &'r Record {
    record
        .components
        .iter()
        .find(|c| c.table == table)
        .unwrap_or_else(|| panic!("{table} nested in {record:?}"))
}

/// Eden's `org_site` rows carry neither `mci` nor times: none come back.
async fn absent_attributes_stay_absent(backend: Backend) {
    let Some(store) = Store::on(backend) else {
        return;
    };
    store.import(&fixture("02_pull_initial.xml"), &ImportOptions::default());
    let site = "urn:uuid:660c4333-323b-4ebb-aff8-046590ef576d";
    let stored = store.record("org_site", site);
    assert_eq!((stored.created_on, stored.modified_on), (None, None));

    let (_, exported) = read_all(&export_as(&store, "org_organisation", Format::Xml)[..]).unwrap();
    let master = exported
        .iter()
        .find(|r| r.components.iter().any(|c| c.table == "org_site"))
        .unwrap();
    let site_back = component(master, "org_site");
    assert_eq!(site_back.mci, None, "{site_back:?}");
    assert_eq!(site_back.created_on, None);
    assert_eq!(site_back.modified_on, None);
    let office = component(master, "org_office");
    assert_eq!(
        office.mci,
        Some(2),
        "records that carry mci keep Eden's rule"
    );

    let lines = String::from_utf8(export_as(&store, "org_organisation", Format::Lines)).unwrap();
    let site_line = lines
        .lines()
        .find(|l| l.contains("\"org_site\""))
        .expect("the site in the JSON lines");
    let value: serde_json::Value = serde_json::from_str(site_line).unwrap();
    let site_json = value["components"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["table"] == "org_site"))
        .unwrap_or(&value);
    for absent in ["mci", "created_on", "modified_on"] {
        assert!(site_json.get(absent).is_none(), "{absent}: {site_line}");
    }
}

on_both_backends!(absent_attributes, absent_attributes_stay_absent);

fn office(name_text: &str, org_text: &str, lat: &str, modified: &str) -> String {
    format!(
        r#"<s3xml><resource name="org_office" uuid="urn:uuid:office-1" mci="1" modified_on="{modified}"><data field="name" value="&quot;Head Office&quot;">{name_text}</data><reference field="organisation_id" resource="org_organisation" uuid="urn:uuid:org-1">{org_text}</reference><reference field="location_id" resource="gis_location" uuid="urn:uuid:loc-1" lat="{lat}" lon="13.4050">{lat} N</reference></resource></s3xml>"#
    )
}

fn office_fields(store: &Store) -> Vec<Field> {
    let stored = store.record("org_office", "urn:uuid:office-1");
    edensync::store::body::Body::from_json(&stored.body)
        .unwrap()
        .fields
}

/// A referenced record renamed (or moved) at the origin: the same version
/// of the referencing record comes with other display texts. They are
/// taken from the origin, as a change, without making the record look
/// newer; older copies and other relays' views are not.
async fn display_texts_follow_the_peer(backend: Backend) {
    let Some(store) = Store::on(backend) else {
        return;
    };
    let options = ImportOptions {
        resource: Some("org_office".into()),
        ..ImportOptions::default()
    };
    let first = office("Head Office", "Old Name", "52.5200", "2026-11-26T06:19:04");
    store.import(first.as_bytes(), &options);
    let before = store.record("org_office", "urn:uuid:office-1");

    let renamed = office(
        "Head Office (HQ)",
        "New Name",
        "52.5300",
        "2026-11-26T06:19:04",
    );
    let summary = store.import(renamed.as_bytes(), &options);
    assert_eq!(summary.masters.updated, 1, "{summary:?}");
    let after = store.record("org_office", "urn:uuid:office-1");
    assert!(after.seq > before.seq, "a change takes a new seq");
    assert_eq!(after.modified_on, before.modified_on);
    let (_, back) = read_all(&export_as(&store, "org_office", Format::Xml)[..]).unwrap();
    assert_eq!(back[0].fields, office_fields(&store));
    let (_, sent) = read_all(renamed.as_bytes()).unwrap();
    assert_eq!(
        back[0].fields, sent[0].fields,
        "exactly the texts last received"
    );

    // An older copy with the same values and other texts: an old view of
    // the references, kept out by the update policy.
    let stale = office(
        "Head Office",
        "Older Name",
        "52.5300",
        "2026-11-26T06:00:00",
    );
    let summary = store.import(stale.as_bytes(), &options);
    assert_eq!(
        (summary.masters.changed(), summary.skipped),
        (0, 1),
        "kept by policy: {summary:?}"
    );
    assert_eq!(
        store.record("org_office", "urn:uuid:office-1").seq,
        after.seq
    );
    assert!(format!("{:?}", office_fields(&store)).contains("New Name"));

    // The same version relayed by another site (mci 2), shown its own way:
    // not followed, or two relays would rewrite it in turn for ever.
    let relayed = renamed
        .replace(r#"mci="1""#, r#"mci="2""#)
        .replace("New Name", "Nouveau nom");
    let summary = store.import(relayed.as_bytes(), &options);
    assert_eq!(summary.masters.unchanged, 1, "{summary:?}");
    assert_eq!(
        store.record("org_office", "urn:uuid:office-1").seq,
        after.seq
    );

    // An older copy with another value: the update policy keeps ours.
    let other_value = stale.replace("&quot;Head Office&quot;", "&quot;Moved Office&quot;");
    let summary = store.import(other_value.as_bytes(), &options);
    assert_eq!(summary.masters.changed(), 0, "{summary:?}");
    assert_eq!(summary.skipped, 1, "kept by policy");
    assert_eq!(
        store.record("org_office", "urn:uuid:office-1").seq,
        after.seq
    );
}

on_both_backends!(display_texts, display_texts_follow_the_peer);

/// The same document again: nothing counted as changed, nothing written.
async fn unchanged_records_are_counted_as_unchanged(backend: Backend) {
    let Some(store) = Store::on(backend) else {
        return;
    };
    let options = ImportOptions {
        resource: Some("org_organisation".into()),
        ..ImportOptions::default()
    };
    let doc = fixture("02_pull_initial.xml");
    let first = store.import(&doc, &options);
    assert_eq!(
        (first.masters.created, first.masters.deleted),
        (2, 1),
        "{first:?}"
    );
    let seq = model::records::current_seq(&mut store.conn()).unwrap();

    let again = store.import(&doc, &options);
    assert_eq!(again.masters.changed(), 0, "{again:?}");
    assert_eq!(
        again.masters.unchanged, 3,
        "the deleted stub too: {again:?}"
    );
    assert_eq!(again.written, 0);
    assert_eq!(
        model::records::current_seq(&mut store.conn()).unwrap(),
        seq,
        "no new seq"
    );
    // Eden's reply still lists every master, as Eden does.
    assert_eq!(again.updated.len() + again.deleted.len(), 3);
}

on_both_backends!(unchanged_counts, unchanged_records_are_counted_as_unchanged);

/// One bad time refuses that record, in JSON lines as in S3XML, not the
/// whole document.
#[test]
fn a_bad_time_refuses_its_record_in_either_format() {
    use edensync::s3xml::{DocumentReader, Limits};
    let good = r#"{"table":"org_organisation","uuid":"urn:uuid:good","mci":1,"modified_on":"2026-11-26T10:00:00","fields":[{"kind":"data","field":"name","text":"Good"}]}"#;
    let bad = r#"{"table":"org_organisation","uuid":"urn:uuid:bad","mci":1,"modified_on":"2026-13-45T99:00:00","fields":[{"kind":"data","field":"name","text":"Bad"}],"components":[{"table":"org_office","uuid":"urn:uuid:bad-office","created_on":"yesterday","fields":[]}]}"#;
    let lines = format!("[[\"success\",\"true\"]]\n{good}\n{bad}\n[2]\n");
    let xml = r#"<s3xml><resource name="org_organisation" uuid="urn:uuid:good" mci="1" modified_on="2026-11-26T10:00:00"><data field="name">Good</data></resource><resource name="org_organisation" uuid="urn:uuid:bad" mci="1" modified_on="2026-13-45T99:00:00"><data field="name">Bad</data><resource name="org_office" uuid="urn:uuid:bad-office" created_on="yesterday"/></resource></s3xml>"#;
    for (format, document) in [(Format::Lines, lines.as_str()), (Format::Xml, xml)] {
        let store = Store::new();
        let reader = DocumentReader::open(format, document.as_bytes(), Limits::default()).unwrap();
        let summary = edensync::store::import(&mut store.conn(), reader, &ImportOptions::default())
            .unwrap_or_else(|e| panic!("{format:?}: {e}"));
        assert!(
            store.maybe("org_organisation", "urn:uuid:good").is_some(),
            "{format:?}"
        );
        assert!(
            store.maybe("org_organisation", "urn:uuid:bad").is_none(),
            "{format:?}"
        );
        assert!(
            store.maybe("org_office", "urn:uuid:bad-office").is_none(),
            "{format:?}"
        );
        let reasons: Vec<&str> = summary.rejected.iter().map(|r| r.reason.as_str()).collect();
        assert_eq!(
            reasons,
            [
                "modified_on '2026-13-45T99:00:00' is not a date and time",
                "created_on 'yesterday' is not a date and time"
            ],
            "{format:?}"
        );
    }
}
