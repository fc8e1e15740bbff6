//! The gate's configuration file, `lockhound.toml`: which scenarios and variants run, under
//! which backends, with which budgets. Unknown keys, scenarios, variants and backends are
//! errors naming the line: a typo must not silently weaken a gate.

use lockhound::scenario::Scenario;
use lockhound::{limits, Backend};
use serde::de::{self, Deserializer};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use toml::Spanned;

/// Budgets and engines of a case; every field is optional so that levels can override each
/// other (command line over variant over scenario over `[defaults]` over built-in defaults).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    pub backends: Option<Vec<Backend>>,
    pub iterations: Option<u64>,
    /// Seconds per case.
    pub time_limit: Option<u64>,
    /// loom's preemption bound; `Some(None)` is unbounded.
    pub preemption_bound: Option<Option<usize>>,
    pub pct_depth: Option<usize>,
    pub seed: Option<u64>,
}

impl Settings {
    /// `self` with every field `over` sets replaced.
    pub fn overridden_by(&self, over: &Settings) -> Settings {
        Settings {
            backends: over.backends.clone().or_else(|| self.backends.clone()),
            iterations: over.iterations.or(self.iterations),
            time_limit: over.time_limit.or(self.time_limit),
            preemption_bound: over.preemption_bound.or(self.preemption_bound),
            pct_depth: over.pct_depth.or(self.pct_depth),
            seed: over.seed.or(self.seed),
        }
    }

    /// What `lockhound check` uses without a config file: every variant under loom (bounded
    /// exhaustive search, weak memory, data races) and shuttle PCT (low-depth bugs, fast),
    /// two engines that miss different things, within a budget that keeps the built-in
    /// catalog in seconds.
    pub fn builtin() -> Settings {
        Settings {
            backends: Some(vec![Backend::Loom, Backend::ShuttlePct]),
            iterations: Some(10_000),
            time_limit: Some(30),
            preemption_bound: Some(Some(2)),
            pct_depth: Some(3),
            seed: Some(0),
        }
    }
}

/// Which scenarios a config runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Include {
    /// Every scenario of the catalog; `[scenario.NAME]` tables only adjust them. A scenario
    /// added to the catalog is gated without touching the config.
    #[default]
    All,
    /// Only the scenarios that have a `[scenario.NAME]` table.
    Listed,
}

/// One scenario's table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScenarioConfig {
    /// The variants to run; `None` runs every variant.
    pub variants: Option<Vec<String>>,
    pub settings: Settings,
    /// Per-variant overrides, `[scenario.NAME.variant.VARIANT]`.
    pub variant: BTreeMap<String, Settings>,
}

/// A parsed and validated `lockhound.toml`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GateConfig {
    pub include: Include,
    pub defaults: Settings,
    /// By scenario name.
    pub scenarios: BTreeMap<String, ScenarioConfig>,
}

/// Why a config was refused: the file, the line when known, and what is wrong, in one line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}: line {line}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

// The file as written. Each level lists its keys again (no `flatten`) because serde's
// `deny_unknown_fields` does not work through a flattened struct.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    defaults: Option<RawDefaults>,
    #[serde(default)]
    scenario: BTreeMap<Spanned<String>, RawScenario>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    include: Option<RawInclude>,
    backends: Option<Spanned<Vec<Spanned<String>>>>,
    iterations: Option<Spanned<Positive>>,
    time_limit: Option<Spanned<Positive>>,
    preemption_bound: Option<Spanned<RawBound>>,
    pct_depth: Option<Spanned<Positive>>,
    seed: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    variants: Option<Vec<Spanned<String>>>,
    backends: Option<Spanned<Vec<Spanned<String>>>>,
    iterations: Option<Spanned<Positive>>,
    time_limit: Option<Spanned<Positive>>,
    preemption_bound: Option<Spanned<RawBound>>,
    pct_depth: Option<Spanned<Positive>>,
    seed: Option<u64>,
    #[serde(default)]
    variant: BTreeMap<Spanned<String>, RawSettings>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSettings {
    backends: Option<Spanned<Vec<Spanned<String>>>>,
    iterations: Option<Spanned<Positive>>,
    time_limit: Option<Spanned<Positive>>,
    preemption_bound: Option<Spanned<RawBound>>,
    pct_depth: Option<Spanned<Positive>>,
    seed: Option<u64>,
}

/// A count that must be at least 1 (a budget of zero would make a gate that checks nothing).
struct Positive(u64);

impl<'de> Deserialize<'de> for Positive {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match i64::deserialize(d)? {
            n if n >= 1 => Ok(Positive(n.unsigned_abs())),
            n => Err(de::Error::custom(format!("expected a number of at least 1, got {n}"))),
        }
    }
}

/// A preemption bound: a number, or the string "none".
struct RawBound(Option<usize>);

impl<'de> Deserialize<'de> for RawBound {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Number(i64),
            Text(String),
        }
        let value = Either::deserialize(d)
            .map_err(|_| de::Error::custom("preemption_bound must be a number or \"none\""))?;
        match value {
            Either::Number(n) if n >= 0 => Ok(RawBound(Some(usize::try_from(n).unwrap_or(usize::MAX)))),
            Either::Number(n) => Err(de::Error::custom(format!("preemption_bound {n} is negative"))),
            Either::Text(t) if t == "none" => Ok(RawBound(None)),
            Either::Text(t) => {
                Err(de::Error::custom(format!("preemption_bound '{t}' is not a number or \"none\"")))
            }
        }
    }
}

struct RawInclude(Include);

impl<'de> Deserialize<'de> for RawInclude {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match String::deserialize(d)?.as_str() {
            "all" => Ok(RawInclude(Include::All)),
            "listed" => Ok(RawInclude(Include::Listed)),
            other => Err(de::Error::custom(format!("include '{other}' is not \"all\" or \"listed\""))),
        }
    }
}

/// The 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())].iter().filter(|&&b| b == b'\n').count() + 1
}

/// Parsing context: names the file and turns spans into lines.
struct Ctx<'a> {
    file: &'a str,
    text: &'a str,
}

impl Ctx<'_> {
    fn error(&self, span: Option<std::ops::Range<usize>>, message: String) -> ConfigError {
        ConfigError { file: self.file.to_string(), line: span.map(|s| line_of(self.text, s.start)), message }
    }

    /// One level's settings.
    #[allow(clippy::too_many_arguments)]
    fn settings(
        &self,
        backends: Option<Spanned<Vec<Spanned<String>>>>,
        iterations: Option<Spanned<Positive>>,
        time_limit: Option<Spanned<Positive>>,
        preemption_bound: Option<Spanned<RawBound>>,
        pct_depth: Option<Spanned<Positive>>,
        seed: Option<u64>,
    ) -> Result<Settings, ConfigError> {
        // Checked here rather than while deserializing: toml gives a custom error inside an
        // array the array's span, and the line should point at the bad name itself.
        let backends = match backends {
            Some(list) if list.get_ref().is_empty() => {
                let message = "backends is empty: the gate would check nothing".to_string();
                return Err(self.error(Some(list.span()), message));
            }
            Some(list) => Some(
                list.into_inner()
                    .into_iter()
                    .map(|name| name.get_ref().parse().map_err(|e| self.error(Some(name.span()), e)))
                    .collect::<Result<Vec<Backend>, _>>()?,
            ),
            None => None,
        };
        // The same limits as the command line's and the environment's (lockhound::limits).
        let checked = |value: Option<Spanned<Positive>>, key: &str, check: fn(u64) -> Result<(), String>| {
            value
                .map(|v| {
                    let span = v.span();
                    let n = v.into_inner().0;
                    check(n).map(|()| n).map_err(|e| self.error(Some(span), format!("{key} {n}: {e}")))
                })
                .transpose()
        };
        let time_limit = checked(time_limit, "time_limit", |n| limits::seconds_from(n).map(drop))?;
        let pct_depth = checked(pct_depth, "pct_depth", |n| {
            limits::pct_depth_from(usize::try_from(n).unwrap_or(usize::MAX)).map(drop)
        })?;
        let preemption_bound = match preemption_bound {
            Some(b) => {
                let span = b.span();
                match b.into_inner().0 {
                    Some(n) => Some(Some(
                        limits::preemption_bound_from(n)
                            .map_err(|e| self.error(Some(span), format!("preemption_bound {n}: {e}")))?,
                    )),
                    None => Some(None),
                }
            }
            None => None,
        };
        Ok(Settings {
            backends,
            iterations: iterations.map(|p| p.into_inner().0),
            time_limit,
            preemption_bound,
            pct_depth: pct_depth.map(|n| n as usize),
            seed,
        })
    }
}

impl GateConfig {
    /// Parses `text` (read from `file`, which only names it in errors) and checks every
    /// scenario and variant it names against `catalog`.
    pub fn parse(file: &str, text: &str, catalog: &[Scenario]) -> Result<GateConfig, ConfigError> {
        let cx = Ctx { file, text };
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            // toml's Display spans several lines with a source excerpt; keep one.
            let message = e.message().lines().next().unwrap_or("invalid TOML").trim().to_string();
            cx.error(e.span(), message)
        })?;
        let mut config = GateConfig::default();
        if let Some(d) = raw.defaults {
            config.include = d.include.map(|i| i.0).unwrap_or_default();
            config.defaults =
                cx.settings(d.backends, d.iterations, d.time_limit, d.preemption_bound, d.pct_depth, d.seed)?;
        }
        for (name, s) in raw.scenario {
            let Some(scenario) = catalog.iter().find(|c| c.name == name.get_ref().as_str()) else {
                let known: Vec<&str> = catalog.iter().map(|c| c.name.as_ref()).collect();
                return Err(cx.error(
                    Some(name.span()),
                    format!("unknown scenario '{}' (known: {})", name.get_ref(), known.join(", ")),
                ));
            };
            let check_variant = |v: &Spanned<String>| -> Result<String, ConfigError> {
                match scenario.variant(v.get_ref()) {
                    Some(found) => Ok(found.name.to_string()),
                    None => {
                        let known: Vec<&str> = scenario.variants().iter().map(|v| v.name.as_ref()).collect();
                        Err(cx.error(
                            Some(v.span()),
                            format!(
                                "scenario '{}' has no variant '{}' (it has: {})",
                                scenario.name,
                                v.get_ref(),
                                known.join(", ")
                            ),
                        ))
                    }
                }
            };
            let variants = match &s.variants {
                Some(list) if list.is_empty() => {
                    let message = format!(
                        "scenario '{}': variants is empty: the gate would check nothing",
                        scenario.name
                    );
                    return Err(cx.error(Some(name.span()), message));
                }
                Some(list) => Some(list.iter().map(check_variant).collect::<Result<Vec<_>, _>>()?),
                None => None,
            };
            let mut per_variant = BTreeMap::new();
            for (v, r) in s.variant {
                let name = check_variant(&v)?;
                let settings = cx.settings(
                    r.backends,
                    r.iterations,
                    r.time_limit,
                    r.preemption_bound,
                    r.pct_depth,
                    r.seed,
                )?;
                per_variant.insert(name, settings);
            }
            let settings =
                cx.settings(s.backends, s.iterations, s.time_limit, s.preemption_bound, s.pct_depth, s.seed)?;
            config.scenarios.insert(
                scenario.name.to_string(),
                ScenarioConfig { variants, settings, variant: per_variant },
            );
        }
        Ok(config)
    }
}
