//! The guarded region's kernel mappings, read from `/proc/self/smaps`: every slot's first
//! page, inner pages and last page are mappings of their own, apart from the guard pages, so
//! guarding and freeing a one-page block changes the protection of one whole mapping and the
//! number of mappings never changes. One test, run in order, because the mode is global.

#![cfg(target_os = "linux")]

use lockhound::guard::{is_guarded, GuardAlloc, GuardConfig, Mode, Side};
use std::alloc::{alloc, dealloc, Layout};

const SLOTS: u32 = 32;
const SLOT_BYTES: u32 = 64 * 1024;

#[global_allocator]
static ALLOC: GuardAlloc =
    GuardAlloc::new(GuardConfig::new().slots(SLOTS).quarantine(8).max_size(SLOT_BYTES));

/// One line of `/proc/self/smaps` and its `VmFlags`.
#[derive(Debug)]
struct Mapping {
    start: usize,
    end: usize,
    perms: String,
    flags: Vec<String>,
}

/// The mappings that overlap the guarded region, read with the allocator off (reading
/// allocates).
fn region_mappings() -> Vec<Mapping> {
    let mode = ALLOC.mode();
    ALLOC.set_mode(Mode::Off);
    let text = std::fs::read_to_string("/proc/self/smaps").unwrap();
    let mut maps: Vec<Mapping> = Vec::new();
    for line in text.lines() {
        if let Some(flags) = line.strip_prefix("VmFlags:") {
            if let Some(last) = maps.last_mut() {
                last.flags = flags.split_whitespace().map(str::to_owned).collect();
            }
            continue;
        }
        let mut fields = line.split_whitespace();
        let (Some(range), Some(perms)) = (fields.next(), fields.next()) else { continue };
        let Some((a, b)) = range.split_once('-') else { continue };
        let (Ok(start), Ok(end)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16)) else {
            continue;
        };
        maps.push(Mapping { start, end, perms: perms.to_owned(), flags: Vec::new() });
    }
    maps.retain(|m| is_guarded(m.start as *const u8) || is_guarded((m.end - 1) as *const u8));
    ALLOC.set_mode(mode);
    maps
}

fn mapping_at(maps: &[Mapping], addr: usize) -> &Mapping {
    maps.iter().find(|m| (m.start..m.end).contains(&addr)).expect("address in a mapping")
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    unsafe { libc::sysconf(libc::_SC_PAGESIZE) as usize }
}

/// Guards and frees `n` blocks of `size` bytes, alternating sides; returns their pointers
/// (freed, so only their addresses mean anything).
fn cycle(n: usize, size: usize) -> Vec<usize> {
    let layout = Layout::from_size_align(size, 8).unwrap();
    let mut freed = Vec::new();
    for i in 0..n {
        ALLOC.set_side(if i % 2 == 0 { Side::Right } else { Side::Left });
        // SAFETY: non-zero size; written within bounds and freed with its layout.
        unsafe {
            let p = alloc(layout);
            assert!(is_guarded(p));
            p.write_bytes(1, size);
            dealloc(p, layout);
            freed.push(p as usize);
        }
    }
    freed
}

#[test]
fn each_slot_page_is_a_mapping_of_its_own() {
    let page = page_size();
    let slot_pages = SLOT_BYTES as usize / page;
    assert!(slot_pages >= 3, "the test expects first, inner and last pages");
    // Use every slot once: guard blocks until the pool runs out, then free them all.
    let mut live = Vec::with_capacity(2 * SLOTS as usize);
    let small = Layout::from_size_align(64, 8).unwrap();
    ALLOC.set_mode(Mode::All);
    loop {
        // SAFETY: non-zero size; each block is freed below with its layout.
        let p = unsafe { alloc(small) };
        live.push(p);
        if !is_guarded(p) {
            break;
        }
    }
    for p in live.drain(..) {
        // SAFETY: allocated above with this layout, freed once.
        unsafe { dealloc(p, small) };
    }

    // A guard page, the slot's first page, its inner pages, its last page, per slot; and the
    // guard page at the end.
    let before = region_mappings();
    assert_eq!(before.len(), 4 * SLOTS as usize + 1, "{before:#?}");
    let base = before[0].start;
    for (i, m) in before.iter().enumerate() {
        let len = m.end - m.start;
        let dontdump = m.flags.iter().any(|f| f == "dd");
        match i % 4 {
            0 => assert!(len == page && dontdump && m.perms == "---p", "guard {m:?}"),
            1 | 3 => assert!(len == page && !dontdump, "first or last page {m:?}"),
            _ => assert!(len == (slot_pages - 2) * page && m.flags.iter().any(|f| f == "rr"), "{m:?}"),
        }
        assert_eq!(
            m.start,
            base + [0, page, 2 * page, (slot_pages) * page][i % 4] + i / 4 * (slot_pages + 1) * page
        );
    }

    // A live one-page block is exactly its page's mapping, readable and writable, and
    // becomes exactly one inaccessible mapping when freed (it is in quarantine).
    let layout = Layout::from_size_align(100, 8).unwrap();
    for side in [Side::Right, Side::Left] {
        ALLOC.set_side(side);
        // SAFETY: non-zero size; written within bounds and freed with its layout.
        let p = unsafe { alloc(layout) } as usize;
        // SAFETY: the block is live and 100 bytes long.
        unsafe { (p as *mut u8).write_bytes(2, 100) };
        let maps = region_mappings();
        let m = mapping_at(&maps, p);
        assert_eq!((m.start, m.end, m.perms.as_str()), (p & !(page - 1), (p & !(page - 1)) + page, "rw-p"));
        assert_eq!(maps.len(), before.len(), "guarding split a mapping");
        // SAFETY: allocated above with this layout.
        unsafe { dealloc(p as *mut u8, layout) };
        let maps = region_mappings();
        let m = mapping_at(&maps, p);
        assert_eq!((m.start, m.end, m.perms.as_str()), (p & !(page - 1), (p & !(page - 1)) + page, "---p"));
        assert_eq!(maps.len(), before.len(), "freeing merged mappings");
    }

    // Many more blocks of one page and of a whole slot: still the same mappings.
    cycle(200, 3000);
    cycle(20, SLOT_BYTES as usize);
    assert_eq!(region_mappings().len(), before.len());
    ALLOC.set_mode(Mode::Off);
}
