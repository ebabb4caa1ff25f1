//! The sync protocol over HTTP. `server.rs` holds the handlers of the
//! Eden-compatible endpoints (the passive side); `peer_auth.rs` checks the
//! peers' Basic credentials; `registration.rs` the registration rules.

pub mod access;
pub mod peer_auth;
pub mod pull;
pub mod push;
pub mod registration;
pub mod server;
