//! The streaming S3XML reader: yields one top-level `<resource>` (with its
//! components and inline references) at a time, so a document of any size
//! is read in constant memory. Hostile input is refused: no DTD is accepted
//! (so no entity is ever declared or resolved), nesting, names, attributes,
//! texts and the document itself have limits, and every error names its
//! line and column.

use std::io::{BufReader, Read};

use xml::attribute::OwnedAttribute;
use xml::common::Position;
use xml::reader::{EventReader, ParserConfig, XmlEvent};

use super::{Data, Field, Record, Reference, time};

/// Bounds on what a document may contain.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Element nesting depth (components and inline references nest).
    pub max_depth: usize,
    /// Bytes of one attribute value (a `value` attribute holds a whole field).
    pub max_attribute_bytes: usize,
    /// Bytes of one text node.
    pub max_text_bytes: usize,
    /// Bytes of the whole document.
    pub max_document_bytes: u64,
    /// Bytes of one top-level record as written, its components included:
    /// what one record may hold in memory while it is read.
    pub max_record_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 64,
            // A real Eden value is a few hundred bytes; 2 MiB is far above
            // any, and bounds what one bad element holds in memory while
            // it is read.
            max_attribute_bytes: 2 << 20,
            max_text_bytes: 2 << 20,
            max_document_bytes: 1 << 30,
            max_record_bytes: 64 << 20,
        }
    }
}

/// What was wrong with a document, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("XML error at line {line}, column {column}: {message}")]
pub struct ReadError {
    pub line: u64,
    pub column: u64,
    pub message: String,
}

impl ReadError {
    /// The message of a document over `Limits::max_document_bytes` (counted
    /// after decompression).
    pub fn over_limit(limit: u64) -> String {
        format!("document larger than the limit of {limit} bytes")
    }

    /// The document was refused for its size, not its content.
    pub fn is_over_limit(&self) -> bool {
        self.message
            .starts_with("document larger than the limit of")
    }
}

/// The `<s3xml>` root's attributes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Root {
    pub success: Option<String>,
    pub results: Option<u64>,
    /// All root attributes in document order (`domain`, `url`, and for
    /// edensync peers `next_seq`, `more`).
    pub attributes: Vec<(String, String)>,
}

impl Root {
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Counts bytes and stops at the document limit.
pub(super) struct Limited<R> {
    inner: R,
    pub(super) read: u64,
    max: u64,
    pub(super) exceeded: bool,
}

impl<R> Limited<R> {
    pub(super) fn new(inner: R, limits: Limits) -> Self {
        Limited {
            inner,
            read: 0,
            max: limits.max_document_bytes,
            exceeded: false,
        }
    }
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.max {
            self.exceeded = true;
            return Err(std::io::Error::other("document too large"));
        }
        Ok(n)
    }
}

pub struct Reader<R: Read> {
    // Buffered outside the limit: the parser's many small reads hit the
    // buffer; the limit sees 64 KiB reads.
    events: EventReader<BufReader<Limited<R>>>,
    limits: Limits,
    root: Root,
    done: bool,
    /// Where the top-level record being read began (bytes read then).
    record_start: Option<u64>,
}

/// An element's start, as the reader passes it around.
struct Start {
    name: String,
    attributes: Vec<OwnedAttribute>,
}

impl<R: Read> Reader<R> {
    /// Start reading: everything up to and including the `<s3xml>` root.
    pub fn new(source: R, limits: Limits) -> Result<Self, ReadError> {
        let config = ParserConfig::new()
            .trim_whitespace(false)
            .whitespace_to_characters(true)
            .cdata_to_characters(true)
            .ignore_comments(true)
            .coalesce_characters(true)
            .allow_multiple_root_elements(false)
            .max_entity_expansion_length(0)
            .max_entity_expansion_depth(0)
            .max_attributes(256)
            .max_name_length(1024)
            .max_attribute_length(limits.max_attribute_bytes)
            .max_data_length(limits.max_text_bytes);
        let source = BufReader::with_capacity(64 * 1024, Limited::new(source, limits));
        let mut reader = Reader {
            events: config.create_reader(source),
            limits,
            root: Root::default(),
            done: false,
            record_start: None,
        };
        loop {
            match reader.next_event()? {
                XmlEvent::StartElement {
                    name, attributes, ..
                } => {
                    if name.local_name != "s3xml" {
                        return Err(reader.error(format!(
                            "the root element is <{}>, expected <s3xml>",
                            name.local_name
                        )));
                    }
                    reader.root = root_of(
                        attributes
                            .into_iter()
                            .map(|a| (a.name.local_name, a.value))
                            .collect(),
                    );
                    return Ok(reader);
                }
                XmlEvent::EndDocument => return Err(reader.error("the document is empty")),
                _ => {}
            }
        }
    }

    pub fn root(&self) -> &Root {
        &self.root
    }

    /// The next top-level record, or `None` at the end of the document.
    /// The document must end properly: a truncated one is an error here.
    pub fn next_record(&mut self) -> Result<Option<Record>, ReadError> {
        if self.done {
            return Ok(None);
        }
        loop {
            match self.next_event()? {
                XmlEvent::StartElement {
                    name, attributes, ..
                } => {
                    let start = Start {
                        name: name.local_name,
                        attributes,
                    };
                    if start.name == "resource" {
                        self.record_start = Some(self.events.source().get_ref().read);
                        let record = self.resource(start, 2);
                        self.record_start = None;
                        return record.map(Some);
                    }
                    // Other top-level elements carry nothing for sync.
                    self.skip(2)?;
                }
                XmlEvent::EndElement { .. } => {
                    self.expect_end_of_document()?;
                    self.done = true;
                    return Ok(None);
                }
                XmlEvent::EndDocument => {
                    return Err(self.error("the document ended before </s3xml>"));
                }
                _ => {}
            }
        }
    }

    fn expect_end_of_document(&mut self) -> Result<(), ReadError> {
        loop {
            match self.next_event()? {
                XmlEvent::EndDocument => return Ok(()),
                XmlEvent::Characters(text) if text.trim().is_empty() => {}
                _ => return Err(self.error("content after </s3xml>")),
            }
        }
    }

    fn next_event(&mut self) -> Result<XmlEvent, ReadError> {
        // The source is read ahead a buffer at a time: allow for it.
        if let Some(start) = self.record_start {
            let read = self.events.source().get_ref().read;
            if read.saturating_sub(start) > self.limits.max_record_bytes + 64 * 1024 {
                return Err(self.error(format!(
                    "a record larger than the limit of {} bytes",
                    self.limits.max_record_bytes
                )));
            }
        }
        match self.events.next() {
            Ok(XmlEvent::Doctype { .. }) => {
                Err(self.error("DOCTYPE declarations are not allowed in S3XML"))
            }
            Ok(event) => Ok(event),
            Err(_) if self.events.source().get_ref().exceeded => {
                Err(self.error(ReadError::over_limit(self.limits.max_document_bytes)))
            }
            Err(e) => {
                let pos = e.position();
                Err(ReadError {
                    line: pos.row + 1,
                    column: pos.column + 1,
                    message: e.msg().to_string(),
                })
            }
        }
    }

    fn error(&self, message: impl Into<String>) -> ReadError {
        let pos = self.events.position();
        ReadError {
            line: pos.row + 1,
            column: pos.column + 1,
            message: message.into(),
        }
    }

    fn check_depth(&self, depth: usize) -> Result<(), ReadError> {
        if depth > self.limits.max_depth {
            return Err(self.error(format!(
                "elements nested deeper than the limit of {}",
                self.limits.max_depth
            )));
        }
        Ok(())
    }

    /// Skip an element we do not use, with everything inside it.
    fn skip(&mut self, depth: usize) -> Result<(), ReadError> {
        let mut open = 1usize;
        while open > 0 {
            match self.next_event()? {
                XmlEvent::StartElement { .. } => {
                    open += 1;
                    self.check_depth(depth + open)?;
                }
                XmlEvent::EndElement { .. } => open -= 1,
                XmlEvent::EndDocument => {
                    return Err(self.error("the document ended inside an element"));
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn resource(&mut self, start: Start, depth: usize) -> Result<Record, ReadError> {
        self.check_depth(depth)?;
        let mut record = Record::default();
        for attribute in start.attributes {
            let value = attribute.value;
            match attribute.name.local_name.as_str() {
                "name" => record.table = value,
                "alias" => record.alias = Some(value),
                "uuid" => record.uuid = Some(value),
                "tuid" => record.tuid = Some(value),
                "mci" => match value.trim().parse() {
                    Ok(mci) => record.mci = Some(mci),
                    Err(_) => record
                        .problems
                        .push(format!("mci '{value}' is not a number")),
                },
                "deleted" => record.deleted = value.eq_ignore_ascii_case("true"),
                "replaced_by" => record.replaced_by = Some(value),
                "created_on" => {
                    record.created_on = parse_time(&value, "created_on", &mut record.problems)
                }
                "modified_on" => {
                    record.modified_on = parse_time(&value, "modified_on", &mut record.problems)
                }
                "url" => {}
                other => record.attributes.push((other.to_string(), value)),
            }
        }
        if record.table.is_empty() {
            return Err(self.error("a <resource> element has no name attribute"));
        }
        loop {
            match self.next_event()? {
                XmlEvent::StartElement {
                    name, attributes, ..
                } => {
                    let start = Start {
                        name: name.local_name,
                        attributes,
                    };
                    match start.name.as_str() {
                        "data" => record
                            .fields
                            .push(Field::Data(self.data(start, depth + 1)?)),
                        "reference" => record
                            .fields
                            .push(Field::Reference(self.reference(start, depth + 1)?)),
                        "resource" => record.components.push(self.resource(start, depth + 1)?),
                        _ => self.skip(depth + 1)?,
                    }
                }
                XmlEvent::EndElement { .. } => return Ok(record),
                XmlEvent::EndDocument => {
                    return Err(self.error("the document ended inside a <resource>"));
                }
                _ => {}
            }
        }
    }

    fn data(&mut self, start: Start, depth: usize) -> Result<Data, ReadError> {
        self.check_depth(depth)?;
        let mut data = Data::default();
        for attribute in start.attributes {
            let value = attribute.value;
            match attribute.name.local_name.as_str() {
                "field" => data.field = value,
                "value" => data.value = Some(value),
                "url" => data.url = Some(value),
                "filename" => data.filename = Some(value),
                other => data.attributes.push((other.to_string(), value)),
            }
        }
        if data.field.is_empty() {
            return Err(self.error("a <data> element has no field attribute"));
        }
        data.text = self.text_until_end(depth)?;
        Ok(data)
    }

    fn reference(&mut self, start: Start, depth: usize) -> Result<Reference, ReadError> {
        self.check_depth(depth)?;
        let mut reference = Reference::default();
        for attribute in start.attributes {
            let value = attribute.value;
            match attribute.name.local_name.as_str() {
                "field" => reference.field = value,
                "resource" => reference.resource = Some(value),
                "uuid" => reference.uuid = Some(value),
                "tuid" => reference.tuid = Some(value),
                other => reference.attributes.push((other.to_string(), value)),
            }
        }
        if reference.field.is_empty() {
            return Err(self.error("a <reference> element has no field attribute"));
        }
        loop {
            match self.next_event()? {
                XmlEvent::Characters(text) => reference.text.push_str(&text),
                XmlEvent::StartElement {
                    name, attributes, ..
                } => {
                    let start = Start {
                        name: name.local_name,
                        attributes,
                    };
                    if start.name == "resource" && reference.inline.is_none() {
                        let inline = self.resource(start, depth + 1)?;
                        if reference.resource.is_none() {
                            reference.resource = Some(inline.table.clone());
                        }
                        reference.inline = Some(Box::new(inline));
                    } else {
                        self.skip(depth + 1)?;
                    }
                }
                XmlEvent::EndElement { .. } => return Ok(reference),
                XmlEvent::EndDocument => {
                    return Err(self.error("the document ended inside a <reference>"));
                }
                _ => {}
            }
        }
    }

    /// The text of a leaf element; child elements (not part of S3XML) are skipped.
    fn text_until_end(&mut self, depth: usize) -> Result<String, ReadError> {
        let mut text = String::new();
        loop {
            match self.next_event()? {
                XmlEvent::Characters(chunk) => {
                    if text.is_empty() {
                        text = chunk;
                    } else {
                        text.push_str(&chunk);
                    }
                }
                XmlEvent::StartElement { .. } => self.skip(depth + 1)?,
                XmlEvent::EndElement { .. } => return Ok(text),
                XmlEvent::EndDocument => {
                    return Err(self.error("the document ended inside an element"));
                }
                _ => {}
            }
        }
    }
}

impl<R: Read> Iterator for Reader<R> {
    type Item = Result<Record, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.next_record() {
            Ok(Some(record)) => Some(Ok(record)),
            Ok(None) => None,
            Err(e) => {
                // After an error the parser's state is undefined: stop.
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// The root from its attributes, in document order.
pub(super) fn root_of(attributes: Vec<(String, String)>) -> Root {
    let mut root = Root::default();
    for (name, value) in attributes {
        match name.as_str() {
            "success" => root.success = Some(value.clone()),
            "results" => root.results = value.trim().parse().ok(),
            _ => {}
        }
        root.attributes.push((name, value));
    }
    root
}

fn parse_time(
    value: &str,
    name: &str,
    problems: &mut Vec<String>,
) -> Option<chrono::NaiveDateTime> {
    let parsed = time::parse(value);
    if parsed.is_none() {
        problems.push(format!("{name} '{value}' is not a date and time"));
    }
    parsed
}

/// Read a whole document into memory (tests and small documents only).
pub fn read_all(source: impl Read) -> Result<(Root, Vec<Record>), ReadError> {
    let mut reader = Reader::new(source, Limits::default())?;
    let mut records = Vec::new();
    while let Some(record) = reader.next_record()? {
        records.push(record);
    }
    Ok((reader.root().clone(), records))
}
