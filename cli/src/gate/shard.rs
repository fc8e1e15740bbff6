//! `--shard K/N`: a deterministic split of the gate's cases for parallel CI jobs, like
//! cargo-nextest's `--partition count:K/N`. Case `i` of the full plan (0-based, in plan order)
//! belongs to shard `i mod N + 1`, so shards 1..N together run every case exactly once and
//! their sizes differ by at most one. Every shard must use the same config and catalog.

use std::fmt;
use std::str::FromStr;

/// Shard `index` of `count`, 1-based.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// Whether case number `i` (0-based, in plan order) belongs to this shard.
    pub fn owns(&self, i: usize) -> bool {
        i % self.count + 1 == self.index
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("shard '{s}': {why}");
        let (k, n) = s.split_once('/').ok_or_else(|| bad("expected K/N, like 1/4"))?;
        let k: usize = k.trim().parse().map_err(|_| bad("K is not a number"))?;
        let n: usize = n.trim().parse().map_err(|_| bad("N is not a number"))?;
        if n == 0 {
            return Err(bad("N must be at least 1"));
        }
        if k == 0 || k > n {
            return Err(bad(&format!("K must be between 1 and {n} (shards count from 1)")));
        }
        Ok(Shard { index: k, count: n })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_the_cases() {
        for n in 1..6 {
            let shards: Vec<Shard> = (1..=n).map(|k| format!("{k}/{n}").parse().unwrap()).collect();
            for i in 0..23 {
                assert_eq!(shards.iter().filter(|s| s.owns(i)).count(), 1, "case {i} of {n} shards");
            }
        }
    }

    #[test]
    fn bad_shards_are_named() {
        for (text, why) in [
            ("0/2", "between 1 and 2"),
            ("3/2", "between 1 and 2"),
            ("1/0", "at least 1"),
            ("x/2", "K is"),
            ("2", "K/N"),
        ] {
            let err = text.parse::<Shard>().unwrap_err();
            assert!(err.contains(why) && err.contains(text), "{text}: {err}");
        }
    }
}
