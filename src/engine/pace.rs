//! Page sizes that follow the link. A page is the unit a cut can lose, so
//! on a slow link that drops every minute a page of 5 000 records (two
//! minutes at 64 kbit/s) would never arrive. Each transfer is timed and the
//! next page sized so that it takes about `Engine::page_time`; a cut
//! shrinks the retry at once. Between edensync nodes only: Eden answers
//! whole tables.

use std::time::Duration;
/// The smallest page: below this a page costs more in requests than it
/// carries.
const SMALLEST: u64 = 50;

/// The size of the next page of one task's transfer.
#[derive(Debug, Clone, Copy)]
pub(super) struct Pace {
    size: u64,
    largest: u64,
    /// What the last page showed of the link.
    per_second: Option<f64>,
    /// How long a page should take.
    target: Duration,
}

impl Pace {
    /// Start at the configured page size: a good link never shrinks it.
    pub(super) fn new(largest: u64, target: Duration) -> Pace {
        Pace {
            size: largest,
            largest,
            per_second: None,
            target,
        }
    }

    pub(super) fn size(&self) -> u64 {
        self.size
    }

    /// A page of `records` masters took `took` on the wire: size the next
    /// one to take about the target time, growing at most twofold per page so one
    /// lucky fast page does not bring back pages a cut will lose.
    pub(super) fn transferred(&mut self, records: u64, took: Duration) {
        if records == 0 {
            return;
        }
        let per_second = records as f64 / took.as_secs_f64().max(0.001);
        self.per_second = Some(per_second);
        let fits = (per_second * self.target.as_secs_f64()) as u64;
        self.size = fits
            .min(self.size.saturating_mul(2))
            .clamp(SMALLEST.min(self.largest), self.largest);
    }

    /// Records per second this link moved lately (none before a page).
    pub(super) fn records_per_sec(&self) -> Option<f64> {
        self.per_second
    }

    /// Start from what the link was seen to move (another transfer of the
    /// same run), not from the largest page.
    pub(super) fn fit(&mut self, per_second: f64) {
        let fits = (per_second * self.target.as_secs_f64()) as u64;
        self.size = fits.clamp(SMALLEST.min(self.largest), self.largest);
    }

    /// Start at `size` (at most the largest page) and grow from there.
    pub(super) fn begin_with(&mut self, size: u64) {
        self.size = size.clamp(SMALLEST.min(self.largest), self.largest);
    }

    /// The link dropped during a page: try again with a quarter of it.
    /// Returns whether the size changed (a prepared page must be redone).
    pub(super) fn cut(&mut self) -> bool {
        let smaller = (self.size / 4).max(SMALLEST.min(self.largest));
        let changed = smaller != self.size;
        self.size = smaller;
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_secs(15);

    #[test]
    fn a_page_can_start_from_what_another_transfer_saw() {
        let mut pace = Pace::new(5_000, Duration::from_secs(10));
        pace.fit(12.0);
        assert_eq!(pace.size(), 120);
        pace.fit(1_000_000.0);
        assert_eq!(pace.size(), 5_000, "never above the largest page");
        pace.fit(0.1);
        assert_eq!(pace.size(), SMALLEST, "never below the smallest");
    }

    #[test]
    fn a_good_link_keeps_the_largest_page() {
        let mut pace = Pace::new(5_000, T);
        pace.transferred(5_000, Duration::from_secs(2));
        assert_eq!(pace.size(), 5_000);
    }

    #[test]
    fn a_slow_link_gets_pages_of_about_the_target_time() {
        let mut pace = Pace::new(5_000, T);
        // 48 records/s (5 000 organisations in 103 s over 64 kbit/s).
        pace.transferred(5_000, Duration::from_secs(103));
        assert_eq!(pace.size(), 728);
    }

    #[test]
    fn a_cut_quarters_the_page_and_growth_is_gradual() {
        let mut pace = Pace::new(5_000, T);
        assert!(pace.cut());
        assert_eq!(pace.size(), 1_250);
        pace.transferred(1_250, Duration::from_millis(100));
        assert_eq!(pace.size(), 2_500, "twofold at most");
        for _ in 0..10 {
            pace.cut();
        }
        assert_eq!(pace.size(), SMALLEST);
        assert!(!pace.cut(), "nothing smaller to try");
    }

    #[test]
    fn a_tiny_configured_page_is_kept() {
        let mut pace = Pace::new(10, T);
        pace.cut();
        pace.transferred(10, Duration::from_secs(60));
        assert_eq!(pace.size(), 10);
    }
}
