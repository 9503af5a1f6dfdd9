//! Model checks of the Locker family: mutual exclusion, poisoning, and the
//! errorcheck and recursive results, over every interleaving within the preemption bound.

mod common;

use loom::cell::UnsafeCell;
use loom::sync::atomic::{AtomicBool, Ordering};
use loom::sync::Arc;
use loom::thread;
use pthread_sync::{Error, ErrorCheckLocker, LockTimeoutError, Locker, RecursiveLocker};

/// Mutual exclusion of a `Locker` made inside the model, first locks racing.
pub fn mutual_exclusion() {
    racing_increments!(Locker::new);
}

#[test]
fn locker_mutual_exclusion() {
    common::check(mutual_exclusion);
}

#[test]
fn locker_poisoning() {
    common::check(|| {
        let m = Arc::new(Locker::new(0u32));
        let m2 = Arc::clone(&m);
        let panicker = thread::spawn(move || {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let mut g = m2.lock().unwrap();
                *g = 1;
                panic!("poison");
            }));
            assert!(r.is_err());
        });
        // Racing with the panic: either before it (clean, 0) or after it (poisoned, 1).
        match m.lock() {
            Ok(g) => assert_eq!(*g, 0),
            Err(poisoned) => assert_eq!(*poisoned.into_inner(), 1),
        }
        panicker.join().unwrap();
        assert!(m.is_poisoned());
        m.clear_poison();
        assert_eq!(*m.lock().unwrap(), 1);
    });
}

#[test]
fn locker_try_lock_and_timeout_never_break_exclusion() {
    common::check(|| {
        let m = Arc::new(Locker::new(UnsafeCell::new(0u32)));
        let m2 = Arc::clone(&m);
        let t = thread::spawn(move || match m2.try_lock() {
            Ok(g) => {
                // SAFETY: the guard gives exclusive access.
                g.with_mut(|p| unsafe { *p += 1 });
                1
            }
            Err(_) => 0,
        });
        let mine = match m.lock_timeout(std::time::Duration::from_millis(1)) {
            Ok(g) => {
                // SAFETY: the guard gives exclusive access.
                g.with_mut(|p| unsafe { *p += 1 });
                1
            }
            Err(LockTimeoutError::TimedOut) => 0,
            Err(LockTimeoutError::Poisoned(_)) => unreachable!(),
        };
        let theirs = t.join().unwrap();
        let g = m.lock().unwrap();
        // SAFETY: the other thread is joined.
        assert_eq!(g.with(|p| unsafe { *p }), mine + theirs);
    });
}

#[test]
fn errorcheck_results() {
    common::check(|| {
        let m = Arc::new(ErrorCheckLocker::new(0u32));
        let g = m.lock().unwrap();
        assert_eq!(m.lock().unwrap_err(), Error::Deadlock);
        assert_eq!(m.try_lock().unwrap_err(), Error::WouldBlock);
        let m2 = Arc::clone(&m);
        let t = thread::spawn(move || {
            // SAFETY: this thread holds no guard of `m2`.
            let foreign = unsafe { m2.force_unlock() };
            // Whether or not the owner has released it meanwhile, this thread never owns it.
            assert_eq!(foreign, Err(Error::NotOwner));
            *m2.lock().unwrap() += 1;
        });
        drop(g);
        t.join().unwrap();
        assert_eq!(*m.lock().unwrap(), 1);
    });
}

#[test]
fn recursive_released_only_after_the_last_guard() {
    common::check(|| {
        let m = Arc::new(RecursiveLocker::new(()));
        let held = Arc::new(AtomicBool::new(false));
        let (m2, held2) = (Arc::clone(&m), Arc::clone(&held));
        let t = thread::spawn(move || {
            let outer = m2.lock();
            let inner = m2.lock();
            held2.store(true, Ordering::Relaxed);
            drop(outer);
            // Still held through `inner`.
            held2.store(false, Ordering::Relaxed);
            drop(inner);
        });
        if let Ok(_g) = m.try_lock() {
            assert!(
                !held.load(Ordering::Relaxed),
                "acquired while the other thread held it"
            );
        }
        t.join().unwrap();
        assert!(m.try_lock().is_ok());
    });
}

/// The protocol kinds share the base kinds' raw locks (the protocol is a type parameter of
/// `Plain`/`Reentrant`, a no-op in the model): their exclusion, checked the same way.
#[test]
fn protocol_kinds_mutual_exclusion() {
    common::check(|| racing_increments!(pthread_sync::PiLocker::new));
    common::check(|| racing_increments!(pthread_sync::PiErrorCheckLocker::new));
    common::check(|| {
        racing_increments!(|v| pthread_sync::CeilingErrorCheckLocker::new(10, v).unwrap())
    });
}
