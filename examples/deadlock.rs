//! Two threads take two mutexes in opposite order: the classic lock-order deadlock.
//!
//! With plain `lock()` this program would hang forever. Here each thread takes its second
//! mutex with `lock_timeout`; on a timeout it releases the first one, backs off, and retries,
//! so both finish. Then a self-deadlock (relocking a mutex the thread already holds) is caught
//! by `ErrorCheckLocker` as `Error::Deadlock` instead of hanging.
//!
//! Last, the checked run: with lock-order checking on (`pthread_sync::lock_order`), the same
//! opposite-order program is reported on its first run, at the acquisition that closes the
//! cycle and before it blocks, on a run where the timing did not make it hang (the threads
//! run one after the other). Nothing was waited for, no timeout was needed: the mistake is
//! found the first time the order is taken, not the day it hangs.
//!
//! Run: `cargo run --example deadlock`. With `PTHREAD_SYNC_LOCK_ORDER=report` in the
//! environment, the first part's inversion is reported on standard error too (with `abort`,
//! the program aborts there).

use pthread_sync::lock_order::{self, Mode, Report};
use pthread_sync::{Error, ErrorCheckLocker, LockTimeoutError, Locker};
use std::sync::{Arc, Barrier, Mutex};
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
    drop(_held);

    checked_run();
}

/// The text of each report the hook received.
static REPORTS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn keep(report: &Report) {
    REPORTS.lock().unwrap().push(report.to_string());
}

/// The opposite-order program with checking on: reported at its first inversion, though no
/// thread ever waits.
fn checked_run() {
    println!("the same mistake found by lock-order checking, on a run that did not hang:");
    lock_order::set_hook(Some(keep));
    lock_order::set_mode(Mode::Report);
    let a = Arc::new(Locker::new(100i64));
    let b = Arc::new(Locker::new(100i64));
    lock_order::name(&*a, "account a");
    lock_order::name(&*b, "account b");
    let move_money = |first: &Locker<i64>, second: &Locker<i64>, amount: i64| {
        let mut from = first.lock().unwrap();
        let mut to = second.lock().unwrap();
        *from -= amount;
        *to += amount;
    };
    // One thread after the other: the timing cannot make this run hang.
    for (first, second, amount) in [(&a, &b, 10), (&b, &a, 30)] {
        let (first, second) = (Arc::clone(first), Arc::clone(second));
        thread::spawn(move || move_money(&first, &second, amount))
            .join()
            .unwrap();
    }
    lock_order::set_mode(Mode::Off);
    lock_order::set_hook(None);
    let reports = std::mem::take(&mut *REPORTS.lock().unwrap());
    for r in &reports {
        for line in r.lines() {
            println!("  {line}");
        }
    }
    assert_eq!(reports.len(), 1, "the inversion was not reported once");
    assert!(reports[0].contains("account a") && reports[0].contains("account b"));
    assert_eq!(*a.lock().unwrap() + *b.lock().unwrap(), 200);
}
