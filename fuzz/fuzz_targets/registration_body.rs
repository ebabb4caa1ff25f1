//! `register.json` bodies from peers on arbitrary bytes: parsing never
//! panics, and what it accepts keeps its promises (a uuid is one short
//! word, a name is short and printable).
#![no_main]

use edensync::api::register::{MAX_PEER_NAME_CHARS, MAX_PEER_UUID_CHARS, parse_body};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = parse_body(data) else { return };
    if let Some(uuid) = &body.uuid {
        assert!(!uuid.is_empty() && uuid.chars().count() <= MAX_PEER_UUID_CHARS);
        assert!(!uuid.chars().any(|c| c.is_whitespace() || c.is_control()));
    }
    if let Some(name) = &body.name {
        assert!(name.chars().count() <= MAX_PEER_NAME_CHARS);
        assert!(!name.chars().any(char::is_control));
    }
});
