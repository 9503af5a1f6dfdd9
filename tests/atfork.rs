//! The atfork registry across real forks: the seed's scenario (another thread holds a lock when
//! the main thread forks) with and without protection, forks from a thread other than main,
//! forks while other threads register and drop handlers, POSIX handler order (glibc's
//! tst-atfork1 shape), a registration made during a fork taking part only in the next one, the
//! forking thread's own held locks (each kind), and registering from inside a handler.
//!
//! `harness = false` (see `support`): children use only the protected locks and raw memory,
//! then `_exit`; the parent checks every exit status.

mod support;

use std::cell::Cell;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use pthread_sync::{atfork, Error, ErrorCheckLocker, LockTimeoutError, Locker, RecursiveLocker};
use support::Outcome::{self, Passed};
use support::{fork_child, Case};

/// Forks; the child's exit code.
fn fork_and_wait(child: impl FnOnce() -> i32) -> i32 {
    fork_child(child).wait()
}

/// A pair that another thread keeps updating, both fields under the lock, with work between
/// the two writes: a child that gets the lock must see them equal.
static PAIR: Locker<[u64; 2]> = Locker::new([0, 0]);

/// Runs `f` while a second thread keeps taking `PAIR` and updating it halfway, pausing while
/// holding it; stops the thread after.
fn with_a_busy_holder<R>(f: impl FnOnce() -> R) -> R {
    let stop = AtomicBool::new(false);
    let started = Barrier::new(2);
    thread::scope(|s| {
        s.spawn(|| {
            started.wait();
            while !stop.load(Relaxed) {
                let mut g = PAIR.lock().unwrap();
                g[0] += 1;
                thread::sleep(Duration::from_micros(200));
                g[1] += 1;
            }
        });
        started.wait();
        thread::sleep(Duration::from_millis(5));
        let r = f();
        stop.store(true, Relaxed);
        r
    })
}

/// The child's check: the pair is free within a bound and whole.
fn child_gets_a_whole_pair() -> i32 {
    match PAIR.lock_timeout(Duration::from_secs(5)) {
        Ok(g) if g[0] == g[1] => 0,
        Ok(_) => 2,
        Err(LockTimeoutError::TimedOut) => 1,
        Err(LockTimeoutError::Poisoned(_)) => 3,
    }
}

/// The seed's program: without protection the child cannot get the lock another thread held
/// at the fork (`TimedOut`, never a real hang); with it, the child gets it, consistent.
fn seed_scenario_without_and_with_protection() -> Outcome {
    let unprotected = with_a_busy_holder(|| {
        (0..20)
            .map(|_| {
                fork_and_wait(|| match PAIR.lock_timeout(Duration::from_millis(20)) {
                    Err(LockTimeoutError::TimedOut) => 1,
                    Ok(_) => 0,
                    Err(_) => 3,
                })
            })
            .filter(|&code| code == 1)
            .count()
    });
    assert!(
        unprotected > 0,
        "without protection, some child must find the lock held by a thread it lacks"
    );
    let handle = atfork::protect(&PAIR).unwrap();
    with_a_busy_holder(|| {
        for _ in 0..20 {
            assert_eq!(fork_and_wait(child_gets_a_whole_pair), 0);
        }
    });
    drop(handle);
    Passed
}

/// The same from a thread other than main, with main as the busy holder's partner.
fn fork_from_another_thread() -> Outcome {
    let handle = atfork::protect(&PAIR).unwrap();
    with_a_busy_holder(|| {
        thread::scope(|s| {
            s.spawn(|| {
                for _ in 0..10 {
                    assert_eq!(fork_and_wait(child_gets_a_whole_pair), 0);
                }
            })
            .join()
            .unwrap()
        })
    });
    drop(handle);
    Passed
}

/// While two threads keep registering and dropping handlers, the main thread forks: no
/// deadlock, and every registration's handlers ran all-or-nothing (each `prepare` matched by
/// a `parent`), never after its drop returned.
fn forks_while_others_register_and_drop() -> Outcome {
    static VIOLATIONS: AtomicU32 = AtomicU32::new(0);
    let stop = AtomicBool::new(false);
    let forks = AtomicUsize::new(0);
    thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                while !stop.load(Relaxed) {
                    let prepared = Arc::new(AtomicU64::new(0));
                    let parented = Arc::new(AtomicU64::new(0));
                    let dropped = Arc::new(AtomicBool::new(false));
                    let (p, d1) = (Arc::clone(&prepared), Arc::clone(&dropped));
                    let (q, d2) = (Arc::clone(&parented), Arc::clone(&dropped));
                    let handle = atfork::register(
                        move || {
                            if d1.load(SeqCst) {
                                VIOLATIONS.fetch_add(1, SeqCst);
                            }
                            p.fetch_add(1, SeqCst);
                        },
                        move || {
                            if d2.load(SeqCst) {
                                VIOLATIONS.fetch_add(1, SeqCst);
                            }
                            q.fetch_add(1, SeqCst);
                        },
                        || {},
                    )
                    .unwrap();
                    thread::yield_now();
                    drop(handle);
                    dropped.store(true, SeqCst);
                    if prepared.load(SeqCst) != parented.load(SeqCst) {
                        VIOLATIONS.fetch_add(1, SeqCst);
                    }
                }
            });
        }
        for _ in 0..30 {
            assert_eq!(fork_and_wait(|| 0), 0);
            forks.fetch_add(1, Relaxed);
        }
        stop.store(true, Relaxed);
    });
    assert_eq!(forks.load(Relaxed), 30);
    assert_eq!(VIOLATIONS.load(SeqCst), 0);
    Passed
}

/// Handler order across two registrations (glibc's tst-atfork1 shape): prepare B then A,
/// parent A then B, child A then B.
fn posix_handler_order() -> Outcome {
    static LOG: AtomicU64 = AtomicU64::new(0);
    fn log(step: u64) {
        // Appends one hex digit (allocation-free, usable in the child).
        let _ = LOG.fetch_update(SeqCst, SeqCst, |v| Some(v << 4 | step));
    }
    let a = atfork::register(|| log(0xa), || log(0xb), || log(0xc)).unwrap();
    let b = atfork::register(|| log(0x1), || log(0x2), || log(0x3)).unwrap();
    LOG.store(0, SeqCst);
    // In the child: prepare B (1), prepare A (a), child A (c), child B (3).
    let code = fork_and_wait(|| if LOG.load(SeqCst) == 0x1ac3 { 0 } else { 1 });
    assert_eq!(code, 0, "child order");
    // In the parent: prepare B, prepare A, parent A (b), parent B (2).
    assert_eq!(LOG.load(SeqCst), 0x1ab2, "parent order");
    drop((a, b));
    LOG.store(0, SeqCst);
    assert_eq!(fork_and_wait(|| 0), 0);
    assert_eq!(LOG.load(SeqCst), 0, "dropped handles no longer run");
    Passed
}

/// A registration made (on another thread) while a fork is under way takes part only in the
/// next fork.
fn registered_during_a_fork_runs_in_the_next_one() -> Outcome {
    // Counts of the late registration's prepare, parent and child handlers (child: in the
    // child's memory, reported through its exit code).
    static LATE: [AtomicU32; 3] = [const { AtomicU32::new(0) }; 3];
    // When the first fork's parent phase ended, and when the late `register` returned.
    static PARENT_DONE: AtomicU64 = AtomicU64::new(0);
    let base = std::time::Instant::now();
    let in_prepare = Arc::new(Barrier::new(2));
    let first = Arc::new(AtomicBool::new(true));
    let (b, f, f2) = (
        Arc::clone(&in_prepare),
        Arc::clone(&first),
        Arc::clone(&first),
    );
    let slow = atfork::register(
        move || {
            if f.load(SeqCst) {
                b.wait(); // the registering thread starts now...
                thread::sleep(Duration::from_millis(100)); // ...and must wait for the fork
            }
        },
        move || {
            if f2.swap(false, SeqCst) {
                PARENT_DONE.store(base.elapsed().as_nanos() as u64, SeqCst);
            }
        },
        || {},
    )
    .unwrap();
    let (late, registered_at) = thread::scope(|s| {
        let registrar = s.spawn(|| {
            in_prepare.wait();
            let h = atfork::register(
                || {
                    LATE[0].fetch_add(1, SeqCst);
                },
                || {
                    LATE[1].fetch_add(1, SeqCst);
                },
                || {
                    LATE[2].fetch_add(1, SeqCst);
                },
            )
            .unwrap();
            (h, base.elapsed().as_nanos() as u64)
        });
        let child_saw = fork_and_wait(|| LATE[2].load(SeqCst) as i32);
        assert_eq!(
            child_saw, 0,
            "the late child handler ran in the fork under way"
        );
        registrar.join().unwrap()
    });
    let counts = || LATE.iter().map(|c| c.load(SeqCst)).collect::<Vec<_>>();
    assert_eq!(counts(), [0, 0, 0], "not part of the fork under way");
    assert!(
        registered_at >= PARENT_DONE.load(SeqCst),
        "register returned before that fork was over"
    );
    let child_saw = fork_and_wait(|| LATE[2].load(SeqCst) as i32);
    assert_eq!(child_saw, 1, "its child handler ran in the next fork");
    assert_eq!(counts()[..2], [1, 1], "part of the next one");
    drop((late, slow));
    Passed
}

/// Inside a child handler (the registry's lock still names a thread of the parent there):
/// registering is `Deadlock`, dropping a handle is deferred; neither aborts the child.
fn registry_calls_inside_a_child_handler() -> Outcome {
    static SLOT: Locker<Option<atfork::Handle>> = Locker::new(None);
    static REGISTER_IN_CHILD: AtomicU32 = AtomicU32::new(0);
    *SLOT.lock().unwrap() = Some(atfork::register(|| {}, || {}, || {}).unwrap());
    let h = atfork::register(
        || {},
        || {},
        || {
            let refused = matches!(atfork::register(|| {}, || {}, || {}), Err(Error::Deadlock));
            REGISTER_IN_CHILD.store(if refused { 1 } else { 2 }, SeqCst);
            drop(SLOT.lock().unwrap().take()); // deferred: no abort
        },
    )
    .unwrap();
    let code = fork_and_wait(|| {
        // After the handlers, the registry works again in the child.
        match (
            REGISTER_IN_CHILD.load(SeqCst),
            atfork::register(|| {}, || {}, || {}),
        ) {
            (1, Ok(_)) => 0,
            (r, _) => 10 + r as i32,
        }
    });
    assert_eq!(code, 0);
    drop(h);
    drop(SLOT.lock().unwrap().take());
    Passed
}

/// A protected errorcheck lock leaked by a thread that exited holding it: forks do not hang
/// in `prepare`, and the child sees `OwnerGone`, as without protection.
fn a_protected_lock_leaked_by_an_exited_thread_does_not_hang_fork() -> Outcome {
    static LEAKED: ErrorCheckLocker<u32> = ErrorCheckLocker::new(0);
    let handle = atfork::protect(&LEAKED).unwrap();
    thread::spawn(|| std::mem::forget(LEAKED.lock().unwrap()))
        .join()
        .unwrap();
    for _ in 0..3 {
        let code = fork_and_wait(|| match LEAKED.try_lock().map(|_| ()) {
            Err(Error::OwnerGone) | Err(Error::WouldBlock) => 0,
            _ => 1,
        });
        assert_eq!(code, 0);
    }
    drop(handle);
    Passed
}

static E: ErrorCheckLocker<u32> = ErrorCheckLocker::new(0);
static R: RecursiveLocker<Cell<u32>> = RecursiveLocker::new(Cell::new(0));
static N: Locker<u32> = Locker::new(0);

/// Locks the forking thread itself holds (each kind): in the child they stay held by the
/// child's thread, usable through the inherited guards, and released by them; the parent is
/// unaffected. (Without protection the errorcheck and recursive ones report `OwnerGone` in
/// the child: see `tests/fork.rs`.)
fn the_forking_threads_own_locks() -> Outcome {
    let handles = [
        atfork::protect(&E).unwrap(),
        atfork::protect(&R).unwrap(),
        atfork::protect(&N).unwrap(),
    ];
    let mut e = E.lock().unwrap();
    let r = R.lock();
    let mut n = N.lock().unwrap();
    *e = 1;
    *n = 1;
    let child = fork_child(|| {
        // Held by this (the child's) thread: relock is Deadlock, re-entry counts.
        if E.lock().map(|_| ()) != Err(Error::Deadlock) {
            return 1;
        }
        let again = R.lock();
        again.set(2);
        drop(again);
        // The inherited guards release them...
        // SAFETY: the guards are the child's copies; the parent's are never dropped here
        // (the child leaves with `_exit`).
        unsafe {
            drop(std::ptr::read(&e));
            drop(std::ptr::read(&r));
            drop(std::ptr::read(&n));
        }
        // ...and they are free afterwards.
        match (E.try_lock(), R.try_lock(), N.try_lock()) {
            (Ok(e), Ok(r), Ok(n)) if *e == 1 && r.get() == 2 && *n == 1 => 0,
            _ => 2,
        }
    });
    assert_eq!(child.wait(), 0);
    *e += 1;
    *n += 1;
    drop((e, r, n));
    assert_eq!(
        (*E.lock().unwrap(), R.lock().get(), *N.lock().unwrap()),
        (2, 0, 2)
    );
    drop(handles);
    Passed
}

/// Locks of each kind held by another thread at the fork: the child gets every one.
fn other_threads_locks_of_each_kind() -> Outcome {
    let handles = [
        atfork::protect(&E).unwrap(),
        atfork::protect(&R).unwrap(),
        atfork::protect(&N).unwrap(),
    ];
    let (held, forked) = (Barrier::new(2), Barrier::new(2));
    thread::scope(|s| {
        s.spawn(|| {
            let _g = (E.lock().unwrap(), R.lock(), N.lock().unwrap());
            held.wait();
            forked.wait();
        });
        held.wait();
        // `prepare` waits for the holder, which waits for `forked`: release it from a timer.
        let release = s.spawn(|| {
            thread::sleep(Duration::from_millis(50));
            forked.wait();
        });
        let code = fork_and_wait(|| {
            let d = Duration::from_secs(5);
            match (E.lock_timeout(d), R.lock_timeout(d), N.lock_timeout(d)) {
                (Ok(_), Ok(_), Ok(_)) => 0,
                _ => 1,
            }
        });
        release.join().unwrap();
        assert_eq!(code, 0);
    });
    drop(handles);
    Passed
}

/// Registering from inside a fork handler is refused (`Deadlock`), never a hang; the fork
/// completes.
fn registering_inside_a_handler_is_refused() -> Outcome {
    static REFUSED: AtomicBool = AtomicBool::new(false);
    let h = atfork::register(
        || {
            let inner = atfork::register(|| {}, || {}, || {});
            REFUSED.store(matches!(inner, Err(Error::Deadlock)), SeqCst);
        },
        || {},
        || {},
    )
    .unwrap();
    assert_eq!(fork_and_wait(|| 0), 0);
    assert!(REFUSED.load(SeqCst));
    drop(h);
    Passed
}

fn main() {
    let cases: &[Case] = &[
        (
            "seed_scenario_without_and_with_protection",
            seed_scenario_without_and_with_protection,
        ),
        ("fork_from_another_thread", fork_from_another_thread),
        (
            "forks_while_others_register_and_drop",
            forks_while_others_register_and_drop,
        ),
        ("posix_handler_order", posix_handler_order),
        (
            "registered_during_a_fork_runs_in_the_next_one",
            registered_during_a_fork_runs_in_the_next_one,
        ),
        (
            "the_forking_threads_own_locks",
            the_forking_threads_own_locks,
        ),
        (
            "other_threads_locks_of_each_kind",
            other_threads_locks_of_each_kind,
        ),
        (
            "registering_inside_a_handler_is_refused",
            registering_inside_a_handler_is_refused,
        ),
        (
            "registry_calls_inside_a_child_handler",
            registry_calls_inside_a_child_handler,
        ),
        (
            "a_protected_lock_leaked_by_an_exited_thread_does_not_hang_fork",
            a_protected_lock_leaked_by_an_exited_thread_does_not_hang_fork,
        ),
    ];
    support::run(cases);
}
