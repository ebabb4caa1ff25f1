//! edensync: a synchronization server for the Sahana Eden S3XML sync protocol.
//!
//! Folders import each other one way, from the outside in: `cli` and `app`
//! start things; `web` (the console) and `api` (the endpoints peers call)
//! answer HTTP; `engine` (runs against peers) and `scheduler` sync; `manage`
//! validates configuration; `store` holds Eden's import and export rules;
//! `s3xml` is the codec; `model` holds the SQL; `db` owns the connection
//! pool and migrations; `vocabulary` holds the words every layer shares
//! (modes, policies, statuses) and imports nothing. README.md, "Layout",
//! lists every folder.

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
pub mod vocabulary;
pub mod web;

/// The version peers and operators see (`User-Agent`, `/healthz`, `server`).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The header that names an edensync server on every `sync.xml` answer
/// (Eden sends none): a peer testing its connection learns what it reached.
pub const SERVER_HEADER: &str = "x-edensync-server";
/// Its value, as a registration's `server`.
pub const SERVER_NAME: &str = concat!("edensync/", env!("CARGO_PKG_VERSION"));
