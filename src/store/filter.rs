//! Sync filters in Eden's URL syntax: `~.field=value`, with the operators
//! `__like` (`*` wildcards, case-insensitive), `__ne`, `__lt`, `__le`,
//! `__gt`, `__ge`, comma-separated lists of alternatives, and the record's
//! `deleted` flag. A filter names the master table (`~`) or another table
//! (its components).

use super::StoreError;
use crate::s3xml::Field;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Like,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    /// `None`: the master table.
    pub table: Option<String>,
    pub field: String,
    pub op: Op,
    /// Alternatives (a comma list); any may match (all must differ for `__ne`).
    pub values: Vec<String>,
}

impl Filter {
    /// Parse a filter as written in a task or on the command line:
    /// `~.acronym__like=RO*`, `[org_office]~.name=x`, `org_office.name=x`.
    pub fn parse(text: &str) -> Result<Filter, StoreError> {
        let (key, value) = text.split_once('=').ok_or_else(|| {
            StoreError::Filter(format!(
                "filter '{text}': expected FIELD=VALUE, e.g. ~.acronym__like=RO*"
            ))
        })?;
        Filter::from_query(key, value)
            .map_err(|e| StoreError::Filter(format!("filter '{text}': {e}")))
    }

    /// A task's filter as stored (`table`, `FIELD=VALUE`), for the task's
    /// table `task_table`: the URL prefix (`~` for the task's own table),
    /// the variable, the value, and the filter.
    pub fn of_task(
        task_table: &str,
        table: &str,
        text: &str,
    ) -> Result<(String, String, String, Filter), String> {
        let (var, value) = text.split_once('=').ok_or_else(|| {
            format!("the filter '{text}' of the task {task_table} is not FIELD=VALUE")
        })?;
        let prefix = if table == task_table || table.is_empty() || table == "~" {
            "~".to_string()
        } else {
            table.to_string()
        };
        let filter = Filter::from_query(&format!("[{prefix}]{var}"), value)
            .map_err(|e| format!("the filter '{text}' of the task {task_table} is invalid: {e}"))?;
        Ok((prefix, var.to_string(), value.to_string(), filter))
    }

    /// A filter from one URL query pair, as Eden sends them:
    /// `[~]~.acronym__like` = `RO*` (key and value already decoded).
    pub fn from_query(key: &str, value: &str) -> Result<Filter, String> {
        let key = key.trim();
        // An optional `[table]` prefix names the table; `~` or nothing is the master.
        let (prefix, var) = match key.strip_prefix('[') {
            Some(rest) => {
                let (prefix, var) = rest.split_once(']').ok_or("an opening [ without ]")?;
                (Some(prefix), var)
            }
            None => (None, key),
        };
        let (var_table, selector) = var
            .split_once('.')
            .ok_or("the field must be written ~.field")?;
        let named = match prefix {
            Some(p) if !p.is_empty() && p != "~" => p,
            _ => var_table,
        };
        let table = match named {
            "" | "~" => None,
            t if super::is_valid_table_name(t) => Some(t.to_string()),
            _ => return Err("the table before '.' must be ~ or a table name".into()),
        };
        let (field, op) = match selector.rsplit_once("__") {
            Some((field, op)) => {
                let op = match op {
                    "like" => Op::Like,
                    "ne" => Op::Ne,
                    "lt" => Op::Lt,
                    "le" => Op::Le,
                    "gt" => Op::Gt,
                    "ge" => Op::Ge,
                    "eq" => Op::Eq,
                    other => {
                        return Err(format!(
                            "unknown operator __{other} (like, ne, lt, le, gt, ge)"
                        ));
                    }
                };
                (field, op)
            }
            None => (selector, Op::Eq),
        };
        if field.is_empty()
            || !field
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
        {
            return Err("the field name is not valid".into());
        }
        let values = value.split(',').map(|v| v.trim().to_string()).collect();
        Ok(Filter {
            table,
            field: field.to_string(),
            op,
            values,
        })
    }

    /// Whether a record (its `deleted` flag and fields) passes the filter.
    /// A record without the field does not match (except for `__ne`).
    pub fn matches(&self, deleted: bool, fields: &[Field]) -> bool {
        let actual = if self.field == "deleted" {
            Some(if deleted {
                "True".to_string()
            } else {
                "False".to_string()
            })
        } else {
            fields
                .iter()
                .find(|f| f.name() == self.field)
                .map(field_value)
        };
        let Some(actual) = actual else {
            return self.op == Op::Ne;
        };
        match self.op {
            Op::Ne => self.values.iter().all(|v| !equal(&actual, v)),
            _ => self.values.iter().any(|v| self.compare(&actual, v)),
        }
    }

    fn compare(&self, actual: &str, wanted: &str) -> bool {
        use std::cmp::Ordering::*;
        let order = || compare_values(actual, wanted);
        match self.op {
            Op::Eq => equal(actual, wanted),
            Op::Ne => !equal(actual, wanted),
            Op::Like => like(&actual.to_lowercase(), &wanted.to_lowercase()),
            Op::Lt => order() == Less,
            Op::Le => order() != Greater,
            Op::Gt => order() == Greater,
            Op::Ge => order() != Less,
        }
    }
}

/// The plain value of a field: a JSON `value` attribute decoded (strings
/// unquoted, booleans as Eden writes them in URLs: True/False), else the text.
fn field_value(field: &Field) -> String {
    match field {
        Field::Data(d) => match &d.value {
            Some(raw) => match serde_json::from_str::<serde_json::Value>(raw) {
                Ok(serde_json::Value::String(s)) => s,
                Ok(serde_json::Value::Bool(b)) => if b { "True" } else { "False" }.to_string(),
                Ok(serde_json::Value::Null) => String::new(),
                Ok(other) => other.to_string(),
                Err(_) => raw.clone(),
            },
            None => d.text.clone(),
        },
        Field::Reference(r) => r.uuid.clone().unwrap_or_default(),
    }
}

fn equal(actual: &str, wanted: &str) -> bool {
    match (actual.parse::<f64>(), wanted.parse::<f64>()) {
        (Ok(a), Ok(b)) => a == b,
        _ => actual.eq_ignore_ascii_case(wanted),
    }
}

fn compare_values(actual: &str, wanted: &str) -> std::cmp::Ordering {
    match (actual.parse::<f64>(), wanted.parse::<f64>()) {
        (Ok(a), Ok(b)) => a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Equal),
        _ => actual.cmp(wanted),
    }
}

/// `*` matches any run of characters; everything else literally.
fn like(text: &str, pattern: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return text == pattern;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    true
}
