//! Two versions of a record field by field, for the review page: every
//! field either holds, the values shortened for the page, and whether they
//! differ.

use crate::s3xml::Field;
use crate::store::body::Body;
use crate::web::format::shortened;

/// One field of the two versions.
pub struct FieldRow {
    pub name: String,
    pub stored: String,
    pub other: String,
    pub differs: bool,
}

/// The stored version's fields beside `other`'s, in the stored order, then
/// the fields only `other` has.
pub fn side_by_side(stored: Option<&Body>, other: &[Field]) -> Vec<FieldRow> {
    let stored_fields: &[Field] = stored.map_or(&[], |b| &b.fields);
    let mut rows: Vec<FieldRow> = stored_fields
        .iter()
        .map(|field| {
            let theirs = other.iter().find(|f| f.name() == field.name());
            row(field.name(), Some(field), theirs)
        })
        .collect();
    for field in other {
        if !stored_fields.iter().any(|f| f.name() == field.name()) {
            rows.push(row(field.name(), None, Some(field)));
        }
    }
    rows
}

fn row(name: &str, stored: Option<&Field>, other: Option<&Field>) -> FieldRow {
    let (stored_text, other_text) = (whole(stored), whole(other));
    FieldRow {
        name: name.to_string(),
        // Compared whole: two long values may differ after the cut.
        differs: stored_text != other_text,
        stored: shortened(&stored_text),
        other: shortened(&other_text),
    }
}

/// A field's value in full: the value as stored (a JSON text keeps its
/// quotes), and for a reference what it points to.
fn whole(field: Option<&Field>) -> String {
    match field {
        None => String::new(),
        Some(Field::Data(d)) => d.effective_value().to_string(),
        Some(Field::Reference(r)) => {
            let target = r.uuid.as_deref().unwrap_or("-");
            format!("{} → {target}", r.text)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::s3xml::Data;

    fn data(field: &str, text: &str) -> Field {
        Field::Data(Data {
            field: field.into(),
            text: text.into(),
            ..Data::default()
        })
    }

    #[test]
    fn differences_are_marked_and_fields_of_either_side_listed() {
        let stored = Body {
            fields: vec![data("name", "Alpha A"), data("acronym", "AL")],
            ..Body::default()
        };
        let rows = side_by_side(
            Some(&stored),
            &[
                data("name", "Alpha B"),
                data("acronym", "AL"),
                data("phone", "123"),
            ],
        );
        let summary: Vec<(&str, bool)> =
            rows.iter().map(|r| (r.name.as_str(), r.differs)).collect();
        assert_eq!(
            summary,
            [("name", true), ("acronym", false), ("phone", true)]
        );
        assert_eq!(rows[2].stored, "");
    }
}
