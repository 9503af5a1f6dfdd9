//! Model checks of the process-shared primitives' own logic: arming in place on first use
//! (threads stand in for processes), exactly once, with mutual exclusion after.

mod common;

use loom::sync::Arc;
use loom::thread;
use pthread_sync::model_check::Mutation;
use pthread_sync::{SharedLocker, SharedSem};

/// Two threads race to be the first user of a fresh `SharedLocker` (so both try to arm it),
/// each incrementing a loom-tracked cell under it; the main thread checks the total.
fn racing_first_shared_locks() {
    racing_increments!(SharedLocker::new);
}

#[test]
fn shared_locker_arms_once_and_excludes() {
    common::check(racing_first_shared_locks);
}

#[test]
fn broken_arming_is_rejected() {
    // Check-then-store: both racing users initialise the mutex, the second over the first
    // while it is held, and both enter the critical section.
    let report = common::rejected_with(Mutation::ArmStore, racing_first_shared_locks)
        .expect("loom accepted a broken arming");
    eprintln!("loom's report: {report}");
    assert!(report.contains("Causality violation"), "{report}");
}

#[test]
fn shared_sem_arms_once_and_conserves_permits() {
    common::check(|| {
        let s = Arc::new(SharedSem::new(1).unwrap());
        let s2 = Arc::clone(&s);
        let t = thread::spawn(move || {
            s2.wait().unwrap();
            s2.post().unwrap();
        });
        s.wait().unwrap();
        s.post().unwrap();
        t.join().unwrap();
        assert_eq!(s.value(), 1);
    });
}
