//! The raw fault report: written by the signal handler and by `dealloc` with no allocation
//! and no `std::fmt` (a fixed stack buffer and hand-written hex and decimal), read back and
//! symbolized by the parent process. One `key value` line each, so it is easy to parse and
//! still readable when it lands on standard error.
//!
//! ```text
//! lockhound-guard-report 1
//! kind use-after-free
//! access read
//! address 0x7f3a2c405010
//! offset 16
//! size 256
//! tid 48211
//! thread reader
//! anchor 0x55d0c8e1a2b0
//! at 0x55d0c8e3f200
//! alloc-tid 48209
//! alloc 0x55d0c8e3f1a4 0x55d0c8e3e002 ...
//! free-tid 48210
//! free 0x55d0c8e3f9c0 ...
//! end
//! ```
//! `anchor` is the child's address of [`anchor`], so a parent running the same executable
//! can rebase the frames onto its own image (see `child`).

use serde::{Serialize, Serializer};

/// Frames kept per allocation and per free.
pub const MAX_FRAMES: usize = 24;

/// What went wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    UseAfterFree,
    /// Access past the end of a live block.
    Overflow,
    /// Access before the start of a live block.
    Underflow,
    DoubleFree,
    /// `dealloc` of a pointer in the guarded region that is not the start of a live block.
    InvalidFree,
    /// In the guarded region but near no block in use.
    Wild,
}

/// Whether the faulting access read or wrote, where the platform says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    Read,
    Write,
    Unknown,
}

impl FaultKind {
    pub const ALL: [FaultKind; 6] = [
        FaultKind::UseAfterFree,
        FaultKind::Overflow,
        FaultKind::Underflow,
        FaultKind::DoubleFree,
        FaultKind::InvalidFree,
        FaultKind::Wild,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            FaultKind::UseAfterFree => "use-after-free",
            FaultKind::Overflow => "overflow",
            FaultKind::Underflow => "underflow",
            FaultKind::DoubleFree => "double-free",
            FaultKind::InvalidFree => "invalid-free",
            FaultKind::Wild => "wild",
        }
    }
}

impl Access {
    pub const fn as_str(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Write => "write",
            Access::Unknown => "unknown",
        }
    }
}

/// Raw return addresses, fixed size so they live in the slot table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frames {
    pub len: usize,
    pub pcs: [usize; MAX_FRAMES],
}

impl Frames {
    pub const EMPTY: Frames = Frames { len: 0, pcs: [0; MAX_FRAMES] };

    pub fn as_slice(&self) -> &[usize] {
        &self.pcs[..self.len.min(MAX_FRAMES)]
    }
}

/// Everything the handler knows, in fixed-size fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawReport {
    pub kind: FaultKind,
    pub access: Access,
    pub address: usize,
    pub offset: isize,
    pub size: usize,
    pub tid: u32,
    /// The kernel's name for the thread (`comm`), NUL-padded.
    pub thread_name: [u8; 16],
    pub anchor: usize,
    /// Where it happened: the faulting instruction for an access (the handler does not
    /// unwind), the stack of the bad `dealloc` for a free.
    pub at: Frames,
    pub alloc_tid: u32,
    pub alloc: Frames,
    pub free_tid: u32,
    pub free: Frames,
}

/// The address the child writes as `anchor`: any function of this crate would do.
#[inline(never)]
pub fn anchor() -> usize {
    anchor as *const () as usize
}

/// A byte buffer on the stack that silently truncates: a report cut short lacks its `end`
/// line, which the parser rejects.
pub struct StackBuf<const N: usize> {
    bytes: [u8; N],
    len: usize,
}

impl<const N: usize> StackBuf<N> {
    pub const fn new() -> Self {
        StackBuf { bytes: [0; N], len: 0 }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    pub fn push(&mut self, s: &[u8]) {
        let n = s.len().min(N - self.len);
        self.bytes[self.len..self.len + n].copy_from_slice(&s[..n]);
        self.len += n;
    }

    pub fn push_hex(&mut self, mut v: usize) {
        let mut digits = [0u8; 18];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b"0123456789abcdef"[v & 0xf];
            v >>= 4;
            if v == 0 {
                break;
            }
        }
        i -= 2;
        digits[i] = b'0';
        digits[i + 1] = b'x';
        self.push(&digits[i..]);
    }

    pub fn push_dec(&mut self, v: i128) {
        let mut digits = [0u8; 40];
        let mut i = digits.len();
        let mut m = v.unsigned_abs();
        loop {
            i -= 1;
            digits[i] = b'0' + (m % 10) as u8;
            m /= 10;
            if m == 0 {
                break;
            }
        }
        if v < 0 {
            i -= 1;
            digits[i] = b'-';
        }
        self.push(&digits[i..]);
    }
}

impl<const N: usize> Default for StackBuf<N> {
    fn default() -> Self {
        Self::new()
    }
}

/// Buffer size that holds any report.
pub const REPORT_BYTES: usize = 3072;

/// Formats a report; allocation-free and async-signal-safe.
pub fn format_raw(r: &RawReport, out: &mut StackBuf<REPORT_BYTES>) {
    out.push(b"lockhound-guard-report 1\nkind ");
    out.push(r.kind.as_str().as_bytes());
    out.push(b"\naccess ");
    out.push(r.access.as_str().as_bytes());
    out.push(b"\naddress ");
    out.push_hex(r.address);
    out.push(b"\noffset ");
    out.push_dec(r.offset as i128);
    out.push(b"\nsize ");
    out.push_dec(r.size as i128);
    out.push(b"\ntid ");
    out.push_dec(i128::from(r.tid));
    out.push(b"\nthread ");
    for &b in r.thread_name.iter().take_while(|&&b| b != 0) {
        out.push(&[if b.is_ascii_graphic() || b == b' ' { b } else { b'?' }]);
    }
    out.push(b"\nanchor ");
    out.push_hex(r.anchor);
    out.push(b"\nat");
    for &pc in r.at.as_slice() {
        out.push(b" ");
        out.push_hex(pc);
    }
    for (name, tid, frames) in [("alloc", r.alloc_tid, &r.alloc), ("free", r.free_tid, &r.free)] {
        out.push(b"\n");
        out.push(name.as_bytes());
        out.push(b"-tid ");
        out.push_dec(i128::from(tid));
        out.push(b"\n");
        out.push(name.as_bytes());
        for &pc in frames.as_slice() {
            out.push(b" ");
            out.push_hex(pc);
        }
    }
    out.push(b"\nend\n");
}

/// A report read back by the parent, frames not yet symbolized.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedReport {
    pub kind: FaultKind,
    pub access: Access,
    pub address: u64,
    pub offset: i64,
    pub size: u64,
    pub tid: u32,
    pub thread_name: String,
    pub anchor: u64,
    pub at: Vec<u64>,
    pub alloc_tid: u32,
    pub alloc: Vec<u64>,
    pub free_tid: u32,
    pub free: Vec<u64>,
}

/// Parses the first complete report in `text` (other output may surround it).
pub fn parse_raw(text: &str) -> Result<ParsedReport, String> {
    let start = text.find("lockhound-guard-report 1\n").ok_or("no guard report found")?;
    let mut r = ParsedReport {
        kind: FaultKind::Wild,
        access: Access::Unknown,
        address: 0,
        offset: 0,
        size: 0,
        tid: 0,
        thread_name: String::new(),
        anchor: 0,
        at: Vec::new(),
        alloc_tid: 0,
        alloc: Vec::new(),
        free_tid: 0,
        free: Vec::new(),
    };
    let hex = |v: &str| -> Result<u64, String> {
        let digits = v.strip_prefix("0x").ok_or_else(|| format!("{} is not 0x-hex", quoted(v)))?;
        u64::from_str_radix(digits, 16).map_err(|e| format!("{}: {e}", quoted(v)))
    };
    // At most a stack's worth of frames: the file is the child's, which may have written
    // anything into it.
    let frames =
        |v: &str| -> Result<Vec<u64>, String> { v.split_whitespace().take(MAX_FRAMES).map(hex).collect() };
    let num = |v: &str| v.parse::<u64>().map_err(|e| format!("{}: {e}", quoted(v)));
    let (mut have_kind, mut ended) = (false, false);
    for line in text[start..].lines().skip(1) {
        let (key, value) = line.split_once(' ').unwrap_or((line, ""));
        match key {
            "kind" => {
                r.kind = *FaultKind::ALL
                    .iter()
                    .find(|k| k.as_str() == value)
                    .ok_or_else(|| format!("unknown fault kind {}", quoted(value)))?;
                have_kind = true;
            }
            "access" => {
                r.access = match value {
                    "read" => Access::Read,
                    "write" => Access::Write,
                    _ => Access::Unknown,
                }
            }
            "address" => r.address = hex(value)?,
            "offset" => r.offset = value.parse().map_err(|e| format!("offset {}: {e}", quoted(value)))?,
            "size" => r.size = num(value)?,
            "tid" => r.tid = num(value)? as u32,
            // The kernel's name for a thread is at most 15 bytes; the writer keeps printable
            // ASCII only, and so does the reader.
            "thread" => {
                r.thread_name = value
                    .chars()
                    .map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '?' })
                    .take(16)
                    .collect()
            }
            "anchor" => r.anchor = hex(value)?,
            "at" => r.at = frames(value)?,
            "alloc-tid" => r.alloc_tid = num(value)? as u32,
            "alloc" => r.alloc = frames(value)?,
            "free-tid" => r.free_tid = num(value)? as u32,
            "free" => r.free = frames(value)?,
            "end" => {
                ended = true;
                break;
            }
            // Unknown keys are skipped so the format can grow.
            _ => {}
        }
    }
    match (have_kind, ended) {
        (true, true) => Ok(r),
        (false, _) => Err("guard report has no kind".into()),
        (true, false) => Err("guard report is truncated (no end line)".into()),
    }
}

/// A value from the report for an error message: escaped, and cut after 40 characters.
fn quoted(v: &str) -> String {
    const MAX: usize = 40;
    match v.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{:?}... ({} bytes)", &v[..cut], v.len()),
        None => format!("{v:?}"),
    }
}

/// Serializes an address as a `0x` hex string: JSON numbers lose bits past 2^53.
pub fn ser_hex<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{v:#x}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> RawReport {
        let mut name = [0u8; 16];
        name[..6].copy_from_slice(b"reader");
        let mut alloc = Frames::EMPTY;
        alloc.len = 3;
        alloc.pcs[..3].copy_from_slice(&[0x55d0_c8e3_f1a4, 0x1, usize::MAX]);
        RawReport {
            kind: FaultKind::UseAfterFree,
            access: Access::Write,
            address: 0x7f3a_2c40_5010,
            offset: -16,
            size: 256,
            tid: 48211,
            thread_name: name,
            anchor: 0x55d0_c8e1_a2b0,
            at: Frames { len: 1, pcs: [0x55d0_c8e3_0000; MAX_FRAMES] },
            alloc_tid: 48209,
            alloc,
            free_tid: 0,
            free: Frames::EMPTY,
        }
    }

    #[test]
    fn numbers_format_without_std_fmt() {
        let mut b = StackBuf::<64>::new();
        b.push_hex(0);
        b.push(b" ");
        b.push_hex(0xdead_beef);
        b.push(b" ");
        b.push_dec(-1234);
        b.push(b" ");
        b.push_dec(i128::from(u64::MAX));
        assert_eq!(b.as_bytes(), b"0x0 0xdeadbeef -1234 18446744073709551615");
        let mut small = StackBuf::<4>::new();
        small.push(b"abcdef");
        assert_eq!(small.as_bytes(), b"abcd");
    }

    #[test]
    fn reports_round_trip() {
        let raw = sample();
        let mut buf = StackBuf::new();
        format_raw(&raw, &mut buf);
        let text = format!("noise before\n{}trailing", std::str::from_utf8(buf.as_bytes()).unwrap());
        let p = parse_raw(&text).unwrap();
        assert_eq!(p.kind, FaultKind::UseAfterFree);
        assert_eq!(p.access, Access::Write);
        assert_eq!(p.address, 0x7f3a_2c40_5010);
        assert_eq!(p.offset, -16);
        assert_eq!(p.size, 256);
        assert_eq!((p.tid, p.thread_name.as_str()), (48211, "reader"));
        assert_eq!(p.anchor, 0x55d0_c8e1_a2b0);
        assert_eq!(p.at, vec![0x55d0_c8e3_0000]);
        assert_eq!(p.alloc_tid, 48209);
        assert_eq!(p.alloc, vec![0x55d0_c8e3_f1a4, 0x1, u64::MAX]);
        assert!(p.free.is_empty());
    }

    #[test]
    fn truncated_or_missing_reports_are_rejected() {
        let mut buf = StackBuf::new();
        format_raw(&sample(), &mut buf);
        let text = std::str::from_utf8(buf.as_bytes()).unwrap();
        assert!(parse_raw(&text[..text.len() - 4]).unwrap_err().contains("truncated"));
        assert!(parse_raw("thread 'main' panicked").is_err());
        let long = format!("lockhound-guard-report 1\nkind \u{1b}[2J{}\nend\n", "k".repeat(100_000));
        let err = parse_raw(&long).unwrap_err();
        assert!(err.len() < 100 && err.contains("\\u{1b}[2J"), "{err}");
        for kind in FaultKind::ALL {
            let mut raw = sample();
            raw.kind = kind;
            let mut buf = StackBuf::new();
            format_raw(&raw, &mut buf);
            let p = parse_raw(std::str::from_utf8(buf.as_bytes()).unwrap()).unwrap();
            assert_eq!(p.kind, kind);
        }
    }

    /// The child may write anything into its report file: what is read back stays bounded
    /// and printable.
    #[test]
    fn hostile_fields_are_bounded_and_printable() {
        let text = format!(
            "lockhound-guard-report 1\nkind overflow\nthread \u{1b}]0;owned\u{7}{}\nat {}\nend\n",
            "n".repeat(1000),
            "0x1 ".repeat(10_000)
        );
        let p = parse_raw(&text).unwrap();
        assert_eq!(p.thread_name, "?]0;owned?nnnnnn");
        assert_eq!(p.at.len(), MAX_FRAMES);
    }
}
