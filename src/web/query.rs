//! Numbers in a page's query string, read leniently: an empty value means
//! "any" (what a form's "any" option sends), and a value that is not a
//! number is kept so the page can say so instead of answering a bare 400.

use serde::{Deserialize, Deserializer};

use crate::web::Flash;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum QueryNumber {
    #[default]
    Any,
    Value(i64),
    Invalid(String),
}

impl<'de> Deserialize<'de> for QueryNumber {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let text = text.trim();
        Ok(if text.is_empty() {
            QueryNumber::Any
        } else {
            match text.parse() {
                Ok(n) => QueryNumber::Value(n),
                Err(_) => QueryNumber::Invalid(text.to_string()),
            }
        })
    }
}

impl QueryNumber {
    /// The number, or `None` for "any" (an invalid value counts as "any").
    pub fn value(&self) -> Option<i64> {
        match self {
            QueryNumber::Value(n) => Some(*n),
            _ => None,
        }
    }
}

/// The message a page shows for the invalid numbers among `fields`
/// (`(label, value)`), if any: each is ignored, and the page says so.
pub fn problems(fields: &[(&str, &QueryNumber)]) -> Option<Flash> {
    let bad: Vec<String> = fields
        .iter()
        .filter_map(|(label, number)| match number {
            QueryNumber::Invalid(raw) => Some(format!("{label} '{raw}' is not a number")),
            _ => None,
        })
        .collect();
    (!bad.is_empty()).then(|| Flash {
        is_error: true,
        text: format!("{}; it was ignored.", bad.join("; ")),
    })
}

/// `?from=…`: the page a button was on, to go back to (empty: the
/// handler's own page).
#[derive(Deserialize, Default)]
pub struct CameFrom {
    #[serde(default)]
    pub from: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Q {
        #[serde(default)]
        n: QueryNumber,
    }

    fn read(query: &str) -> QueryNumber {
        actix_web::web::Query::<Q>::from_query(query)
            .unwrap()
            .into_inner()
            .n
    }

    #[test]
    fn empty_means_any_and_garbage_is_kept() {
        assert_eq!(read(""), QueryNumber::Any);
        assert_eq!(read("n="), QueryNumber::Any);
        assert_eq!(read("n=42"), QueryNumber::Value(42));
        assert_eq!(read("n=abc"), QueryNumber::Invalid("abc".into()));
        let flash = problems(&[("Repository", &read("n=abc"))]).unwrap();
        assert!(flash.text.contains("Repository 'abc' is not a number"));
        assert!(problems(&[("Repository", &read("n="))]).is_none());
    }
}
