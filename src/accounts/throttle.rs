//! Per-address throttling of failed logins, in memory: it slows down one
//! client guessing across many accounts, which the per-account lockout alone
//! would not stop.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct LoginThrottle {
    failures: Mutex<HashMap<IpAddr, Vec<Instant>>>,
    max_failures: usize,
    window: Duration,
}

/// Addresses kept before stale entries are swept, so a flood of addresses
/// cannot grow the map without bound.
const SWEEP_ABOVE: usize = 10_000;

impl LoginThrottle {
    pub fn new(max_failures: usize, window: Duration) -> Self {
        LoginThrottle {
            failures: Mutex::new(HashMap::new()),
            max_failures,
            window,
        }
    }

    /// `Err(wait)` when this address must wait before trying again.
    pub fn check(&self, ip: IpAddr) -> Result<(), Duration> {
        let now = Instant::now();
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let Some(times) = failures.get_mut(&ip) else {
            return Ok(());
        };
        times.retain(|t| now.duration_since(*t) < self.window);
        if times.len() >= self.max_failures {
            let oldest = times[0];
            Err(self.window.saturating_sub(now.duration_since(oldest)))
        } else {
            Ok(())
        }
    }

    pub fn record_failure(&self, ip: IpAddr) {
        let now = Instant::now();
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() > SWEEP_ABOVE {
            failures.retain(|_, times| {
                times
                    .last()
                    .is_some_and(|t| now.duration_since(*t) < self.window)
            });
        }
        failures.entry(ip).or_default().push(now);
    }
}

impl Default for LoginThrottle {
    /// 20 failed logins per address per 15 minutes.
    fn default() -> Self {
        LoginThrottle::new(20, Duration::from_secs(15 * 60))
    }
}
