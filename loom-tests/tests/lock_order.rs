//! The lock-order checker's own concurrent logic: the graph's updates under its lock, and the
//! per-thread cache of edges validated by the graph's epoch, which a lock's removal moves. The
//! checker's mode is process-wide (a switch, not modelled), so these models have a test binary
//! of their own.

mod common;

use loom::thread;
use pthread_sync::lock_order::{self, Mode, Report};
use pthread_sync::model_check::{lock_order as lo, Mutation};
use std::cell::Cell;

/// Made-up lock addresses.
const A: usize = 0x1000;
const B: usize = 0x2000;

std::thread_local! {
    /// Reports of the current model run (reset at its start; not modelled). Per OS thread:
    /// loom runs a whole model on the thread that starts it, and the tests of this binary
    /// run on threads of their own.
    static REPORTS: Cell<usize> = const { Cell::new(0) };
}

fn count(_: &Report) {
    REPORTS.with(|r| r.set(r.get() + 1));
}

fn reports() -> usize {
    REPORTS.with(Cell::get)
}

fn checking() {
    REPORTS.with(|r| r.set(0));
    lock_order::set_hook(Some(count));
    lock_order::set_mode(Mode::Report);
}

/// A lock dropped while another thread makes an edge from it: once the drop is seen, the
/// next acquisition in that order is checked again and the edge is back in the graph (a
/// thread's cached edge never outlives a removal).
fn removal_during_a_new_edge() {
    checking();
    let t = thread::spawn(|| lo::drop_lock(A));
    lo::nested(A, B);
    t.join().unwrap();
    // Another lock at A, taken before B again.
    lo::nested(A, B);
    assert!(lo::has_edge(A, B), "a cached edge the graph no longer has");
    assert_eq!(reports(), 0);
}

#[test]
fn a_cached_edge_never_outlives_a_removal() {
    common::check(removal_during_a_new_edge);
}

#[test]
fn caching_the_epoch_read_after_unlocking_is_rejected() {
    let report = common::rejected_with(
        Mutation::LockOrderEpochAfterUnlock,
        removal_during_a_new_edge,
    )
    .expect("loom accepted an edge cached with an epoch read after the graph's lock");
    assert!(report.contains("a cached edge"), "{report}");
}

/// Two threads take A and B in opposite orders at once: however they interleave, the
/// second edge to reach the graph closes the cycle and is reported, exactly once.
fn opposite_orders_at_once() {
    checking();
    let t = thread::spawn(|| lo::nested(B, A));
    lo::nested(A, B);
    t.join().unwrap();
    assert_eq!(reports(), 1);
    assert!(lo::has_edge(A, B) && lo::has_edge(B, A));
    // Known now, on both threads' paths: no second report.
    lo::nested(B, A);
    assert_eq!(reports(), 1);
}

#[test]
fn opposite_orders_at_once_are_reported_once() {
    common::check(opposite_orders_at_once);
}
