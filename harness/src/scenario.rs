//! What a scenario is: a named body with its provenance and its variants' expected outcomes.

use serde::Serialize;

/// A concurrency scenario, modelled from a real incident or written by a user.
#[derive(Debug, Serialize)]
pub struct Scenario {
    /// Short name used on the command line, like `rwlock-timeout`.
    pub name: &'static str,
    /// One line saying what goes wrong.
    pub summary: &'static str,
    pub provenance: Provenance,
    pub variants: &'static [Variant],
}

/// Where a scenario comes from: the real bug and its fix.
#[derive(Debug, Serialize)]
pub struct Provenance {
    /// The public source: issue, pull request, commit or post.
    pub source: &'static str,
    /// What went wrong in the real code.
    pub bug: &'static str,
    /// How the real code was fixed.
    pub fix: &'static str,
}

/// One version of a scenario's code.
#[derive(Debug, Serialize)]
pub struct Variant {
    /// `buggy` or `fixed` for the built-in scenarios.
    pub name: &'static str,
    pub expect: Expect,
    /// What this variant's code does.
    pub description: &'static str,
    /// The body: creates its objects and threads through the facade, asserts its invariants.
    #[serde(skip)]
    pub body: fn(),
}

/// What a variant must do under exploration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    /// The bug must be found: a checker that stops finding it has regressed.
    Fail,
    /// Nothing may be found.
    Pass,
}

impl Scenario {
    /// The variant called `name`.
    pub fn variant(&self, name: &str) -> Option<&'static Variant> {
        self.variants.iter().find(|v| v.name == name)
    }
}

impl Variant {
    /// The body as the explorers take it.
    pub fn body(&self) -> crate::Body {
        let body = self.body;
        std::sync::Arc::new(body)
    }
}
