//! The JSON-lines reader on arbitrary bytes: it must never panic, and
//! whatever it accepts must survive the writer and read back the same.
#![no_main]

use edensync::s3xml::Limits;
use edensync::s3xml::Record;
use edensync::s3xml::lines::{LinesReader, LinesWriter};
use libfuzzer_sys::fuzz_target;

/// What the writer keeps of a record: everything the reader took, except
/// that times are written to the second and a deleted record travels as a stub (identity,
/// deletion, time, survivor), as S3XML carries them.
fn as_written(mut record: Record) -> Record {
    use chrono::SubsecRound;
    record.created_on = record.created_on.map(|t| t.trunc_subsecs(0));
    record.modified_on = record.modified_on.map(|t| t.trunc_subsecs(0));
    // What the reader found wrong (a bad time, set aside) is its verdict
    // on the line, not part of the record.
    record.problems.clear();
    if record.deleted {
        record.mci = None;
        record.created_on = None;
        record.attributes.clear();
        record.fields.clear();
        record.components.clear();
    }
    record.components = record.components.into_iter().map(as_written).collect();
    record
}

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_depth: 32,
        max_attribute_bytes: 64 * 1024,
        max_text_bytes: 64 * 1024,
        max_document_bytes: 1 << 20,
        max_record_bytes: 1 << 20,
    };
    let Ok(mut reader) = LinesReader::new(data, limits) else { return };
    let Ok(records) = reader.by_ref().collect::<Result<Vec<_>, _>>() else { return };
    let mut writer = LinesWriter::start(Vec::new(), records.len() as u64, &[]).expect("writing to memory");
    for record in &records {
        writer.record(record).expect("writing to memory");
    }
    let out = writer.finish().expect("writing to memory");
    let again: Vec<_> = LinesReader::new(&out[..], Limits::default())
        .expect("our own output parses")
        .collect::<Result<_, _>>()
        .expect("our own output parses");
    let expected: Vec<Record> = records.into_iter().map(as_written).collect();
    assert_eq!(again, expected, "a record changed through the writer");
});
