//! Duration statistics: count, total, max and an HDR histogram (`hdrhistogram`) for
//! percentiles. Recorded off the acquisition's common path only: on contended waits, sampled
//! holds and when a thread merges its counters.

use hdrhistogram::Histogram;

/// Significant decimal digits the histogram keeps: with 2, every value it reports is within
/// 1% of a value recorded in its bucket, so percentiles are within 1%.
const SIGNIFICANT_DIGITS: u8 = 2;

/// Durations in nanoseconds. Kept per thread and merged, so updates need no atomics.
#[derive(Clone, Default)]
pub(crate) struct Durations {
    /// Events counted (some may not be timed: see `timed`).
    pub count: u64,
    /// Events whose duration was measured.
    pub timed: u64,
    pub total: u64,
    pub max: u64,
    /// Timed events that took no measurable time (uncontended acquisitions), kept apart from
    /// the histogram: most classes have nothing else, and then allocate no histogram at all.
    zeros: u64,
    /// The timed events longer than zero; created on the first one.
    hist: Option<Box<Histogram<u64>>>,
}

fn new_histogram() -> Box<Histogram<u64>> {
    // Auto-resizing from 1 ns up: starts small and grows to the largest value recorded.
    Box::new(Histogram::new(SIGNIFICANT_DIGITS).expect("2 significant digits is a valid precision"))
}

impl Durations {
    pub fn record(&mut self, ns: u64) {
        self.count += 1;
        self.record_timed(ns);
    }

    /// Records `n` events that took no measurable time (uncontended acquisitions, counted
    /// on the hot path as a bare counter).
    pub fn record_zeros(&mut self, n: u64) {
        self.count += n;
        self.timed += n;
        self.zeros += n;
    }

    /// Records the duration of an event already counted.
    pub fn record_timed(&mut self, ns: u64) {
        self.timed += 1;
        self.total = self.total.saturating_add(ns);
        self.max = self.max.max(ns);
        if ns == 0 {
            self.zeros += 1;
        } else {
            let hist = self.hist.get_or_insert_with(new_histogram);
            // `record` grows the histogram to fit; only beyond its largest range (about 53
            // days) does the value count as the top of that range.
            if hist.record(ns).is_err() {
                hist.saturating_record(ns);
            }
        }
    }

    pub fn merge(&mut self, other: &Durations) {
        self.count += other.count;
        self.timed += other.timed;
        self.total = self.total.saturating_add(other.total);
        self.max = self.max.max(other.max);
        self.zeros += other.zeros;
        if let Some(theirs) = &other.hist {
            let ours = self.hist.get_or_insert_with(new_histogram);
            if ours.add(&**theirs).is_err() {
                // Only a histogram that cannot resize refuses values; ours all resize, but
                // if one ever did not, its values are still counted, at the top of its range.
                for v in theirs.iter_recorded() {
                    let (value, n) = (v.value_iterated_to(), v.count_at_value());
                    if ours.record_n(value, n).is_err() {
                        ours.saturating_record_n(value, n);
                    }
                }
            }
        }
    }

    /// The `q` quantile (0..=1) of the timed events by nearest rank: the smallest duration
    /// that at least `q` of them do not exceed, to the histogram's precision (within 1%) and
    /// capped by the maximum seen.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.timed == 0 {
            return 0;
        }
        let rank = ((self.timed as f64) * q).ceil().clamp(1.0, self.timed as f64) as u64;
        if rank <= self.zeros {
            return 0;
        }
        let Some(hist) = &self.hist else { return self.max };
        let mut seen = self.zeros;
        for v in hist.iter_recorded() {
            seen += v.count_at_value();
            if seen >= rank {
                return hist.highest_equivalent(v.value_iterated_to()).min(self.max);
            }
        }
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// The nearest-rank quantile of `values`, exactly.
    fn exact(values: &[u64], q: f64) -> u64 {
        let mut sorted = values.to_vec();
        sorted.sort_unstable();
        let rank = ((sorted.len() as f64) * q).ceil().max(1.0) as usize;
        sorted[rank - 1]
    }

    fn assert_within_one_percent(values: &[u64], d: &Durations) {
        for q in [0.01, 0.1, 0.5, 0.9, 0.99, 0.999, 1.0] {
            let (got, want) = (d.quantile(q), exact(values, q));
            let error = got.abs_diff(want) as f64 / (want.max(1) as f64);
            assert!(error <= 0.01, "q {q}: got {got}, exact {want}, error {:.3}%", error * 100.0);
        }
    }

    #[test]
    fn percentiles_of_uniform_data_are_within_one_percent() {
        let values: Vec<u64> = (1..=10_000).map(|i| i * 1_000).collect();
        let mut d = Durations::default();
        values.iter().for_each(|&v| d.record(v));
        assert_within_one_percent(&values, &d);
    }

    #[test]
    fn percentiles_of_long_tailed_data_merged_from_threads_are_within_one_percent() {
        // Log-uniform from 100 ns to 1 s (contended waits look like this), recorded in four
        // per-thread `Durations` and merged, as the tracker does.
        let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
        let values: Vec<u64> = (0..40_000).map(|_| 10f64.powf(rng.gen_range(2.0..9.0)) as u64).collect();
        let mut merged = Durations::default();
        for part in values.chunks(10_000) {
            let mut d = Durations::default();
            part.iter().for_each(|&v| d.record(v));
            merged.merge(&d);
        }
        assert_eq!(merged.count, 40_000);
        assert_eq!(merged.max, *values.iter().max().unwrap());
        assert_within_one_percent(&values, &merged);
    }

    #[test]
    fn zeros_count_in_the_ranks_without_a_histogram() {
        // 98 uncontended acquisitions and 2 waits: p50 is 0, p99 the smaller wait.
        let mut d = Durations::default();
        d.record_zeros(98);
        d.record(5_000);
        d.record(70_000);
        assert_eq!(d.quantile(0.5), 0);
        let p99 = d.quantile(0.99);
        assert!(p99.abs_diff(5_000) <= 50, "{p99}");
        assert_eq!(d.quantile(1.0), 70_000);

        let mut only_zeros = Durations::default();
        only_zeros.record_zeros(10);
        assert!(only_zeros.hist.is_none());
        assert_eq!(only_zeros.quantile(0.99), 0);
        assert_eq!(Durations::default().quantile(0.99), 0);
    }
}
