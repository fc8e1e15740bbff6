use lockhound::sync::{Arc, Mutex};
use lockhound::{thread, Backend, Check};
fn abba() {
    let a = Arc::new(Mutex::new(()));
    let b = Arc::new(Mutex::new(()));
    let (a2, b2) = (a.clone(), b.clone());
    let t = thread::spawn(move || {
        let _x = a2.lock().unwrap();
        let _y = b2.lock().unwrap();
    });
    {
        let _y = b.lock().unwrap();
        let _x = a.lock().unwrap();
    }
    t.join().unwrap();
}
fn main() {
    let b: Backend = std::env::args().nth(1).unwrap().parse().unwrap();
    let r = Check::new().backend(b).iterations(1000).explore(abba);
    println!("{:?}", r.finding.map(|f| (f.kind, f.message)));
}
