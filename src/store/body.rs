//! A stored record's body: its fields (`<data>`, `<reference>`) in document
//! order and the resource attributes we do not model, as JSON text. Nothing
//! a peer sent is lost, so exporting the record again gives it back.

use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::s3xml::{Data, Field, Reference};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Body {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<(String, String)>,
    #[serde(default)]
    pub fields: Vec<Field>,
}

impl Body {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a body always serialises")
    }

    pub fn from_json(text: &str) -> Result<Body, StoreError> {
        serde_json::from_str(text).map_err(|e| StoreError::Body(e.to_string()))
    }

    /// Apply incoming field values: fields present replace stored ones of
    /// the same name when their value differs; absent fields keep their
    /// stored value. Returns whether anything changed.
    pub fn merge_fields(&mut self, incoming: &[Field]) -> bool {
        let mut changed = false;
        for field in incoming {
            match self.fields.iter_mut().find(|f| f.name() == field.name()) {
                Some(stored) if same_value(stored, field) => {}
                Some(stored) => {
                    *stored = field.clone();
                    changed = true;
                }
                None => {
                    self.fields.push(field.clone());
                    changed = true;
                }
            }
        }
        changed
    }

    /// The reference index entries: (field, table, uuid) per referenced uuid.
    pub fn references(&self) -> Vec<(String, String, String)> {
        let mut refs = Vec::new();
        for field in &self.fields {
            if let Field::Reference(r) = field
                && let Some(table) = &r.resource
            {
                for uuid in r.uuids() {
                    let entry = (r.field.clone(), table.clone(), uuid);
                    if !refs.contains(&entry) {
                        refs.push(entry);
                    }
                }
            }
        }
        refs
    }

    /// Point references to (table, from) at `to` instead; returns whether
    /// any changed.
    pub fn replace_reference(&mut self, table: &str, from: &str, to: &str) -> bool {
        let mut changed = false;
        for field in &mut self.fields {
            let Field::Reference(r) = field else { continue };
            if r.resource.as_deref() != Some(table) {
                continue;
            }
            let uuids = r.uuids();
            if !uuids.iter().any(|u| u == from) {
                continue;
            }
            r.uuid = Some(if r.uuid.as_deref().is_some_and(|u| u.starts_with('[')) {
                let replaced: Vec<&str> = uuids
                    .iter()
                    .map(|u| if u == from { to } else { u.as_str() })
                    .collect();
                serde_json::to_string(&replaced).expect("a list of strings serialises")
            } else {
                to.to_string()
            });
            changed = true;
        }
        changed
    }
}

/// Two fields hold the same value: the value, not its display text, counts.
fn same_value(a: &Field, b: &Field) -> bool {
    match (a, b) {
        (Field::Data(a), Field::Data(b)) => same_data(a, b),
        (Field::Reference(a), Field::Reference(b)) => same_reference(a, b),
        _ => false,
    }
}

fn same_data(a: &Data, b: &Data) -> bool {
    a.effective_value() == b.effective_value() && a.url == b.url && a.filename == b.filename
}

fn same_reference(a: &Reference, b: &Reference) -> bool {
    a.resource == b.resource && a.uuid == b.uuid
}
