//! The corpus: failing schedules the gate found, kept in a folder (cached between CI runs) and
//! replayed before exploring, so a fixed bug that comes back fails the gate in milliseconds
//! instead of waiting for exploration to stumble on it again.
//!
//! One file per (scenario, variant, backend) and schedule, named
//! `SCENARIO.VARIANT.BACKEND.HASH.lhcorpus`, holding a versioned text:
//!
//! ```text
//! lockhound-corpus v1
//! scenario rwlock-timeout
//! variant fixed
//! backend loom
//! kind panic
//! schedule lh1:shuttle:t0@4>t2,t2@9>t0
//! ```
//!
//! An entry that cannot be used (another format version, a scenario or variant that no longer
//! exists, a schedule that no longer fits the code) is reported as a note and skipped: it
//! does not fail the gate by itself.

use super::Case;
use lockhound::limits::shown;
use lockhound::scenario::Scenario;
use lockhound::{Backend, Finding, Schedule};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The first line of every corpus file.
pub const CORPUS_HEADER: &str = "lockhound-corpus v1";
/// How corpus file names end; other files in the folder are left alone.
pub const CORPUS_SUFFIX: &str = ".lhcorpus";

/// A recorded schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorpusEntry {
    /// The file it was read from.
    pub file: PathBuf,
    pub scenario: String,
    pub variant: String,
    /// The case's backend (for `auto`, the portfolio, not the member that found it).
    pub backend: String,
    pub schedule: Schedule,
}

/// The corpus folder, read when opened.
#[derive(Debug)]
pub struct Corpus {
    dir: PathBuf,
    entries: Vec<CorpusEntry>,
    notes: Vec<String>,
}

impl Corpus {
    /// Opens (creating it if needed) the corpus in `dir` and reads every entry; entries that
    /// do not fit `catalog` become notes.
    pub fn open(dir: &Path, catalog: &[Scenario]) -> io::Result<Corpus> {
        std::fs::create_dir_all(dir)?;
        let mut names: Vec<PathBuf> = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with(CORPUS_SUFFIX)))
            .collect();
        names.sort();
        let mut corpus = Corpus { dir: dir.to_path_buf(), entries: Vec::new(), notes: Vec::new() };
        for path in names {
            let text = match read_entry(&path) {
                Ok(text) => text,
                Err(why) => {
                    corpus.notes.push(format!("corpus entry {} {why}; skipped", shown_path(&path)));
                    continue;
                }
            };
            match parse_entry(&path, &text).and_then(|entry| known(entry, catalog)) {
                Ok(entry) => corpus.entries.push(entry),
                Err(why) => corpus.notes.push(format!("corpus entry {} {why}; skipped", shown_path(&path))),
            }
        }
        Ok(corpus)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every usable entry, in file-name order.
    pub fn entries(&self) -> &[CorpusEntry] {
        &self.entries
    }

    /// Entries that could not be used, one line each.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// The entries recorded for `case`.
    pub fn entries_for(&self, case: &Case) -> Vec<&CorpusEntry> {
        self.entries
            .iter()
            .filter(|e| {
                e.scenario == case.scenario.name
                    && e.variant == case.variant.name
                    && e.backend == case.backend.name()
            })
            .collect()
    }

    /// Records `finding`'s schedule for `case`, atomically (a reader never sees half a file).
    /// `Ok(None)` when the finding has no schedule (real threads) or the same schedule is
    /// already recorded.
    pub fn save(&self, case: &Case<'_>, finding: &Finding) -> io::Result<Option<PathBuf>> {
        let Some(schedule) = &finding.schedule else { return Ok(None) };
        let schedule = schedule.to_string();
        let name = format!(
            "{}.{}.{}.{:016x}{CORPUS_SUFFIX}",
            file_part(&case.scenario.name),
            file_part(&case.variant.name),
            case.backend.name(),
            fnv1a(schedule.as_bytes())
        );
        let path = self.dir.join(&name);
        if path.exists() {
            return Ok(None);
        }
        let text = format!(
            "{CORPUS_HEADER}\nscenario {}\nvariant {}\nbackend {}\nkind {}\nschedule {schedule}\n",
            case.scenario.name,
            case.variant.name,
            case.backend.name(),
            finding.kind.name()
        );
        // Through a temporary file of a random name in the corpus folder, renamed into place:
        // a reader never sees half an entry, and a killed run leaves nothing another run reads.
        let mut file =
            tempfile::Builder::new().prefix(".lockhound-").suffix(".tmp").tempfile_in(&self.dir)?;
        file.write_all(text.as_bytes())?;
        file.as_file().sync_all()?;
        file.persist(&path).map_err(|e| e.error)?;
        Ok(Some(path))
    }
}

/// The most a corpus entry may hold: a few lines and one schedule (a schedule of a million
/// switches is a few MB).
const MAX_ENTRY_BYTES: u64 = 16 << 20;

/// Reads a corpus file: a regular file (not a FIFO, a device or a link to one) of bounded size.
fn read_entry(path: &Path) -> Result<String, String> {
    use std::io::Read;
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot be read: {e}"))?;
    if !meta.is_file() {
        return Err("is not a regular file".to_string());
    }
    let file = std::fs::File::open(path).map_err(|e| format!("cannot be read: {e}"))?;
    let mut text = String::new();
    file.take(MAX_ENTRY_BYTES + 1).read_to_string(&mut text).map_err(|e| format!("cannot be read: {e}"))?;
    if text.len() as u64 > MAX_ENTRY_BYTES {
        return Err(format!("is larger than {} MB: not a corpus entry", MAX_ENTRY_BYTES >> 20));
    }
    Ok(text)
}

/// A corpus file's path as a note shows it: escaped and shortened.
fn shown_path(path: &Path) -> String {
    shown(&path.display().to_string())
}

/// Reads one corpus file; the error says why it cannot be used.
pub fn parse_entry(file: &Path, text: &str) -> Result<CorpusEntry, String> {
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default().trim();
    if header != CORPUS_HEADER {
        let shown = shown(&header.chars().take(40).collect::<String>());
        return Err(if shown.starts_with("lockhound-corpus") {
            format!("has format '{shown}', which this lockhound does not read (it reads '{CORPUS_HEADER}')")
        } else {
            format!("is not a corpus file (expected '{CORPUS_HEADER}' first, got '{shown}')")
        });
    }
    let (mut scenario, mut variant, mut backend, mut schedule) = (None, None, None, None);
    for line in lines.map(str::trim).filter(|l| !l.is_empty()) {
        let (key, value) = line.split_once(' ').unwrap_or((line, ""));
        let value = value.trim().to_string();
        match key {
            "scenario" => scenario = Some(value),
            "variant" => variant = Some(value),
            "backend" => backend = Some(value),
            "schedule" => {
                schedule = Some(
                    value
                        .parse::<Schedule>()
                        .map_err(|e| format!("has a bad schedule: {}", shown(&e.to_string())))?,
                )
            }
            // Informational, for readers of the file.
            "kind" | "message" => {}
            other => return Err(format!("has an unknown field '{}'", shown(other))),
        }
    }
    let missing = |what: &str| format!("has no '{what}' line");
    Ok(CorpusEntry {
        file: file.to_path_buf(),
        scenario: scenario.ok_or_else(|| missing("scenario"))?,
        variant: variant.ok_or_else(|| missing("variant"))?,
        backend: backend.ok_or_else(|| missing("backend"))?,
        schedule: schedule.ok_or_else(|| missing("schedule"))?,
    })
}

/// Checks that the entry's scenario, variant and backend still exist.
fn known(entry: CorpusEntry, catalog: &[Scenario]) -> Result<CorpusEntry, String> {
    let Some(scenario) = catalog.iter().find(|s| s.name == entry.scenario) else {
        return Err(format!("is stale: scenario '{}' is not in the catalog", shown(&entry.scenario)));
    };
    if scenario.variant(&entry.variant).is_none() {
        return Err(format!(
            "is stale: scenario '{}' has no variant '{}'",
            shown(&entry.scenario),
            shown(&entry.variant)
        ));
    }
    if entry.backend.parse::<Backend>().is_err() {
        return Err(format!("is stale: backend '{}' is unknown", shown(&entry.backend)));
    }
    Ok(entry)
}

/// A name made safe for a file name.
fn file_part(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect()
}

/// FNV-1a: the same on every platform and toolchain (std's hasher is not promised to be), so
/// a schedule keeps its file name across runs and a cached corpus does not fill with copies.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_parse_and_reject_what_they_cannot_use() {
        let good = format!(
            "{CORPUS_HEADER}\nscenario s\nvariant fixed\nbackend loom\nkind panic\nschedule lh1:shuttle:t0@2>t1\n"
        );
        let entry = parse_entry(Path::new("x"), &good).unwrap();
        assert_eq!((entry.scenario.as_str(), entry.variant.as_str()), ("s", "fixed"));
        assert_eq!(entry.schedule.to_string(), "lh1:shuttle:t0@2>t1");
        for (text, why) in [
            ("lockhound-corpus v9\nscenario s\n".to_string(), "format 'lockhound-corpus v9'"),
            ("hello\n".to_string(), "not a corpus file"),
            (format!("{CORPUS_HEADER}\nscenario s\nvariant v\nbackend loom\n"), "no 'schedule'"),
            (format!("{CORPUS_HEADER}\nscenario s\nvariant v\nbackend loom\nschedule zz\n"), "bad schedule"),
            (format!("{CORPUS_HEADER}\ncolour red\n"), "unknown field 'colour'"),
        ] {
            let err = parse_entry(Path::new("x"), &text).unwrap_err();
            assert!(err.contains(why), "{text:?}: {err}");
        }
    }

    #[test]
    fn file_names_are_stable() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(file_part("a b/c"), "a_b_c");
    }
}
