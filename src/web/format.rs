//! How the console writes times for people.

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
