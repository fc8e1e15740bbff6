//! A failing execution's trace, as text and as JSON. The text form is the harness's own
//! (`lockhound::trace::text`), since `lockhound::check` shows it in a user's failing test and a
//! user's crate depends on `lockhound` alone; it is re-exported here so that every report
//! reaches traces through this crate. The JSON keeps every event as recorded.

pub use lockhound::trace::text::{hex, label, text, value};
use lockhound::trace::Trace;

/// The trace as JSON: every event, as recorded.
pub fn json(trace: &Trace) -> serde_json::Value {
    serde_json::to_value(trace).expect("traces always serialize")
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockhound::trace::{Event, Object, Scalar, SourceLine, Value};

    #[test]
    fn the_json_keeps_every_step_the_text_condenses() {
        let flag = Object {
            kind: "AtomicBool".to_string(),
            name: None,
            created: SourceLine { file: "src/spin.rs".to_string(), line: 3 },
            instance: 1,
        };
        let events: Vec<Event> = (1..=1000)
            .map(|step| Event {
                step,
                thread: 0,
                object: Some(flag.clone()),
                op: "load".to_string(),
                value: Some(Value::Read(Scalar::Bool(false))),
                location: Some(SourceLine { file: "src/spin.rs".to_string(), line: 8 }),
                switched: false,
                preempted: false,
                blocked: false,
            })
            .collect();
        let trace = Trace { threads: 1, events, failure: None };
        assert!(text(&trace).lines().count() < 10, "{}", text(&trace));
        let json = json(&trace);
        let events = json["events"].as_array().expect("an array of events");
        assert_eq!(events.len(), 1000);
        assert_eq!(events[999]["step"], 1000);
        assert_eq!(events[0]["value"], serde_json::json!({ "read": { "bool": false } }));
    }
}
