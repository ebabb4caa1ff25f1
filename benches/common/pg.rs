//! A private PostgreSQL for the benchmarks: the test suite's own cluster
//! (initdb + pg_ctl on a loopback port), started on first use.
#![allow(dead_code)]

/// A benchmark cannot run without it.
pub fn skip_or_fail(why: &str) {
    panic!("{why}");
}

#[path = "../../tests/it/support/postgres.rs"]
pub mod postgres;
