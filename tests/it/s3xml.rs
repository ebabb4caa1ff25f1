//! The S3XML codec against real Eden documents, round trips, random
//! records and hostile input.

use std::path::PathBuf;

use edensync::s3xml::reader::read_all;
use edensync::s3xml::{Data, Field, Limits, Reader, Record, Reference, Writer};
use rand::{Rng, RngExt, SeedableRng};

pub fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/eden-vectors")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn read(name: &str) -> (edensync::s3xml::Root, Vec<Record>) {
    read_all(&fixture(name)[..]).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn time(text: &str) -> Option<chrono::NaiveDateTime> {
    Some(chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S").unwrap())
}

fn write(root_results: u64, records: &[Record]) -> Vec<u8> {
    let mut writer = Writer::start(Vec::new(), root_results, &[("domain", "vm")]).unwrap();
    for record in records {
        writer.record(record).unwrap();
    }
    writer.finish().unwrap()
}

const VECTORS: &[&str] = &[
    "02_pull_initial.xml",
    "03_push_initial.xml",
    "04_pull_msince.xml",
    "05_push_with_deletion.xml",
    "06_pull_filters_mcomponents.xml",
    "07_pull_org_office_with_references.xml",
    "08_pull_pr_person_components_dependencies.xml",
    "10_fixture_merge_replaced_by.xml",
    "11_fixture_component_nesting.xml",
    "12_fixture_inline_reference_mtime.xml",
    "13_fixture_tuid_references.xml",
];

#[test]
fn initial_pull_masters_components_and_a_deleted_stub() {
    let (root, records) = read("02_pull_initial.xml");
    assert_eq!(root.success.as_deref(), Some("true"));
    assert_eq!(root.results, Some(3));
    assert_eq!(root.attribute("domain"), Some("vm"));
    assert_eq!(root.attribute("url"), Some("http://127.0.0.1:8765/edenb"));
    assert_eq!(records.len(), 3);

    let first = &records[0];
    assert_eq!(first.table, "org_organisation");
    assert_eq!(
        first.uuid.as_deref(),
        Some("urn:uuid:14943033-0745-4cb7-9500-709647960d2a")
    );
    assert_eq!(first.mci, Some(1));
    assert_eq!(first.created_on, time("2026-11-26T06:19:04"));
    assert_eq!(first.modified_on, time("2026-11-26T06:19:04"));
    assert!(
        first.attributes.is_empty(),
        "the exporter's url is not kept"
    );
    let name = first.data("name").unwrap();
    assert_eq!(
        (name.value.as_deref(), name.text.as_str()),
        (None, "Remote Org One")
    );
    let acronym = first.data("acronym").unwrap();
    assert_eq!(acronym.value.as_deref(), Some("\"RO1\""));
    assert_eq!(acronym.effective_value(), "\"RO1\"");
    let components: Vec<&str> = first.components.iter().map(|c| c.table.as_str()).collect();
    assert_eq!(components, ["org_site", "org_office"]);
    let office = &first.components[1];
    assert_eq!(
        office.data("phone1").unwrap().text,
        "\u{200e}+1 555 0100",
        "the LRM mark survives"
    );
    assert_eq!(
        office.data("obsolete").unwrap().value.as_deref(),
        Some("false")
    );

    let deleted = &records[2];
    assert!(deleted.deleted);
    assert_eq!(deleted.mci, None);
    assert!(deleted.fields.is_empty());
    assert_eq!(deleted.modified_on, time("2026-11-26T06:19:04"));
}

#[test]
fn push_documents_copied_records_and_deletions() {
    let (root, records) = read("03_push_initial.xml");
    assert_eq!(root.attribute("domain"), None, "pushes carry no domain");
    assert_eq!(
        records.iter().map(|r| r.mci).collect::<Vec<_>>(),
        [Some(1), Some(2), Some(2)]
    );
    let root_org = records[1].reference("root_organisation").unwrap();
    assert_eq!(root_org.resource.as_deref(), Some("org_organisation"));
    assert_eq!(root_org.uuid, records[1].uuid, "a self-reference");
    let components: Vec<&str> = records[1]
        .components
        .iter()
        .map(|c| c.table.as_str())
        .collect();
    assert_eq!(components, ["org_site", "org_office", "pr_role"]);

    let (_, records) = read("05_push_with_deletion.xml");
    assert!(records[0].deleted && records[0].modified_on == time("2026-11-26T06:20:18"));
    assert!(records[1..].iter().all(|r| !r.deleted));
}

#[test]
fn user_stamps_and_filtered_pulls() {
    let (root, records) = read("04_pull_msince.xml");
    assert_eq!(root.results, Some(2));
    assert_eq!(
        records[1].attribute("created_by"),
        Some("admin@example.com")
    );
    assert_eq!(
        records[1].attribute("owned_by_user"),
        Some("admin@example.com")
    );
    let order: Vec<&str> = records[1]
        .attributes
        .iter()
        .map(|(k, _)| k.as_str())
        .collect();
    assert_eq!(
        order,
        ["created_by", "modified_by", "owned_by_user"],
        "attribute order kept"
    );

    let (_, records) = read("06_pull_filters_mcomponents.xml");
    assert_eq!(records.len(), 2);
    assert!(
        records
            .iter()
            .all(|r| r.data("acronym").unwrap().text.starts_with("RO"))
    );
    assert_eq!(
        records[0]
            .components
            .iter()
            .filter(|c| c.table == "pr_role")
            .count(),
        2
    );
}

#[test]
fn references_with_location_markup_and_dependencies() {
    let (root, records) = read("07_pull_org_office_with_references.xml");
    assert_eq!(root.results, Some(2), "results counts masters only");
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
    let office = &records[1];
    let location = office.reference("location_id").unwrap();
    assert_eq!(location.resource.as_deref(), Some("gis_location"));
    assert_eq!(
        location.uuid.as_deref(),
        Some("urn:uuid:df0336ad-957f-4207-98fb-e1bedcf5a2a2")
    );
    assert_eq!(
        location.attributes,
        [
            ("lat".to_string(), "52.5200".to_string()),
            ("lon".to_string(), "13.4050".to_string())
        ]
    );
    assert_eq!(location.text, "52.520000 N, 13.405000 E");
    let comments = office.data("comments").unwrap();
    assert_eq!(
        comments.value.as_deref(),
        Some(r#""Line1\nLine2 <b>&amp;</b> \"quoted\"""#)
    );
    let json: String = serde_json::from_str(comments.value.as_deref().unwrap()).unwrap();
    assert_eq!(json, "Line1\nLine2 <b>&amp;</b> \"quoted\"");
    assert!(
        comments.text.starts_with("Line1\nLine2 &lt;b&gt;"),
        "the display text stays as Eden wrote it"
    );
    assert_eq!(
        records[4].attribute("owned_by_group"),
        Some("Authenticated")
    );
}

#[test]
fn persons_with_components_and_user_dependencies() {
    let (root, records) = read("08_pull_pr_person_components_dependencies.xml");
    assert_eq!(root.results, Some(3));
    assert_eq!(records.iter().filter(|r| r.table == "pr_person").count(), 3);
    let users: Vec<&Record> = records.iter().filter(|r| r.table == "auth_user").collect();
    assert_eq!(users.len(), 2);
    assert!(
        users.iter().all(|u| u.mci.is_none()),
        "auth_user has no mci"
    );
    assert!(
        users.iter().all(|u| u.data("password").is_some()),
        "Eden exports password hashes"
    );
    let person = &records[0];
    let components: Vec<&str> = person.components.iter().map(|c| c.table.as_str()).collect();
    assert_eq!(components, ["pr_person_user", "pr_contact"]);
}

#[test]
fn merges_nesting_inline_references_and_tuids() {
    let (_, records) = read("10_fixture_merge_replaced_by.xml");
    assert_eq!(
        records[1].replaced_by.as_deref(),
        Some("TESTIMPORTMERGEORG1")
    );
    assert!(records[1].deleted);

    let (_, records) = read("11_fixture_component_nesting.xml");
    assert_eq!(
        records[1].components[0].uuid.as_deref(),
        Some("TESTIMPORTMERGEOFFICE2")
    );

    let (_, records) = read("12_fixture_inline_reference_mtime.xml");
    let reference = records[0].reference("organisation_id").unwrap();
    assert_eq!(reference.uuid, None);
    assert_eq!(
        reference.resource.as_deref(),
        Some("org_organisation"),
        "taken from the inline record"
    );
    let inline = reference.inline.as_ref().unwrap();
    assert_eq!(inline.uuid.as_deref(), Some("MTORG"));
    assert_eq!(inline.modified_on, time("1988-08-13T10:00:00"));

    let (_, records) = read("13_fixture_tuid_references.xml");
    assert_eq!(records[0].tuid.as_deref(), Some("TESTUID1"));
    assert_eq!(records[1].tuid.as_deref(), Some("TESTUID1"));
    let master = &records[2];
    assert_eq!(
        master.reference("type1_id").unwrap().tuid.as_deref(),
        Some("TESTUID1")
    );
    assert_eq!(
        master.reference("type2_id").unwrap().resource.as_deref(),
        Some("tuid_type_2")
    );
}

#[test]
fn every_vector_round_trips_through_the_writer() {
    for name in VECTORS {
        let (root, records) = read(name);
        let bytes = write(root.results.unwrap_or(records.len() as u64), &records);
        let (again_root, again) = read_all(&bytes[..]).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(again, records, "{name}: records survive a round trip");
        assert_eq!(
            again_root.results,
            root.results.or(Some(records.len() as u64))
        );
    }
}

#[test]
fn writer_speaks_like_eden() {
    let (_, records) = read("02_pull_initial.xml");
    let bytes = String::from_utf8(write(3, &records)).unwrap();
    assert!(bytes.starts_with("<?xml version='1.0' encoding='utf-8'?>\n<s3xml success=\"true\" results=\"3\" domain=\"vm\">"));
    assert!(bytes.contains(
        "<resource name=\"org_organisation\" uuid=\"urn:uuid:40321318-475a-48dd-bb12-c1bf5d20502a\" deleted=\"True\" modified_on=\"2026-11-26T06:19:04\"/>"
    ));
    assert!(bytes.contains(
        "<resource name=\"org_organisation\" uuid=\"urn:uuid:14943033-0745-4cb7-9500-709647960d2a\" mci=\"1\" created_on=\"2026-11-26T06:19:04\" modified_on=\"2026-11-26T06:19:04\"><data field=\"name\">Remote Org One</data><data field=\"acronym\" value=\"&quot;RO1&quot;\">RO1</data>"
    ));
    assert!(bytes.ends_with("</s3xml>"));
    let empty = String::from_utf8(Writer::empty(Vec::new(), &[("domain", "vm")]).unwrap()).unwrap();
    assert_eq!(
        empty,
        "<?xml version='1.0' encoding='utf-8'?>\n<s3xml success=\"false\" results=\"0\" domain=\"vm\"/>"
    );
}

#[test]
fn times_with_z_offsets_and_fractions_become_naive_utc() {
    let doc = br#"<s3xml>
        <resource name="t_a" uuid="a" modified_on="2026-11-26T06:19:04Z"/>
        <resource name="t_a" uuid="b" modified_on="2026-11-26T08:19:04+02:00"/>
        <resource name="t_a" uuid="c" modified_on="2026-11-26T06:19:04.250"/>
        <resource name="t_a" uuid="d" modified_on="2026-11-26 06:19:04"/>
        <resource name="t_a" uuid="e" modified_on="yesterday"/>
    </s3xml>"#;
    let (_, records) = read_all(&doc[..]).unwrap();
    let expected = time("2026-11-26T06:19:04").unwrap();
    assert_eq!(records[0].modified_on, Some(expected));
    assert_eq!(records[1].modified_on, Some(expected));
    assert_eq!(
        records[2].modified_on,
        Some(expected + chrono::Duration::milliseconds(250))
    );
    assert_eq!(records[3].modified_on, Some(expected));
    assert_eq!(records[4].modified_on, None);
    assert_eq!(
        records[4].problems,
        ["modified_on 'yesterday' is not a date and time"]
    );
}

#[test]
fn entities_cdata_and_any_utf8() {
    let doc = "<?xml version='1.0' encoding='utf-8'?><s3xml><resource name=\"t_a\" uuid=\"u\">\
        <data field=\"a\">&lt;&amp;&gt;&quot;&apos;&#233;&#x1F600;</data>\
        <data field=\"b\"><![CDATA[<raw & text>]]></data>\
        <data field=\"c\">M\u{fc}ller \u{2013} \u{6771}\u{4eac} \u{1f600}</data>\
        <data field=\"d\"> </data><data field=\"e\"/></resource></s3xml>";
    let (_, records) = read_all(doc.as_bytes()).unwrap();
    let r = &records[0];
    assert_eq!(r.data("a").unwrap().text, "<&>\"'\u{e9}\u{1f600}");
    assert_eq!(r.data("b").unwrap().text, "<raw & text>");
    assert_eq!(
        r.data("c").unwrap().text,
        "M\u{fc}ller \u{2013} \u{6771}\u{4eac} \u{1f600}"
    );
    assert_eq!(r.data("d").unwrap().text, " ", "whitespace is a value");
    assert_eq!(r.data("e").unwrap().text, "");
    let again = read_all(&write(1, &records)[..]).unwrap().1;
    assert_eq!(again, records);
}

/// Random records, written and read back, come back equal.
#[test]
fn random_records_round_trip() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(20261126);
    for round in 0..300 {
        let records: Vec<Record> = (0..rng.random_range(1..5))
            .map(|_| random_record(&mut rng, 0))
            .collect();
        let bytes = write(records.len() as u64, &records);
        let (_, again) = read_all(&bytes[..])
            .unwrap_or_else(|e| panic!("round {round}: {e}\n{}", String::from_utf8_lossy(&bytes)));
        assert_eq!(again, records, "round {round}");
    }
}

fn random_text(rng: &mut impl Rng) -> String {
    const PIECES: &[&str] = &[
        "",
        " ",
        "a",
        "Z",
        "0",
        "&",
        "<",
        ">",
        "\"",
        "'",
        "\n",
        "\t",
        "\r\n",
        "&amp;",
        "]]>",
        "é",
        "\u{2013}",
        "\u{6771}",
        "\u{1f600}",
        "\u{200e}",
        "null",
        "{\"a\": [1, 2]}",
        "\\",
        "  ",
        "x y",
    ];
    let n = rng.random_range(0..8);
    (0..n)
        .map(|_| PIECES[rng.random_range(0..PIECES.len())])
        .collect::<String>()
        .replace('\r', "")
}

fn random_record(rng: &mut impl Rng, depth: usize) -> Record {
    let deleted = rng.random_bool(0.1);
    let when = chrono::NaiveDate::from_ymd_opt(
        2000 + rng.random_range(0..40),
        1 + rng.random_range(0..12),
        1 + rng.random_range(0..28),
    )
    .unwrap()
    .and_hms_opt(
        rng.random_range(0..24),
        rng.random_range(0..60),
        rng.random_range(0..60),
    )
    .unwrap();
    let mut record = Record {
        table: format!("t{}_x", rng.random_range(0..5)),
        uuid: Some(format!("urn:uuid:{}", uuid::Uuid::new_v4())),
        deleted,
        modified_on: Some(when),
        ..Record::default()
    };
    if deleted {
        if rng.random_bool(0.5) {
            record.replaced_by = Some(format!("urn:uuid:{}", uuid::Uuid::new_v4()));
        }
        return record;
    }
    record.mci = Some(rng.random_range(0..5));
    record.created_on = Some(when);
    if rng.random_bool(0.3) {
        record
            .attributes
            .push(("created_by".into(), random_text(rng)));
    }
    for i in 0..rng.random_range(0..6) {
        let field = if rng.random_bool(0.7) {
            Field::Data(Data {
                field: format!("f{i}"),
                value: rng
                    .random_bool(0.5)
                    .then(|| serde_json::to_string(&random_text(rng)).unwrap()),
                text: random_text(rng),
                ..Data::default()
            })
        } else {
            Field::Reference(Reference {
                field: format!("r{i}"),
                resource: Some("t_ref".into()),
                uuid: Some(format!("urn:uuid:{}", uuid::Uuid::new_v4())),
                text: random_text(rng),
                ..Reference::default()
            })
        };
        record.fields.push(field);
    }
    if depth < 4 {
        for _ in 0..rng.random_range(0..3) {
            record.components.push(random_record(rng, depth + 1));
        }
    }
    record
}

fn read_error(doc: &[u8], limits: Limits) -> String {
    let result = Reader::new(doc, limits).and_then(|mut reader| {
        while reader.next_record()?.is_some() {}
        Ok(())
    });
    result
        .expect_err("hostile input must be refused")
        .to_string()
}

#[test]
fn hostile_and_broken_documents_are_refused_with_a_position() {
    let limits = Limits::default();
    let laughs = br#"<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<s3xml><resource name="t_a"><data field="x">&lol3;</data></resource></s3xml>"#;
    assert!(read_error(laughs, limits).contains("DOCTYPE"));
    let external = br#"<?xml version="1.0"?><!DOCTYPE s3xml [<!ENTITY x SYSTEM "file:///etc/passwd">]><s3xml><resource name="t_a"><data field="x">&x;</data></resource></s3xml>"#;
    assert!(read_error(external, limits).contains("DOCTYPE"));

    let truncated = &fixture("02_pull_initial.xml")[..1500];
    let message = read_error(truncated, limits);
    assert!(message.starts_with("XML error at line "), "{message}");

    let malformed = b"<s3xml><resource name=\"t_a\"><data field=\"x\">a</resource></s3xml>";
    let message = read_error(malformed, limits);
    assert!(message.contains("line 1, column"), "{message}");

    let latin1 = b"<?xml version='1.0' encoding='utf-8'?><s3xml><resource name=\"t_a\"><data field=\"x\">M\xfcller</data></resource></s3xml>";
    assert!(
        read_error(latin1, limits).starts_with("XML error"),
        "invalid UTF-8 is refused"
    );

    let deep = format!(
        "<s3xml>{}{}</s3xml>",
        "<resource name=\"t_a\">".repeat(10_000),
        "</resource>".repeat(10_000)
    );
    let message = read_error(deep.as_bytes(), limits);
    assert!(
        message.contains("nested deeper than the limit of 64"),
        "{message}"
    );

    let huge = format!(
        "<s3xml><resource name=\"t_a\"><data field=\"x\" value=\"{}\"/></resource></s3xml>",
        "a".repeat(100 << 20)
    );
    let message = read_error(huge.as_bytes(), limits);
    assert!(message.starts_with("XML error"), "{message}");

    let small = Limits {
        max_document_bytes: 1000,
        ..limits
    };
    let message = read_error(&fixture("02_pull_initial.xml"), small);
    assert!(
        message.contains("larger than the limit of 1000 bytes"),
        "{message}"
    );

    assert!(read_error(b"<html><body/></html>", limits).contains("expected <s3xml>"));
    assert!(read_error(b"", limits).starts_with("XML error"));
    assert!(
        read_error(b"<s3xml><resource uuid=\"x\"/></s3xml>", limits).contains("no name attribute")
    );
    assert!(read_error(b"<s3xml></s3xml><s3xml></s3xml>", limits).starts_with("XML error"));
}

/// Found by fuzzing: a `replaced_by` on a record that is not deleted was
/// lost by the writer.
#[test]
fn replaced_by_survives_on_any_record() {
    let doc = br#"<s3xml><resource name="org_organisation" replaced_by="X" uui="True"/></s3xml>"#;
    let (_, records) = read_all(&doc[..]).unwrap();
    assert_eq!(records[0].replaced_by.as_deref(), Some("X"));
    assert_eq!(
        records[0].attributes,
        [("uui".to_string(), "True".to_string())]
    );
    assert_eq!(read_all(&write(1, &records)[..]).unwrap().1, records);
}
