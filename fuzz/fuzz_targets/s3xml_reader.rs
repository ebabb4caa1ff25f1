//! The S3XML reader on arbitrary bytes: it must never panic, and whatever it
//! accepts must survive the writer and read back the same.
#![no_main]

use edensync::s3xml::{Limits, Reader, Record, Writer};
use libfuzzer_sys::fuzz_target;

/// A record the reader found nothing wrong with (an unparsable time is
/// dropped and noted, so such a record cannot come back the same).
fn clean(record: &Record) -> bool {
    record.problems.is_empty()
        && record.components.iter().all(clean)
        && record.fields.iter().all(|f| match f {
            edensync::s3xml::Field::Reference(r) => r.inline.as_deref().is_none_or(clean),
            _ => true,
        })
}

/// What the writer keeps of a record: everything, except that times are
/// written to the second and a deleted record travels as a stub (identity,
/// deletion, time, survivor), as Eden writes them.
fn as_written(mut record: Record) -> Record {
    use chrono::SubsecRound;
    record.created_on = record.created_on.map(|t| t.trunc_subsecs(0));
    record.modified_on = record.modified_on.map(|t| t.trunc_subsecs(0));
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
    let Ok(reader) = Reader::new(data, limits) else { return };
    let mut records = Vec::new();
    for record in reader {
        match record {
            Ok(record) => records.push(record),
            Err(_) => return,
        }
    }
    if !records.iter().all(clean) {
        return;
    }
    let mut out = Vec::new();
    let mut writer = Writer::start(&mut out, records.len() as u64, &[]).expect("writing to memory");
    for record in &records {
        writer.record(record).expect("writing to memory");
    }
    writer.finish().expect("writing to memory");
    let again: Vec<_> = Reader::new(&out[..], Limits::default())
        .expect("our own output parses")
        .collect::<Result<_, _>>()
        .expect("our own output parses");
    let expected: Vec<Record> = records.into_iter().map(as_written).collect();
    assert_eq!(again, expected, "a record changed through the writer");
});
