//! Repeated log rows of one step shown as one: consecutive rows of the
//! same run, table, step and result whose messages differ only in their
//! numbers ("Data imported … (5000 records …)" seventeen times) become one
//! line that says how many there were, with each row one click away.

use crate::model::sync_log::LogEntry;
use crate::vocabulary::LogResult;

/// One line of a log view: a row, and the rows like it that followed.
pub struct LogGroup {
    pub first: LogEntry,
    /// The repository's name, on views across repositories.
    pub repository: String,
    pub others: Vec<LogEntry>,
}

impl LogGroup {
    /// How many rows the line stands for.
    pub fn rows(&self) -> usize {
        self.others.len() + 1
    }

    /// The last row's time, when there are several.
    pub fn last(&self) -> &LogEntry {
        self.others.last().unwrap_or(&self.first)
    }
}

/// Group consecutive rows of one step, in the order given.
pub fn collapse(rows: Vec<(String, LogEntry)>) -> Vec<LogGroup> {
    let mut groups: Vec<LogGroup> = Vec::new();
    for (repository, entry) in rows {
        if let Some(group) = groups.last_mut()
            && group.repository == repository
            && same_step(&group.first, &entry)
        {
            group.others.push(entry);
            continue;
        }
        groups.push(LogGroup {
            first: entry,
            repository,
            others: Vec::new(),
        });
    }
    groups
}

/// Only rows that went well collapse: each warning and error keeps its own
/// line, since different causes read alike but for a number (HTTP 403 and
/// HTTP 500).
fn same_step(a: &LogEntry, b: &LogEntry) -> bool {
    a.result == LogResult::Success
        && a.run_id == b.run_id
        && a.repository_id == b.repository_id
        && a.resource_name == b.resource_name
        && a.mode == b.mode
        && a.action == b.action
        && a.result == b.result
        && a.remote == b.remote
        && shape(&a.message) == shape(&b.message)
}

/// A message with each run of digits as `#`.
fn shape(message: &str) -> String {
    let mut shaped = String::with_capacity(message.len());
    let mut in_number = false;
    for c in message.chars() {
        if c.is_ascii_digit() {
            if !in_number {
                shaped.push('#');
            }
            in_number = true;
        } else {
            shaped.push(c);
            in_number = false;
        }
    }
    shaped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i64, action: &str, message: &str) -> (String, LogEntry) {
        let at = chrono::DateTime::from_timestamp(1_800_000_000 + id, 0)
            .unwrap()
            .naive_utc();
        let entry = LogEntry {
            id,
            logged_at: at,
            repository_id: Some(1),
            run_id: Some(7),
            resource_name: Some("org_organisation".into()),
            mode: "pull/outgoing".into(),
            action: action.into(),
            result: LogResult::Success,
            remote: false,
            message: message.into(),
        };
        ("B".into(), entry)
    }

    #[test]
    fn rows_of_one_step_that_differ_in_numbers_become_one_line() {
        let page = |n| {
            format!(
                "Data imported successfully ({n} records: {n} new, 0 changed, 0 deleted, 0 unchanged)"
            )
        };
        let mut rows: Vec<_> = (0..17).map(|i| row(i, "import", &page(5000))).collect();
        rows.push(row(17, "import", &page(212)));
        rows.push(row(18, "check clock", "its clock is 5 s ahead"));
        rows.push(row(19, "import", &page(3)));
        let groups = collapse(rows);
        assert_eq!(
            groups.iter().map(LogGroup::rows).collect::<Vec<_>>(),
            vec![18, 1, 1]
        );
        assert_eq!(groups[0].last().id, 17);
        assert_eq!(groups[0].first.id, 0);
    }

    fn errored((name, mut entry): (String, LogEntry)) -> (String, LogEntry) {
        entry.result = LogResult::Error;
        (name, entry)
    }

    #[test]
    fn other_words_another_run_another_repository_or_errors_stay_apart() {
        let mut other_run = row(2, "import", "3 records received");
        other_run.1.run_id = Some(8);
        let mut other_repository = row(3, "import", "3 records received");
        other_repository.0 = "C".into();
        let rows = vec![
            row(0, "import", "3 records received"),
            row(1, "import", "3 records refused"),
            errored(row(4, "import", "HTTP 403")),
            errored(row(5, "import", "HTTP 500")),
            other_run,
            other_repository,
        ];
        assert_eq!(collapse(rows).len(), 6);
    }
}
