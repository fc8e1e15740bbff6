//! `try_push` never lets the queue grow past its capacity, however producers race for the
//! last slot: a scenario of one body, which must pass.

use lockhound::scenario::Scenario;
use lockhound::sync::Arc;
use lockhound::thread;
use queue::BoundedQueue;

pub fn scenario() -> Scenario {
    Scenario::new("capacity").summary("racing try_push calls never overfill the queue").body(|| {
        let queue = Arc::new(BoundedQueue::new(2));
        queue.push(0);
        let racers: Vec<_> = (1..=2)
            .map(|i| {
                let queue = queue.clone();
                thread::spawn(move || queue.try_push(i).is_ok())
            })
            .collect();
        let accepted = racers.into_iter().map(|r| r.join().unwrap()).filter(|&ok| ok).count();
        assert_eq!(accepted, 1, "exactly one racer gets the last slot");
        assert_eq!(queue.len(), queue.capacity(), "full, not over");
    })
}
