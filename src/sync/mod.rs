//! The sync protocol over HTTP. `server.rs` holds the handlers of the
//! Eden-compatible endpoints (the passive side); `peer_auth.rs` checks the
//! peers' Basic credentials; `registration.rs` the registration rules.
//! The active side: `client.rs` speaks HTTP to a peer, `engine.rs` runs a
//! repository (tasks, watermarks, log, run rows), `error.rs` says why a
//! step failed and whether waiting helps.

pub mod access;
pub mod client;
pub mod engine;
pub mod error;
pub mod peer_auth;
pub mod pull;
pub mod push;
pub mod registration;
pub mod server;
