use lockhound::{Backend, Check};
use std::time::Duration;
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let s = lockhound_scenarios::find(&args[1]).unwrap();
    let v = s.variant(&args[2]).unwrap();
    let b: Backend = args[3].parse().unwrap();
    let pb: Option<usize> = args.get(4).and_then(|x| x.parse().ok());
    let mut c = Check::new()
        .backend(b)
        .iterations(args.get(5).map(|x| x.parse().unwrap()).unwrap_or(10000))
        .time_limit(Duration::from_secs(120))
        .preemption_bound(pb);
    c.config.seed = 1;
    let body = v.body;
    let r = c.explore(body);
    println!(
        "execs={} elapsed={:?} exhaustive={} attempts={:?}",
        r.executions,
        r.elapsed,
        r.exhaustive,
        r.attempts.iter().map(|a| (a.backend, a.executions, a.elapsed)).collect::<Vec<_>>()
    );
    if let Some(f) = r.finding {
        println!(
            "{:?} {} @ {:?} by {} after {} ; sched len {}",
            f.kind,
            f.message,
            f.location,
            f.backend,
            f.executions,
            f.schedule.map(|s| s.to_string().len()).unwrap_or(0)
        );
    }
}
