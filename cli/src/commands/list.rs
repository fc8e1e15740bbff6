use crate::{output, Outcome, UsageError};

pub fn list(json: bool) -> Result<Outcome, UsageError> {
    let catalog = lockhound_scenarios::catalog();
    if json {
        output::print_json(&lockhound_reports::catalog::json(catalog));
    } else {
        print!("{}", lockhound_reports::catalog::text(catalog));
    }
    Ok(Outcome::Clean)
}
