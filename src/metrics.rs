//! What `/metrics` reports, in the Prometheus text format.
//!
//! Counters and histograms are kept in this process (they restart at zero
//! with it, as Prometheus expects); the state of repositories (last
//! success, consecutive failures, leases, runs in progress) is read from the
//! database at each scrape, so every node of a shared PostgreSQL store
//! reports the same truth.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use prometheus::{
    Encoder, Gauge, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::model::repositories::Repository;
use crate::model::runs::RunCounts;
use crate::store::ImportSummary;
use crate::vocabulary::RunStatus;

/// The metrics of one node (shared by its engine, scheduler and server).
pub struct Metrics {
    registry: Registry,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    runs: IntCounterVec,
    run_duration: HistogramVec,
    records: IntCounterVec,
    bytes: IntCounterVec,
    served: IntCounterVec,
    last_success: GaugeVec,
    consecutive_failures: IntGaugeVec,
    lease_held: IntGaugeVec,
    review_waiting: IntGaugeVec,
    runs_in_progress: IntGauge,
    scheduler_heartbeat: Gauge,
    scheduler_lateness: HistogramVec,
    scheduler_tick: Histogram,
    /// Unix time of the scheduler's last tick (0: never ticked).
    heartbeat_secs: AtomicI64,
    scheduler_running: AtomicBool,
    /// When a write last failed for want of space (Unix seconds; 0: never).
    disk_full_secs: AtomicI64,
    /// One scrape at a time: the per-scrape gauges are reset and refilled.
    scraping: Mutex<()>,
}

fn counter(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let metric = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
    registry
        .register(Box::new(metric.clone()))
        .expect("unique metric");
    metric
}

fn histogram(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
    buckets: Vec<f64>,
) -> HistogramVec {
    let metric =
        HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets), labels).expect("valid");
    registry
        .register(Box::new(metric.clone()))
        .expect("unique metric");
    metric
}

fn gauges<T: prometheus::core::Collector + Clone + 'static>(registry: &Registry, metric: T) -> T {
    registry
        .register(Box::new(metric.clone()))
        .expect("unique metric");
    metric
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let http_requests = counter(
            &registry,
            "edensync_http_requests_total",
            "HTTP requests answered, by route pattern, method and status.",
            &["route", "method", "status"],
        );
        let http_duration = histogram(
            &registry,
            "edensync_http_request_duration_seconds",
            "Time to answer HTTP requests, by route pattern.",
            &["route"],
            vec![
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0,
            ],
        );
        let runs = counter(
            &registry,
            "edensync_runs_total",
            "Synchronization runs finished, by repository and status.",
            &["repository", "status"],
        );
        let run_duration = histogram(
            &registry,
            "edensync_run_duration_seconds",
            "Duration of synchronization runs, by repository.",
            &["repository"],
            vec![0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0],
        );
        let records = counter(
            &registry,
            "edensync_records_total",
            "Records transferred by runs, by repository, direction (pulled, pushed) and outcome (created, updated, deleted, skipped, rejected).",
            &["repository", "direction", "outcome"],
        );
        let bytes = counter(
            &registry,
            "edensync_bytes_total",
            "Bytes transferred by runs, by repository and direction (in, out).",
            &["repository", "direction"],
        );
        let served = counter(
            &registry,
            "edensync_served_records_total",
            "Records peers pulled from this node (direction sent) or pushed to it (direction received, by outcome: written, unchanged, skipped, rejected), by repository.",
            &["repository", "direction", "outcome"],
        );
        let last_success = gauges(
            &registry,
            GaugeVec::new(
                Opts::new(
                    "edensync_repository_last_success_timestamp_seconds",
                    "Unix time of the repository's last successful run (0: never).",
                ),
                &["repository"],
            )
            .expect("valid metric"),
        );
        let consecutive_failures = gauges(
            &registry,
            IntGaugeVec::new(
                Opts::new(
                    "edensync_repository_consecutive_failures",
                    "Failed runs of the repository since its last success.",
                ),
                &["repository"],
            )
            .expect("valid metric"),
        );
        let lease_held = gauges(
            &registry,
            IntGaugeVec::new(
                Opts::new(
                    "edensync_repository_lease_held",
                    "1 while a run holds the repository's lease, labelled with the holder (host:pid:run).",
                ),
                &["repository", "holder"],
            )
            .expect("valid metric"),
        );
        let review_waiting = gauges(
            &registry,
            IntGaugeVec::new(
                Opts::new(
                    "edensync_review_items_waiting",
                    "Items waiting in the review queue (refused_here, refused_by_peer, conflict).",
                ),
                &["repository", "kind"],
            )
            .expect("valid metric"),
        );
        let runs_in_progress = gauges(
            &registry,
            IntGauge::new(
                "edensync_runs_in_progress",
                "Runs in progress on any node of this store.",
            )
            .expect("valid metric"),
        );
        let scheduler_heartbeat = gauges(
            &registry,
            Gauge::new(
                "edensync_scheduler_heartbeat_timestamp_seconds",
                "Unix time of the scheduler's last tick in this process (0: not running).",
            )
            .expect("valid metric"),
        );
        let scheduler_lateness = histogram(
            &registry,
            "edensync_scheduler_lateness_seconds",
            "Time from when a run was due to when this process started it, by trigger (schedule, retry).",
            &["trigger"],
            vec![
                0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0,
            ],
        );
        let scheduler_tick = gauges(
            &registry,
            Histogram::with_opts(
                HistogramOpts::new(
                    "edensync_scheduler_tick_seconds",
                    "Time the scheduler's tick spends finding and claiming what is due.",
                )
                .buckets(vec![
                    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1.0,
                ]),
            )
            .expect("valid metric"),
        );
        Metrics {
            registry,
            http_requests,
            http_duration,
            runs,
            run_duration,
            records,
            bytes,
            served,
            last_success,
            consecutive_failures,
            lease_held,
            review_waiting,
            runs_in_progress,
            scheduler_heartbeat,
            scheduler_lateness,
            scheduler_tick,
            heartbeat_secs: AtomicI64::new(0),
            scheduler_running: AtomicBool::new(false),
            disk_full_secs: AtomicI64::new(0),
            scraping: Mutex::new(()),
        }
    }

    pub fn observe_http(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        // Clients may send any method name: only the standard ones become
        // series, so nobody can grow the metrics without bound.
        let method = match method {
            "GET" | "HEAD" | "POST" | "PUT" | "DELETE" | "OPTIONS" | "PATCH" => method,
            _ => "other",
        };
        self.http_requests
            .with_label_values(&[route, method, status.to_string().as_str()])
            .inc();
        self.http_duration
            .with_label_values(&[route])
            .observe(elapsed.as_secs_f64());
    }

    /// A finished run: its status, duration and what it moved.
    pub fn observe_run(
        &self,
        repository: &str,
        status: RunStatus,
        elapsed: Duration,
        counts: &RunCounts,
    ) {
        self.runs
            .with_label_values(&[repository, status.as_str()])
            .inc();
        self.run_duration
            .with_label_values(&[repository])
            .observe(elapsed.as_secs_f64());
        let moved = [
            ("pulled", "created", counts.pulled_created),
            ("pulled", "updated", counts.pulled_updated),
            ("pulled", "deleted", counts.pulled_deleted),
            ("pulled", "skipped", counts.pulled_skipped),
            ("pulled", "unchanged", counts.pulled_unchanged),
            ("pulled", "rejected", counts.pulled_rejected),
            ("pushed", "created", counts.pushed_created),
            ("pushed", "updated", counts.pushed_updated),
            ("pushed", "deleted", counts.pushed_deleted),
            ("pushed", "skipped", counts.pushed_skipped),
            ("pushed", "rejected", counts.pushed_rejected),
        ];
        for (direction, outcome, n) in moved {
            self.records
                .with_label_values(&[repository, direction, outcome])
                .inc_by(n.max(0) as u64);
        }
        for (direction, n) in [("in", counts.bytes_in), ("out", counts.bytes_out)] {
            self.bytes
                .with_label_values(&[repository, direction])
                .inc_by(n.max(0) as u64);
        }
    }

    /// A peer pulled `records` masters from us.
    pub fn observe_served_pull(&self, repository: &str, records: u64) {
        self.served
            .with_label_values(&[repository, "sent", "sent"])
            .inc_by(records);
    }

    /// A peer pushed to us: what became of its items.
    pub fn observe_received_push(&self, repository: &str, summary: &ImportSummary) {
        for (outcome, n) in [
            ("written", summary.written),
            ("unchanged", summary.unchanged),
            ("skipped", summary.skipped),
            ("rejected", summary.rejected.len() as u64),
        ] {
            self.served
                .with_label_values(&[repository, "received", outcome])
                .inc_by(n);
        }
    }

    /// A run that did not start: another run held the repository's lease.
    pub fn observe_skipped_run(&self, repository: &str) {
        self.runs
            .with_label_values(&[repository, RunStatus::Skipped.as_str()])
            .inc();
    }

    /// The scheduler ticked (`now` in Unix seconds).
    pub fn scheduler_tick(&self, now: i64) {
        self.scheduler_running.store(true, Ordering::Relaxed);
        self.heartbeat_secs.store(now, Ordering::Relaxed);
    }

    /// A run started `late` after it was due.
    pub fn observe_lateness(&self, trigger: &str, late: Duration) {
        self.scheduler_lateness
            .with_label_values(&[trigger])
            .observe(late.as_secs_f64());
    }

    /// What one tick of the scheduler took.
    pub fn observe_tick(&self, took: Duration) {
        self.scheduler_tick.observe(took.as_secs_f64());
    }

    pub fn scheduler_stopped(&self) {
        self.scheduler_running.store(false, Ordering::Relaxed);
    }

    /// Seconds since the scheduler's last tick; `None` when no scheduler
    /// runs in this process (`serve --no-scheduler`, the CLI).
    /// A write failed for want of space, at `now` (Unix seconds).
    pub fn note_disk_full(&self, now: i64) {
        self.disk_full_secs.store(now, Ordering::Relaxed);
    }

    /// Seconds since a write last failed for want of space, if one did.
    pub fn disk_full_age(&self, now: i64) -> Option<i64> {
        match self.disk_full_secs.load(Ordering::Relaxed) {
            0 => None,
            at => Some(now - at),
        }
    }

    pub fn scheduler_heartbeat_age(&self, now: i64) -> Option<i64> {
        if !self.scheduler_running.load(Ordering::Relaxed) {
            return None;
        }
        Some(now - self.heartbeat_secs.load(Ordering::Relaxed))
    }

    /// The Prometheus text of every metric, with the repositories' state
    /// as read now.
    pub fn render(
        &self,
        repositories: &[Repository],
        runs_in_progress: i64,
        review: &[crate::model::review_items::Waiting],
    ) -> String {
        let _one_scrape = self.scraping.lock().unwrap_or_else(|e| e.into_inner());
        self.last_success.reset();
        self.consecutive_failures.reset();
        self.lease_held.reset();
        self.review_waiting.reset();
        for waiting in review {
            let name = repositories
                .iter()
                .find(|r| Some(r.id) == waiting.repository_id)
                .map_or("(local)", |r| r.name.as_str());
            self.review_waiting
                .with_label_values(&[name, waiting.kind.as_str()])
                .add(waiting.count);
        }
        let now = crate::model::now();
        for repository in repositories {
            let name = repository.name.as_str();
            let last_success = repository
                .last_success_at
                .map_or(0.0, |t| t.and_utc().timestamp() as f64);
            self.last_success
                .with_label_values(&[name])
                .set(last_success);
            self.consecutive_failures
                .with_label_values(&[name])
                .set(i64::from(repository.consecutive_failures));
            if let (Some(holder), Some(expires)) =
                (&repository.lease_holder, repository.lease_expires_at)
                && expires > now
            {
                self.lease_held
                    .with_label_values(&[name, holder.as_str()])
                    .set(1);
            }
        }
        self.runs_in_progress.set(runs_in_progress);
        let heartbeat = if self.scheduler_running.load(Ordering::Relaxed) {
            self.heartbeat_secs.load(Ordering::Relaxed) as f64
        } else {
            0.0
        };
        self.scheduler_heartbeat.set(heartbeat);
        let mut text = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut text)
            .expect("text encoding of gathered metrics");
        String::from_utf8(text).expect("the text format is UTF-8")
    }
}
