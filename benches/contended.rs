//! Contended throughput: 2 and 4 threads (on this 2-vCPU machine, 4 threads is throughput with
//! long time slices, not fairness) hammer one lock-protected counter. Each criterion
//! iteration is ONE increment: a batch of `iters` increments is split between the threads,
//! so the reported time is wall time per increment across the team. Thread spawn/join are
//! outside the timed span (`common::run_team`).
//!
//! Short critical section: the increment alone. Long: the increment plus `work(LONG_WORK)`
//! (about 100 ns, see the `contended_calibration` group).
//!
//! Each group also carries the adaptive-spin experiment (raw libc only): a normal pthread
//! mutex with a `SpinWait`-style trylock loop before `pthread_mutex_lock`, and glibc's own
//! `PTHREAD_MUTEX_ADAPTIVE_NP`, next to plain `pthread_mutex_lock`.

mod common;

use std::hint::black_box;

use common::{Counter, Pin, RawCounter};
use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion};

/// Steps of `common::work` in the long critical section.
const LONG_WORK: u32 = 330;

/// Adds "`threads` threads share `iters` increments of a `C`" to `group` as `id`.
fn team<C: Counter>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    id: &str,
    threads: usize,
    extra: u32,
) {
    group.bench_function(id, |b| {
        b.iter_custom(|iters| {
            let c = C::new();
            let elapsed = common::run_team(threads, Pin::Unpinned, |i| {
                for _ in 0..common::share(iters, threads, i) {
                    c.bump(extra);
                }
            });
            assert_eq!(c.get(), iters, "lost increments");
            elapsed
        })
    });
}

/// Every implementation, side by side, for one (critical section, thread count) pair.
fn group(c: &mut Criterion, name: &str, threads: usize, extra: u32) {
    common::multithreaded();
    let mut g = c.benchmark_group(name);
    team::<pthread_sync::Locker<u64>>(&mut g, "ours_Locker", threads, extra);
    team::<std::sync::Mutex<u64>>(&mut g, "std_Mutex", threads, extra);
    team::<parking_lot::Mutex<u64>>(&mut g, "parking_lot_Mutex", threads, extra);
    team::<RawCounter<common::Normal>>(&mut g, "raw_pthread_normal", threads, extra);
    team::<RawCounter<common::NormalSpinWait>>(&mut g, "exp_raw_normal_spinwait", threads, extra);
    team::<RawCounter<common::Adaptive>>(&mut g, "exp_raw_adaptive_np", threads, extra);
    g.finish();
}

fn short_2(c: &mut Criterion) {
    group(c, "contended_short_2threads", 2, 0);
}

fn short_4(c: &mut Criterion) {
    group(c, "contended_short_4threads", 4, 0);
}

fn long_2(c: &mut Criterion) {
    group(c, "contended_long_2threads", 2, LONG_WORK);
}

fn long_4(c: &mut Criterion) {
    group(c, "contended_long_4threads", 4, LONG_WORK);
}

/// What the long critical section costs by itself, and uncontended lock+work+unlock.
fn calibration(c: &mut Criterion) {
    common::multithreaded();
    let mut g = c.benchmark_group("contended_calibration");
    g.bench_function(BenchmarkId::new("work_alone", LONG_WORK), |b| {
        b.iter(|| common::work(black_box(LONG_WORK)))
    });
    let m = RawCounter::<common::Normal>::new();
    g.bench_function(
        BenchmarkId::new("raw_pthread_normal_1thread", LONG_WORK),
        |b| b.iter(|| black_box(&m).bump(LONG_WORK)),
    );
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::cross_thread();
    targets = calibration, short_2, short_4, long_2, long_4
}
criterion_main!(benches);
