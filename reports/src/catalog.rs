//! `lockhound list`: the scenario catalog as text or JSON.

use lockhound::scenario::{Expect, Scenario};
use serde_json::{json, Value};

/// One block per scenario: name and summary, provenance, variants with their expectation.
pub fn text(scenarios: &[&Scenario]) -> String {
    let mut out = String::new();
    for s in scenarios {
        out.push_str(&format!("{}\n  {}\n", s.name, s.summary));
        out.push_str(&format!("  source: {}\n", s.provenance.source));
        out.push_str(&format!("  bug:    {}\n", squeeze(s.provenance.bug)));
        out.push_str(&format!("  fix:    {}\n", squeeze(s.provenance.fix)));
        for v in s.variants {
            out.push_str(&format!("  variant {:<6} {} — {}\n", v.name, expectation(v.expect), v.description));
        }
        out.push('\n');
    }
    out
}

/// `{"scenarios": [...]}`, each with its provenance and variants.
pub fn json(scenarios: &[&Scenario]) -> Value {
    json!({ "scenarios": scenarios })
}

/// How a variant is expected to behave, in words.
pub fn expectation(expect: Expect) -> &'static str {
    match expect {
        Expect::Fail => "(must fail)",
        Expect::Pass => "(must pass)",
    }
}

/// Collapses the runs of spaces left by string continuations in the catalog's sources.
fn squeeze(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
