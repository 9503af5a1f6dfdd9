//! Model checks of `SharedRwLock`'s own protocol (threads stand in for processes): readers
//! take a slot (a compare-exchange of its word from 0 to their identity) and then check the
//! writer's intent, writers raise the intent and wait for every slot held at that moment.
//! Checked: a writer never overlaps a reader (loom's race detector on the protected cell),
//! writers and readers always get in (a lost wake-up or a wait cycle is a deadlock loom
//! reports), try and timed forms never break exclusion, a thread's second read while a
//! writer waits is counted, downgrade lets no writer in between, and a reader that dies
//! holding a slot (`model_check::die_reading`: its identity dead for every later liveness
//! check) has its slot reclaimed by the writer, which then gets in.
//!
//! The reader's exchange-then-load and the writer's store-then-load are Dekker's pattern:
//! both sides `SeqCst`, and, since loom weakens `SeqCst` accesses to `AcqRel`, a `SeqCst`
//! fence between them in the model build (`shim::store_load_order`). A writer's wait on a
//! slot is sliced as in the real build (a timed futex wait, which in the model may time out
//! at any point, then a liveness check), so a death is found without anyone waking the
//! writer. Three mutations are rejected: the reader that checks the intent before taking its
//! slot (a race), the writer that raises the intent and looks at the slots without the
//! store-load order (a race), and the reader that waits for the writer keeping its slot (the
//! writer then waits for it for ever: with sliced waits loom reports an endless spin, the
//! branch limit, rather than a deadlock; checked in a child process).

mod common;

use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;
use pthread_sync::model_check::Mutation;
use pthread_sync::{SharedRwLock, SharedRwLockWriteGuard};

/// A lock made in the model, armed (every mutex used once) before any thread is spawned:
/// arming races are modelled in `shared.rs`, and they would multiply the interleavings here.
fn armed_lock() -> Arc<SharedRwLock<UnsafeCell<u32>>> {
    let lock = Arc::new(SharedRwLock::new(UnsafeCell::new(0u32)));
    drop(lock.write().unwrap());
    drop(lock.read().unwrap());
    lock
}

/// Two reader threads and a writer (the main thread): loom's race detector reports a write
/// that overlaps a read; each reader sees 0 or 1; the total is exact.
fn readers_and_a_writer() {
    readers_and_a_writer!(armed_lock());
}

#[test]
fn readers_never_overlap_a_writer() {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(2);
    builder.check(readers_and_a_writer);
}

/// Two writers and a reader that reads twice, each on its own thread: everyone gets in (a
/// writer stuck behind an intent nobody clears, or a reader behind a writer that waits for
/// it, is a deadlock loom reports); the writers' increments are exact.
fn two_writers_and_a_reader() {
    let lock = armed_lock();
    let writers: Vec<_> = (0..2)
        .map(|_| {
            let lock = Arc::clone(&lock);
            thread::spawn(move || {
                let g = lock.write().unwrap();
                // SAFETY: the write hold.
                g.with_mut(|p| unsafe { *p += 1 });
            })
        })
        .collect();
    for _ in 0..2 {
        let g = lock.read().unwrap();
        // SAFETY: a read hold.
        assert!(g.with(|p| unsafe { *p }) <= 2);
    }
    for w in writers {
        w.join().unwrap();
    }
    // SAFETY: every other thread joined.
    assert_eq!(lock.read().unwrap().with(|p| unsafe { *p }), 2);
}

#[test]
fn writers_and_readers_all_get_in() {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(2);
    builder.check(two_writers_and_a_reader);
}

/// A timed writer and a try-reader beside a plain reader: the timed and try forms may give
/// up (loom explores both), never overlap, and leave nothing behind: afterwards a plain write
/// and a try-read both get in.
#[test]
fn timed_and_try_forms_exclude_and_leave_nothing_behind() {
    common::check(|| {
        let lock = armed_lock();
        let writer = {
            let lock = Arc::clone(&lock);
            thread::spawn(move || {
                if let Ok(g) = lock.write_timeout(std::time::Duration::from_millis(1)) {
                    // SAFETY: the write hold.
                    g.with_mut(|p| unsafe { *p += 1 });
                }
            })
        };
        let reader = {
            let lock = Arc::clone(&lock);
            thread::spawn(move || {
                if let Ok(g) = lock.read_timeout(std::time::Duration::from_millis(1)) {
                    // SAFETY: a read hold.
                    assert!(g.with(|p| unsafe { *p }) <= 1);
                }
            })
        };
        if let Ok(g) = lock.try_read() {
            // SAFETY: a read hold.
            assert!(g.with(|p| unsafe { *p }) <= 1);
        }
        writer.join().unwrap();
        reader.join().unwrap();
        drop(lock.write().unwrap());
        assert!(lock.try_read().is_ok(), "a try-read after everyone left");
    });
}

/// A thread reads, a writer starts (and raises its intent, waiting for that read), the
/// thread reads again and releases both: counted, no deadlock.
#[test]
fn a_second_read_while_a_writer_waits_is_counted() {
    common::check(|| {
        let lock = Arc::new(SharedRwLock::new(0u32));
        drop(lock.write().unwrap());
        second_read_while_a_writer_waits!(lock)
    });
}

/// A downgraded writer's read sees its own write, and a competing writer cannot get in
/// before the read is dropped.
#[test]
fn downgrade_lets_no_writer_in_between() {
    common::check(|| {
        let lock = Arc::new(SharedRwLock::new(0u32));
        drop(lock.write().unwrap());
        let other = {
            let lock = Arc::clone(&lock);
            thread::spawn(move || *lock.write().unwrap() = 10)
        };
        let mut w = lock.write().unwrap();
        let before = *w;
        *w = before + 1;
        let r = SharedRwLockWriteGuard::downgrade(w);
        assert_eq!(*r, before + 1, "another writer got in at the downgrade");
        drop(r);
        other.join().unwrap();
    });
}

/// Two threads race to be the first users (so to arm the mutexes), one reading, one writing.
#[test]
fn racing_first_uses_arm_once_and_exclude() {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(2);
    builder.check(|| {
        let lock = Arc::new(SharedRwLock::new(UnsafeCell::new(0u32)));
        let writer = {
            let lock = Arc::clone(&lock);
            thread::spawn(move || {
                let g = lock.write().unwrap();
                // SAFETY: the write hold.
                g.with_mut(|p| unsafe { *p += 1 });
            })
        };
        {
            let g = lock.read().unwrap();
            // SAFETY: a read hold.
            assert!(g.with(|p| unsafe { *p }) <= 1);
        }
        writer.join().unwrap();
    });
}

#[test]
fn checking_the_intent_before_taking_the_slot_is_rejected() {
    let report = common::rejected_with(Mutation::SharedRwCheckFirst, readers_and_a_writer)
        .expect("loom accepted a reader that checks the intent before taking its slot");
    eprintln!("loom's report: {report}");
    assert!(report.contains("Causality violation"), "{report}");
}

#[test]
fn a_writer_without_the_store_load_order_is_rejected() {
    let report = common::rejected_with(Mutation::SharedRwWriterRelaxed, readers_and_a_writer)
        .expect("loom accepted a writer that raises its intent and reads the slots relaxed");
    eprintln!("loom's report: {report}");
    assert!(report.contains("Causality violation"), "{report}");
}

/// A reader dies holding its slot (as a process killed mid-read), before or while a writer
/// drains, beside a live reader: the writer finds the dead holder, reclaims the slot and
/// gets in (no deadlock), never overlapping the live reader (the race detector), and the
/// dead reader's read happened before the write (its death is seen by the liveness check).
#[test]
fn a_dead_readers_slot_is_reclaimed_by_the_writer() {
    common::check(|| {
        let lock = armed_lock();
        let doomed = {
            let lock = Arc::clone(&lock);
            thread::spawn(move || {
                let g = lock.read().unwrap();
                // SAFETY: a read hold.
                assert!(g.with(|p| unsafe { *p }) <= 1);
                pthread_sync::model_check::die_reading(g);
            })
        };
        let live = {
            let lock = Arc::clone(&lock);
            thread::spawn(move || {
                let g = lock.read().unwrap();
                // SAFETY: a read hold.
                assert!(g.with(|p| unsafe { *p }) <= 1);
            })
        };
        {
            let g = lock.write().unwrap();
            // SAFETY: the write hold.
            g.with_mut(|p| unsafe { *p += 1 });
        }
        doomed.join().unwrap();
        live.join().unwrap();
        // SAFETY: every other thread joined.
        assert_eq!(lock.read().unwrap().with(|p| unsafe { *p }), 1);
        drop(lock.write().unwrap());
    });
}

/// The mutant run of [`waiting_for_the_writer_keeping_the_slot_is_rejected`], in a child
/// process: loom reports the deadlock from inside a spawned thread, and its runtime aborts
/// the process there (see `shared.rs`).
#[test]
#[ignore = "run by waiting_for_the_writer_keeping_the_slot_is_rejected, in a child process"]
fn mutant_shared_rw_keep_slot() {
    pthread_sync::model_check::set_mutation(Some(Mutation::SharedRwKeepSlot));
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(2);
    builder.check(readers_and_a_writer);
}

#[test]
fn waiting_for_the_writer_keeping_the_slot_is_rejected() {
    // Correct: passes (above). Broken: a reader that finds the intent raised waits on the
    // writer mutex still holding its slot; the writer's drain waits for that slot, in
    // slices, for ever (loom: the branch limit of an endless spin).
    let (failed, report) = common::run_mutant("mutant_shared_rw_keep_slot");
    assert!(
        failed,
        "loom accepted a reader that waits for the writer keeping its slot"
    );
    assert!(
        report.contains("deadlock") || report.contains("maximum number of branches"),
        "{report}"
    );
}
