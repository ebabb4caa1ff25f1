//! A stored record's body: its fields (`<data>`, `<reference>`) in document
//! order and the resource attributes we do not model, as JSON text. Nothing
//! a peer sent is lost and nothing is added, so exporting the record again
//! gives back what was last received.

use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::s3xml::{Data, Field, Reference};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Body {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<(String, String)>,
    #[serde(default)]
    pub fields: Vec<Field>,
    /// The record came without `mci` (Eden's super-entity rows, `org_site`):
    /// the rules read Eden's default, the export leaves it out again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub without_mci: bool,
}

/// How an incoming copy's fields compare with the stored ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Difference {
    /// Every incoming field is stored exactly so, texts included.
    None,
    /// The same values, other display texts or field attributes (`lat`,
    /// `lon`: a referenced record was renamed or moved on the peer).
    Display,
    /// Every stored field the same (or shown differently), and fields we
    /// do not hold: a fuller copy of the same version (Eden's windowed
    /// answers leave out references to records outside the window).
    Added,
    /// At least one value differs or is new.
    Values,
}

impl Body {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a body always serialises")
    }

    pub fn from_json(text: &str) -> Result<Body, StoreError> {
        serde_json::from_str(text).map_err(|e| StoreError::Body(e.to_string()))
    }

    /// How `incoming` differs from the stored fields; fields not sent keep
    /// their stored value (Eden never sends NULLs), so they do not count.
    pub fn difference(&self, incoming: &[Field]) -> Difference {
        let (mut display, mut added) = (false, false);
        for field in incoming {
            match self.fields.iter().find(|f| f.name() == field.name()) {
                Some(stored) if stored == field => {}
                Some(stored) if same_value(stored, field) => display = true,
                Some(_) => return Difference::Values,
                None => added = true,
            }
        }
        match (added, display) {
            (true, _) => Difference::Added,
            (false, true) => Difference::Display,
            (false, false) => Difference::None,
        }
    }

    /// Take the incoming fields as they came, texts and attributes
    /// included; fields not sent keep their stored value.
    pub fn merge_fields(&mut self, incoming: &[Field]) {
        for field in incoming {
            match self.fields.iter_mut().find(|f| f.name() == field.name()) {
                Some(stored) => *stored = field.clone(),
                None => self.fields.push(field.clone()),
            }
        }
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
