//! A schedule as people write it: "every 5 minutes", "every day at 06:30
//! UTC". Cron expressions of the common shapes are put in words; any other
//! is shown as written, marked as cron.

/// A period in the largest unit that divides it: "every 5 minutes",
/// "every hour", "every 90 seconds".
pub fn period(seconds: i64) -> String {
    const UNITS: [(i64, &str, &str); 4] = [
        (86_400, "day", "days"),
        (3_600, "hour", "hours"),
        (60, "minute", "minutes"),
        (1, "second", "seconds"),
    ];
    for (size, one, many) in UNITS {
        if seconds >= size && seconds % size == 0 {
            return match seconds / size {
                1 => format!("every {one}"),
                n => format!("every {n} {many}"),
            };
        }
    }
    format!("every {seconds} seconds")
}

/// A cron expression (`SEC MIN HOUR DOM MON DOW`, UTC) in words where its
/// shape is a common one; otherwise "on cron '…' (UTC)".
pub fn cron(expr: &str) -> String {
    let fields: Vec<&str> = expr.split_whitespace().collect();
    let as_written = format!("on cron '{}' (UTC)", expr.trim());
    let [sec, min, hour, dom, month, dow] = fields[..] else {
        return as_written;
    };
    if dom != "*" || month != "*" {
        return as_written;
    }
    let day = match day_of_week(dow) {
        Some(day) => day,
        None => return as_written,
    };
    let words = match (sec, min, hour) {
        ("*", "*", "*") => Some("every second".to_string()),
        ("0", "*", "*") => Some("every minute".to_string()),
        (s, "*", "*") => step(s, 60).map(period),
        ("0", m, "*") => step(m, 60)
            .map(|n| period(n * 60))
            .or_else(|| number(m, 59).map(|m| format!("every hour at :{m:02}"))),
        ("0", m, h) => match (number(m, 59), step(h, 24), number(h, 23)) {
            (Some(m), Some(n), _) => Some(format!("{} at :{m:02}", period(n * 3600))),
            (Some(m), None, Some(h)) => Some(format!("every {day} at {h:02}:{m:02} UTC")),
            _ => None,
        },
        _ => None,
    };
    match words {
        // A day of the week only reads right with a time of day.
        Some(words) if dow == "*" || words.contains(day) => words,
        _ => as_written,
    }
}

/// `*/N` (or `0/N`) as N, when N divides the field's range: `*/7` minutes
/// starts again at each hour (…49, 56, 0), which is not "every 7 minutes".
fn step(field: &str, range: i64) -> Option<i64> {
    let n = field
        .strip_prefix("*/")
        .or_else(|| field.strip_prefix("0/"))?;
    n.parse().ok().filter(|n| *n > 0 && range % n == 0)
}

fn number(field: &str, max: i64) -> Option<i64> {
    field.parse().ok().filter(|n| (0..=max).contains(n))
}

fn day_of_week(field: &str) -> Option<&'static str> {
    const DAYS: [&str; 7] = [
        "Sunday",
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
    ];
    match field {
        "*" => Some("day"),
        "1-5" | "MON-FRI" | "Mon-Fri" => Some("weekday"),
        _ => {
            let n = field
                .parse::<usize>()
                .ok()
                .map(|n| n % 7)
                .or_else(|| DAYS.iter().position(|d| d[..3].eq_ignore_ascii_case(field)))?;
            Some(DAYS[n])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_read_as_people_write_them() {
        assert_eq!(period(300), "every 5 minutes");
        assert_eq!(period(60), "every minute");
        assert_eq!(period(3600), "every hour");
        assert_eq!(period(7200), "every 2 hours");
        assert_eq!(period(86_400), "every day");
        assert_eq!(period(90), "every 90 seconds");
        assert_eq!(period(1), "every second");
    }

    #[test]
    fn common_cron_shapes_read_in_words_and_the_rest_as_written() {
        assert_eq!(cron("0 */10 * * * *"), "every 10 minutes");
        assert_eq!(cron("0 * * * * *"), "every minute");
        assert_eq!(cron("*/30 * * * * *"), "every 30 seconds");
        assert_eq!(cron("0 0 * * * *"), "every hour at :00");
        assert_eq!(cron("0 15 */6 * * *"), "every 6 hours at :15");
        assert_eq!(cron("0 30 6 * * *"), "every day at 06:30 UTC");
        assert_eq!(cron("0 0 18 * * 1-5"), "every weekday at 18:00 UTC");
        assert_eq!(cron("0 0 7 * * MON"), "every Monday at 07:00 UTC");
        assert_eq!(cron("0 0 7 * * 0"), "every Sunday at 07:00 UTC");
        // Shapes without a plain reading stay as written.
        assert_eq!(cron("0 0 7 1 * *"), "on cron '0 0 7 1 * *' (UTC)");
        assert_eq!(cron("0 */5 * * * 1"), "on cron '0 */5 * * * 1' (UTC)");
        assert_eq!(cron("0 0,30 * * * *"), "on cron '0 0,30 * * * *' (UTC)");
        assert_eq!(cron("0 */7 * * * *"), "on cron '0 */7 * * * *' (UTC)");
        assert_eq!(cron("0 0 */5 * * *"), "on cron '0 0 */5 * * *' (UTC)");
        assert_eq!(cron("nonsense"), "on cron 'nonsense' (UTC)");
    }
}
