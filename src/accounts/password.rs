//! Password hashing with argon2id at OWASP's recommended cost
//! (m = 19 MiB, t = 2, p = 1: the crate's defaults).

use std::sync::{Condvar, LazyLock, Mutex};

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

pub const MIN_LENGTH: usize = 12;
pub const MAX_LENGTH: usize = 1024;

/// Hashes computed at once, process-wide. Each takes 19 MiB for its
/// duration; hundreds of peers authenticating together (a hub whose peers
/// all push on the hour) would otherwise take gigabytes, kept by the
/// allocator long after. More at once than cores does not finish sooner.
static AT_ONCE: LazyLock<Gate> =
    LazyLock::new(|| Gate::new(std::thread::available_parallelism().map_or(2, |n| n.get())));

/// A counting gate for blocking threads.
struct Gate {
    free: Mutex<usize>,
    freed: Condvar,
}

impl Gate {
    fn new(places: usize) -> Gate {
        Gate {
            free: Mutex::new(places.max(1)),
            freed: Condvar::new(),
        }
    }

    /// Run `work` once a place is free.
    fn run<T>(&self, work: impl FnOnce() -> T) -> T {
        {
            let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
            while *free == 0 {
                free = self.freed.wait(free).unwrap_or_else(|e| e.into_inner());
            }
            *free -= 1;
        }
        // The place is given back even if `work` panics.
        struct Leave<'a>(&'a Gate);
        impl Drop for Leave<'_> {
            fn drop(&mut self) {
                *self.0.free.lock().unwrap_or_else(|e| e.into_inner()) += 1;
                self.0.freed.notify_one();
            }
        }
        let _leave = Leave(self);
        work()
    }
}

pub fn hash(password: &str) -> String {
    AT_ONCE.run(|| hash_now(password))
}

fn hash_now(password: &str) -> String {
    Argon2::default()
        .hash_password(password.as_bytes())
        .expect("argon2 with default parameters and a random salt cannot fail")
        .to_string()
}

pub fn verify(password: &str, stored_hash: &str) -> bool {
    match PasswordHash::new(stored_hash) {
        Ok(parsed) => AT_ONCE.run(|| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        }),
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::Gate;

    #[test]
    fn a_gate_lets_at_most_its_places_work_at_once() {
        let gate = Arc::new(Gate::new(2));
        let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (gate, now, most) = (gate.clone(), now.clone(), most.clone());
                std::thread::spawn(move || {
                    gate.run(|| {
                        let inside = now.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(inside, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(20));
                        now.fetch_sub(1, Ordering::SeqCst);
                    })
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_place_is_given_back_when_the_work_panics() {
        let gate = Gate::new(1);
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            gate.run(|| panic!("work failed"))
        }));
        assert!(panicked.is_err());
        assert_eq!(gate.run(|| 7), 7);
    }
}
