//! Model checks of the in-process `RwLock`'s own logic: the biased read path (readers
//! publish in slots, writers revoke the bias and wait for them) excludes writers from
//! readers and shows readers the last write; a thread's second read while a writer waits is
//! counted, not taken again (the model rwlock, like glibc's writer-preferring kind, would
//! deadlock); `downgrade` lets no writer in between. The mutation that checks the bias
//! before publishing the slot is rejected.

mod common;

use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;
use pthread_sync::model_check::Mutation;
use pthread_sync::{RwLock, RwLockWriteGuard};

/// Two readers and a writer; the writer writes the cell, readers read it: loom's race
/// detector reports any overlap of a write with a read; each reader sees 0 or 1.
fn readers_and_a_writer() {
    readers_and_a_writer!(Arc::new(RwLock::new(UnsafeCell::new(0u32))));
}

#[test]
fn biased_reads_exclude_writers() {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(2);
    builder.check(readers_and_a_writer);
}

/// A reader after a writer, on one thread each, twice over (so that the bias is revoked and
/// restored): the reader sees the write it follows.
fn write_then_read_twice() {
    let lock = Arc::new(RwLock::new(UnsafeCell::new(0u32)));
    let writer = {
        let lock = Arc::clone(&lock);
        thread::spawn(move || {
            for _ in 0..2 {
                let g = lock.write().unwrap();
                // SAFETY: the write hold.
                g.with_mut(|p| unsafe { *p += 1 });
            }
        })
    };
    for _ in 0..2 {
        let g = lock.read().unwrap();
        // SAFETY: a read hold.
        let v = g.with(|p| unsafe { *p });
        assert!(v <= 2);
    }
    writer.join().unwrap();
}

#[test]
fn reads_and_writes_alternate_safely() {
    common::check(write_then_read_twice);
}

#[test]
fn checking_the_bias_before_publishing_is_rejected() {
    let report = common::rejected_with(Mutation::BravoCheckFirst, readers_and_a_writer)
        .expect("loom accepted a fast read that checks the bias only before publishing");
    eprintln!("loom's report: {report}");
    assert!(report.contains("Causality violation"), "{report}");
}

/// A thread reads, a writer starts waiting, the thread reads again and releases both: no
/// deadlock (the model rwlock would block the second read behind the waiting writer).
#[test]
fn a_second_read_while_a_writer_waits_is_counted() {
    common::check(|| second_read_while_a_writer_waits!(Arc::new(RwLock::new(0u32))));
}

/// A downgraded writer's read sees its own write, and a competing writer cannot get in
/// before the downgraded read hold is dropped.
#[test]
fn downgrade_lets_no_writer_in_between() {
    common::check(|| {
        let lock = Arc::new(RwLock::new(0u32));
        let other = {
            let lock = Arc::clone(&lock);
            thread::spawn(move || *lock.write().unwrap() = 10)
        };
        let mut w = lock.write().unwrap();
        let before = *w;
        *w = before + 1;
        let r = RwLockWriteGuard::downgrade(w);
        assert_eq!(*r, before + 1, "another writer got in at the downgrade");
        drop(r);
        other.join().unwrap();
    });
}
