//! Fork and signal costs.
//!
//! - `signal_mask`: `signal::block(&set)` and dropping its guard (two `pthread_sigmask`
//!   calls: block, then restore) against the same two raw calls.
//! - `fork_cost`: `fork` + the child's `_exit` + `waitpid`, with 0, 1 and 100 locks
//!   protected by the atfork registry (each fork then takes and releases every one of them
//!   in the parent, and re-initialises them in the child), and with none registered at all.

mod common;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use pthread_sync::signal::{self, SigSet, Signal};
use pthread_sync::{atfork, Locker};

fn signal_mask(c: &mut Criterion) {
    common::multithreaded();
    let set = SigSet::from([Signal::USR1, Signal::USR2]);
    let mut raw_set = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: initialised by sigemptyset before the adds; valid signal numbers.
    let raw_set = unsafe {
        libc::sigemptyset(raw_set.as_mut_ptr());
        libc::sigaddset(raw_set.as_mut_ptr(), libc::SIGUSR1);
        libc::sigaddset(raw_set.as_mut_ptr(), libc::SIGUSR2);
        raw_set.assume_init()
    };
    let mut g = c.benchmark_group("signal_mask");
    g.bench_function("ours_block_and_drop", |b| {
        b.iter(|| drop(black_box(signal::block(black_box(&set)).unwrap())))
    });
    g.bench_function("raw_two_pthread_sigmask", |b| {
        b.iter(|| {
            let mut old = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
            // SAFETY: valid sets; `old` is written by the first call and read by the second.
            unsafe {
                libc::pthread_sigmask(libc::SIG_BLOCK, black_box(&raw_set), old.as_mut_ptr());
                libc::pthread_sigmask(libc::SIG_SETMASK, old.as_ptr(), std::ptr::null_mut());
            }
        })
    });
    g.finish();
}

/// fork + `_exit(0)` in the child + `waitpid`.
fn fork_and_wait() {
    // SAFETY: the bench's process forks while its other threads are idle; the child only
    // `_exit`s.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: ends the child at once.
        unsafe { libc::_exit(0) };
    }
    assert!(pid > 0);
    // SAFETY: our child.
    unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
}

static LOCKS: [Locker<u64>; 100] = [const { Locker::new(0) }; 100];

fn fork_cost(c: &mut Criterion) {
    common::multithreaded();
    let mut g = c.benchmark_group("fork_cost");
    g.bench_function("no_registry", |b| b.iter(fork_and_wait));
    for n in [0usize, 1, 100] {
        // The registry's trampoline is installed by the first registration; with n = 0 an
        // empty registration makes it run (and take and release the registry's own lock).
        let _empty = atfork::register(|| {}, || {}, || {}).unwrap();
        let handles: Vec<_> = LOCKS[..n]
            .iter()
            .map(|l| atfork::protect(l).unwrap())
            .collect();
        g.bench_with_input(BenchmarkId::new("protected_locks", n), &n, |b, _| {
            b.iter(fork_and_wait)
        });
        drop(handles);
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::quick();
    targets = signal_mask, fork_cost
}
criterion_main!(benches);
