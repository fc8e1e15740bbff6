//! `lockhound check`: the CI gate (in progress).

use crate::{Outcome, UsageError};
use clap::Args;

#[derive(Args)]
pub struct CheckArgs {}

pub fn check(_args: CheckArgs) -> Result<Outcome, UsageError> {
    Err(UsageError("check is not built yet".into()))
}
