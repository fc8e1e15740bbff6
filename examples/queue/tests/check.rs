//! lockhound inside an ordinary `#[test]`: `lockhound::check` explores the body under loom and
//! shuttle and fails the test with the finding and a replay line if anything fails.

use lockhound::sync::Arc;
use queue::BoundedQueue;

#[test]
fn items_pushed_by_two_threads_all_arrive() {
    lockhound::check(|| {
        let queue = Arc::new(BoundedQueue::new(1));
        let q = queue.clone();
        let producer = lockhound::thread::spawn(move || {
            q.push(1);
            q.push(2);
        });
        let got = [queue.pop(), queue.pop()];
        producer.join().unwrap();
        assert_eq!(got, [1, 2], "one producer's items arrive in order");
    });
}
