//! S3XML, the document format of Eden's sync: a streaming reader (one
//! top-level `<resource>` at a time) and a streaming writer.

pub mod format;
pub mod lines;
pub mod reader;
pub mod time;
pub mod writer;

use serde::{Deserialize, Serialize};

pub use format::{DocumentReader, DocumentWriter, Format};
pub use reader::{Limits, ReadError, Reader, Root};
pub use writer::Writer;

/// One `<resource>`: a record of `table`, with its fields in document order,
/// nested component records, and every attribute we do not model kept as is.
/// Its serde form is the record line of [`lines`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub table: String,
    /// Component alias, when it differs from the table name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    /// Document-local id; `(table, tuid)` is the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tuid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mci: Option<i32>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced_by: Option<String>,
    #[serde(
        default,
        with = "time::eden_time",
        skip_serializing_if = "Option::is_none"
    )]
    pub created_on: Option<chrono::NaiveDateTime>,
    #[serde(
        default,
        with = "time::eden_time",
        skip_serializing_if = "Option::is_none"
    )]
    pub modified_on: Option<chrono::NaiveDateTime>,
    /// Attributes not modelled above (`created_by`, `owned_by_group`, ...),
    /// in document order. The exporter's `url` is not kept: it names a page
    /// of the exporting server, not part of the record.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<Field>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<Record>,
    /// What was wrong with this element (an unparsable time, say); the
    /// importer rejects the record with these reasons.
    #[serde(skip)]
    pub problems: Vec<String>,
}

/// A `<data>` or `<reference>` element. As JSON (stored bodies, JSON
/// lines): an object whose `kind` says which, written first.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Field {
    Data(Data),
    Reference(Reference),
}

/// Read by hand: serde's reader for tagged enums first copies every object
/// into a buffer to find the tag, and fields are most of what a node reads.
/// With `kind` first, as written, the rest is read straight into the
/// variant; otherwise the object is gathered first.
impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(FieldVisitor)
    }
}

struct FieldVisitor;

impl<'de> serde::de::Visitor<'de> for FieldVisitor {
    type Value = Field;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a field object with a \"kind\"")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Field, A::Error> {
        use serde::de::Error;
        use serde::de::value::MapAccessDeserializer;
        let Some(key) = map.next_key::<String>()? else {
            return Err(A::Error::missing_field("kind"));
        };
        if key == "kind" {
            let kind: String = map.next_value()?;
            let rest = MapAccessDeserializer::new(map);
            return match kind.as_str() {
                "data" => Data::deserialize(rest).map(Field::Data),
                "reference" => Reference::deserialize(rest).map(Field::Reference),
                other => Err(A::Error::unknown_variant(other, &["data", "reference"])),
            };
        }
        let mut object = serde_json::Map::new();
        object.insert(key, map.next_value()?);
        while let Some((key, value)) = map.next_entry::<String, serde_json::Value>()? {
            object.insert(key, value);
        }
        let kind = object.remove("kind");
        let rest = serde_json::Value::Object(object);
        match kind.as_ref().and_then(|k| k.as_str()) {
            Some("data") => serde_json::from_value(rest).map(Field::Data),
            Some("reference") => serde_json::from_value(rest).map(Field::Reference),
            Some(other) => return Err(A::Error::unknown_variant(other, &["data", "reference"])),
            None => return Err(A::Error::missing_field("kind")),
        }
        .map_err(A::Error::custom)
    }
}

impl Field {
    pub fn name(&self) -> &str {
        match self {
            Field::Data(d) => &d.field,
            Field::Reference(r) => &r.field,
        }
    }
}

/// `<data field="…" [value="…"] [url="…" filename="…"]>text</data>`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Data {
    pub field: String,
    /// The `value` attribute exactly as received (JSON, or an ISO date or
    /// time); when present it is the value and `text` is only its display.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<(String, String)>,
}

impl Data {
    /// The field's value as Eden reads it: the `value` attribute when
    /// present, otherwise the text.
    pub fn effective_value(&self) -> &str {
        self.value.as_deref().unwrap_or(&self.text)
    }
}

/// `<reference field="…" resource="…" uuid="…">text</reference>`, or with an
/// inline `<resource>` in place of the uuid.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Reference {
    pub field: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// One uuid, or for `list:reference` fields a JSON list of uuids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tuid: Option<String>,
    pub text: String,
    /// Other attributes (`lat`, `lon`, `value`), in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<(String, String)>,
    /// An inline referenced record (anonymous reference).
    #[serde(skip)]
    pub inline: Option<Box<Record>>,
}

impl Reference {
    /// The uuids this reference points to (a `list:reference` holds several).
    pub fn uuids(&self) -> Vec<String> {
        match &self.uuid {
            None => Vec::new(),
            Some(u) if u.starts_with('[') => {
                serde_json::from_str::<Vec<String>>(u).unwrap_or_default()
            }
            Some(u) => vec![u.clone()],
        }
    }
}

impl Record {
    pub fn data(&self, field: &str) -> Option<&Data> {
        self.fields.iter().find_map(|f| match f {
            Field::Data(d) if d.field == field => Some(d),
            _ => None,
        })
    }

    pub fn reference(&self, field: &str) -> Option<&Reference> {
        self.fields.iter().find_map(|f| match f {
            Field::Reference(r) if r.field == field => Some(r),
            _ => None,
        })
    }

    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_read_with_kind_anywhere() {
        let data = Field::Data(Data {
            field: "name".into(),
            value: Some("\"x\"".into()),
            text: "x".into(),
            ..Data::default()
        });
        let written = serde_json::to_string(&data).unwrap();
        assert!(written.starts_with(r#"{"kind":"data","#), "{written}");
        assert_eq!(serde_json::from_str::<Field>(&written).unwrap(), data);
        let kind_last = r#"{"field":"name","value":"\"x\"","text":"x","kind":"data"}"#;
        assert_eq!(serde_json::from_str::<Field>(kind_last).unwrap(), data);
        let reference = r#"{"kind":"reference","field":"parent","resource":"org_organisation","uuid":"u","text":""}"#;
        let Field::Reference(r) = serde_json::from_str::<Field>(reference).unwrap() else {
            panic!("not a reference");
        };
        assert_eq!((r.field.as_str(), r.uuid.as_deref()), ("parent", Some("u")));
        for bad in [
            r#"{"kind":"photo","field":"x","text":""}"#,
            r#"{"field":"x","text":""}"#,
            r#"{}"#,
            r#"{"kind":"data","text":""}"#,
        ] {
            assert!(serde_json::from_str::<Field>(bad).is_err(), "{bad}");
        }
    }
}
