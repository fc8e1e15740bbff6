//! `shuttle::thread`: lockhound's threads. shuttle's `spawn` asks for `Send`, like std's and
//! lockhound's, so shuttle tests may also run on real threads (`LOCKHOUND_BACKEND=stress`).

pub use lockhound::thread::*;
