//! Two threads take two mutexes in opposite order: the classic lock-order deadlock.
//!
//! With plain `lock()` this program would hang forever. Here each thread takes its second
//! mutex with `lock_timeout`; on a timeout it releases the first one, backs off, and retries,
//! so both finish. Then a self-deadlock (relocking a mutex the thread already holds) is caught
//! by `ErrorCheckLocker` as `Error::Deadlock` instead of hanging.
//!
//! Run: `cargo run --example deadlock`

use pthread_sync::{Error, ErrorCheckLocker, LockTimeoutError, Locker};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

/// Takes `first`, then `second` with a timeout; on timeout, releases `first`, backs off
/// (longer for each failed attempt, and differently per thread so they stop colliding), and
/// retries. Returns how many attempts it took.
fn transfer(
    name: &str,
    first: &Locker<i64>,
    second: &Locker<i64>,
    amount: i64,
    backoff: Duration,
    start: &Barrier,
) -> u32 {
    start.wait();
    for attempt in 1.. {
        let mut from = first.lock().unwrap();
        // Both threads now hold their first lock: without a timeout, each would wait forever
        // for the other's.
        thread::sleep(Duration::from_millis(5));
        match second.lock_timeout(Duration::from_millis(20)) {
            Ok(mut to) => {
                *from -= amount;
                *to += amount;
                println!("  {name}: moved {amount} on attempt {attempt}");
                return attempt;
            }
            Err(LockTimeoutError::TimedOut) => {
                println!("  {name}: attempt {attempt} timed out; releasing and backing off");
                drop(from);
                thread::sleep(backoff * attempt);
            }
            Err(LockTimeoutError::Poisoned(e)) => panic!("poisoned: {e}"),
        }
    }
    unreachable!()
}

fn main() {
    println!("lock-order deadlock avoided with lock_timeout and back-off:");
    let a = Arc::new(Locker::new(100i64));
    let b = Arc::new(Locker::new(100i64));
    let start = Arc::new(Barrier::new(2));
    let t1 = {
        let (a, b, start) = (Arc::clone(&a), Arc::clone(&b), Arc::clone(&start));
        thread::spawn(move || {
            transfer(
                "thread 1 (a then b)",
                &a,
                &b,
                10,
                Duration::from_millis(3),
                &start,
            )
        })
    };
    let t2 = {
        let (a, b, start) = (Arc::clone(&a), Arc::clone(&b), Arc::clone(&start));
        thread::spawn(move || {
            transfer(
                "thread 2 (b then a)",
                &b,
                &a,
                30,
                Duration::from_millis(11),
                &start,
            )
        })
    };
    let (n1, n2) = (t1.join().unwrap(), t2.join().unwrap());
    let (a, b) = (*a.lock().unwrap(), *b.lock().unwrap());
    println!(
        "  both done ({n1} and {n2} attempts); a = {a}, b = {b}, total = {}",
        a + b
    );
    assert_eq!(a + b, 200, "money was created or lost");

    println!("self-deadlock caught by ErrorCheckLocker:");
    let m = ErrorCheckLocker::new(0);
    let _held = m.lock().unwrap();
    match m.lock() {
        Err(Error::Deadlock) => println!(
            "  relock by the owner -> Err(Deadlock): {}",
            Error::Deadlock
        ),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("relock succeeded?"),
    };
}
