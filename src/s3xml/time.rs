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

/// Write a datetime as Eden does: naive UTC, whole seconds, no `Z`.
pub fn format(dt: &NaiveDateTime) -> String {
    dt.format("%Y-%m-%dT%H:%M:%S").to_string()
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
