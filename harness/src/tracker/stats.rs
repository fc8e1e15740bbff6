//! Duration statistics: count, total, max and a log-linear histogram for percentiles.

/// Sub-buckets per power of two: percentiles are within 1/SUB of the true value.
const SUB: usize = 4;
const BUCKETS: usize = 64 * SUB;

/// Durations in nanoseconds. Kept per thread and merged, so updates need no atomics.
#[derive(Clone)]
pub(crate) struct Durations {
    /// Events counted (some may not be timed: see `timed`).
    pub count: u64,
    /// Events whose duration was measured.
    pub timed: u64,
    pub total: u64,
    pub max: u64,
    hist: Box<[u64; BUCKETS]>,
}

impl Default for Durations {
    fn default() -> Self {
        Durations { count: 0, timed: 0, total: 0, max: 0, hist: Box::new([0; BUCKETS]) }
    }
}

fn bucket(ns: u64) -> usize {
    if ns < (2 * SUB) as u64 {
        return ns as usize;
    }
    let msb = 63 - ns.leading_zeros() as usize;
    let sub = ((ns >> (msb - 2)) & (SUB as u64 - 1)) as usize;
    ((msb - 1) * SUB + sub).min(BUCKETS - 1)
}

/// The largest value that falls in bucket `b`.
fn bucket_top(b: usize) -> u64 {
    if b < 2 * SUB {
        return b as u64;
    }
    let msb = b / SUB + 1;
    let sub = (b % SUB) as u64;
    let base = 1u64 << msb;
    base + (sub + 1) * (base / SUB as u64) - 1
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
        self.hist[0] += n;
    }

    /// Records the duration of an event already counted.
    pub fn record_timed(&mut self, ns: u64) {
        self.timed += 1;
        self.total += ns;
        self.max = self.max.max(ns);
        self.hist[bucket(ns)] += 1;
    }

    pub fn merge(&mut self, other: &Durations) {
        self.count += other.count;
        self.timed += other.timed;
        self.total += other.total;
        self.max = self.max.max(other.max);
        for (a, b) in self.hist.iter_mut().zip(other.hist.iter()) {
            *a += b;
        }
    }

    /// The `q` quantile (0..=1) of the timed events, as the top of its bucket (capped by
    /// the maximum seen).
    pub fn quantile(&self, q: f64) -> u64 {
        if self.timed == 0 {
            return 0;
        }
        let rank = ((self.timed as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (b, &n) in self.hist.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return bucket_top(b).min(self.max);
            }
        }
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotonic_and_cover_their_values() {
        let mut last = 0;
        for ns in [0u64, 1, 7, 8, 9, 15, 16, 100, 1000, 12345, 1 << 40, u64::MAX / 2] {
            let b = bucket(ns);
            assert!(b >= last);
            assert!(bucket_top(b) >= ns, "{ns} above top of bucket {b}");
            last = b;
        }
    }

    #[test]
    fn p99_of_uniform() {
        let mut d = Durations::default();
        for ns in 1..=1000 {
            d.record(ns * 1000);
        }
        let p99 = d.quantile(0.99);
        assert!((990_000..=1_000_000).contains(&p99), "{p99}");
    }
}
