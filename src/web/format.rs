//! How the console writes times, sizes and rates for people.

use chrono::NaiveDateTime;

/// "3 min", "2 h 5 min", "4 d": how long ago, or how long until.
pub fn span(from: NaiveDateTime, to: NaiveDateTime) -> String {
    let secs = (to - from).num_seconds().abs();
    match secs {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min", s / 60),
        s if s < 86_400 => format!("{} h {} min", s / 3600, (s % 3600) / 60),
        s => format!("{} d", s / 86_400),
    }
}

/// The most of one value a page shows: a record may hold values of
/// megabytes, a page must stay small.
pub const MAX_SHOWN_CHARS: usize = 2000;

/// A value as a page shows it: whole when short, else its beginning and how
/// long it really is.
pub fn shortened(text: &str) -> String {
    match head(text, MAX_SHOWN_CHARS) {
        None => text.to_string(),
        Some(head) => format!("{head}… ({} characters in all)", text.chars().count()),
    }
}

/// The first `chars` characters of `text`, when it has more.
pub fn head(text: &str, chars: usize) -> Option<&str> {
    text.char_indices().nth(chars).map(|(cut, _)| &text[..cut])
}

/// "812 B", "8.1 KB", "1.4 MB".
pub fn bytes(n: f64) -> String {
    match n {
        n if n < 1000.0 => format!("{n:.0} B"),
        n if n < 1_000_000.0 => format!("{:.1} KB", n / 1000.0),
        n => format!("{:.1} MB", n / 1_000_000.0),
    }
}

/// "45 s", "3 min 10 s", "2 h 5 min": a duration of seconds.
pub fn seconds(secs: f64) -> String {
    let s = secs.round().max(0.0) as i64;
    match s {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min {} s", s / 60, s % 60),
        s => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_read_as_people_write_them() {
        assert_eq!(bytes(812.0), "812 B");
        assert_eq!(bytes(8_100.0), "8.1 KB");
        assert_eq!(bytes(1_400_000.0), "1.4 MB");
        assert_eq!(seconds(44.6), "45 s");
        assert_eq!(seconds(190.0), "3 min 10 s");
        assert_eq!(seconds(7_500.0), "2 h 5 min");
    }
}
