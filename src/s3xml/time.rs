//! Eden's datetimes: written naive UTC without `Z` (`2026-11-26T06:19:04`),
//! read leniently (with or without `Z`, offsets, fractions, a space).

use chrono::{DateTime, NaiveDateTime, SubsecRound};

/// Parse a datetime as Eden's importer accepts it, converted to naive UTC.
pub fn parse(text: &str) -> Option<NaiveDateTime> {
    let text = text.trim();
    // What Eden writes, on every record: checked by hand first, because
    // the format-string parsers below cost more than the rest of a record.
    if let Some(plain) = parse_plain(text) {
        return Some(plain);
    }
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
    parse_plain(text)
}

/// `YYYY-MM-DDTHH:MM:SS` exactly.
fn parse_plain(text: &str) -> Option<NaiveDateTime> {
    let b = text.as_bytes();
    if b.len() != 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        b[range].iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let date =
        chrono::NaiveDate::from_ymd_opt(number(0..4)? as i32, number(5..7)?, number(8..10)?)?;
    date.and_hms_opt(number(11..13)?, number(14..16)?, number(17..19)?)
}

/// Write a datetime as Eden does: naive UTC, whole seconds, no `Z`. By
/// hand: every record carries two, and chrono's format strings cost more
/// than the rest of writing a record.
pub fn format(dt: &NaiveDateTime) -> String {
    use chrono::{Datelike, Timelike};
    let year = dt.year();
    // Years chrono writes with a sign, and leap seconds (`:60`), are rare.
    if !(0..=9999).contains(&year) || dt.nanosecond() >= 1_000_000_000 {
        return dt.format("%Y-%m-%dT%H:%M:%S").to_string();
    }
    let mut text = String::with_capacity(19);
    for (i, (value, width)) in [
        (year as u32, 4),
        (dt.month(), 2),
        (dt.day(), 2),
        (dt.hour(), 2),
        (dt.minute(), 2),
        (dt.second(), 2),
    ]
    .into_iter()
    .enumerate()
    {
        if i > 0 {
            text.push(match i {
                1 | 2 => '-',
                3 => 'T',
                _ => ':',
            });
        }
        let mut divisor = 10u32.pow(width - 1);
        while divisor > 0 {
            text.push(char::from(b'0' + (value / divisor % 10) as u8));
            divisor /= 10;
        }
    }
    text
}

/// Take out of a record line (and its components, at `path`) every time
/// that does not parse, with what was wrong with it.
pub(super) fn set_aside_bad_times(
    value: &mut serde_json::Value,
    path: &mut Vec<usize>,
    problems: &mut Vec<(Vec<usize>, String)>,
) {
    use serde_json::Value;
    let Value::Object(map) = value else { return };
    for key in ["created_on", "modified_on"] {
        let bad = match map.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) if parse(text).is_some() => None,
            Some(Value::String(text)) => Some(text.clone()),
            Some(other) => Some(other.to_string()),
        };
        if let Some(text) = bad {
            map.remove(key);
            problems.push((
                path.clone(),
                format!("{key} '{text}' is not a date and time"),
            ));
        }
    }
    if let Some(Value::Array(components)) = map.get_mut("components") {
        for (i, component) in components.iter_mut().enumerate() {
            path.push(i);
            set_aside_bad_times(component, path, problems);
            path.pop();
        }
    }
}

pub(super) mod eden_time {
    use chrono::NaiveDateTime;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    use crate::s3xml::time;

    pub fn serialize<S: Serializer>(
        value: &Option<NaiveDateTime>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(t) => serializer.serialize_str(&time::format(t)),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<NaiveDateTime>, D::Error> {
        let Some(text) = Option::<std::borrow::Cow<'de, str>>::deserialize(deserializer)? else {
            return Ok(None);
        };
        time::parse(&text)
            .map(Some)
            .ok_or_else(|| D::Error::custom(format!("'{text}' is not a date and time")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").unwrap()
    }

    #[test]
    fn edens_own_format_and_the_lenient_forms() {
        assert_eq!(
            parse("2026-11-26T06:19:04"),
            Some(at("2026-11-26 06:19:04"))
        );
        assert_eq!(
            parse(" 2026-11-26T06:19:04 "),
            Some(at("2026-11-26 06:19:04"))
        );
        assert_eq!(
            parse("2026-11-26T06:19:04Z"),
            Some(at("2026-11-26 06:19:04"))
        );
        assert_eq!(
            parse("2026-11-26T07:19:04+01:00"),
            Some(at("2026-11-26 06:19:04"))
        );
        assert_eq!(
            parse("2026-11-26 06:19:04.5"),
            Some(at("2026-11-26 06:19:04.5"))
        );
        assert_eq!(parse("2026-13-26T06:19:04"), None);
        assert_eq!(parse("2026-02-30T06:19:04"), None);
        assert_eq!(parse("2026-11-26T06:19:6x"), None);
    }

    #[test]
    fn format_writes_edens_form() {
        assert_eq!(
            format(&at("2026-01-02 03:04:05.678")),
            "2026-01-02T03:04:05"
        );
        assert_eq!(format(&at("0987-12-31 23:59:59")), "0987-12-31T23:59:59");
        let far = chrono::NaiveDate::from_ymd_opt(12026, 1, 2)
            .and_then(|d| d.and_hms_opt(3, 4, 5))
            .unwrap();
        assert_eq!(format(&far), "+12026-01-02T03:04:05");
        let leap = chrono::NaiveDate::from_ymd_opt(2016, 12, 31)
            .and_then(|d| d.and_hms_milli_opt(23, 59, 59, 1_000))
            .unwrap();
        assert_eq!(format(&leap), "2016-12-31T23:59:60");
        for text in ["2026-11-26T06:19:04", "1999-02-28T00:00:00"] {
            assert_eq!(format(&parse(text).unwrap()), text);
        }
    }

    #[test]
    fn strict_accepts_only_edens_msince_format() {
        assert_eq!(
            parse_strict("2026-11-26T06:19:04"),
            Some(at("2026-11-26 06:19:04"))
        );
        for bad in [
            "2026-11-26T06:19:04Z",
            "2026-11-26T06:19:04.1",
            "2026-11-26 06:19:04",
            "+026-11-26T06:19:04",
        ] {
            assert_eq!(parse_strict(bad), None, "{bad}");
        }
    }
}
