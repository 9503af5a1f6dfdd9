//! The checks can fail: with a deliberately broken variant of the crate's logic switched on
//! (possible only in this model build), loom must reject the same models that pass without it.

mod common;

use loom::sync::Arc;
use loom::thread;
use pthread_sync::model_check::Mutation;
use pthread_sync::{Cond, Locker};
use std::collections::VecDeque;
use std::time::Duration;

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

/// Two threads each wait on one condvar with their own mutex, at the same time.
fn two_mutexes_at_once() {
    let cond = Arc::new(Cond::new());
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let cond = Arc::clone(&cond);
            thread::spawn(move || {
                let m = Locker::new(());
                // The crate's refusal is expected; the model's report is passed on to loom.
                common::refused(|| {
                    let _ = cond.wait_timeout(m.lock().unwrap(), Duration::from_millis(1));
                });
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn cond_without_the_two_mutex_check_is_rejected() {
    // Correct: whenever the waits overlap, the second is refused before it reaches the
    // (model) pthread call, which would panic on two mutexes at once.
    common::check(two_mutexes_at_once);
    // Without the check, some interleaving reaches the model with two mutexes at once.
    let report = common::rejected_with(Mutation::BindNeverRefuses, two_mutexes_at_once)
        .expect("loom accepted a Cond used with two mutexes at once");
    assert!(report.contains("two mutexes at once"), "{report}");
}

/// A single wait with no loop around it: wrong when wake-ups can be spurious.
fn unlooped_wait() {
    let state = Arc::new((Locker::new(false), Cond::new()));
    let s2 = Arc::clone(&state);
    let t = thread::spawn(move || {
        *s2.0.lock().unwrap() = true;
        s2.1.notify_one();
    });
    let g = state.0.lock().unwrap();
    let g = if *g { g } else { state.1.wait(g).unwrap() };
    assert!(*g, "returned from wait without the condition");
    drop(g);
    t.join().unwrap();
}

#[test]
fn spurious_wakeups_are_modelled() {
    // Without spurious wake-ups the unlooped wait happens to pass...
    common::check(unlooped_wait);
    // ...with them, loom finds the interleaving where it returns early.
    let rejected = std::panic::catch_unwind(|| {
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let r = std::panic::catch_unwind(|| common::check_with_spurious_wakeups(unlooped_wait));
        std::panic::set_hook(hook);
        r
    })
    .unwrap();
    assert!(rejected.is_err(), "spurious wake-ups are not modelled");
}
