//! lockhound's own schedules: a compact, versioned text that replays a finding.
//!
//! A shuttle schedule lists only the points where the run departed from the default policy
//! ("keep running the current thread; when it blocks, finishes or yields, run the next
//! runnable thread in id order"). Each point is anchored to a thread's own step count,
//! `t0@5>t1` meaning "when thread 0 reaches its 5th scheduling point, switch to thread 1", so a
//! code change in one thread does not shift the anchors of the others, as it would in a flat
//! list of decisions. `>` marks a preemption (thread 0 could have gone on); `~` marks a choice
//! made when thread 0 could not go on (blocked, finished or yielding). A schedule from a
//! run also names the strategy that found its finding (`lh1:shuttle:pct:t0@5>t1`), so that a
//! replay can say so; one without a name (written before they were recorded) replays the same.
//!
//! A loom finding is replayed by loom itself: its schedule carries loom's exploration path
//! (what loom's checkpoint feature stores), compressed, so the replay runs loom's exact
//! execution, weak-memory choices and data-race checks included.

pub(crate) mod follow;
pub(crate) mod pct;
pub(crate) mod random;
pub(crate) mod rotation;

use crate::backend::Backend;
use crate::limits::shown;
use base64::Engine as _;
use serde::{Serialize, Serializer};
use std::fmt;
use std::io::{Read, Write};
use std::str::FromStr;

const VERSION: &str = "lh1";

/// The version of a loom schedule that carries its spawn sites (`LoomPath::spawns`); lh1 ones
/// stay readable.
const LOOM_SITES_VERSION: &str = "lh2";

/// A schedule that replays one execution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Schedule {
    /// Replayed under shuttle by lockhound's own scheduler.
    Shuttle(SwitchList),
    /// Replayed by loom from its exploration path.
    Loom(LoomPath),
}

/// The departures from the default policy, in the order they happened.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SwitchList {
    pub switches: Vec<Switch>,
    /// The shuttle strategy that found the finding this schedule replays (`shuttle-pct`),
    /// written between the engine and the switches (`lh1:shuttle:pct:...`): minimized or not,
    /// the schedule replays what that strategy found. `None` in a schedule from before it was
    /// recorded, and in a fresh recording: the run that reports a finding, or the replay that
    /// followed one, fills it in.
    pub found_by: Option<Backend>,
}

/// One departure from the default policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Switch {
    /// The thread that was running (shuttle task id; 0 is the body's main thread).
    pub thread: usize,
    /// That thread's scheduling point, counted from 1.
    pub step: usize,
    /// The thread run next.
    pub to: usize,
    /// The running thread could have continued: this switch is a preemption.
    pub preemptive: bool,
}

/// loom's serialized exploration path of one execution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoomPath {
    pub json: String,
    /// Where the recorded execution spawned its threads, in order (a digest of each spawn's
    /// source location): a replay on a body that spawns elsewhere, another scenario's, is not
    /// applicable. `None` in a schedule from before they were recorded (`lh1:loom:`), which is
    /// replayed unchecked. Written as `lh2:loom:<sites>:<path>`.
    pub spawns: Option<Vec<u32>>,
}

impl SwitchList {
    /// Number of preemptions in the schedule.
    pub fn preemptions(&self) -> usize {
        self.switches.iter().filter(|s| s.preemptive).count()
    }
}

impl Schedule {
    /// The engine that replays the schedule: `shuttle` or `loom`.
    pub fn engine(&self) -> &'static str {
        match self {
            Schedule::Shuttle(_) => "shuttle",
            Schedule::Loom(_) => "loom",
        }
    }

    /// The engine that found the finding this schedule replays, when the schedule says: a
    /// shuttle strategy, if recorded; loom for a loom path, which only loom writes.
    pub fn found_by(&self) -> Option<Backend> {
        match self {
            Schedule::Shuttle(list) => list.found_by,
            Schedule::Loom(_) => Some(Backend::Loom),
        }
    }

    /// Preemptions of the schedule, when the schedule format knows them.
    pub fn preemptions(&self) -> Option<usize> {
        match self {
            Schedule::Shuttle(list) => Some(list.preemptions()),
            Schedule::Loom(_) => None,
        }
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Schedule::Shuttle(list) => {
                write!(f, "{VERSION}:shuttle:")?;
                if let Some(strategy) = list.found_by.and_then(strategy_name) {
                    write!(f, "{strategy}:")?;
                }
                for (i, s) in list.switches.iter().enumerate() {
                    let mark = if s.preemptive { '>' } else { '~' };
                    let sep = if i == 0 { "" } else { "," };
                    write!(f, "{sep}t{}@{}{mark}t{}", s.thread, s.step, s.to)?;
                }
                Ok(())
            }
            Schedule::Loom(path) => {
                let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
                z.write_all(path.json.as_bytes()).map_err(|_| fmt::Error)?;
                let bytes = z.finish().map_err(|_| fmt::Error)?;
                let text = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
                match &path.spawns {
                    None => write!(f, "{VERSION}:loom:{text}"),
                    Some(sites) => {
                        let sites: Vec<String> = sites.iter().map(|s| format!("{s:08x}")).collect();
                        write!(f, "{LOOM_SITES_VERSION}:loom:{}:{text}", sites.join("."))
                    }
                }
            }
        }
    }
}

/// Why a schedule text could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduleParseError(pub String);

impl fmt::Display for ScheduleParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ScheduleParseError {}

fn bad(msg: impl Into<String>) -> ScheduleParseError {
    ScheduleParseError(msg.into())
}

impl FromStr for Schedule {
    type Err = ScheduleParseError;

    fn from_str(text: &str) -> Result<Self, ScheduleParseError> {
        let text = text.trim();
        let mut parts = text.splitn(3, ':');
        let version = parts.next().unwrap_or_default();
        if version == LOOM_SITES_VERSION {
            return parse_loom_with_sites(parts.next(), parts.next());
        }
        if version != VERSION {
            let shown = shown(&version.chars().take(20).collect::<String>());
            return Err(bad(if version.starts_with("lh") {
                format!(
                    "schedule version '{shown}' is not supported (this lockhound reads {VERSION} and \
                     {LOOM_SITES_VERSION})"
                )
            } else {
                format!("not a lockhound schedule: expected it to start with '{VERSION}:', got '{shown}'")
            }));
        }
        let engine = parts.next().ok_or_else(|| bad("schedule has no engine after 'lh1:'"))?;
        let body =
            parts.next().ok_or_else(|| bad(format!("schedule has no body after 'lh1:{}'", shown(engine))))?;
        match engine {
            "shuttle" => parse_shuttle(body).map(Schedule::Shuttle),
            "loom" => parse_loom(body).map(Schedule::Loom),
            other => {
                Err(bad(format!("schedule engine '{}' is unknown (expected shuttle or loom)", shown(other))))
            }
        }
    }
}

/// A shuttle strategy's name in a schedule: its backend's name without `shuttle-`.
fn strategy_name(backend: Backend) -> Option<&'static str> {
    backend.name().strip_prefix("shuttle-")
}

/// The body of an `lh1:shuttle:` schedule: `[<strategy>:]<switches>`. A switch never holds a
/// ':', so one marks a strategy; a schedule without one (the older form) names none.
fn parse_shuttle(body: &str) -> Result<SwitchList, ScheduleParseError> {
    let Some((name, switches)) = body.split_once(':') else { return parse_switches(body) };
    let found_by = Backend::ALL.into_iter().find(|&b| strategy_name(b) == Some(name)).ok_or_else(|| {
        let known: Vec<_> = Backend::ALL.into_iter().filter_map(strategy_name).collect();
        bad(format!("schedule strategy '{}' is unknown (expected one of: {})", shown(name), known.join(", ")))
    })?;
    Ok(SwitchList { found_by: Some(found_by), ..parse_switches(switches)? })
}

fn parse_switches(body: &str) -> Result<SwitchList, ScheduleParseError> {
    let mut switches = Vec::new();
    for raw in body.split(',').filter(|s| !s.is_empty()) {
        // Echoed in errors escaped and shortened: the entry may be anything.
        let item = &shown(raw);
        let (from, to, preemptive) = if let Some((a, b)) = raw.split_once('>') {
            (a, b, true)
        } else if let Some((a, b)) = raw.split_once('~') {
            (a, b, false)
        } else {
            return Err(bad(format!("schedule entry '{item}' has no '>' or '~' (expected like t0@5>t1)")));
        };
        let (thread, step) = from
            .split_once('@')
            .ok_or_else(|| bad(format!("schedule entry '{item}' has no '@' (expected like t0@5>t1)")))?;
        let number = |s: &str, what: &str| -> Result<usize, ScheduleParseError> {
            s.parse()
                .map_err(|_| bad(format!("schedule entry '{item}': {what} '{}' is not a number", shown(s))))
        };
        let thread_id = |s: &str| -> Result<usize, ScheduleParseError> {
            let n = s.strip_prefix('t').ok_or_else(|| {
                bad(format!("schedule entry '{item}': thread '{}' must look like t0", shown(s)))
            })?;
            number(n, "thread")
        };
        let step = number(step, "step")?;
        if step == 0 {
            return Err(bad(format!("schedule entry '{item}': steps count from 1")));
        }
        switches.push(Switch { thread: thread_id(thread)?, step, to: thread_id(to)?, preemptive });
    }
    Ok(SwitchList { switches, found_by: None })
}

/// The engine and the body of an `lh2:` schedule: `loom:<sites>:<path>`.
fn parse_loom_with_sites(engine: Option<&str>, rest: Option<&str>) -> Result<Schedule, ScheduleParseError> {
    if engine != Some("loom") {
        let engine = shown(engine.unwrap_or_default());
        return Err(bad(format!(
            "schedule engine '{engine}' is unknown in {LOOM_SITES_VERSION} (expected loom)"
        )));
    }
    let (sites, body) = rest.and_then(|rest| rest.split_once(':')).ok_or_else(|| {
        bad(format!("{LOOM_SITES_VERSION} loom schedule has no spawn sites before its path"))
    })?;
    let spawns = sites
        .split('.')
        .filter(|s| !s.is_empty())
        .map(|s| {
            u32::from_str_radix(s, 16)
                .ok()
                .filter(|_| s.len() == 8)
                .ok_or_else(|| bad(format!("loom schedule spawn site '{}' is not 8 hex digits", shown(s))))
        })
        .collect::<Result<Vec<u32>, _>>()?;
    let mut path = parse_loom(body)?;
    path.spawns = Some(spawns);
    Ok(Schedule::Loom(path))
}

fn parse_loom(body: &str) -> Result<LoomPath, ScheduleParseError> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(body)
        .map_err(|e| bad(format!("loom schedule is not valid base64: {}", shown(&e.to_string()))))?;
    let mut json = String::new();
    flate2::read::DeflateDecoder::new(&bytes[..])
        .take(64 << 20)
        .read_to_string(&mut json)
        .map_err(|e| bad(format!("loom schedule does not decompress: {}", shown(&e.to_string()))))?;
    if serde_json::from_str::<serde_json::Value>(&json).is_err() {
        return Err(bad("loom schedule does not hold a loom exploration path"));
    }
    Ok(LoomPath { json, spawns: None })
}

impl Serialize for Schedule {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shuttle_schedule_round_trips() {
        let text = "lh1:shuttle:t0@5>t1,t1@3~t0";
        let s: Schedule = text.parse().unwrap();
        assert_eq!(s.to_string(), text);
        assert_eq!(s.preemptions(), Some(1));
    }

    #[test]
    fn a_shuttle_schedule_names_the_strategy_that_found_it() {
        for (backend, text) in [
            (Backend::ShuttleRandom, "lh1:shuttle:random:t0@5>t1"),
            (Backend::ShuttlePct, "lh1:shuttle:pct:t0@5>t1"),
            (Backend::ShuttleUrw, "lh1:shuttle:urw:t0@5>t1"),
            (Backend::ShuttleDfs, "lh1:shuttle:dfs:t0@5>t1"),
        ] {
            let s: Schedule = text.parse().unwrap();
            assert_eq!(s.found_by(), Some(backend), "{text}");
            assert_eq!(s.to_string(), text);
        }
        // The older form names none, and replays the same switches.
        let old: Schedule = "lh1:shuttle:t0@5>t1".parse().unwrap();
        let new: Schedule = "lh1:shuttle:pct:t0@5>t1".parse().unwrap();
        assert_eq!(old.found_by(), None);
        match (old, new) {
            (Schedule::Shuttle(old), Schedule::Shuttle(new)) => assert_eq!(old.switches, new.switches),
            other => panic!("{other:?}"),
        }
        let empty: Schedule = "lh1:shuttle:pct:".parse().unwrap();
        assert_eq!(empty.to_string(), "lh1:shuttle:pct:");
        assert_eq!(empty.preemptions(), Some(0));
        // Only shuttle strategies name one: a loom path is loom's.
        let loom = Schedule::Loom(LoomPath { json: "{}".into(), spawns: None });
        assert_eq!(loom.found_by(), Some(Backend::Loom));
    }

    #[test]
    fn empty_shuttle_schedule_is_the_default_policy() {
        let s: Schedule = "lh1:shuttle:".parse().unwrap();
        assert_eq!(s, Schedule::Shuttle(SwitchList::default()));
    }

    #[test]
    fn loom_schedule_round_trips() {
        let old = Schedule::Loom(LoomPath { json: "{\"pos\":3}".into(), spawns: None });
        assert!(old.to_string().starts_with("lh1:loom:"));
        let back: Schedule = old.to_string().parse().unwrap();
        assert_eq!(back, old);
        for spawns in [vec![], vec![0xdead_beef, 7]] {
            let s = Schedule::Loom(LoomPath { json: "{\"pos\":3}".into(), spawns: Some(spawns) });
            assert!(s.to_string().starts_with("lh2:loom:"), "{s}");
            let back: Schedule = s.to_string().parse().unwrap();
            assert_eq!(back, s);
        }
        for (text, expect) in [
            ("lh2:shuttle:", "expected loom"),
            ("lh2:loom:abc", "no spawn sites"),
            ("lh2:loom:xyz:AAAA", "not 8 hex digits"),
        ] {
            let err = text.parse::<Schedule>().unwrap_err().to_string();
            assert!(err.contains(expect), "{text}: {err}");
        }
    }

    #[test]
    fn malformed_schedules_are_named() {
        for (text, expect) in [
            ("xyz", "not a lockhound schedule"),
            ("lh9:shuttle:", "version 'lh9'"),
            ("lh1:foo:x", "engine 'foo'"),
            ("lh1:shuttle:t0@5t1", "has no '>'"),
            ("lh1:shuttle:t0@x>t1", "step 'x'"),
            ("lh1:shuttle:q0@1>t1", "must look like t0"),
            ("lh1:shuttle:t0@0>t1", "count from 1"),
            (
                "lh1:shuttle:fifo:t0@1>t1",
                "strategy 'fifo' is unknown (expected one of: random, pct, urw, dfs)",
            ),
            ("lh1:shuttle:loom:t0@1>t1", "strategy 'loom'"),
            ("lh1:shuttle::t0@1>t1", "strategy ''"),
            ("lh1:shuttle:pct:t0@1>t1:x", "thread '1:x'"),
            ("lh1:loom:!!!", "base64"),
        ] {
            let err = text.parse::<Schedule>().unwrap_err().to_string();
            assert!(err.contains(expect), "{text}: {err}");
            assert!(!err.contains('\n'));
        }
    }
}
