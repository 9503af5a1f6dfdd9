//! Behaviour and error paths of `Cond`.

use pthread_sync::{Cond, ErrorCheckLocker, Locker};
use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

#[test]
fn no_lost_wakeups_with_many_producers_and_consumers() {
    const PRODUCERS: usize = 4;
    const CONSUMERS: usize = 4;
    const PER_PRODUCER: usize = 5_000;
    struct Q {
        items: Locker<(VecDeque<usize>, usize)>, // (queue, producers finished)
        not_empty: Cond,
    }
    let q = Arc::new(Q {
        items: Locker::new((VecDeque::new(), 0)),
        not_empty: Cond::new(),
    });
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let q = Arc::clone(&q);
            thread::spawn(move || {
                for i in 0..PER_PRODUCER {
                    q.items.lock().unwrap().0.push_back(p * PER_PRODUCER + i);
                    q.not_empty.notify_one();
                }
                q.items.lock().unwrap().1 += 1;
                q.not_empty.notify_all();
            })
        })
        .collect();
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|_| {
            let q = Arc::clone(&q);
            thread::spawn(move || {
                let (mut count, mut sum) = (0usize, 0usize);
                loop {
                    let mut g = q
                        .not_empty
                        .wait_while(q.items.lock().unwrap(), |(items, done)| {
                            items.is_empty() && *done < PRODUCERS
                        })
                        .unwrap();
                    match g.0.pop_front() {
                        Some(v) => {
                            count += 1;
                            sum += v;
                        }
                        None => return (count, sum), // empty and every producer done
                    }
                }
            })
        })
        .collect();
    for p in producers {
        p.join().unwrap();
    }
    let (count, sum) = consumers
        .into_iter()
        .map(|c| c.join().unwrap())
        .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    let n = PRODUCERS * PER_PRODUCER;
    assert_eq!(count, n);
    assert_eq!(sum, n * (n - 1) / 2);
}

#[test]
fn notify_all_wakes_every_waiter() {
    const WAITERS: usize = 6;
    let state = Arc::new((Locker::new((false, 0usize)), Cond::new()));
    let woken = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..WAITERS)
        .map(|_| {
            let (state, woken) = (Arc::clone(&state), Arc::clone(&woken));
            thread::spawn(move || {
                let mut g = state.0.lock().unwrap();
                g.1 += 1; // registered as waiting (under the lock)
                while !g.0 {
                    g = state.1.wait(g).unwrap();
                }
                woken.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    // Wait until every waiter has registered; each registered waiter is then inside `wait`
    // (or about to re-check the flag under the lock), so one broadcast must reach all.
    loop {
        let mut g = state.0.lock().unwrap();
        if g.1 == WAITERS {
            g.0 = true;
            break;
        }
        drop(g);
        thread::sleep(Duration::from_millis(1));
    }
    // One broadcast; every waiter must wake (none is woken by anything else).
    state.1.notify_all();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(woken.load(Ordering::SeqCst), WAITERS);
}

#[test]
fn wait_timeout_times_out_after_at_least_the_duration() {
    let (m, c) = (Locker::new(()), Cond::new());
    let dur = Duration::from_millis(40);
    let start = Instant::now();
    let (_g, res) = c.wait_timeout(m.lock().unwrap(), dur).unwrap();
    // A spurious wake-up could end it early; glibc does not produce them without a notify.
    assert!(res.timed_out());
    assert!(
        start.elapsed() >= dur,
        "returned after {:?}",
        start.elapsed()
    );
}

#[test]
fn wait_timeout_while_uses_one_deadline_and_reports_the_condition() {
    let state = Arc::new((Locker::new(0u32), Cond::new()));
    // Notified often but the condition stays true: still one deadline for the whole wait.
    let stop = Arc::new(AtomicUsize::new(0));
    let noisy = {
        let (state, stop) = (Arc::clone(&state), Arc::clone(&stop));
        thread::spawn(move || {
            // Bounded, so a wait that restarted its deadline at each wake-up would end when
            // this stops (after 5 s) and fail the check below, instead of hanging.
            let until = Instant::now() + Duration::from_secs(5);
            while stop.load(Ordering::SeqCst) == 0 && Instant::now() < until {
                state.1.notify_all();
                thread::sleep(Duration::from_millis(2));
            }
        })
    };
    let dur = Duration::from_millis(60);
    let start = Instant::now();
    let (g, res) = state
        .1
        .wait_timeout_while(state.0.lock().unwrap(), dur, |v| *v == 0)
        .unwrap();
    let elapsed = start.elapsed();
    assert!(res.timed_out());
    assert_eq!(*g, 0);
    assert!(elapsed >= dur, "returned after {elapsed:?}");
    assert!(
        elapsed < dur * 20,
        "the deadline was restarted: {elapsed:?}"
    );
    drop(g);
    stop.store(1, Ordering::SeqCst);
    noisy.join().unwrap();

    // The condition turning false in time: not timed out.
    let setter = {
        let state = Arc::clone(&state);
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(10));
            *state.0.lock().unwrap() = 7;
            state.1.notify_one();
        })
    };
    let (g, res) = state
        .1
        .wait_timeout_while(state.0.lock().unwrap(), Duration::from_secs(60), |v| {
            *v == 0
        })
        .unwrap();
    assert!(!res.timed_out());
    assert_eq!(*g, 7);
    drop(g);
    setter.join().unwrap();
}

#[test]
fn wait_timeout_with_a_huge_duration_still_waits_for_the_notify() {
    let state = Arc::new((Locker::new(false), Cond::new()));
    let s2 = Arc::clone(&state);
    let waiter = thread::spawn(move || {
        let (g, res) =
            s2.1.wait_timeout_while(s2.0.lock().unwrap(), Duration::MAX, |ready| !*ready)
                .unwrap();
        (*g, res.timed_out())
    });
    thread::sleep(Duration::from_millis(30));
    assert!(!waiter.is_finished(), "Duration::MAX wait returned early");
    *state.0.lock().unwrap() = true;
    state.1.notify_one();
    assert_eq!(waiter.join().unwrap(), (true, false));
}

#[test]
fn works_with_errorcheck_guards() {
    let state = Arc::new((ErrorCheckLocker::new(0u32), Cond::new()));
    let s2 = Arc::clone(&state);
    let t = thread::spawn(move || {
        for _ in 0..100 {
            *s2.0.lock().unwrap() += 1;
            s2.1.notify_one();
        }
    });
    let g = state
        .1
        .wait_while(state.0.lock().unwrap(), |n| *n < 100)
        .unwrap();
    assert_eq!(*g, 100);
    // The mutex is held again after the wait: relocking is still caught.
    assert_eq!(state.0.lock().unwrap_err(), pthread_sync::Error::Deadlock);
    drop(g);
    t.join().unwrap();
    let (g, res) = state
        .1
        .wait_timeout(state.0.lock().unwrap(), Duration::from_millis(5))
        .unwrap();
    assert!(res.timed_out());
    drop(g);
}

fn panic_message(err: Box<dyn std::any::Any + Send>) -> String {
    err.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| err.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

#[test]
fn two_mutexes_at_once_are_refused() {
    // (waiting, go)
    let state = Arc::new((Locker::new((false, false)), Cond::new()));
    // A thread waits on the Cond with the first mutex...
    let s2 = Arc::clone(&state);
    let waiter = thread::spawn(move || {
        let mut g = s2.0.lock().unwrap();
        g.0 = true;
        let g = s2.1.wait_while(g, |(_, go)| !*go).unwrap();
        g.1
    });
    // ...and is inside the wait once the flag it set under the lock is visible to us: it
    // only releases the lock by entering the wait.
    while !state.0.lock().unwrap().0 {
        thread::sleep(Duration::from_millis(1));
    }
    // ...so waiting on it with another mutex meanwhile is refused, before any pthread call.
    let other = Locker::new(());
    let err = catch_unwind(AssertUnwindSafe(|| {
        let _ = state
            .1
            .wait_timeout(other.lock().unwrap(), Duration::from_millis(1));
    }))
    .unwrap_err();
    let msg = panic_message(err);
    assert!(msg.contains("two different mutexes"), "{msg}");
    // An errorcheck mutex is another mutex too.
    let e = ErrorCheckLocker::new(());
    assert!(catch_unwind(AssertUnwindSafe(|| {
        let _ = state
            .1
            .wait_timeout(e.lock().unwrap(), Duration::from_millis(1));
    }))
    .is_err());
    // The refusals did not disturb the waiter: it is woken normally.
    state.0.lock().unwrap().1 = true;
    state.1.notify_all();
    assert!(waiter.join().unwrap());
}

#[test]
fn once_the_waiters_are_gone_another_mutex_may_be_used() {
    // POSIX's dynamic binding: a condvar is bound to a mutex only while waits are in
    // progress. Sequential use with different mutexes is fine (as with std).
    let c = Cond::new();
    {
        // A first mutex, gone before the others are made.
        let a = Locker::new(());
        let (_g, res) = c
            .wait_timeout(a.lock().unwrap(), Duration::from_millis(1))
            .unwrap();
        assert!(res.timed_out());
    }
    for _ in 0..3 {
        let b = Locker::new(1);
        let (g, res) = c
            .wait_timeout(b.lock().unwrap(), Duration::from_millis(1))
            .unwrap();
        assert!(res.timed_out());
        assert_eq!(*g, 1);
        drop(g);
        assert!(!b.is_poisoned());
    }
    let e = ErrorCheckLocker::new(());
    assert!(c
        .wait_timeout(e.lock().unwrap(), Duration::from_millis(1))
        .is_ok());
}

#[test]
fn poisoning_propagates_through_wait() {
    let state = Arc::new((Locker::new(false), Cond::new(), Barrier::new(2)));
    let s2 = Arc::clone(&state);
    let waiter = thread::spawn(move || {
        let g = s2.0.lock().unwrap();
        s2.2.wait(); // the poisoner can only lock once we are inside `wait`
        let r = s2.1.wait_while(g, |done| !*done);
        match r {
            Err(poisoned) => *poisoned.into_inner(),
            Ok(_) => panic!("expected the wait to report poisoning"),
        }
    });
    state.2.wait();
    let s3 = Arc::clone(&state);
    let _ = thread::spawn(move || {
        let mut g = s3.0.lock().unwrap();
        *g = true;
        s3.1.notify_all();
        panic!("poison while the other thread waits");
    })
    .join();
    assert!(waiter.join().unwrap());
    assert!(state.0.is_poisoned());
    // wait_timeout reports it too, with the guard and the timeout result inside.
    let err = state
        .1
        .wait_timeout(
            state.0.lock().unwrap_or_else(|e| e.into_inner()),
            Duration::from_millis(1),
        )
        .unwrap_err();
    let (g, res) = err.into_inner();
    assert!(*g && res.timed_out());
}

static STATIC_STATE: Locker<u32> = Locker::new(0);
static STATIC_COND: Cond = Cond::new();

#[test]
fn static_cond_works() {
    let t = thread::spawn(|| {
        *STATIC_STATE.lock().unwrap() = 1;
        STATIC_COND.notify_all();
    });
    let g = STATIC_COND
        .wait_while(STATIC_STATE.lock().unwrap(), |v| *v == 0)
        .unwrap();
    assert_eq!(*g, 1);
    drop(g);
    t.join().unwrap();
}

#[test]
fn notify_without_waiters_and_debug_default() {
    let c = Cond::default();
    c.notify_one();
    c.notify_all();
    assert_eq!(format!("{c:?}"), "Condvar { .. }");
}

/// Runs `wait` (a `wait_timeout_while` whose condition is never met) while another thread
/// calls `notify` in a loop for up to 5 s: the wait must report a timeout and return with the
/// storm still on. (That the loop ends at the deadline however often it is woken is the unit
/// test `cond::tests::wait_timeout_while_ends_at_the_deadline_though_every_wait_says_woken`;
/// here a storm's waits still time out now and then.)
fn under_a_notification_storm(notify: impl Fn() + Sync, wait: impl FnOnce() -> bool) {
    use std::sync::atomic::AtomicBool;
    let done = AtomicBool::new(false);
    let storm_gave_up = AtomicBool::new(false);
    thread::scope(|s| {
        s.spawn(|| {
            let start = Instant::now();
            while !done.load(Ordering::Relaxed) {
                if start.elapsed() > Duration::from_secs(5) {
                    storm_gave_up.store(true, Ordering::Relaxed);
                    return;
                }
                notify();
            }
        });
        let timed_out = wait();
        let ended_by_storm = storm_gave_up.load(Ordering::Relaxed);
        done.store(true, Ordering::Relaxed);
        assert!(timed_out, "the condition was never met");
        assert!(
            !ended_by_storm,
            "the wait returned only once the notifications stopped"
        );
    });
}

/// `wait_timeout_while` ends at its deadline while notifications keep waking it, the
/// condition never met: the same scenario on std's `Condvar` (the anchor), on `Cond` and on
/// `SharedCond` (whose waits also end every 20 ms look that finds the sequence word moved).
#[test]
fn wait_timeout_while_ends_at_its_deadline_under_a_notification_storm() {
    use pthread_sync::shm::{ShmBox, ShmSafe};
    use pthread_sync::{SharedCond, SharedLocker};
    const DUR: Duration = Duration::from_millis(50);

    // One scenario, word for word, on std's pair and on the crate's (which is why a macro).
    macro_rules! storm_on {
        ($mutex:expr, $cond:expr) => {{
            let (m, c) = ($mutex, $cond);
            under_a_notification_storm(
                || c.notify_all(),
                || {
                    let (_g, r) = c
                        .wait_timeout_while(m.lock().unwrap(), DUR, |_| true)
                        .unwrap();
                    r.timed_out()
                },
            );
        }};
    }
    storm_on!(std::sync::Mutex::new(()), std::sync::Condvar::new());
    storm_on!(Locker::new(()), Cond::new());

    #[repr(C)]
    struct Pair {
        lock: SharedLocker<()>,
        cond: SharedCond,
    }
    // SAFETY: #[repr(C)], shared primitives only.
    unsafe impl ShmSafe for Pair {}
    let pair = ShmBox::anonymous(Pair {
        lock: SharedLocker::new(()),
        cond: SharedCond::new(),
    })
    .unwrap();
    under_a_notification_storm(
        || pair.cond.notify_all(),
        || {
            let g = pair.lock.lock().unwrap();
            let (_g, r) = pair.cond.wait_timeout_while(g, DUR, |_| true).unwrap();
            r.timed_out()
        },
    );
}
