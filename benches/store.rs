//! Import throughput into SQLite (parsing excluded: the records are read
//! into memory first).

mod common;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use edensync::app;
use edensync::config::Settings;
use edensync::s3xml::{Limits, Reader, Record};
use edensync::store::{ImportOptions, ImportSummary, import};

const RECORDS: usize = 5_000;

/// Where the benchmark databases live: `EDENSYNC_BENCH_DIR` (for example
/// /dev/shm, to take the disk out of the measurement), else the temp dir.
fn bench_dir() -> tempfile::TempDir {
    match std::env::var("EDENSYNC_BENCH_DIR") {
        Ok(base) => tempfile::tempdir_in(base).unwrap(),
        Err(_) => tempfile::tempdir().unwrap(),
    }
}

/// A new node with its data directory (kept as long as the node).
fn new_node() -> (tempfile::TempDir, app::Node) {
    let dir = bench_dir();
    let node = app::open(Settings::for_data_dir(dir.path())).unwrap();
    (dir, node)
}

/// Import the records into the node; what the import did.
fn import_all(node: &app::Node, records: &[Record]) -> ImportSummary {
    let mut conn = node.pool.get().unwrap();
    import(
        &mut conn,
        records.iter().cloned().map(Ok),
        &ImportOptions::default(),
    )
    .unwrap()
}

fn import_sqlite(c: &mut Criterion) {
    let doc = common::document(RECORDS);
    let records: Vec<Record> = Reader::new(&doc[..], Limits::default())
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    // Each organisation holds one office: two stored records.
    let mut group = c.benchmark_group("import into SQLite");
    group.throughput(Throughput::Elements((RECORDS * 2) as u64));
    group.sample_size(10);
    group.bench_function("5k organisations + 5k offices, new", |b| {
        b.iter_batched(
            new_node,
            |(_dir, node)| {
                let summary = import_all(&node, &records);
                assert_eq!(summary.written as usize, RECORDS * 2);
            },
            BatchSize::PerIteration,
        )
    });
    // An identical re-push, as an Eden peer sends one on every run: what
    // the hub pays for records it already holds.
    group.bench_function("the same 5k + 5k again, unchanged", |b| {
        b.iter_batched(
            || {
                let (dir, node) = new_node();
                import_all(&node, &records);
                (dir, node)
            },
            |(_dir, node)| {
                let summary = import_all(&node, &records);
                assert_eq!(summary.written, 0, "nothing changed");
                assert_eq!(summary.masters.unchanged as usize, RECORDS);
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, import_sqlite);
criterion_main!(benches);
