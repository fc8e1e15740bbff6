//! The one place where budgets and bounds written by people are read: command-line flags,
//! `lockhound.toml`, `LOCKHOUND_*` variables. Each parser says in one line what is wrong,
//! naming the value (escaped and shortened, so a hostile value cannot fill a terminal), and
//! refuses what no run can honour, so nothing downstream overflows.

use std::time::{Duration, Instant};

/// The longest time budget accepted: a year. More cannot be told from "no limit", and a
/// deadline beyond it risks overflowing the clock.
pub const MAX_SECONDS: u64 = 365 * 24 * 3600;

/// The largest preemption bound accepted for loom. Iterative bounding searches every bound up
/// to it in turn; bugs need a handful of preemptions, and `none` asks for the full space.
pub const MAX_PREEMPTION_BOUND: usize = 64;

/// The most threads exploring at once.
pub const MAX_JOBS: usize = 256;

/// The deepest PCT accepted (the number of priority change points plus one).
pub const MAX_PCT_DEPTH: usize = 64;

/// The moment a budget of `budget` from `start` runs out, saturating: a budget too long for
/// the clock (`Duration::MAX`, through the API) ends a year on, which no run reaches.
pub fn deadline(start: Instant, budget: Duration) -> Instant {
    start.checked_add(budget).or_else(|| start.checked_add(Duration::from_secs(MAX_SECONDS))).unwrap_or(start)
}

/// A count of at least 1 (executions, iterations).
pub fn count(value: &str) -> Result<u64, String> {
    match value.trim().parse::<u64>() {
        Ok(0) => Err(format!("'{}': must be at least 1", shown(value))),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("'{}' is not a whole number", shown(value))),
    }
}

/// A time budget in whole seconds, from 1 to [`MAX_SECONDS`].
pub fn seconds(value: &str) -> Result<Duration, String> {
    let n = count(value)?;
    seconds_from(n).map_err(|e| format!("'{}': {e}", shown(value)))
}

/// [`seconds`] for a number already read (a TOML integer, say).
pub fn seconds_from(n: u64) -> Result<Duration, String> {
    match n {
        0 => Err("must be at least 1 second".to_string()),
        n if n > MAX_SECONDS => Err(format!("at most {MAX_SECONDS} seconds (a year)")),
        n => Ok(Duration::from_secs(n)),
    }
}

/// loom's preemption bound: a number up to [`MAX_PREEMPTION_BOUND`], or `none` for every
/// interleaving.
pub fn preemption_bound(value: &str) -> Result<Option<usize>, String> {
    if value.trim() == "none" {
        return Ok(None);
    }
    let n: usize =
        value.trim().parse().map_err(|_| format!("'{}' is not a number or 'none'", shown(value)))?;
    preemption_bound_from(n).map(Some).map_err(|e| format!("'{}': {e}", shown(value)))
}

/// [`preemption_bound`] for a number already read.
pub fn preemption_bound_from(n: usize) -> Result<usize, String> {
    if n > MAX_PREEMPTION_BOUND {
        return Err(format!("at most {MAX_PREEMPTION_BOUND} preemptions; use 'none' for the full space"));
    }
    Ok(n)
}

/// A preemption bound set through the API, brought within range: past
/// [`MAX_PREEMPTION_BOUND`] (loom takes at most 255, and searches every bound up to it in
/// turn) it is the full space, `None`, which holds every schedule the bound allows.
pub fn clamped_preemption_bound(bound: Option<usize>) -> Option<usize> {
    bound.filter(|&b| b <= MAX_PREEMPTION_BOUND)
}

/// A job count, 1 to [`MAX_JOBS`].
pub fn jobs(value: &str) -> Result<usize, String> {
    match value.trim().parse::<usize>() {
        Ok(n @ 1..=MAX_JOBS) => Ok(n),
        Ok(_) => Err(format!("'{}' is out of range: 1 to {MAX_JOBS} jobs", shown(value))),
        Err(_) => Err(format!("'{}' is not a number", shown(value))),
    }
}

/// A PCT depth, 1 to [`MAX_PCT_DEPTH`].
pub fn pct_depth(value: &str) -> Result<usize, String> {
    let n: usize = value.trim().parse().map_err(|_| format!("'{}' is not a number", shown(value)))?;
    pct_depth_from(n).map_err(|e| format!("'{}': {e}", shown(value)))
}

/// [`pct_depth`] for a number already read.
pub fn pct_depth_from(n: usize) -> Result<usize, String> {
    match n {
        1..=MAX_PCT_DEPTH => Ok(n),
        _ => Err(format!("a PCT depth is 1 to {MAX_PCT_DEPTH}")),
    }
}

/// A seed: any 64-bit number.
pub fn seed(value: &str) -> Result<u64, String> {
    value.trim().parse().map_err(|_| format!("'{}' is not a number from 0 to {}", shown(value), u64::MAX))
}

/// How an input a person gave is shown in a message: control characters escaped, and cut to
/// 60 characters, so that an error stays one short line whatever was typed or planted.
pub fn shown(input: &str) -> String {
    shown_within(input, 60)
}

/// [`shown`] with a length of the caller's: control characters escaped, cut after `max`
/// characters.
pub fn shown_within(input: &str, max: usize) -> String {
    let mut out = String::new();
    for (i, c) in input.chars().enumerate() {
        if i == max {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_refuse_what_no_run_can_honour() {
        assert_eq!(count("10").unwrap(), 10);
        assert!(count("0").unwrap_err().contains("at least 1"));
        assert!(count("-1").unwrap_err().contains("not a whole number"));
        assert_eq!(seconds("30").unwrap(), Duration::from_secs(30));
        assert!(seconds("18446744073709551615").unwrap_err().contains("a year"));
        assert!(seconds("99999999999999999999999").unwrap_err().contains("not a whole number"));
        assert_eq!(preemption_bound("none").unwrap(), None);
        assert_eq!(preemption_bound("2").unwrap(), Some(2));
        assert!(preemption_bound("256").unwrap_err().contains("at most 64"));
        assert!(preemption_bound("1000000000").unwrap_err().contains("at most 64"));
        assert!(jobs("0").is_err() && jobs("257").is_err() && jobs("4").is_ok());
        assert!(pct_depth("0").is_err() && pct_depth("65").is_err() && pct_depth("3").is_ok());
    }

    #[test]
    fn shown_input_is_one_short_line() {
        assert_eq!(shown("a\nb\u{1b}[31m"), "a\\nb\\u{1b}[31m");
        let long = "x".repeat(1000);
        assert_eq!(shown(&long).chars().count(), 61);
    }
}
