//! `lockhound list`: the scenario catalog as text or JSON.

use lockhound::scenario::{Expect, Scenario};
use serde_json::{json, Value};

/// One block per scenario: name and summary, provenance, variants with their expectation.
pub fn text(scenarios: &[Scenario]) -> String {
    let mut out = String::new();
    for s in scenarios {
        out.push_str(&s.name);
        out.push('\n');
        if !s.summary.is_empty() {
            out.push_str(&format!("  {}\n", squeeze(&s.summary)));
        }
        if let Some(p) = &s.provenance {
            out.push_str(&format!("  source: {}\n", squeeze(&p.source)));
            out.push_str(&format!("  bug:    {}\n", squeeze(&p.bug)));
            out.push_str(&format!("  fix:    {}\n", squeeze(&p.fix)));
        }
        for v in s.variants() {
            let description = if v.description.is_empty() {
                String::new()
            } else {
                format!(" — {}", squeeze(&v.description))
            };
            out.push_str(&format!("  variant {:<6} {}{description}\n", v.name, expectation(v.expect)));
        }
        out.push('\n');
    }
    out
}

/// `{"scenarios": [...]}`, each with its provenance and variants.
pub fn json(scenarios: &[Scenario]) -> Value {
    let scenarios: Vec<Value> = scenarios
        .iter()
        .map(|s| {
            json!({
                "name": s.name,
                "summary": s.summary,
                "provenance": s.provenance,
                "variants": s.variants(),
            })
        })
        .collect();
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
