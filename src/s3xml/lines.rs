//! The same documents as JSON lines, the compact form edensync nodes use
//! between themselves (Eden always gets S3XML). Parsing it costs a small
//! fraction of parsing XML, which is most of what a node receiving records
//! spends its CPU on.
//!
//! A document is:
//! - first line: the root's attributes as an array of `[name, value]`
//!   pairs, in order (`success`, `results`, `more`, `next_seq`, …);
//! - then one JSON object per top-level record (a [`Record`], components
//!   nested), exactly what the S3XML writer would have written: deleted
//!   records travel as stubs, times in Eden's format;
//! - last line: `[N]`, the number of records written, so that a body cut
//!   off at a line break is recognised as cut.

use std::io::{self, BufRead, BufReader, Read, Write};

use super::reader::{Limited, root_of};
use super::{Field, Limits, ReadError, Record, Root};

/// The media type edensync peers ask for (`Accept`) and send (`Content-Type`).
pub const MEDIA_TYPE: &str = "application/x-ndjson";

/// The longest line read when the document itself has no limit.
const MAX_LINE_BYTES: u64 = 1 << 30;

pub struct LinesWriter<W: Write> {
    out: W,
    written: u64,
}

impl<W: Write> LinesWriter<W> {
    /// Write the root line; `results` and `extra` as [`super::Writer::start`].
    pub fn start(mut out: W, results: u64, extra: &[(&str, &str)]) -> io::Result<Self> {
        write_root(&mut out, results, extra)?;
        Ok(LinesWriter { out, written: 0 })
    }

    /// A document without records.
    pub fn empty(out: W, extra: &[(&str, &str)]) -> io::Result<W> {
        LinesWriter::start(out, 0, extra)?.finish()
    }

    pub fn record(&mut self, record: &Record) -> io::Result<()> {
        if record.deleted {
            serde_json::to_writer(&mut self.out, &deleted_stub(record))?;
        } else {
            serde_json::to_writer(&mut self.out, record)?;
        }
        self.written += 1;
        self.out.write_all(b"\n")
    }

    /// Write the closing count and hand back the output.
    pub fn finish(mut self) -> io::Result<W> {
        writeln!(self.out, "[{}]", self.written)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

fn write_root(out: &mut impl Write, results: u64, extra: &[(&str, &str)]) -> io::Result<()> {
    let success = if results > 0 { "true" } else { "false" };
    let results = results.to_string();
    let mut attributes = vec![("success", success), ("results", results.as_str())];
    attributes.extend_from_slice(extra);
    serde_json::to_writer(&mut *out, &attributes)?;
    out.write_all(b"\n")
}

/// What S3XML carries of a deleted record: identity, flag, time, survivor.
fn deleted_stub(record: &Record) -> Record {
    Record {
        table: record.table.clone(),
        alias: record.alias.clone(),
        uuid: record.uuid.clone(),
        tuid: record.tuid.clone(),
        deleted: true,
        replaced_by: record.replaced_by.clone(),
        modified_on: record.modified_on,
        ..Record::default()
    }
}

pub struct LinesReader<R: Read> {
    source: BufReader<Limited<R>>,
    limits: Limits,
    root: Root,
    line: Vec<u8>,
    /// Lines read so far (the number of the one in `line`).
    line_number: u64,
    records: u64,
    done: bool,
}

impl<R: Read> LinesReader<R> {
    /// Start reading: the root line.
    pub fn new(source: R, limits: Limits) -> Result<Self, ReadError> {
        let mut reader = LinesReader {
            source: BufReader::with_capacity(64 * 1024, Limited::new(source, limits)),
            limits,
            root: Root::default(),
            line: Vec::new(),
            line_number: 0,
            records: 0,
            done: false,
        };
        if !reader.read_line()? {
            return Err(reader.error(0, "the document is empty"));
        }
        let attributes: Vec<(String, String)> =
            serde_json::from_slice(&reader.line).map_err(|e| {
                reader.error(e.column(), format!("the first line is not the root: {e}"))
            })?;
        reader.root = root_of(attributes);
        Ok(reader)
    }

    pub fn root(&self) -> &Root {
        &self.root
    }

    /// The next top-level record, or `None` after the closing count. A
    /// document that ends without it, or whose count is wrong, is an error.
    pub fn next_record(&mut self) -> Result<Option<Record>, ReadError> {
        if self.done {
            return Ok(None);
        }
        if !self.read_line()? {
            return Err(self.error(0, "the document ended before its closing count"));
        }
        if self.line.first() == Some(&b'[') {
            return self.end().map(|()| None);
        }
        let record: Record = match serde_json::from_slice(&self.line) {
            Ok(record) => record,
            Err(e) => self
                .with_bad_times_set_aside()
                .ok_or_else(|| self.error(e.column(), e.to_string()))?,
        };
        self.check(&record, 1)?;
        self.records += 1;
        Ok(Some(record))
    }

    /// The line again, when its only fault is a time that is not one: as in
    /// S3XML, such a record is refused on its own (its `problems` say why),
    /// not the whole document.
    fn with_bad_times_set_aside(&self) -> Option<Record> {
        let mut value: serde_json::Value = serde_json::from_slice(&self.line).ok()?;
        let mut problems = Vec::new();
        super::time::set_aside_bad_times(&mut value, &mut Vec::new(), &mut problems);
        if problems.is_empty() {
            return None;
        }
        let mut record: Record = serde_json::from_value(value).ok()?;
        for (path, problem) in problems {
            let mut target = &mut record;
            for &i in &path {
                target = target.components.get_mut(i)?;
            }
            target.problems.push(problem);
        }
        Some(record)
    }

    /// The closing count: it must match, and nothing may follow it.
    fn end(&mut self) -> Result<(), ReadError> {
        let count: [u64; 1] = serde_json::from_slice(&self.line)
            .map_err(|e| self.error(e.column(), format!("not a closing count: {e}")))?;
        if count[0] != self.records {
            return Err(self.error(
                1,
                format!(
                    "the document says it holds {} records, but {} arrived",
                    count[0], self.records
                ),
            ));
        }
        if self.read_line()? {
            return Err(self.error(1, "content after the closing count"));
        }
        self.done = true;
        Ok(())
    }

    /// What the S3XML reader refuses, refused here too: no table or field
    /// name, nesting past the limit, texts and values past theirs. Beyond
    /// that, what S3XML cannot carry: an attribute name that is not an XML
    /// name or that is one of the modelled attributes (written out again,
    /// it would change the element), and NUL characters.
    fn check(&self, record: &Record, depth: usize) -> Result<(), ReadError> {
        let refuse = |message: String| Err(self.error(1, message));
        if depth > self.limits.max_depth {
            return refuse(format!(
                "records nested deeper than the limit of {}",
                self.limits.max_depth
            ));
        }
        if record.table.is_empty() {
            return refuse("a record has no table name".into());
        }
        self.check_attributes(&record.attributes, RECORD_ATTRIBUTES)?;
        for text in [
            &record.alias,
            &record.uuid,
            &record.tuid,
            &record.replaced_by,
        ]
        .into_iter()
        .flatten()
        .chain([&record.table])
        {
            self.check_value(text, self.limits.max_attribute_bytes)?;
        }
        for field in &record.fields {
            if field.name().is_empty() {
                return refuse("a field has no name".into());
            }
            self.check_value(field.name(), self.limits.max_attribute_bytes)?;
            match field {
                Field::Data(d) => {
                    self.check_attributes(&d.attributes, DATA_ATTRIBUTES)?;
                    self.check_value(&d.text, self.limits.max_text_bytes)?;
                    for value in [&d.value, &d.url, &d.filename].into_iter().flatten() {
                        self.check_value(value, self.limits.max_attribute_bytes)?;
                    }
                }
                Field::Reference(r) => {
                    self.check_attributes(&r.attributes, REFERENCE_ATTRIBUTES)?;
                    self.check_value(&r.text, self.limits.max_text_bytes)?;
                    for value in [&r.resource, &r.uuid, &r.tuid].into_iter().flatten() {
                        self.check_value(value, self.limits.max_attribute_bytes)?;
                    }
                }
            }
        }
        record
            .components
            .iter()
            .try_for_each(|c| self.check(c, depth + 1))
    }

    fn check_attributes(
        &self,
        attributes: &[(String, String)],
        modelled: &[&str],
    ) -> Result<(), ReadError> {
        for (name, value) in attributes {
            if !is_xml_name(name) || modelled.contains(&name.as_str()) {
                return Err(self.error(1, format!("'{name}' cannot be an attribute name")));
            }
            self.check_value(value, self.limits.max_attribute_bytes)?;
        }
        Ok(())
    }

    fn check_value(&self, value: &str, limit: usize) -> Result<(), ReadError> {
        if value.len() > limit {
            return Err(self.error(
                1,
                format!("a value is longer than the limit of {limit} bytes"),
            ));
        }
        if value.contains('\0') {
            return Err(self.error(1, "a value holds a NUL character"));
        }
        Ok(())
    }

    /// The next non-empty line into `self.line`, without its line break;
    /// false at the end of the document. One line holds a master with all
    /// its components: it may be as long as an S3XML document, up to 1 GiB.
    fn read_line(&mut self) -> Result<bool, ReadError> {
        let max_line = self
            .limits
            .max_document_bytes
            .min(MAX_LINE_BYTES)
            .min(self.limits.max_record_bytes) as usize;
        loop {
            self.line.clear();
            self.line_number += 1;
            loop {
                let available = match self.source.fill_buf() {
                    Ok(available) => available,
                    Err(e) => return Err(self.io_error(e)),
                };
                if available.is_empty() {
                    return Ok(!self.line.is_empty());
                }
                let (taken, complete) = match newline_in(available) {
                    Some(end) => (end + 1, true),
                    None => (available.len(), false),
                };
                self.line.extend_from_slice(&available[..taken]);
                self.source.consume(taken);
                if self.line.len() > max_line + 1 {
                    return Err(self.error(
                        0,
                        format!("a line is longer than the limit of {max_line} bytes"),
                    ));
                }
                if complete {
                    break;
                }
            }
            while self.line.last().is_some_and(|b| b.is_ascii_whitespace()) {
                self.line.pop();
            }
            if !self.line.is_empty() {
                return Ok(true);
            }
        }
    }

    fn io_error(&self, e: io::Error) -> ReadError {
        if self.source.get_ref().exceeded {
            self.error(0, ReadError::over_limit(self.limits.max_document_bytes))
        } else {
            self.error(0, format!("the document could not be read: {e}"))
        }
    }

    fn error(&self, column: usize, message: impl Into<String>) -> ReadError {
        ReadError {
            line: self.line_number,
            column: column as u64,
            message: message.into(),
        }
    }
}

/// The attributes the S3XML reader and writer model on each element.
const RECORD_ATTRIBUTES: &[&str] = &[
    "name",
    "alias",
    "uuid",
    "tuid",
    "mci",
    "deleted",
    "replaced_by",
    "created_on",
    "modified_on",
    "url",
];
const DATA_ATTRIBUTES: &[&str] = &["field", "value", "url", "filename"];
const REFERENCE_ATTRIBUTES: &[&str] = &["field", "resource", "uuid", "tuid"];

/// An XML name without a namespace prefix, as the S3XML reader gives them.
fn is_xml_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

fn newline_in(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'\n')
}

impl<R: Read> Iterator for LinesReader<R> {
    type Item = Result<Record, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.next_record() {
            Ok(Some(record)) => Some(Ok(record)),
            Ok(None) => None,
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// Times as Eden writes them in S3XML (whole seconds, naive UTC), read as
/// leniently as the S3XML reader reads them.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::s3xml::{Data, Field, Reference};

    fn organisation() -> Record {
        let at = |s| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap();
        Record {
            table: "org_organisation".into(),
            uuid: Some("urn:uuid:1".into()),
            mci: Some(2),
            created_on: Some(at("2026-11-01 10:00:00")),
            modified_on: Some(at("2026-11-26 06:19:04")),
            attributes: vec![("owned_by_group".into(), "3".into())],
            fields: vec![
                Field::Data(Data {
                    field: "name".into(),
                    text: "Red \"Cross\"\nline two\u{1}".into(),
                    ..Data::default()
                }),
                Field::Data(Data {
                    field: "founded".into(),
                    value: Some("\"2001-02-03\"".into()),
                    text: "2001-02-03".into(),
                    ..Data::default()
                }),
                Field::Reference(Reference {
                    field: "parent".into(),
                    resource: Some("org_organisation".into()),
                    uuid: Some("[\"urn:uuid:7\",\"urn:uuid:8\"]".into()),
                    ..Reference::default()
                }),
            ],
            components: vec![Record {
                table: "org_office".into(),
                uuid: Some("urn:uuid:2".into()),
                fields: vec![Field::Data(Data {
                    field: "name".into(),
                    text: "HQ".into(),
                    ..Data::default()
                })],
                ..Record::default()
            }],
            ..Record::default()
        }
    }

    fn write(records: &[Record]) -> Vec<u8> {
        let mut writer = LinesWriter::start(Vec::new(), 1, &[("more", "true")]).unwrap();
        for record in records {
            writer.record(record).unwrap();
        }
        writer.finish().unwrap()
    }

    fn read(bytes: &[u8]) -> Result<(Root, Vec<Record>), ReadError> {
        let mut reader = LinesReader::new(bytes, Limits::default())?;
        let records = reader.by_ref().collect::<Result<Vec<_>, _>>()?;
        Ok((reader.root().clone(), records))
    }

    #[test]
    fn records_come_back_as_written() {
        let deleted = Record {
            table: "org_organisation".into(),
            uuid: Some("urn:uuid:3".into()),
            deleted: true,
            replaced_by: Some("urn:uuid:1".into()),
            modified_on: organisation().modified_on,
            fields: organisation().fields,
            ..Record::default()
        };
        let bytes = write(&[organisation(), deleted.clone()]);
        let (root, records) = read(&bytes).unwrap();
        assert_eq!(root.success.as_deref(), Some("true"));
        assert_eq!(root.results, Some(1));
        assert_eq!(root.attribute("more"), Some("true"));
        assert_eq!(records[0], organisation());
        // A deleted record travels as S3XML's stub does: without fields.
        assert_eq!(
            records[1],
            Record {
                fields: Vec::new(),
                ..deleted
            }
        );
    }

    #[test]
    fn an_empty_document_has_a_root_and_a_count() {
        let bytes = LinesWriter::empty(Vec::new(), &[("next_seq", "9")]).unwrap();
        let (root, records) = read(&bytes).unwrap();
        assert_eq!(root.success.as_deref(), Some("false"));
        assert_eq!(root.attribute("next_seq"), Some("9"));
        assert!(records.is_empty());
    }

    #[test]
    fn cut_or_broken_documents_are_errors() {
        let bytes = write(&[organisation(), organisation()]);
        let text = String::from_utf8(bytes).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let cut_at_a_line = format!("{}\n{}\n", lines[0], lines[1]);
        let error = read(cut_at_a_line.as_bytes()).unwrap_err();
        assert!(error.message.contains("closing count"), "{error}");
        let wrong_count = format!("{}\n{}\n[2]\n", lines[0], lines[1]);
        assert!(
            read(wrong_count.as_bytes())
                .unwrap_err()
                .message
                .contains("says it holds 2")
        );
        let cut_in_a_line = &text[..text.len() / 2];
        let error = read(cut_in_a_line.as_bytes()).unwrap_err();
        assert_eq!(error.line, 2, "{error}");
        let trailing = format!("{text}{}\n", lines[1]);
        assert!(
            read(trailing.as_bytes())
                .unwrap_err()
                .message
                .contains("after the closing")
        );
        assert!(read(b"").unwrap_err().message.contains("empty"));
        assert!(read(b"<?xml version='1.0'?><s3xml/>").is_err());
        // A bad time refuses its record (as in S3XML), not the document.
        let bad_time = text.replacen("2026-11-26T06:19:04", "yesterday", 1);
        let (_, records) = read(bad_time.as_bytes()).unwrap();
        assert_eq!(
            records[0].problems,
            ["modified_on 'yesterday' is not a date and time"]
        );
        let nameless = text.replacen("\"org_office\"", "\"\"", 1);
        assert!(
            read(nameless.as_bytes())
                .unwrap_err()
                .message
                .contains("no table name")
        );
        // Attribute names S3XML could not carry back, and NUL characters.
        for (name, bad) in [
            ("an injected element", r#"x=\"1\"/><resource name=\"x"#),
            ("a modelled attribute", "uuid"),
            ("an empty name", ""),
            ("a prefixed name", "xml:lang"),
        ] {
            let injected = text.replacen("owned_by_group", bad, 1);
            let error = read(injected.as_bytes()).unwrap_err();
            assert!(
                error.message.contains("cannot be an attribute name"),
                "{name}: {error}"
            );
        }
        let nul = text.replacen("urn:uuid:1", "urn:uuid:\\u00001", 1);
        assert!(read(nul.as_bytes()).unwrap_err().message.contains("NUL"));
    }

    #[test]
    fn limits_hold() {
        let bytes = write(&[organisation()]);
        let small = Limits {
            max_document_bytes: 100,
            ..Limits::default()
        };
        let error = LinesReader::new(&bytes[..], small)
            .and_then(|mut r| r.by_ref().collect::<Result<Vec<_>, _>>())
            .unwrap_err();
        assert!(error.message.contains("larger than the limit"), "{error}");
        let short_values = Limits {
            max_text_bytes: 10,
            ..Limits::default()
        };
        let error = LinesReader::new(&bytes[..], short_values)
            .and_then(|mut r| r.by_ref().collect::<Result<Vec<_>, _>>())
            .unwrap_err();
        assert!(
            error.message.contains("longer than the limit of 10"),
            "{error}"
        );
        let shallow = Limits {
            max_depth: 1,
            ..Limits::default()
        };
        let error = LinesReader::new(&bytes[..], shallow)
            .and_then(|mut r| r.by_ref().collect::<Result<Vec<_>, _>>())
            .unwrap_err();
        assert!(error.message.contains("nested deeper"), "{error}");
    }
}
