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

/// "1 234", "0.4", "12": whole numbers grouped, small ones with a decimal.
pub fn amount(value: f64) -> String {
    if value > 0.0 && value < 1.0 {
        return format!("{value:.2}");
    }
    if value > 0.0 && value < 10.0 && value.fract() != 0.0 {
        return format!("{value:.1}");
    }
    let digits = format!("{:.0}", value);
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 && c.is_ascii_digit() {
            grouped.push('\u{202f}');
        }
        grouped.push(c);
    }
    grouped
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
        assert_eq!(amount(1_234_567.0), "1\u{202f}234\u{202f}567");
        assert_eq!(amount(0.042), "0.04");
        assert_eq!(amount(2.42), "2.4");
        assert_eq!(amount(12.0), "12");
        assert_eq!(amount(0.0), "0");
    }
}
