//! edensync's integration tests: one binary, real servers on port 0, real
//! SQLite files and a real PostgreSQL, headless Chromium for the console.

mod support;

mod background;
mod browser;
mod browser_sync;
mod cli_config;
mod cli_jobs;
mod cli_repositories;
mod cli_sync;
mod cli_tasks;
mod config;
mod console_errors;
mod console_forms;
mod console_layout;
mod console_logs;
mod console_queries;
mod console_receiving;
mod console_records;
mod console_repositories;
mod console_resources;
mod console_runs;
mod console_security;
mod console_settings;
mod crash;
mod database;
mod export;
mod first_start;
mod hostile;
mod login;
mod manage_backends;
mod operations;
mod s3xml;
mod scheduler;
mod secrets_backup;
mod store;
mod sync_eden;
mod sync_engine;
mod sync_faults;
mod sync_load;
mod sync_pull;
mod sync_push;
mod sync_register;
mod sync_tls;
mod users;
