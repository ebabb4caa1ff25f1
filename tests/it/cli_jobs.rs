//! `edensync job add|list|remove` with the real binary on a real SQLite
//! file: periodic and cron schedules, their limits, and what is refused.

use chrono::{NaiveDateTime, TimeDelta};
use serde_json::Value;

use crate::support::cli::{Cli, assert_one_line_error};

/// A cron job with every option given, disabled.
const CRON_WITH_EVERY_OPTION: &[&str] = &[
    "job",
    "add",
    "hub",
    "--cron",
    "0 */10 * * * *",
    "--start",
    "2030-01-01T00:00:00",
    "--stop",
    "2030-01-02T00:00:00",
    "--repeats",
    "3",
    "--timeout",
    "120",
    "--disabled",
];

fn jobs(cli: &Cli) -> Vec<Value> {
    let Value::Array(list) = cli.json(&["job", "list", "--json"]) else {
        panic!("job list --json prints an array");
    };
    list
}

/// `job add hub` with these arguments, which must be refused (exit 2).
fn refused(cli: &Cli, args: &[&str]) -> String {
    cli.fails(&[&["job", "add", "hub"][..], args].concat(), 2)
}

fn time(value: &Value) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(value.as_str().unwrap(), "%Y-%m-%dT%H:%M:%S%.f").unwrap()
}

#[test]
fn a_periodic_job_first_runs_one_interval_after_it_is_added() {
    let cli = Cli::with_hub();
    let before = chrono::Utc::now().naive_utc();
    let every = cli.ok(&["job", "add", "hub", "--every", "600"]);
    let after = chrono::Utc::now().naive_utc();
    assert!(every.starts_with("added job "), "{every}");

    let jobs = jobs(&cli);
    assert_eq!(jobs.len(), 1);
    let periodic = &jobs[0];
    assert_eq!(periodic["repository"], "hub");
    assert_eq!(periodic["every_seconds"], 600);
    assert_eq!(periodic["cron"], Value::Null);
    assert_eq!(periodic["enabled"], true);
    assert_eq!(periodic["timeout_secs"], 600, "the default timeout");
    assert_eq!(periodic["repeats"], 0);
    assert_eq!(periodic["times_run"], 0);
    let next = time(&periodic["next_run_at"]);
    assert!(
        next >= before + TimeDelta::seconds(599) && next <= after + TimeDelta::seconds(601),
        "next run {next} is ten minutes after it was added"
    );
}

#[test]
fn a_cron_job_first_runs_at_its_start_and_keeps_its_limits() {
    let cli = Cli::with_hub();
    let cron = cli.ok(CRON_WITH_EVERY_OPTION);
    assert!(cron.contains("next run 2030-01-01 00:00:00 UTC"), "{cron}");

    let jobs = jobs(&cli);
    assert_eq!(jobs.len(), 1);
    let scheduled = &jobs[0];
    assert_eq!(scheduled["cron"], "0 */10 * * * *");
    assert_eq!(scheduled["every_seconds"], Value::Null);
    assert_eq!(scheduled["next_run_at"], "2030-01-01T00:00:00");
    assert_eq!(scheduled["start_at"], "2030-01-01T00:00:00");
    assert_eq!(scheduled["stop_at"], "2030-01-02T00:00:00");
    assert_eq!(scheduled["repeats"], 3);
    assert_eq!(scheduled["timeout_secs"], 120);
    assert_eq!(scheduled["enabled"], false);
}

#[test]
fn jobs_are_listed_as_a_table_and_shown_with_their_repository() {
    let cli = Cli::with_hub();
    cli.ok(&["job", "add", "hub", "--every", "600"]);
    cli.ok(CRON_WITH_EVERY_OPTION);

    let human = cli.ok(&["job", "list"]);
    let lines: Vec<&str> = human.lines().collect();
    assert!(lines[0].starts_with("ID   REPOSITORY"), "{human}");
    assert!(lines[1].contains("every 10 minutes"), "{human}");
    assert!(
        lines[2].contains("0 */10 * * * *") && lines[2].contains("2030-01-01 00:00:00"),
        "{human}"
    );
    let show = cli.json(&["repository", "show", "hub", "--json"]);
    assert_eq!(show["jobs"].as_array().unwrap().len(), 2);
}

#[test]
fn a_cron_expression_that_is_malformed_or_never_fires_is_refused() {
    let cli = Cli::with_hub();
    let five_fields = refused(&cli, &["--cron", "*/10 * * * *"]);
    assert_one_line_error(&five_fields);
    assert!(
        five_fields.contains("cron: '*/10 * * * *' is not a cron expression"),
        "{five_fields}"
    );
    assert!(
        five_fields.contains("expected SEC MIN HOUR DOM MON DOW, e.g. 0 */10 * * * *"),
        "{five_fields}"
    );
    let out_of_range = refused(&cli, &["--cron", "0 0 25 * * *"]);
    assert!(out_of_range.contains("cron: "), "{out_of_range}");
    let never = refused(&cli, &["--cron", "0 0 0 30 2 *"]);
    assert!(
        never.contains("cron: the schedule has no run time"),
        "{never}"
    );
    assert!(jobs(&cli).is_empty(), "nothing saved");
}

#[test]
fn a_job_needs_one_schedule_and_positive_durations() {
    let cli = Cli::with_hub();
    refused(&cli, &["--every", "60", "--cron", "0 * * * * *"]);
    refused(&cli, &[]);
    let zero = refused(&cli, &["--every", "0"]);
    assert!(zero.contains("every: must be at least 1 second"), "{zero}");
    let no_timeout = refused(&cli, &["--every", "60", "--timeout", "0"]);
    assert!(
        no_timeout.contains("timeout: must be a positive number"),
        "{no_timeout}"
    );
    cli.fails(&["job", "add", "ghost", "--every", "60"], 1);
    assert!(jobs(&cli).is_empty(), "nothing saved");
}

#[test]
fn a_job_window_must_be_dates_in_order_ending_in_the_future() {
    let cli = Cli::with_hub();
    let past = refused(&cli, &["--every", "60", "--stop", "2020-01-01T00:00:00"]);
    assert!(past.contains("stop: is in the past"), "{past}");
    let bad_dates = refused(
        &cli,
        &["--every", "60", "--start", "tomorrow", "--stop", "soon"],
    );
    assert!(
        bad_dates.contains("start: 'tomorrow' is not a date and time"),
        "{bad_dates}"
    );
    assert!(
        bad_dates.contains("stop: 'soon' is not a date and time"),
        "{bad_dates}"
    );
    let (start, stop) = ("2031-01-01T00:00:00", "2030-01-01T00:00:00");
    let backwards = refused(&cli, &["--every", "60", "--start", start, "--stop", stop]);
    assert!(
        backwards.contains("stop: must be after the start"),
        "{backwards}"
    );
    assert!(jobs(&cli).is_empty(), "nothing saved");
}

#[test]
fn a_removed_job_is_gone_the_others_stay_and_both_changes_are_audited() {
    let cli = Cli::with_hub();
    cli.ok(&["job", "add", "hub", "--every", "600"]);
    cli.ok(CRON_WITH_EVERY_OPTION);
    let id = jobs(&cli)[0]["id"].as_i64().unwrap().to_string();

    let removed = cli.ok(&["job", "remove", &id]);
    assert!(removed.contains(&format!("removed job {id}")), "{removed}");
    let missing = cli.fails(&["job", "remove", &id], 1);
    assert!(missing.contains(&format!("no job {id}")), "{missing}");
    let left = jobs(&cli);
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["cron"], "0 */10 * * * *", "the other job stays");

    let actions = cli.audit_actions();
    assert!(actions.contains(&"job.add".to_string()));
    assert!(actions.contains(&"job.remove".to_string()));
}

#[test]
fn a_paused_job_has_no_next_run_until_resumed_and_both_are_audited() {
    let cli = Cli::with_hub();
    cli.ok(&["job", "add", "hub", "--every", "300"]);
    let id = jobs(&cli)[0]["id"].as_i64().unwrap().to_string();

    let paused = cli.ok(&["job", "pause", &id]);
    assert!(paused.contains("every 5 minutes"), "{paused}");
    assert!(paused.contains("paused"), "{paused}");
    let job = &jobs(&cli)[0];
    assert_eq!(job["enabled"], false);
    assert!(job["next_run_at"].is_null(), "{job}");
    assert!(cli.ok(&["job", "list"]).contains("paused"));

    let resumed = cli.ok(&["job", "resume", &id]);
    assert!(resumed.contains("next run 20"), "{resumed}");
    let job = &jobs(&cli)[0];
    assert_eq!(job["enabled"], true);
    assert!(job["next_run_at"].is_string(), "{job}");
    let missing = cli.fails(&["job", "pause", "999"], 1);
    assert!(missing.contains("no job 999"), "{missing}");

    let actions = cli.audit_actions();
    assert!(actions.contains(&"job.pause".to_string()), "{actions:?}");
    assert!(actions.contains(&"job.resume".to_string()), "{actions:?}");
}
