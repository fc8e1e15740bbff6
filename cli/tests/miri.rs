//! The gate's pure code, under miri too (scripts/miri.sh): the config parser and shards.

use lockhound::scenario::Scenario;
use lockhound_cli::gate::{GateConfig, Shard};

fn one() -> Scenario {
    Scenario::new("one")
        .summary("a scenario for the config parser")
        .must_fail("buggy", || {})
        .must_pass("fixed", || {})
}

#[test]
fn gate_config_and_shards_parse() {
    let catalog = [one()];
    let config = GateConfig::parse(
        "t.toml",
        "[defaults]\nbackends = [\"loom\"]\n[scenario.one.variant.fixed]\npreemption_bound = \"none\"\n",
        &catalog,
    )
    .unwrap();
    assert_eq!(config.scenarios["one"].variant["fixed"].preemption_bound, Some(None));
    let err = GateConfig::parse("t.toml", "[defaults]\nbackends = [\"lom\"]\n", &catalog).unwrap_err();
    assert_eq!(err.line, Some(2));
    let shard: Shard = "2/3".parse().unwrap();
    assert!((0..9).filter(|&i| shard.owns(i)).eq([1, 4, 7]));
}
