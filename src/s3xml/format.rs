//! Which encoding a document travels in: S3XML for every peer, or the JSON
//! lines of [`super::lines`] between edensync nodes that both speak them.
//! Readers and writers of either kind behave the same to their callers.

use std::io::{self, Read, Write};

use super::lines::{self, LinesReader, LinesWriter};
use super::{Limits, ReadError, Reader, Record, Root, Writer};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Format {
    #[default]
    Xml,
    Lines,
}

impl Format {
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Xml => "text/xml",
            Format::Lines => lines::MEDIA_TYPE,
        }
    }

    /// The format of a body by its Content-Type: JSON lines only when it
    /// names them; anything else is read as S3XML, as Eden reads any body.
    pub fn of_content_type(content_type: Option<&str>) -> Format {
        match content_type {
            Some(value) if media_type_is(value, lines::MEDIA_TYPE) => Format::Lines,
            _ => Format::Xml,
        }
    }

    /// The format to answer in: JSON lines when the Accept header lists
    /// them (edensync peers), S3XML otherwise.
    pub fn accepted(accept: Option<&str>) -> Format {
        match accept {
            Some(value)
                if value
                    .split(',')
                    .any(|v| media_type_is(v, lines::MEDIA_TYPE)) =>
            {
                Format::Lines
            }
            _ => Format::Xml,
        }
    }
}

/// `application/x-ndjson; charset=utf-8` is `application/x-ndjson`.
fn media_type_is(value: &str, media_type: &str) -> bool {
    value
        .split(';')
        .next()
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(media_type))
}

/// A document being read, record by record.
pub enum DocumentReader<R: Read> {
    Xml(Box<Reader<R>>),
    Lines(LinesReader<R>),
}

impl<R: Read> DocumentReader<R> {
    /// Start reading: everything up to the first record.
    pub fn open(format: Format, source: R, limits: Limits) -> Result<Self, ReadError> {
        Ok(match format {
            Format::Xml => DocumentReader::Xml(Box::new(Reader::new(source, limits)?)),
            Format::Lines => DocumentReader::Lines(LinesReader::new(source, limits)?),
        })
    }

    pub fn root(&self) -> &Root {
        match self {
            DocumentReader::Xml(r) => r.root(),
            DocumentReader::Lines(r) => r.root(),
        }
    }
}

impl<R: Read> Iterator for DocumentReader<R> {
    type Item = Result<Record, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            DocumentReader::Xml(r) => r.next(),
            DocumentReader::Lines(r) => r.next(),
        }
    }
}

/// A document being written, record by record.
pub enum DocumentWriter<W: Write> {
    Xml(Writer<W>),
    Lines(LinesWriter<W>),
}

impl<W: Write> DocumentWriter<W> {
    pub fn start(format: Format, out: W, results: u64, extra: &[(&str, &str)]) -> io::Result<Self> {
        Ok(match format {
            Format::Xml => DocumentWriter::Xml(Writer::start(out, results, extra)?),
            Format::Lines => DocumentWriter::Lines(LinesWriter::start(out, results, extra)?),
        })
    }

    pub fn empty(format: Format, out: W, extra: &[(&str, &str)]) -> io::Result<W> {
        match format {
            Format::Xml => Writer::empty(out, extra),
            Format::Lines => LinesWriter::empty(out, extra),
        }
    }

    pub fn record(&mut self, record: &Record) -> io::Result<()> {
        match self {
            DocumentWriter::Xml(w) => w.record(record),
            DocumentWriter::Lines(w) => w.record(record),
        }
    }

    pub fn finish(self) -> io::Result<W> {
        match self {
            DocumentWriter::Xml(w) => w.finish(),
            DocumentWriter::Lines(w) => w.finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation() {
        assert_eq!(
            Format::of_content_type(Some("application/x-ndjson")),
            Format::Lines
        );
        assert_eq!(
            Format::of_content_type(Some("Application/X-NDJSON; charset=utf-8")),
            Format::Lines
        );
        assert_eq!(Format::of_content_type(Some("text/xml")), Format::Xml);
        assert_eq!(
            Format::of_content_type(Some("application/x-www-form-urlencoded")),
            Format::Xml
        );
        assert_eq!(Format::of_content_type(None), Format::Xml);
        assert_eq!(
            Format::accepted(Some("text/xml;q=0.5, application/x-ndjson")),
            Format::Lines
        );
        assert_eq!(Format::accepted(Some("*/*")), Format::Xml);
        assert_eq!(Format::accepted(None), Format::Xml);
    }
}
