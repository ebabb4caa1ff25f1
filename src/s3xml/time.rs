//! Eden's datetimes: written naive UTC without `Z` (`2026-11-26T06:19:04`),
//! read leniently (with or without `Z`, offsets, fractions, a space).

use chrono::{DateTime, NaiveDateTime, SubsecRound};

/// Parse a datetime as Eden's importer accepts it, converted to naive UTC.
pub fn parse(text: &str) -> Option<NaiveDateTime> {
    let text = text.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(text) {
        return Some(dt.naive_utc());
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%d %H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M:%S%.f%:z",
    ] {
        if let Ok(dt) = DateTime::parse_from_str(text, format) {
            return Some(dt.naive_utc());
        }
    }
    let naive = text.strip_suffix('Z').unwrap_or(text);
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(naive, format) {
            return Some(dt.trunc_subsecs(6));
        }
    }
    None
}

/// Eden's strict `msince` format: `%Y-%m-%dT%H:%M:%S` exactly. Anything else
/// (a `Z`, an offset, a fraction) is not a valid `msince` for Eden.
pub fn parse_strict(text: &str) -> Option<NaiveDateTime> {
    if text.len() != 19 {
        return None;
    }
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S").ok()
}

/// Write a datetime as Eden does: naive UTC, whole seconds, no `Z`.
pub fn format(dt: &NaiveDateTime) -> String {
    dt.format("%Y-%m-%dT%H:%M:%S").to_string()
}
