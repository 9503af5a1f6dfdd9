//! Behaviour and error paths of the Locker family (normal, errorcheck, recursive).

use pthread_sync::{
    Error, ErrorCheckLocker, LockTimeoutError, Locker, RecursiveLocker, TryLockError,
};
use std::cell::Cell;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn lockers_are_send_and_sync() {
    assert_send_sync::<Locker<Vec<u8>>>();
    assert_send_sync::<ErrorCheckLocker<Vec<u8>>>();
    assert_send_sync::<RecursiveLocker<Cell<u8>>>();
    // Guards are Sync for T: Sync (as std's), never Send (checked by compile_fail doctests).
    assert_send_sync::<Arc<Locker<Cell<u8>>>>();
}

#[test]
fn eight_threads_count_exactly() {
    const THREADS: usize = 8;
    const ITERS: usize = 20_000;
    let m = Arc::new(Locker::new(0usize));
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let m = Arc::clone(&m);
            thread::spawn(move || {
                for _ in 0..ITERS {
                    *m.lock().unwrap() += 1;
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(*m.lock().unwrap(), THREADS * ITERS);
}

static STATIC_COUNTER: Locker<u64> = Locker::new(0);
static STATIC_ERRORCHECK: ErrorCheckLocker<u64> = ErrorCheckLocker::new(0);
static STATIC_RECURSIVE: RecursiveLocker<Cell<u64>> = RecursiveLocker::new(Cell::new(0));

#[test]
fn statics_from_many_threads() {
    // All threads start together so the first use (the lazy pthread init) races.
    const THREADS: usize = 8;
    const ITERS: u64 = 5_000;
    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                barrier.wait();
                for _ in 0..ITERS {
                    *STATIC_COUNTER.lock().unwrap() += 1;
                    *STATIC_ERRORCHECK.lock().unwrap() += 1;
                    let g = STATIC_RECURSIVE.lock();
                    let inner = STATIC_RECURSIVE.lock();
                    inner.set(g.get() + 1);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let total = THREADS as u64 * ITERS;
    assert_eq!(*STATIC_COUNTER.lock().unwrap(), total);
    assert_eq!(*STATIC_ERRORCHECK.lock().unwrap(), total);
    assert_eq!(STATIC_RECURSIVE.lock().get(), total);
}

#[test]
fn poisoning_across_a_panicking_thread() {
    let m = Arc::new(Locker::new(1));
    assert!(!m.is_poisoned());
    let m2 = Arc::clone(&m);
    let joined = thread::spawn(move || {
        let mut g = m2.lock().unwrap();
        *g = 2;
        panic!("panic while holding the lock");
    })
    .join();
    assert!(joined.is_err());
    assert!(m.is_poisoned());

    // lock: Err, with a working guard inside.
    let err = m.lock().unwrap_err();
    assert_eq!(**err.get_ref(), 2);
    drop(err);
    // try_lock: Poisoned, not WouldBlock.
    match m.try_lock() {
        Err(TryLockError::Poisoned(e)) => assert_eq!(*e.into_inner(), 2),
        other => panic!("expected Poisoned, got {other:?}"),
    }
    // lock_timeout: Poisoned too.
    match m.lock_timeout(Duration::from_secs(1)) {
        Err(LockTimeoutError::Poisoned(e)) => assert_eq!(*e.into_inner(), 2),
        other => panic!("expected Poisoned, got {other:?}"),
    }
    // The poison survives an ordinary lock/unlock; clear_poison removes it.
    assert!(m.is_poisoned());
    m.clear_poison();
    assert!(!m.is_poisoned());
    assert_eq!(*m.lock().unwrap(), 2);
}

#[test]
fn poisoned_get_mut_and_into_inner() {
    let mut m = Locker::new(String::from("a"));
    let r = std::panic::catch_unwind(|| {
        let _g = m.lock().unwrap();
        panic!("poison");
    });
    assert!(r.is_err());
    m.get_mut().unwrap_err().into_inner().push('b');
    assert_eq!(m.into_inner().unwrap_err().into_inner(), "ab");
}

#[test]
fn a_guard_taken_while_panicking_does_not_poison() {
    // As std: only a panic that starts while the guard is held poisons.
    struct LockOnDrop<'a>(&'a Locker<i32>);
    impl Drop for LockOnDrop<'_> {
        fn drop(&mut self) {
            *self.0.lock().unwrap() += 1;
        }
    }
    let m = Locker::new(0);
    let r = std::panic::catch_unwind(|| {
        let _d = LockOnDrop(&m);
        panic!("unwind through a drop that locks");
    });
    assert!(r.is_err());
    assert!(!m.is_poisoned());
    assert_eq!(*m.lock().unwrap(), 1);
}

#[test]
fn try_lock_would_block_from_this_and_other_threads() {
    let m = Arc::new(Locker::new(0));
    let g = m.lock().unwrap();
    assert!(matches!(m.try_lock(), Err(TryLockError::WouldBlock)));
    let m2 = Arc::clone(&m);
    let other = thread::spawn(move || matches!(m2.try_lock(), Err(TryLockError::WouldBlock)));
    assert!(other.join().unwrap());
    drop(g);
    assert!(m.try_lock().is_ok());
}

#[test]
fn lock_timeout_times_out_after_at_least_the_duration() {
    let m = Arc::new(Locker::new(0));
    let g = m.lock().unwrap();
    let m2 = Arc::clone(&m);
    let dur = Duration::from_millis(50);
    let waited = thread::spawn(move || {
        let start = Instant::now(); // Instant is CLOCK_MONOTONIC on Linux
        let r = m2.lock_timeout(dur);
        (
            matches!(r, Err(LockTimeoutError::TimedOut)),
            start.elapsed(),
        )
    })
    .join()
    .unwrap();
    assert!(waited.0, "expected TimedOut");
    assert!(waited.1 >= dur, "returned after {:?} < {dur:?}", waited.1);
    drop(g);
}

#[test]
fn lock_timeout_acquires_when_released_in_time() {
    let m = Arc::new(Locker::new(0));
    let g = m.lock().unwrap();
    let m2 = Arc::clone(&m);
    let waiter = thread::spawn(move || {
        let mut g = m2.lock_timeout(Duration::from_secs(60)).unwrap();
        *g += 1;
    });
    thread::sleep(Duration::from_millis(20));
    drop(g);
    waiter.join().unwrap();
    assert_eq!(*m.lock().unwrap(), 1);
}

#[test]
fn lock_timeout_with_a_huge_duration_still_waits() {
    // Duration::MAX must saturate, not wrap into the past and time out at once.
    let m = Arc::new(Locker::new(0));
    let g = m.lock().unwrap();
    let m2 = Arc::clone(&m);
    let waiter = thread::spawn(move || m2.lock_timeout(Duration::MAX).is_ok());
    thread::sleep(Duration::from_millis(30));
    assert!(
        !waiter.is_finished(),
        "a Duration::MAX lock_timeout returned early"
    );
    drop(g);
    assert!(waiter.join().unwrap());
}

#[test]
fn zero_timeout_on_a_free_lock_succeeds() {
    let m = Locker::new(0);
    assert!(m.lock_timeout(Duration::ZERO).is_ok());
    let e = ErrorCheckLocker::new(0);
    assert!(e.lock_timeout(Duration::ZERO).is_ok());
}

#[test]
fn locker_moves_after_first_use() {
    let m = Locker::new(vec![1]);
    m.lock().unwrap().push(2);
    // The unlocked pthread mutex moves with the locker: harmless on glibc (its bytes are
    // its initialiser's again once unlocked; see `sys::pthread::tests`).
    let boxed = Box::new(m);
    boxed.lock().unwrap().push(3);
    let moved = *boxed;
    assert_eq!(moved.into_inner().unwrap(), [1, 2, 3]);
}

#[test]
fn dropping_lockers_with_forgotten_guards_is_safe() {
    // Each goes out of scope still locked: its storage is released, nothing is destroyed
    // (a glibc mutex owns no resource), nothing waits.
    {
        let m = Box::new(Locker::new(0));
        std::mem::forget(m.lock().unwrap());
    }
    {
        let r = Box::new(RecursiveLocker::new(0));
        std::mem::forget(r.lock());
        std::mem::forget(r.lock());
    }
    {
        let e = Box::new(ErrorCheckLocker::new(0));
        std::mem::forget(e.lock().unwrap());
    }
}

#[test]
fn debug_output_like_std() {
    // The anchor is std's own output on this toolchain, free, held, and poisoned.
    let (m, s) = (Locker::new(5), std::sync::Mutex::new(5));
    assert_eq!(format!("{m:?}"), format!("{s:?}"));
    let (g, gs) = (m.lock().unwrap(), s.lock().unwrap());
    assert_eq!(format!("{m:?}"), format!("{s:?}"));
    assert_eq!(format!("{g:?} {g}"), format!("{gs:?} {gs}"));
    let std_locked = format!("{s:?}");
    drop((g, gs));
    let (m, s) = (Arc::new(m), Arc::new(s));
    let (m2, s2) = (Arc::clone(&m), Arc::clone(&s));
    let _ = thread::spawn(move || {
        let _g = (m2.lock(), s2.lock());
        panic!("poison both");
    })
    .join();
    assert_eq!(format!("{m:?}"), format!("{s:?}"));
    assert!(format!("{m:?}").contains("poisoned: true"));

    // The other kinds print their own name, no `poisoned`, and std's locked form.
    let e = ErrorCheckLocker::new("x");
    assert_eq!(format!("{e:?}"), "ErrorCheckLocker { data: \"x\", .. }");
    let held = e.lock().unwrap();
    let expected = std_locked
        .replace("Mutex", "ErrorCheckLocker")
        .replace(", poisoned: false", "");
    assert_eq!(format!("{e:?}"), expected);
    drop(held);
    let r = RecursiveLocker::new(1);
    let held = r.lock();
    // The owner may relock, so Debug shows the data even while this thread holds it.
    assert_eq!(format!("{r:?}"), "RecursiveLocker { data: 1, .. }");
    drop(held);
}

#[test]
fn default_and_from() {
    let m: Locker<Vec<u8>> = Locker::default();
    assert!(m.lock().unwrap().is_empty());
    let m = Locker::from(3);
    assert_eq!(m.into_inner().unwrap(), 3);
    assert_eq!(ErrorCheckLocker::from(4).into_inner(), 4);
    assert_eq!(RecursiveLocker::<u8>::default().into_inner(), 0);
}

#[test]
fn unsized_data() {
    let m: &Locker<[u8]> = &Locker::new([1, 2, 3]);
    m.lock().unwrap()[0] = 9;
    assert_eq!(&*m.lock().unwrap(), &[9, 2, 3]);
}

// ---- errorcheck ----

#[test]
fn errorcheck_relock_is_deadlock_not_a_hang() {
    let m = ErrorCheckLocker::new(0);
    let g = m.lock().unwrap();
    assert_eq!(m.lock().unwrap_err(), Error::Deadlock);
    assert_eq!(
        m.lock_timeout(Duration::from_secs(60)).unwrap_err(),
        Error::Deadlock
    );
    // glibc's trylock reports EBUSY even to the owner.
    assert_eq!(m.try_lock().unwrap_err(), Error::WouldBlock);
    drop(g);
    assert!(m.lock().is_ok());
}

#[test]
fn errorcheck_force_unlock_by_a_non_owner_is_refused() {
    let m = Arc::new(ErrorCheckLocker::new(0));
    let g = m.lock().unwrap();
    let m2 = Arc::clone(&m);
    let (unlock, try_after) = thread::spawn(move || {
        // SAFETY: this thread holds no guard of `m2`.
        let unlock = unsafe { m2.force_unlock() };
        (unlock, m2.try_lock().map(|_| ()))
    })
    .join()
    .unwrap();
    assert_eq!(unlock, Err(Error::NotOwner));
    // Nothing changed: still held by the main thread.
    assert_eq!(try_after, Err(Error::WouldBlock));
    drop(g);
    // SAFETY: no guard of `m` is alive.
    assert_eq!(unsafe { m.force_unlock() }, Err(Error::NotOwner));
}

#[test]
fn errorcheck_timeout_and_contention() {
    let m = Arc::new(ErrorCheckLocker::new(0u32));
    let g = m.lock().unwrap();
    let m2 = Arc::clone(&m);
    let dur = Duration::from_millis(30);
    let (r, elapsed) = thread::spawn(move || {
        let start = Instant::now();
        let r = m2.lock_timeout(dur).map(|_| ());
        (r, start.elapsed())
    })
    .join()
    .unwrap();
    assert_eq!(r, Err(Error::TimedOut));
    assert!(elapsed >= dur);
    drop(g);
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let m = Arc::clone(&m);
            thread::spawn(move || {
                for _ in 0..10_000 {
                    *m.lock().unwrap() += 1;
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(*m.lock().unwrap(), 40_000);
}

// ---- recursive ----

#[test]
fn recursive_depth_1000() {
    let m = RecursiveLocker::new(Cell::new(0u32));
    let mut guards = Vec::with_capacity(1000);
    for _ in 0..1000 {
        let g = m.lock();
        g.set(g.get() + 1);
        guards.push(g);
    }
    assert_eq!(m.lock().get(), 1000);
    // Drop in reverse, like nested scopes.
    while guards.pop().is_some() {}
    assert!(m.try_lock().is_ok());
}

#[test]
fn recursive_released_to_others_only_after_the_last_guard() {
    let m = Arc::new(RecursiveLocker::new(Cell::new(0)));
    let g1 = m.lock();
    let g2 = m.try_lock().expect("the owner may relock with try_lock");
    let g3 = m
        .lock_timeout(Duration::ZERO)
        .expect("and with lock_timeout");
    let probe = |m: &Arc<RecursiveLocker<Cell<i32>>>| {
        let m = Arc::clone(m);
        thread::spawn(move || {
            let try_ = m.try_lock().map(|_| ()).err();
            let timed = m.lock_timeout(Duration::from_millis(10)).map(|_| ()).err();
            (try_, timed)
        })
        .join()
        .unwrap()
    };
    assert_eq!(probe(&m), (Some(Error::WouldBlock), Some(Error::TimedOut)));
    drop(g3);
    drop(g1); // out of order is fine: the count is what matters
    assert_eq!(probe(&m), (Some(Error::WouldBlock), Some(Error::TimedOut)));
    drop(g2);
    assert_eq!(probe(&m), (None, None));
}

#[test]
fn recursive_counts_across_threads() {
    let m = Arc::new(RecursiveLocker::new(Cell::new(0u64)));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let m = Arc::clone(&m);
            thread::spawn(move || {
                for _ in 0..5_000 {
                    let outer = m.lock();
                    let inner = m.lock();
                    inner.set(outer.get() + 1);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(m.lock().get(), 20_000);
}

// ---- errors ----

#[test]
fn errors_name_their_cause_and_convert_to_io() {
    let cases = [
        (Error::WouldBlock, "EBUSY", std::io::ErrorKind::WouldBlock),
        (Error::Deadlock, "EDEADLK", std::io::ErrorKind::Deadlock),
        (
            Error::NotOwner,
            "EPERM",
            std::io::ErrorKind::PermissionDenied,
        ),
        (Error::TimedOut, "ETIMEDOUT", std::io::ErrorKind::TimedOut),
        (Error::OwnerDied, "EOWNERDEAD", std::io::ErrorKind::Other),
        (
            Error::NotRecoverable,
            "ENOTRECOVERABLE",
            std::io::ErrorKind::Other,
        ),
        (Error::Overflow, "EOVERFLOW", std::io::ErrorKind::Other),
        (Error::OwnerGone, "ESRCH", std::io::ErrorKind::Other),
        (
            Error::NotInRegion,
            "shared-memory region",
            std::io::ErrorKind::InvalidInput,
        ),
        (
            Error::InvalidInput("semaphore value above SEM_VALUE_MAX"),
            "SEM_VALUE_MAX",
            std::io::ErrorKind::InvalidInput,
        ),
    ];
    for (err, needle, kind) in cases {
        let text = err.to_string();
        assert!(text.contains(needle), "{text:?} should name {needle}");
        let io: std::io::Error = err.into();
        assert_eq!(io.kind(), kind);
        // The typed error is kept inside, with its errno.
        let inner = io.get_ref().unwrap().downcast_ref::<Error>().unwrap();
        assert_eq!(*inner, err);
        assert_eq!(inner.errno(), err.errno());
    }
    let os = Error::Os(libc::ENOMEM);
    assert_eq!(os.errno(), libc::ENOMEM);
    assert_eq!(
        std::io::Error::from(os).kind(),
        std::io::ErrorKind::OutOfMemory
    );
    fn uses_question_mark() -> std::io::Result<()> {
        let m = ErrorCheckLocker::new(());
        let _g = m.lock()?;
        let _again = m.lock()?;
        Ok(())
    }
    assert_eq!(
        uses_question_mark().unwrap_err().kind(),
        std::io::ErrorKind::Deadlock
    );
}

#[test]
fn a_recursive_lock_leaked_by_a_dead_thread_is_never_handed_to_a_new_one() {
    // glibc reuses an exited thread's stack and TLS for the next thread, so an owner identity
    // based on either would make the new thread look like the owner.
    let m = Arc::new(RecursiveLocker::new(0));
    let m2 = Arc::clone(&m);
    thread::spawn(move || std::mem::forget(m2.lock()))
        .join()
        .unwrap();
    for _ in 0..4 {
        let m3 = Arc::clone(&m);
        let got = thread::spawn(move || m3.try_lock().map(|_| ()))
            .join()
            .unwrap();
        // Never handed over. The error names the cause once the kernel has released the dead
        // thread (for a moment after `join` it still lists it, and the mutex is just busy).
        assert!(
            matches!(got, Err(Error::OwnerGone | Error::WouldBlock)),
            "{got:?}"
        );
    }
    // A blocking attempt reports the gone owner instead of waiting forever.
    let waited = thread::spawn(move || m.lock_timeout(Duration::from_secs(60)).map(|_| ()))
        .join()
        .unwrap();
    assert_eq!(waited, Err(Error::OwnerGone));
}
