//! Model checks of the atfork registry's own logic: registrations and drops racing a fork
//! (here a thread calling the registry's `prepare` then `parent`, or `prepare` then `child`,
//! as glibc's trampoline would), and a protected lock held by another thread at the fork.

mod common;

use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;

use loom::sync::atomic::AtomicBool;
use loom::thread;
use pthread_sync::model_check::Registry;
use pthread_sync::Locker;

/// A registry made inside the model, for the model's lifetime.
fn registry() -> &'static Registry {
    Box::leak(Box::new(Registry::new()))
}

/// A thread registers and then drops handlers while another "forks": the fork runs each
/// registration's handlers all or nothing (every `prepare` matched by its `parent`), in POSIX
/// order, and never after the drop returned.
static RUNS: AtomicUsize = AtomicUsize::new(0);

#[test]
fn register_and_drop_race_a_fork() {
    RUNS.store(0, SeqCst);
    common::check(|| {
        RUNS.fetch_add(1, SeqCst);
        let reg = registry();
        // A first registration, there before everything.
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let l1 = Arc::clone(&log);
        let l2 = Arc::clone(&log);
        let first = reg
            .register(
                Some(Box::new(move || l1.lock().unwrap().push("A prepare"))),
                Some(Box::new(move || l2.lock().unwrap().push("A parent"))),
                None,
            )
            .unwrap();
        let dropped = Arc::new(AtomicBool::new(false));
        let ran_after_drop = Arc::new(AtomicUsize::new(0));
        let (d, r) = (Arc::clone(&dropped), Arc::clone(&ran_after_drop));
        let (l3, l4) = (Arc::clone(&log), Arc::clone(&log));
        let churn = thread::spawn(move || {
            let (d1, r1, d2, r2) = (
                Arc::clone(&d),
                Arc::clone(&r),
                Arc::clone(&d),
                Arc::clone(&r),
            );
            let second = reg
                .register(
                    Some(Box::new(move || {
                        if d1.load(SeqCst) {
                            r1.fetch_add(1, SeqCst);
                        }
                        l3.lock().unwrap().push("B prepare");
                    })),
                    Some(Box::new(move || {
                        if d2.load(SeqCst) {
                            r2.fetch_add(1, SeqCst);
                        }
                        l4.lock().unwrap().push("B parent");
                    })),
                    None,
                )
                .unwrap();
            drop(second);
            d.store(true, SeqCst);
        });
        reg.prepare();
        // SAFETY: after `prepare`, on the same thread, once.
        unsafe { reg.parent() };
        churn.join().unwrap();
        assert_eq!(
            ran_after_drop.load(SeqCst),
            0,
            "a handler ran after its drop returned"
        );
        let log = log.lock().unwrap().clone();
        let expected: &[&[&str]] = &[
            &["A prepare", "A parent"],
            &["B prepare", "A prepare", "A parent", "B parent"],
        ];
        assert!(expected.contains(&log.as_slice()), "{log:?}");
        drop(first);
    });
    eprintln!("interleavings explored: {}", RUNS.load(SeqCst));
    assert!(
        RUNS.load(SeqCst) > 10,
        "loom explored too little to mean anything"
    );
}

/// A protected lock held by another thread when the fork starts: `prepare` waits for it; in
/// the "parent" and in the "child" (re-initialised) it is usable after, and never by two
/// threads at once.
#[test]
fn protected_lock_held_by_another_thread() {
    for child in [false, true] {
        common::check(move || {
            let reg = registry();
            let lock = Arc::new(Locker::new(0u32));
            let handle = reg.protect(Arc::clone(&lock)).unwrap();
            let l2 = Arc::clone(&lock);
            let holder = thread::spawn(move || {
                *l2.lock().unwrap() += 1;
            });
            reg.prepare();
            // Here the forking thread holds the lock: the holder is either done or waiting.
            if child {
                // SAFETY: after `prepare`, once. (In the model the "child" keeps the other
                // thread; it is either finished or blocked until the lock is free again.)
                unsafe { reg.child() };
            } else {
                // SAFETY: after `prepare`, on the same thread, once.
                unsafe { reg.parent() };
            }
            *lock.lock().unwrap() += 1;
            holder.join().unwrap();
            assert_eq!(*lock.lock().unwrap(), 2);
            drop(handle);
        });
    }
}
