use super::Context;
use crate::{output, Outcome, UsageError};

pub fn list(cx: &Context<'_>, json: bool) -> Result<Outcome, UsageError> {
    let scenarios = cx.catalog.scenarios();
    if json {
        output::print_json(&lockhound_reports::catalog::json(scenarios));
    } else {
        output::print(&lockhound_reports::catalog::text(scenarios));
    }
    Ok(Outcome::Clean)
}
