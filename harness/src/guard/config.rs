//! What the guard allocator guards, configured from code (const, for `#[global_allocator]`)
//! or from the environment. Parsing works on bytes so the allocator can read the environment
//! through `libc::getenv` without allocating (an allocating read would recurse into it).

/// Which allocations get a guard page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Every allocation goes to the system allocator.
    Off,
    /// About one allocation in `n` is guarded (`n >= 1`; `Sampled(1)` is `All`).
    Sampled(u32),
    /// Every allocation that fits a slot is guarded.
    All,
}

/// Which end of its slot a guarded allocation is placed against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// End of the block against the guard page after it: catches overflow.
    Right,
    /// Start of the block against the guard page before it: catches underflow.
    Left,
    /// Chosen per allocation, GWP-ASan style.
    Random,
}

/// Configuration of a [`GuardAlloc`](super::GuardAlloc). Every setter is `const`, so a
/// configured allocator can be a `static`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GuardConfig {
    pub mode: Mode,
    pub side: Side,
    /// Freed guarded blocks kept inaccessible before their slot is reused.
    pub quarantine: u32,
    /// Guarded slots, fixed when the pool is first mapped. When all are in use, further
    /// allocations go unguarded to the system allocator.
    pub slots: u32,
    /// Largest guarded allocation in bytes; larger ones go to the system allocator.
    pub max_size: u32,
}

/// Upper bound on `slots`, so a bad setting cannot reserve absurd address space.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))] // the pool is Linux-only
pub const MAX_SLOTS: u32 = 1 << 16;

impl GuardConfig {
    /// Off, random side, a quarantine of 256, 4096 slots of up to 64 KiB.
    pub const fn new() -> Self {
        GuardConfig { mode: Mode::Off, side: Side::Random, quarantine: 256, slots: 4096, max_size: 64 * 1024 }
    }

    pub const fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    pub const fn side(mut self, side: Side) -> Self {
        self.side = side;
        self
    }

    pub const fn quarantine(mut self, blocks: u32) -> Self {
        self.quarantine = blocks;
        self
    }

    pub const fn slots(mut self, slots: u32) -> Self {
        self.slots = slots;
        self
    }

    pub const fn max_size(mut self, bytes: u32) -> Self {
        self.max_size = bytes;
        self
    }

    /// Applies the `LOCKHOUND_GUARD*` variables found by `var` (which returns a variable's
    /// bytes). An unparsable value keeps the setting it would replace: the allocator has no
    /// one to tell, and refusing to start a program over a typo helps nobody.
    pub fn apply_env<'a>(mut self, var: impl Fn(&str) -> Option<&'a [u8]>) -> Self {
        if let Some(Ok(mode)) = var(ENV_MODE).map(parse_mode) {
            self.mode = mode;
        }
        if let Some(Ok(side)) = var(ENV_SIDE).map(parse_side) {
            self.side = side;
        }
        if let Some(Some(n)) = var(ENV_QUARANTINE).map(parse_u32) {
            self.quarantine = n;
        }
        if let Some(Some(n)) = var(ENV_SLOTS).map(parse_u32) {
            self.slots = n;
        }
        if let Some(Some(n)) = var(ENV_MAX_SIZE).map(parse_u32) {
            self.max_size = n;
        }
        self
    }
}

impl Default for GuardConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// `off`, `all` or `sample:N`.
pub const ENV_MODE: &str = "LOCKHOUND_GUARD";
/// `right`, `left` or `random`.
pub const ENV_SIDE: &str = "LOCKHOUND_GUARD_SIDE";
/// Quarantine length in blocks.
pub const ENV_QUARANTINE: &str = "LOCKHOUND_GUARD_QUARANTINE";
/// Number of guarded slots.
pub const ENV_SLOTS: &str = "LOCKHOUND_GUARD_SLOTS";
/// Largest guarded allocation in bytes.
pub const ENV_MAX_SIZE: &str = "LOCKHOUND_GUARD_MAX_SIZE";
/// File the raw fault report is written to (default: standard error). The allocator creates
/// it: a path that already exists (a file, a symlink) is never opened, and the report goes to
/// standard error instead.
pub const ENV_REPORT: &str = "LOCKHOUND_GUARD_REPORT";
/// An inherited file descriptor the raw fault report is written to, as `FD:DEV:INODE`; set by
/// [`run_guarded`](super::run_guarded), and ahead of [`ENV_REPORT`]. The device and inode
/// must be the descriptor's own: a process that inherits the variable but not the descriptor
/// (its number reused for something else) never writes there.
pub const ENV_REPORT_FD: &str = "LOCKHOUND_GUARD_REPORT_FD";

/// Parses `off`, `all`, `sample:N` (`N >= 1`).
pub fn parse_mode(s: &[u8]) -> Result<Mode, &'static str> {
    match s {
        b"off" | b"0" | b"" => Ok(Mode::Off),
        b"all" | b"1" => Ok(Mode::All),
        _ => match s.strip_prefix(b"sample:") {
            Some(n) => match parse_u32(n) {
                Some(0) | None => Err("sample:N needs a whole number N >= 1"),
                Some(1) => Ok(Mode::All),
                Some(n) => Ok(Mode::Sampled(n)),
            },
            None => Err("expected off, all or sample:N"),
        },
    }
}

/// Parses `right`, `left`, `random`.
pub fn parse_side(s: &[u8]) -> Result<Side, &'static str> {
    match s {
        b"right" => Ok(Side::Right),
        b"left" => Ok(Side::Left),
        b"random" => Ok(Side::Random),
        _ => Err("expected right, left or random"),
    }
}

/// A decimal `u32`, without allocating.
pub fn parse_u32(s: &[u8]) -> Option<u32> {
    parse_u64(s).and_then(|n| u32::try_from(n).ok())
}

/// A decimal `u64`, without allocating; `None` for anything else, an overflow included.
pub fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(n)
}

/// Encodes a mode in one word, so the hot path is one relaxed load: 0 off, 1 all, n sampled.
pub(crate) const fn encode_mode(mode: Mode) -> u32 {
    match mode {
        Mode::Off => 0,
        Mode::All => 1,
        Mode::Sampled(0) | Mode::Sampled(1) => 1,
        // Leave u32::MAX free: it marks "not read from the environment yet".
        Mode::Sampled(n) if n == u32::MAX => n - 1,
        Mode::Sampled(n) => n,
    }
}

pub(crate) const fn decode_mode(word: u32) -> Mode {
    match word {
        0 => Mode::Off,
        1 => Mode::All,
        n => Mode::Sampled(n),
    }
}

pub(crate) const fn encode_side(side: Side) -> u32 {
    match side {
        Side::Right => 0,
        Side::Left => 1,
        Side::Random => 2,
    }
}

pub(crate) const fn decode_side(word: u32) -> Side {
    match word {
        0 => Side::Right,
        1 => Side::Left,
        _ => Side::Random,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse() {
        assert_eq!(parse_mode(b"off"), Ok(Mode::Off));
        assert_eq!(parse_mode(b"all"), Ok(Mode::All));
        assert_eq!(parse_mode(b"sample:1000"), Ok(Mode::Sampled(1000)));
        assert_eq!(parse_mode(b"sample:1"), Ok(Mode::All));
        assert!(parse_mode(b"sample:0").is_err());
        assert!(parse_mode(b"sample:x").is_err());
        assert!(parse_mode(b"sometimes").is_err());
    }

    #[test]
    fn sides_and_numbers_parse() {
        assert_eq!(parse_side(b"left"), Ok(Side::Left));
        assert!(parse_side(b"up").is_err());
        assert_eq!(parse_u32(b"4294967295"), Some(u32::MAX));
        assert_eq!(parse_u32(b"4294967296"), None);
        assert_eq!(parse_u32(b"12a"), None);
        assert_eq!(parse_u32(b"00000000042"), Some(42));
        assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64(b"18446744073709551616"), None);
        assert_eq!(parse_u64(b""), None);
        assert_eq!(parse_u64(b"-1"), None);
    }

    #[test]
    fn env_overrides_only_valid_values() {
        let env = |k: &str| -> Option<&'static [u8]> {
            match k {
                ENV_MODE => Some(b"sample:50"),
                ENV_SIDE => Some(b"sideways"),
                ENV_QUARANTINE => Some(b"7"),
                _ => None,
            }
        };
        let c = GuardConfig::new().side(Side::Left).apply_env(env);
        assert_eq!(c.mode, Mode::Sampled(50));
        assert_eq!(c.side, Side::Left);
        assert_eq!(c.quarantine, 7);
    }

    #[test]
    fn mode_encoding_round_trips() {
        for m in [Mode::Off, Mode::All, Mode::Sampled(2), Mode::Sampled(1000)] {
            assert_eq!(decode_mode(encode_mode(m)), m);
        }
        assert_eq!(encode_mode(Mode::Sampled(u32::MAX)), u32::MAX - 1);
    }
}
