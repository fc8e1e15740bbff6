//! The `LOCKHOUND_*` variables over a compat entry's configuration.

use lockhound::{Check, RunConfig, Schedule};

/// `config` (what the test's code asked for, mapped) with every `LOCKHOUND_*` variable that is
/// set laid over it: what the person running the tests says now wins over the defaults written
/// in the code, as `LOOM_MAX_PREEMPTIONS` does for loom. The variables and their errors are
/// [`Check::try_from_env`]'s; `LOCKHOUND_REPLAY`'s schedule comes back apart.
pub(crate) fn overlay(
    mut config: RunConfig,
    var: &dyn Fn(&str) -> Option<String>,
) -> Result<(RunConfig, Option<Schedule>), String> {
    let env = Check::try_from_env(var)?;
    let set = |key: &str| var(key).is_some();
    if set("LOCKHOUND_BACKEND") {
        config.backend = env.config.backend;
    }
    if set("LOCKHOUND_ITERATIONS") {
        config.budget.executions = env.config.budget.executions;
    }
    if set("LOCKHOUND_TIME_LIMIT") {
        config.budget.time = env.config.budget.time;
    }
    if set("LOCKHOUND_SEED") {
        config.seed = env.config.seed;
    }
    if set("LOCKHOUND_PREEMPTION_BOUND") {
        config.loom.preemption_bound = env.config.loom.preemption_bound;
    }
    if set("LOCKHOUND_JOBS") {
        config.jobs = env.config.jobs;
    }
    Ok((config, env.replay))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockhound::Backend;
    use std::collections::HashMap;
    use std::time::Duration;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| map.get(k).cloned()
    }

    fn mapped() -> RunConfig {
        let mut config =
            RunConfig { backend: Backend::ShuttlePct, seed: 7, pct_depth: 5, ..RunConfig::default() };
        config.budget.executions = 123;
        config.budget.time = Duration::from_secs(9);
        config.loom.preemption_bound = None;
        config
    }

    #[test]
    fn unset_variables_keep_what_the_test_asked_for() {
        let (config, replay) = overlay(mapped(), &vars(&[])).unwrap();
        assert_eq!(config, mapped());
        assert!(replay.is_none());
    }

    #[test]
    fn set_variables_win_and_only_those() {
        let (config, _) =
            overlay(mapped(), &vars(&[("LOCKHOUND_ITERATIONS", "40"), ("LOCKHOUND_BACKEND", "loom")]))
                .unwrap();
        assert_eq!(config.budget.executions, 40);
        assert_eq!(config.backend, Backend::Loom);
        assert_eq!(config.seed, 7);
        assert_eq!(config.pct_depth, 5);
        assert_eq!(config.budget.time, Duration::from_secs(9));
        assert_eq!(config.loom.preemption_bound, None);

        let (config, _) = overlay(
            mapped(),
            &vars(&[
                ("LOCKHOUND_SEED", "3"),
                ("LOCKHOUND_TIME_LIMIT", "2"),
                ("LOCKHOUND_PREEMPTION_BOUND", "1"),
                ("LOCKHOUND_JOBS", "2"),
            ]),
        )
        .unwrap();
        assert_eq!(
            (config.seed, config.budget.time, config.loom.preemption_bound, config.jobs),
            (3, Duration::from_secs(2), Some(1), 2)
        );
        assert_eq!(config.budget.executions, 123);
    }

    #[test]
    fn a_bad_value_is_an_error_naming_the_variable() {
        let err = overlay(mapped(), &vars(&[("LOCKHOUND_SEED", "many")])).unwrap_err();
        assert!(err.contains("LOCKHOUND_SEED"), "{err}");
        let err = overlay(mapped(), &vars(&[("LOCKHOUND_REPLAY", "not a schedule")])).unwrap_err();
        assert!(err.contains("LOCKHOUND_REPLAY"), "{err}");
    }
}
