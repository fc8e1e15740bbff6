//! Property-based fuzzing of every parser that reads what a person or a file gives lockhound:
//! schedules (`--schedule`, `LOCKHOUND_REPLAY`, corpus entries), corpus entries, and the
//! gate's config. Whatever the input: no panic, and an error is one line of bounded length
//! (it names the problem, it does not echo a hostile input whole). Valid schedules round-trip.
//!
//! The seed is fixed and the case count bounded, so CI runs the same inputs every time in a
//! few seconds: `PROPTEST_CASES=N` runs more, and a different seed is a one-line change.

use lockhound::scenario::Scenario;
use lockhound::Schedule;
use lockhound_cli::gate::{parse_entry, GateConfig, CORPUS_HEADER};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use std::path::Path;

fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(10_000);
    Config { cases, rng_seed: RngSeed::Fixed(0x10c4_40b1), failure_persistence: None, ..Config::default() }
}

/// An error a person reads: one line, not an echo of a large input.
fn one_short_line(error: &str) -> Result<(), TestCaseError> {
    prop_assert!(!error.contains('\n'), "more than one line: {error:?}");
    prop_assert!(error.len() <= 400, "{} bytes long: {:.120}...", error.len(), error);
    prop_assert!(!error.chars().any(|c| c.is_control()), "control characters: {error:?}");
    Ok(())
}

/// Pieces that schedules, corpus entries and configs are made of, so that the generated
/// inputs reach deep into the parsers rather than failing at the first byte.
fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("lh1:".to_string()),
        Just("shuttle:".to_string()),
        Just("loom:".to_string()),
        Just("pct:".to_string()),
        Just("urw:".to_string()),
        Just("t0@4>t2".to_string()),
        Just("~".to_string()),
        Just(",".to_string()),
        Just(">".to_string()),
        Just("@".to_string()),
        "[0-9]{1,25}",
        "t[0-9]{1,4}",
        "[A-Za-z0-9_-]{1,12}",
        Just("\n".to_string()),
        Just("\u{1b}[31m".to_string()),
        Just("é".to_string()),
        "\\PC{0,8}",
        prop::collection::vec(any::<char>(), 0..6).prop_map(|c| c.into_iter().collect()),
    ]
}

fn input() -> impl Strategy<Value = String> {
    prop::collection::vec(token(), 0..24).prop_map(|t| t.concat())
}

fn schedule_text() -> impl Strategy<Value = String> {
    // Valid shuttle schedules: switches `tA@STEP>tB` (or `~` for a timer switch), after the
    // strategy that found them or, in the older form, none.
    let switch = (0usize..6, 1usize..500, prop::bool::ANY, 0usize..6)
        .prop_map(|(a, at, tilde, b)| format!("t{a}@{at}{}t{b}", if tilde { "~" } else { ">" }));
    let strategy = prop_oneof![Just(""), Just("random:"), Just("pct:"), Just("urw:"), Just("dfs:")];
    (strategy, prop::collection::vec(switch, 0..12))
        .prop_map(|(strategy, s)| format!("lh1:shuttle:{strategy}{}", s.join(",")))
}

fn catalog() -> Vec<Scenario> {
    vec![Scenario::new("counter").must_fail("buggy", || {}).must_pass("fixed", || {})]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn schedules_never_panic_and_errors_are_one_short_line(text in input()) {
        if let Err(e) = text.parse::<Schedule>() {
            one_short_line(&e.to_string())?;
        }
    }

    #[test]
    fn valid_schedules_round_trip(text in schedule_text()) {
        let parsed: Schedule = text.parse().map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(parsed.to_string(), text.clone());
        let again: Schedule = parsed.to_string().parse().unwrap();
        prop_assert_eq!(again, parsed);
    }

    #[test]
    fn corpus_entries_never_panic_and_errors_are_one_short_line(
        body in input(),
        header in prop_oneof![Just(CORPUS_HEADER.to_string()), input()],
    ) {
        let text = format!("{header}\nscenario counter\nvariant fixed\nbackend loom\n{body}");
        if let Err(e) = parse_entry(Path::new("x.lhcorpus"), &text) {
            one_short_line(&e)?;
        }
        if let Err(e) = parse_entry(Path::new("x.lhcorpus"), &body) {
            one_short_line(&e)?;
        }
    }

    #[test]
    fn configs_never_panic_and_errors_are_one_short_line(
        lines in prop::collection::vec(prop_oneof![
            Just("[defaults]".to_string()),
            Just("[scenario.counter]".to_string()),
            Just("[scenario.counter.variant.fixed]".to_string()),
            Just("[scenario.nope]".to_string()),
            (prop_oneof![
                Just("backends"), Just("iterations"), Just("time_limit"), Just("preemption_bound"),
                Just("pct_depth"), Just("seed"), Just("include"), Just("variants"), Just("colour"),
            ], prop_oneof![
                "-?[0-9]{1,22}".prop_map(|n| n),
                Just("\"none\"".to_string()),
                Just("\"listed\"".to_string()),
                Just("[\"loom\", \"shuttle-pct\"]".to_string()),
                Just("[]".to_string()),
                Just("[\"lom\"]".to_string()),
                input().prop_map(|s| format!("{s:?}")),
                input(),
            ]).prop_map(|(k, v)| format!("{k} = {v}")),
            input(),
        ], 0..12),
    ) {
        let text = lines.join("\n");
        if let Err(e) = GateConfig::parse("lockhound.toml", &text, &catalog()) {
            one_short_line(&e.to_string())?;
        }
    }
}
