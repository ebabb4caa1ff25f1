//! Password hashing with argon2id at OWASP's recommended cost
//! (m = 19 MiB, t = 2, p = 1: the crate's defaults).

use std::sync::LazyLock;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

pub const MIN_LENGTH: usize = 12;
pub const MAX_LENGTH: usize = 1024;

pub fn hash(password: &str) -> String {
    Argon2::default()
        .hash_password(password.as_bytes())
        .expect("argon2 with default parameters and a random salt cannot fail")
        .to_string()
}

pub fn verify(password: &str, stored_hash: &str) -> bool {
    match PasswordHash::new(stored_hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Spend the same time as a real verification, so an unknown e-mail address
/// cannot be told apart from a wrong password by the response time.
pub fn verify_dummy(password: &str) {
    static DUMMY: LazyLock<String> = LazyLock::new(|| hash("edensync-dummy-password"));
    let _ = verify(password, &DUMMY);
}

/// Why a new password is refused, or `None` when it is acceptable.
pub fn weakness(password: &str) -> Option<String> {
    let length = password.chars().count();
    if length < MIN_LENGTH {
        Some(format!("Use at least {MIN_LENGTH} characters."))
    } else if password.len() > MAX_LENGTH {
        Some(format!("Use at most {MAX_LENGTH} bytes."))
    } else if password.trim().is_empty() {
        Some("A password cannot be only spaces.".into())
    } else {
        None
    }
}
