//! Model checks of `RwLock`'s lock word (`src/rwlock/word.rs`), the crate's own
//! writer-preferring reader-writer lock on futex words: writers exclude readers and each
//! other (loom's race detector watches a cell written under the write lock and read under
//! the read lock); a reader queued behind a waiting writer is woken when that writer is done,
//! or when it gives up (a timed write that times out); no interleaving leaves a thread asleep.
//! The mutation that never wakes the readers queued behind a writer is rejected. Its
//! semantics against glibc's rwlock: `differential.rs`.

mod common;

use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;
use pthread_sync::model_check::{Mutation, RwWord};
use std::time::Duration;

struct Guarded {
    word: RwWord,
    cell: UnsafeCell<u32>,
}

// SAFETY: the cell is accessed only under the word's lock (what the models check).
unsafe impl Sync for Guarded {}

fn guarded() -> Arc<Guarded> {
    Arc::new(Guarded {
        word: RwWord::new(),
        cell: UnsafeCell::new(0),
    })
}

fn write_once(g: &Guarded) {
    g.word.write().unwrap();
    // SAFETY: the write lock is held.
    g.cell.with_mut(|p| unsafe { *p += 1 });
    // SAFETY: held by this thread.
    unsafe { g.word.unlock() };
}

fn read_once(g: &Guarded) -> u32 {
    g.word.read().unwrap();
    // SAFETY: a read hold.
    let v = g.cell.with(|p| unsafe { *p });
    // SAFETY: held by this thread.
    unsafe { g.word.unlock() };
    v
}

/// A writer thread, and this thread reading then writing: exclusion (two writers, and a
/// writer and a reader), and everyone finishes.
fn two_writers_and_a_reader() {
    let g = guarded();
    let writer = {
        let g = Arc::clone(&g);
        thread::spawn(move || write_once(&g))
    };
    assert!(read_once(&g) <= 1);
    write_once(&g);
    writer.join().unwrap();
    assert_eq!(read_once(&g), 2);
}

#[test]
fn writers_exclude_readers_and_each_other() {
    common::check(two_writers_and_a_reader);
}

/// This thread reads; a writer comes and waits; a second reader comes (and, if the writer
/// is counted by then, queues behind it); this thread's read ends. Both others finish: the
/// queued reader is woken by the writer's release.
fn a_reader_queued_behind_a_writer() {
    let g = guarded();
    g.word.read().unwrap();
    let writer = {
        let g = Arc::clone(&g);
        thread::spawn(move || write_once(&g))
    };
    let reader = {
        let g = Arc::clone(&g);
        thread::spawn(move || read_once(&g))
    };
    // SAFETY: the read taken above.
    unsafe { g.word.unlock() };
    writer.join().unwrap();
    assert!(reader.join().unwrap() <= 1);
}

#[test]
fn a_reader_behind_a_writer_is_woken() {
    common::check(a_reader_queued_behind_a_writer);
}

/// The mutant run of [`forgetting_the_readers_behind_a_writer_is_rejected`], in a child
/// process: loom reports the reader that sleeps for ever as a deadlock from inside that
/// thread, where its runtime cannot unwind (it aborts the process), so the report is read
/// from the child's output.
#[test]
#[ignore = "run by forgetting_the_readers_behind_a_writer_is_rejected, in a child process"]
fn mutant_rw_word_forgets_readers() {
    pthread_sync::model_check::set_mutation(Some(Mutation::RwWordForgetsReaders));
    common::check(a_reader_queued_behind_a_writer);
}

#[test]
fn forgetting_the_readers_behind_a_writer_is_rejected() {
    // Correct: passes (above). Broken: the writer's release never wakes the reader that
    // queued behind it, which then sleeps for ever.
    let (failed, report) = common::run_mutant("mutant_rw_word_forgets_readers");
    assert!(
        failed,
        "loom accepted a write release that never wakes the readers behind it"
    );
    assert!(report.contains("deadlock"), "{report}");
}

/// This thread reads; a timed writer waits and gives up (the model's timed wait times out
/// after letting the others run); a reader that queued behind it meanwhile is let in by the
/// writer's giving up, while this thread still reads.
fn a_writer_that_gives_up() {
    let g = guarded();
    g.word.read().unwrap();
    let writer = {
        let g = Arc::clone(&g);
        thread::spawn(move || match g.word.write_for(Duration::from_millis(1)) {
            Ok(()) => {
                // SAFETY: the write lock is held.
                g.cell.with_mut(|p| unsafe { *p += 1 });
                // SAFETY: held by this thread.
                unsafe { g.word.unlock() };
                true
            }
            Err(e) => {
                assert_eq!(e, pthread_sync::Error::TimedOut);
                false
            }
        })
    };
    let reader = {
        let g = Arc::clone(&g);
        thread::spawn(move || read_once(&g))
    };
    // The reader finishes while this thread still holds its read, unless the writer got in
    // (it cannot while this read lasts): the timed-out writer let it in.
    let seen = reader.join().unwrap();
    assert_eq!(seen, 0);
    // SAFETY: the read taken above.
    unsafe { g.word.unlock() };
    let wrote = writer.join().unwrap();
    assert_eq!(read_once(&g), u32::from(wrote));
}

#[test]
fn a_writer_that_times_out_lets_the_readers_behind_it_in() {
    common::check(a_writer_that_gives_up);
}
