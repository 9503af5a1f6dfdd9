//! The checks can fail: with a deliberately broken variant of the crate's logic switched on
//! (possible only in this model build), loom must reject the same models that pass without it.

mod common;

use loom::sync::Arc;
use loom::thread;
use pthread_sync::mutation::Mutation;
use pthread_sync::{Cond, Locker};
use std::collections::VecDeque;

/// Two threads race to lock a fresh `Locker`, each incrementing a loom-tracked cell.
fn racing_first_locks() {
    let m = Arc::new(Locker::new(loom::cell::UnsafeCell::new(0u32)));
    let m2 = Arc::clone(&m);
    let t = thread::spawn(move || {
        let g = m2.lock().unwrap();
        // SAFETY: exclusive under the lock (unless the lazy init is broken).
        g.with_mut(|p| unsafe { *p += 1 });
    });
    {
        let g = m.lock().unwrap();
        // SAFETY: as above.
        g.with_mut(|p| unsafe { *p += 1 });
    }
    t.join().unwrap();
}

#[test]
fn broken_lazy_init_is_rejected() {
    // Correct: passes.
    common::check(racing_first_locks);
    // Plain store instead of compare_exchange: two racing first users each install their own
    // pthread mutex, both enter the critical section, and loom sees the data race.
    let report = common::rejected_with(Mutation::LazyInitStore, racing_first_locks)
        .expect("loom accepted a broken lazy initialisation");
    eprintln!("loom's report: {report}");
    assert!(report.contains("Causality violation"), "{report}");
}

/// Two consumers each take one item; the producer pushes two, notifying all after each.
fn two_consumers() {
    let state = Arc::new((Locker::new(VecDeque::new()), Cond::new()));
    let consumers: Vec<_> = (0..2)
        .map(|_| {
            let state = Arc::clone(&state);
            thread::spawn(move || {
                let mut q = state
                    .1
                    .wait_while(state.0.lock().unwrap(), |q: &mut VecDeque<u32>| {
                        q.is_empty()
                    })
                    .unwrap();
                q.pop_front().expect("woken with an empty queue");
            })
        })
        .collect();
    for i in 0..2 {
        state.0.lock().unwrap().push_back(i);
        state.1.notify_all();
    }
    for c in consumers {
        c.join().unwrap();
    }
}

#[test]
fn wait_while_that_checks_once_is_rejected() {
    common::check(two_consumers);
    // Without the re-check, a consumer woken after the other took the only item pops from an
    // empty queue in some interleaving.
    let report = common::rejected_with(Mutation::WaitWhileOnce, two_consumers)
        .expect("loom accepted a wait_while without its loop");
    assert!(report.contains("woken with an empty queue"), "{report}");
}
