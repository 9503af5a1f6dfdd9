//! Locks across `fork`, before the atfork registry exists: what a child inherits, and that an
//! errorcheck or recursive lock it cannot take is reported (`Error::OwnerGone`) instead of a
//! hang. (glibc records the owner's thread id in the mutex; in the child the forking thread
//! has a new one, and every other thread of the parent is gone.)
//!
//! `harness = false`: a single-threaded `main` (see `support`), so each fork happens in a
//! process whose threads the case controls.

mod support;

use std::cell::Cell;
use std::sync::Barrier;
use std::thread;
use std::time::Duration;

use pthread_sync::{Error, ErrorCheckLocker, Locker, RecursiveLocker};
use support::fork_child;
use support::Outcome::{self, Passed};

/// The forking thread holds an errorcheck lock: the child's thread (which inherited the guard)
/// cannot take it again (its owner is the parent's thread id) and is told so, at once.
fn errorcheck_held_by_the_forking_thread() -> Outcome {
    let m = ErrorCheckLocker::new(5);
    let held = m.lock().unwrap();
    let child = fork_child(|| match m.lock() {
        Err(Error::OwnerGone) => match m.lock_timeout(Duration::from_secs(10)) {
            Err(Error::OwnerGone) => 0,
            _ => 2,
        },
        _ => 1,
    });
    assert_eq!(child.wait(), 0);
    drop(held);
    assert_eq!(*m.lock().unwrap(), 5, "the parent is unaffected");
    Passed
}

/// Another thread of the parent holds the lock when the main thread forks (the seed's
/// scenario): that thread does not exist in the child, so the lock is reported as
/// `OwnerGone`, never waited for.
fn errorcheck_held_by_another_thread() -> Outcome {
    let m = ErrorCheckLocker::new(0);
    let status = fork_while_another_thread_holds(
        |forking| {
            let _held = m.lock().unwrap();
            forking();
        },
        || match (m.try_lock(), m.lock()) {
            (Err(Error::OwnerGone), Err(Error::OwnerGone)) => 0,
            _ => 1,
        },
    );
    assert_eq!(status, 0);
    Passed
}

/// Runs `child` in a process forked while another thread is inside `hold` (which takes a
/// lock and calls its argument, which returns once the fork is done); the child's exit code.
fn fork_while_another_thread_holds(
    hold: impl FnOnce(&dyn Fn()) + Send,
    child: impl FnOnce() -> i32,
) -> i32 {
    let (locked, forked) = (Barrier::new(2), Barrier::new(2));
    thread::scope(|s| {
        s.spawn(|| {
            hold(&|| {
                locked.wait();
                forked.wait();
            })
        });
        locked.wait();
        let status = fork_child(child).wait();
        forked.wait();
        status
    })
}

/// A recursive lock held by the forking thread: the child's thread may re-enter it (it holds
/// the inherited guard, and the count lives in Rust), but once its last guard is dropped the
/// pthread mutex still names the parent's thread, so the next lock reports `OwnerGone`.
fn recursive_held_by_the_forking_thread() -> Outcome {
    let m = RecursiveLocker::new(Cell::new(1));
    let held = m.lock();
    let child = fork_child(|| {
        let again = m.lock();
        again.set(2);
        drop(again);
        if held.get() != 2 {
            return 1;
        }
        // The inherited guard is the child's own copy: dropping it releases the count, and
        // glibc refuses the unlock (EPERM: not the owner).
        drop(unsafe_copy_of(&held));
        match (m.try_lock(), m.lock_timeout(Duration::from_secs(10))) {
            (Err(Error::OwnerGone), Err(Error::OwnerGone)) => 0,
            _ => 3,
        }
    });
    assert_eq!(child.wait(), 0);
    assert_eq!(held.get(), 1, "the child's writes stay in the child");
    drop(held);
    assert!(m.try_lock().is_ok());
    Passed
}

/// In the child, the guard the forking thread held is the child's own: reading it bitwise
/// gives the child a guard value to drop, as the parent will drop its own. Only used in a
/// forked child, where the parent's copy is never dropped.
fn unsafe_copy_of<'a>(
    guard: &pthread_sync::RecursiveGuard<'a, Cell<i32>>,
) -> pthread_sync::RecursiveGuard<'a, Cell<i32>> {
    // SAFETY: called only in a forked child, which leaves with `_exit` and so never drops the
    // original: the copy is the only one dropped in this process.
    unsafe { std::ptr::read(guard) }
}

/// A normal lock keeps std's semantics: a lock held by a thread gone in the child is not
/// detected (a normal mutex's relock and foreign holder are not errors): `lock_timeout`
/// shows the child cannot get it, without a hang.
fn normal_held_by_another_thread_times_out() -> Outcome {
    let m = Locker::new(0);
    let status = fork_while_another_thread_holds(
        |forking| {
            let _held = m.lock().unwrap();
            forking();
        },
        || match m.lock_timeout(Duration::from_millis(50)) {
            Err(pthread_sync::LockTimeoutError::TimedOut) => 0,
            _ => 1,
        },
    );
    assert_eq!(status, 0);
    Passed
}

fn main() {
    support::run(&[
        (
            "errorcheck_held_by_the_forking_thread",
            errorcheck_held_by_the_forking_thread,
        ),
        (
            "errorcheck_held_by_another_thread",
            errorcheck_held_by_another_thread,
        ),
        (
            "recursive_held_by_the_forking_thread",
            recursive_held_by_the_forking_thread,
        ),
        (
            "normal_held_by_another_thread_times_out",
            normal_held_by_another_thread_times_out,
        ),
    ]);
}
