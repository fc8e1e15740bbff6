//! What a scenario is: a named body, or a few versions of one (variants), each with what it
//! must do under exploration, and where the scenario comes from.
//!
//! A scenario is built like a test is written:
//!
//! ```
//! use lockhound::scenario::Scenario;
//! use lockhound::sync::{Arc, Mutex};
//!
//! fn counter(lost_update: bool) {
//!     let n = Arc::new(Mutex::new(0));
//!     let m = n.clone();
//!     let t = lockhound::thread::spawn(move || {
//!         if lost_update {
//!             let seen = *m.lock().unwrap();
//!             *m.lock().unwrap() = seen + 1;
//!         } else {
//!             *m.lock().unwrap() += 1;
//!         }
//!     });
//!     *n.lock().unwrap() += 1;
//!     t.join().unwrap();
//!     assert_eq!(*n.lock().unwrap(), 2, "an increment was lost");
//! }
//!
//! let scenario = Scenario::new("counter")
//!     .summary("two threads increment a shared counter")
//!     .must_fail("buggy", || counter(true))
//!     .must_pass("fixed", || counter(false));
//! assert_eq!(scenario.variants().len(), 2);
//! ```
//!
//! A scenario with one body that must pass is `Scenario::new("name").body(|| ...)`.

use crate::explore::Body;
use serde::Serialize;
use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

/// Text of a scenario: a literal for the built-in catalog, or built at run time.
pub type Text = Cow<'static, str>;

/// A concurrency scenario, modelled from a real incident or written by a user.
#[derive(Clone, Debug, Serialize)]
pub struct Scenario {
    /// Short name used on the command line, like `rwlock-timeout`.
    pub name: Text,
    /// One line saying what goes wrong (or what is checked).
    pub summary: Text,
    /// Where it comes from, when it models a known bug.
    pub provenance: Option<Provenance>,
    variants: Vec<Variant>,
}

/// Where a scenario comes from: the real bug and its fix.
#[derive(Clone, Debug, Serialize)]
pub struct Provenance {
    /// The public source: issue, pull request, commit or post.
    pub source: Text,
    /// What went wrong in the real code.
    pub bug: Text,
    /// How the real code was fixed.
    pub fix: Text,
}

/// One version of a scenario's code.
#[derive(Clone, Serialize)]
pub struct Variant {
    /// `buggy` or `fixed` for the built-in scenarios; `default` for a scenario of one body.
    pub name: Text,
    pub expect: Expect,
    /// What this variant's code does.
    pub description: Text,
    /// What the miri suite does with it (see [`Miri`]).
    pub miri: Miri,
    /// Its bug shows only under weak memory (a `Relaxed` load seeing a stale value): only
    /// loom explores that, so a gate does not expect shuttle or real threads to find it.
    pub weak_memory: bool,
    #[serde(skip)]
    body: Body,
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

/// What the miri suite (`cargo lockhound miri`, or `cargo +nightly miri test` on a lockhound
/// target) does with a variant: it runs it once on real threads, where miri checks every
/// access for undefined behaviour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Miri {
    /// Run it; it must pass with no undefined behaviour. The default for a variant that must
    /// pass.
    Pass,
    /// Run it; miri must report undefined behaviour (a use after free the variant commits on
    /// every schedule, say). Such a variant aborts the process it runs in, so the miri suite
    /// runs it alone.
    Ub,
    /// Not run under miri. The default for a variant that must fail: its bug needs a schedule
    /// that one run on real threads rarely takes, and its failure would end the miri run.
    Skip,
}

impl Scenario {
    /// A scenario called `name`, with no variants yet.
    pub fn new(name: impl Into<Text>) -> Scenario {
        Scenario { name: name.into(), summary: Text::Borrowed(""), provenance: None, variants: Vec::new() }
    }

    /// The one line `lockhound list` shows.
    pub fn summary(mut self, summary: impl Into<Text>) -> Scenario {
        self.summary = summary.into();
        self
    }

    /// Where the scenario comes from: the public source, the bug and its fix.
    pub fn provenance(
        mut self,
        source: impl Into<Text>,
        bug: impl Into<Text>,
        fix: impl Into<Text>,
    ) -> Scenario {
        self.provenance = Some(Provenance { source: source.into(), bug: bug.into(), fix: fix.into() });
        self
    }

    /// Adds a variant.
    ///
    /// # Panics
    /// If the scenario already has a variant of that name.
    #[track_caller]
    pub fn with(mut self, variant: Variant) -> Scenario {
        assert!(
            self.variant(&variant.name).is_none(),
            "scenario '{}' has two variants called '{}'",
            self.name,
            variant.name
        );
        self.variants.push(variant);
        self
    }

    /// Adds a variant whose bug the checkers must find.
    #[track_caller]
    pub fn must_fail(self, name: impl Into<Text>, body: impl Fn() + Send + Sync + 'static) -> Scenario {
        self.with(Variant::must_fail(name, body))
    }

    /// Adds a variant in which nothing may be found.
    #[track_caller]
    pub fn must_pass(self, name: impl Into<Text>, body: impl Fn() + Send + Sync + 'static) -> Scenario {
        self.with(Variant::must_pass(name, body))
    }

    /// The scenario's one body, which must pass: a variant called `default`.
    #[track_caller]
    pub fn body(self, body: impl Fn() + Send + Sync + 'static) -> Scenario {
        self.must_pass("default", body)
    }

    /// The variants, in the order they were added.
    pub fn variants(&self) -> &[Variant] {
        &self.variants
    }

    /// The variant called `name`.
    pub fn variant(&self, name: &str) -> Option<&Variant> {
        self.variants.iter().find(|v| v.name == name)
    }
}

impl Variant {
    fn new(name: impl Into<Text>, expect: Expect, body: impl Fn() + Send + Sync + 'static) -> Variant {
        let miri = match expect {
            Expect::Pass => Miri::Pass,
            Expect::Fail => Miri::Skip,
        };
        Variant {
            name: name.into(),
            expect,
            description: Text::Borrowed(""),
            miri,
            weak_memory: false,
            body: Arc::new(body),
        }
    }

    /// A variant whose bug the checkers must find.
    pub fn must_fail(name: impl Into<Text>, body: impl Fn() + Send + Sync + 'static) -> Variant {
        Variant::new(name, Expect::Fail, body)
    }

    /// A variant in which nothing may be found.
    pub fn must_pass(name: impl Into<Text>, body: impl Fn() + Send + Sync + 'static) -> Variant {
        Variant::new(name, Expect::Pass, body)
    }

    /// What this variant's code does, in a line.
    pub fn description(mut self, description: impl Into<Text>) -> Variant {
        self.description = description.into();
        self
    }

    /// What the miri suite does with this variant (see [`Miri`]).
    pub fn miri(mut self, miri: Miri) -> Variant {
        self.miri = miri;
        self
    }

    /// Marks the variant's bug as one that shows only under weak memory (see
    /// [`Variant::weak_memory`]).
    pub fn weak_memory(mut self) -> Variant {
        self.weak_memory = true;
        self
    }

    /// The body as the explorers take it.
    pub fn body(&self) -> Body {
        self.body.clone()
    }

    /// The body as a closure, for [`crate::check`] and [`crate::Check::explore`].
    pub fn as_fn(&self) -> impl Fn() + Send + Sync + 'static {
        let body = self.body.clone();
        move || body()
    }
}

impl fmt::Debug for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Variant")
            .field("name", &self.name)
            .field("expect", &self.expect)
            .field("description", &self.description)
            .field("miri", &self.miri)
            .field("weak_memory", &self.weak_memory)
            .finish_non_exhaustive()
    }
}

/// Scenarios as a lockhound target takes them: one [`Scenario`], or any collection of them.
pub trait IntoScenarios {
    fn into_scenarios(self) -> Vec<Scenario>;
}

impl IntoScenarios for Scenario {
    fn into_scenarios(self) -> Vec<Scenario> {
        vec![self]
    }
}

impl<I: IntoIterator<Item = Scenario>> IntoScenarios for I {
    fn into_scenarios(self) -> Vec<Scenario> {
        self.into_iter().collect()
    }
}
