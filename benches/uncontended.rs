//! Uncontended lock + increment + unlock on one thread, in a process that already has threads
//! (see `common::multithreaded`): this crate vs `std` vs `parking_lot` vs the raw libc call of
//! the same kind. One criterion group per mutex kind; bench ids name the implementation.

mod common;

use std::cell::Cell;
use std::hint::black_box;
use std::time::Duration;

use common::{Counter, MutexAttrs, PMutex, RawCounter, RawPolicy};
use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion};

/// Adds `lock + increment + unlock` of `C` to `group` as `id`.
fn counter<C: Counter>(group: &mut BenchmarkGroup<'_, WallTime>, id: &str) {
    let c = C::new();
    let mut ran = false;
    group.bench_function(id, |b| {
        ran = true;
        b.iter(|| black_box(&c).bump(0))
    });
    // The lock really was taken (when the bench was not filtered out).
    assert!(!ran || c.get() > 0);
}

// --- kinds the shared module does not cover -------------------------------------------------

impl Counter for pthread_sync::ErrorCheckLocker<u64> {
    fn new() -> Self {
        pthread_sync::ErrorCheckLocker::new(0)
    }
    #[inline(always)]
    fn bump(&self, extra: u32) {
        let mut g = self.lock().unwrap();
        *g += 1;
        common::work(extra);
    }
    fn get(&self) -> u64 {
        *self.lock().unwrap()
    }
}

/// A raw mutex of a fixed kind, locked with plain `pthread_mutex_lock`.
macro_rules! raw_kind {
    ($name:ident, $attrs:expr) => {
        struct $name;
        impl RawPolicy for $name {
            fn attrs() -> MutexAttrs {
                $attrs
            }
            #[inline(always)]
            fn lock(m: &PMutex) {
                m.lock();
            }
        }
    };
}

raw_kind!(
    ErrorCheck,
    MutexAttrs::private(libc::PTHREAD_MUTEX_ERRORCHECK)
);
raw_kind!(
    Pshared,
    MutexAttrs {
        kind: libc::PTHREAD_MUTEX_NORMAL,
        pshared: true,
        robust: false,
    }
);
raw_kind!(
    RobustPshared,
    MutexAttrs {
        kind: libc::PTHREAD_MUTEX_NORMAL,
        pshared: true,
        robust: true,
    }
);

// --- groups ---------------------------------------------------------------------------------

fn normal(c: &mut Criterion) {
    common::multithreaded();
    let mut g = c.benchmark_group("uncontended_normal");
    counter::<pthread_sync::Locker<u64>>(&mut g, "ours_Locker");
    counter::<std::sync::Mutex<u64>>(&mut g, "std_Mutex");
    counter::<parking_lot::Mutex<u64>>(&mut g, "parking_lot_Mutex");
    counter::<RawCounter<common::Normal>>(&mut g, "raw_pthread_normal");
    g.finish();
}

fn errorcheck(c: &mut Criterion) {
    common::multithreaded();
    let mut g = c.benchmark_group("uncontended_errorcheck");
    counter::<pthread_sync::ErrorCheckLocker<u64>>(&mut g, "ours_ErrorCheckLocker");
    counter::<RawCounter<ErrorCheck>>(&mut g, "raw_pthread_errorcheck");
    g.finish();
}

/// Lock, lock again (nested), increment, unlock twice.
fn recursive(c: &mut Criterion) {
    common::multithreaded();
    let mut g = c.benchmark_group("uncontended_recursive_nested2");

    let ours = pthread_sync::RecursiveLocker::new(Cell::new(0u64));
    g.bench_function("ours_RecursiveLocker", |b| {
        b.iter(|| {
            let m = black_box(&ours);
            let _outer = m.lock();
            let inner = m.lock();
            inner.set(inner.get() + 1);
        })
    });

    let raw = PMutex::new(MutexAttrs::private(libc::PTHREAD_MUTEX_RECURSIVE));
    let raw_value = Cell::new(0u64);
    g.bench_function("raw_pthread_recursive", |b| {
        b.iter(|| {
            let m = black_box(&raw);
            m.lock();
            m.lock();
            raw_value.set(raw_value.get() + 1);
            // SAFETY: this thread locked `m` twice just above; each unlock releases one level.
            unsafe {
                m.unlock();
                m.unlock();
            }
        })
    });

    let pl = parking_lot::ReentrantMutex::new(Cell::new(0u64));
    g.bench_function("parking_lot_ReentrantMutex", |b| {
        b.iter(|| {
            let m = black_box(&pl);
            let _outer = m.lock();
            let inner = m.lock();
            inner.set(inner.get() + 1);
        })
    });
    g.finish();
    // Every bench of the group did its work, or the group was filtered out.
    let counts = [ours.lock().get(), raw_value.get(), pl.lock().get()];
    assert!(counts.iter().all(|&n| n > 0) || counts.iter().all(|&n| n == 0));
}

/// `try_lock` that succeeds, increment, unlock.
fn try_lock(c: &mut Criterion) {
    common::multithreaded();
    let mut g = c.benchmark_group("uncontended_try_lock");

    let ours = pthread_sync::Locker::new(0u64);
    g.bench_function("ours_Locker", |b| {
        b.iter(|| *black_box(&ours).try_lock().unwrap() += 1)
    });
    let std_m = std::sync::Mutex::new(0u64);
    g.bench_function("std_Mutex", |b| {
        b.iter(|| *black_box(&std_m).try_lock().unwrap() += 1)
    });
    let pl = parking_lot::Mutex::new(0u64);
    g.bench_function("parking_lot_Mutex", |b| {
        b.iter(|| *black_box(&pl).try_lock().unwrap() += 1)
    });
    let raw_m = PMutex::normal();
    let raw_value = Cell::new(0u64);
    g.bench_function("raw_pthread_normal", |b| {
        b.iter(|| {
            let m = black_box(&raw_m);
            assert!(m.try_lock());
            raw_value.set(raw_value.get() + 1);
            // SAFETY: `try_lock` just succeeded on this thread.
            unsafe { m.unlock() };
        })
    });
    g.finish();
    // Both benches of the group did their work, or the group was filtered out.
    assert_eq!(*ours.lock().unwrap() > 0, raw_value.get() > 0);
}

/// Lock with a (long) timeout that is never reached, increment, unlock. This crate and raw
/// libc both read `CLOCK_MONOTONIC` (vDSO) to build the deadline for
/// `pthread_mutex_clocklock`; parking_lot's `try_lock_for` takes its fast path first and reads
/// no clock when the lock is free.
fn lock_timeout(c: &mut Criterion) {
    common::multithreaded();
    let mut g = c.benchmark_group("uncontended_lock_timeout");
    let dur = Duration::from_secs(1);

    let ours = pthread_sync::Locker::new(0u64);
    g.bench_function("ours_Locker_lock_timeout", |b| {
        b.iter(|| *black_box(&ours).lock_timeout(black_box(dur)).unwrap() += 1)
    });
    let pl = parking_lot::Mutex::new(0u64);
    g.bench_function("parking_lot_try_lock_for", |b| {
        b.iter(|| *black_box(&pl).try_lock_for(black_box(dur)).unwrap() += 1)
    });
    let raw_m = PMutex::normal();
    let raw_value = Cell::new(0u64);
    g.bench_function("raw_pthread_clocklock", |b| {
        b.iter(|| {
            let m = black_box(&raw_m);
            assert!(m.lock_timeout(black_box(dur)));
            raw_value.set(raw_value.get() + 1);
            // SAFETY: `lock_timeout` just acquired it on this thread.
            unsafe { m.unlock() };
        })
    });
    g.finish();
    // Both benches of the group did their work, or the group was filtered out.
    assert_eq!(*ours.lock().unwrap() > 0, raw_value.get() > 0);
}

/// Raw-only anchors for the process-shared kinds (the crate's types for them land later):
/// normal private vs `PTHREAD_PROCESS_SHARED` vs robust + process-shared, all in-process here.
fn pshared_anchors(c: &mut Criterion) {
    common::multithreaded();
    let mut g = c.benchmark_group("uncontended_raw_only_pshared_anchors");
    counter::<RawCounter<common::Normal>>(&mut g, "raw_pthread_normal_private");
    counter::<RawCounter<Pshared>>(&mut g, "raw_pthread_pshared");
    counter::<RawCounter<RobustPshared>>(&mut g, "raw_pthread_robust_pshared");
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::quick();
    targets = normal, errorcheck, recursive, try_lock, lock_timeout, pshared_anchors
}
criterion_main!(benches);
