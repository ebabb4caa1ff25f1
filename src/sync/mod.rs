//! Repository health as the console shows it.

pub mod health;
