//! edensync: a synchronization server for the Sahana Eden S3XML sync protocol.
//!
//! Layers, from the outside in: `cli` and `web` parse input and render output;
//! `accounts` holds the login rules; `model` holds the SQL; `db` owns the
//! connection pool and migrations. `app` wires them into a running server.
//! `vocabulary` holds the words stored and compared everywhere (modes,
//! policies, statuses), a leaf that every layer may use.

pub mod accounts;
pub mod api;
pub mod app;
pub mod audit;
pub mod cli;
pub mod config;
pub mod db;
pub mod engine;
pub mod error;
pub mod manage;
pub mod metrics;
pub mod model;
pub mod s3xml;
pub mod scheduler;
pub mod secrets;
pub mod state;
pub mod store;
pub mod sync;
pub mod vocabulary;
pub mod web;

/// The version peers and operators see (`User-Agent`, `/healthz`, `server`).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
