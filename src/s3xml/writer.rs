//! The streaming S3XML writer: what Eden writes, byte for byte where it
//! matters (declaration, attribute order, naive UTC times, deleted stubs),
//! to any `io::Write`, one record at a time.

use std::io::{self, Write};

use super::{Data, Field, Record, Reference, time};

pub struct Writer<W: Write> {
    out: W,
}

const DECLARATION: &[u8] = b"<?xml version='1.0' encoding='utf-8'?>\n";

impl<W: Write> Writer<W> {
    /// Write the declaration and the root start tag. `results` is the number
    /// of master records that will follow; Eden's `success` is "true" when
    /// the document has any record. `extra` root attributes (`domain`,
    /// `url`, ...) follow `results`, in order.
    pub fn start(mut out: W, results: u64, extra: &[(&str, &str)]) -> io::Result<Self> {
        out.write_all(DECLARATION)?;
        out.write_all(b"<s3xml success=\"")?;
        out.write_all(if results > 0 { b"true" } else { b"false" })?;
        write!(out, "\" results=\"{results}\"")?;
        for (name, value) in extra {
            write_attribute(&mut out, name, value)?;
        }
        out.write_all(b">")?;
        Ok(Writer { out })
    }

    /// A document without records: `<s3xml success="false" results="0" …/>`.
    pub fn empty(mut out: W, extra: &[(&str, &str)]) -> io::Result<W> {
        out.write_all(DECLARATION)?;
        out.write_all(b"<s3xml success=\"false\" results=\"0\"")?;
        for (name, value) in extra {
            write_attribute(&mut out, name, value)?;
        }
        out.write_all(b"/>")?;
        Ok(out)
    }

    /// Write one record with its components. `mci` is written as given (an
    /// exporter passes the stored mci + 1).
    pub fn record(&mut self, record: &Record) -> io::Result<()> {
        write_resource(&mut self.out, record)
    }

    /// Close the root and hand back the output.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.write_all(b"</s3xml>")?;
        self.out.flush()?;
        Ok(self.out)
    }
}

fn write_resource(out: &mut impl Write, record: &Record) -> io::Result<()> {
    out.write_all(b"<resource")?;
    write_attribute(out, "name", &record.table)?;
    if let Some(alias) = &record.alias {
        write_attribute(out, "alias", alias)?;
    }
    if let Some(uuid) = &record.uuid {
        write_attribute(out, "uuid", uuid)?;
    }
    if let Some(tuid) = &record.tuid {
        write_attribute(out, "tuid", tuid)?;
    }
    if record.deleted {
        // A deleted record travels as a stub: identity, flag, time, survivor.
        out.write_all(b" deleted=\"True\"")?;
        if let Some(replaced_by) = &record.replaced_by {
            write_attribute(out, "replaced_by", replaced_by)?;
        }
        if let Some(modified_on) = &record.modified_on {
            write_attribute(out, "modified_on", &time::format(modified_on))?;
        }
        return out.write_all(b"/>");
    }
    if let Some(mci) = record.mci {
        write!(out, " mci=\"{mci}\"")?;
    }
    if let Some(created_on) = &record.created_on {
        write_attribute(out, "created_on", &time::format(created_on))?;
    }
    if let Some(modified_on) = &record.modified_on {
        write_attribute(out, "modified_on", &time::format(modified_on))?;
    }
    // Eden sends replaced_by only on deleted stubs; anything received is kept.
    if let Some(replaced_by) = &record.replaced_by {
        write_attribute(out, "replaced_by", replaced_by)?;
    }
    for (name, value) in &record.attributes {
        write_attribute(out, name, value)?;
    }
    if record.fields.is_empty() && record.components.is_empty() {
        return out.write_all(b"/>");
    }
    out.write_all(b">")?;
    for field in &record.fields {
        match field {
            Field::Data(data) => write_data(out, data)?,
            Field::Reference(reference) => write_reference(out, reference)?,
        }
    }
    for component in &record.components {
        write_resource(out, component)?;
    }
    out.write_all(b"</resource>")
}

fn write_data(out: &mut impl Write, data: &Data) -> io::Result<()> {
    out.write_all(b"<data")?;
    write_attribute(out, "field", &data.field)?;
    if let Some(value) = &data.value {
        write_attribute(out, "value", value)?;
    }
    if let Some(url) = &data.url {
        write_attribute(out, "url", url)?;
    }
    if let Some(filename) = &data.filename {
        write_attribute(out, "filename", filename)?;
    }
    for (name, value) in &data.attributes {
        write_attribute(out, name, value)?;
    }
    if data.text.is_empty() {
        return out.write_all(b"/>");
    }
    out.write_all(b">")?;
    write_text(out, &data.text)?;
    out.write_all(b"</data>")
}

fn write_reference(out: &mut impl Write, reference: &Reference) -> io::Result<()> {
    out.write_all(b"<reference")?;
    write_attribute(out, "field", &reference.field)?;
    if let Some(resource) = &reference.resource {
        write_attribute(out, "resource", resource)?;
    }
    if let Some(uuid) = &reference.uuid {
        write_attribute(out, "uuid", uuid)?;
    }
    if let Some(tuid) = &reference.tuid {
        write_attribute(out, "tuid", tuid)?;
    }
    for (name, value) in &reference.attributes {
        write_attribute(out, name, value)?;
    }
    if reference.text.is_empty() && reference.inline.is_none() {
        return out.write_all(b"/>");
    }
    out.write_all(b">")?;
    write_text(out, &reference.text)?;
    if let Some(inline) = &reference.inline {
        write_resource(out, inline)?;
    }
    out.write_all(b"</reference>")
}

fn write_attribute(out: &mut impl Write, name: &str, value: &str) -> io::Result<()> {
    out.write_all(b" ")?;
    out.write_all(name.as_bytes())?;
    out.write_all(b"=\"")?;
    write_escaped(out, value, true)?;
    out.write_all(b"\"")
}

fn write_text(out: &mut impl Write, text: &str) -> io::Result<()> {
    write_escaped(out, text, false)
}

/// Escape as lxml does: `& < >` everywhere, and in attributes also `"` and
/// the whitespace characters a parser would otherwise normalise. Characters
/// XML 1.0 cannot carry at all become U+FFFD.
fn write_escaped(out: &mut impl Write, text: &str, in_attribute: bool) -> io::Result<()> {
    let bytes = text.as_bytes();
    let mut clean_from = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let replacement: &[u8] = match b {
            b'&' => b"&amp;",
            b'<' => b"&lt;",
            b'>' => b"&gt;",
            b'"' if in_attribute => b"&quot;",
            b'\n' if in_attribute => b"&#10;",
            b'\t' if in_attribute => b"&#9;",
            b'\r' => b"&#13;",
            b'\n' | b'\t' => continue,
            0..=0x1f => "\u{fffd}".as_bytes(),
            _ => continue,
        };
        out.write_all(&bytes[clean_from..i])?;
        out.write_all(replacement)?;
        clean_from = i + 1;
    }
    out.write_all(&bytes[clean_from..])
}
