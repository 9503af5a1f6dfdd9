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

/// The creator's side of publishing a region, on a `Publication` (the header's state word and
/// pid) made inside the model: a header field written before `begin`, the value before
/// `finish`.
struct Region {
    publication: pthread_sync::model_check::Publication,
    magic: loom::sync::atomic::AtomicU64,
    value: loom::cell::UnsafeCell<u64>,
}

// SAFETY: `value` is written by the creator before `finish` and read by openers only after
// they saw the region ready: that ordering is what the model checks.
unsafe impl Sync for Region {}

/// A creator publishes while an opener keeps looking: an opener that sees the header written
/// sees its fields and the creator's pid; one that sees it ready sees the value (loom's race
/// detector on the value's cell and the field checks would report otherwise).
fn publish_and_open() {
    use pthread_sync::model_check::{Publication, Stage};
    use std::sync::atomic::Ordering::Relaxed;
    let region = Arc::new(Region {
        publication: Publication::new(),
        magic: loom::sync::atomic::AtomicU64::new(0),
        value: loom::cell::UnsafeCell::new(0),
    });
    let creator = {
        let r = Arc::clone(&region);
        thread::spawn(move || {
            r.magic.store(0x5053_4e59, Relaxed);
            r.publication.begin(42);
            // SAFETY: no opener reads the value before it sees the region ready.
            r.value.with_mut(|v| unsafe { *v = 7 });
            r.publication.finish();
        })
    };
    loop {
        match region.publication.look() {
            Stage::Unwritten => thread::yield_now(),
            Stage::Initialising { creator } => {
                assert_eq!(creator, 42);
                assert_eq!(
                    region.magic.load(Relaxed),
                    0x5053_4e59,
                    "fields not visible"
                );
                thread::yield_now();
            }
            Stage::Ready => {
                // SAFETY: the region is ready: the creator's write is published.
                assert_eq!(region.value.with(|v| unsafe { *v }), 7);
                break;
            }
            Stage::Unknown(s) => panic!("unknown state {s}"),
        }
    }
    creator.join().unwrap();
}

#[test]
fn region_publication_is_seen_whole() {
    common::check(publish_and_open);
}

#[test]
fn relaxed_publication_is_rejected() {
    let report = common::rejected_with(Mutation::PublishRelaxed, publish_and_open)
        .expect("loom accepted a relaxed publication");
    eprintln!("loom's report: {report}");
    assert!(report.contains("Causality violation"), "{report}");
}
