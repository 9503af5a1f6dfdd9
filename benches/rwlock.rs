//! Reader-writer locks side by side: this crate's `RwLock` (BRAVO's biased reads over a
//! writer-preferring pthread rwlock), std's, parking_lot's, and raw `pthread_rwlock_t` of
//! both kinds (glibc's default, reader-preferring, and `PREFER_WRITER_NONRECURSIVE_NP`).
//!
//! - `rwlock_read_mostly_{1,2,4}threads`: each thread does 1 000 reads, then one write,
//!   over and over (the workload); one criterion iteration is one operation, so the
//!   time reported is wall time per operation across the team (its inverse: operations a
//!   second). 4 threads on 2 CPUs is throughput with long time slices.
//! - `rwlock_write_heavy_2threads`: one write per four operations.
//! - `rwlock_uncontended_calls`: one read (or write) lock + unlock, each contender behind
//!   one `#[inline(never)]` function.
//! - `shared_rwlock_uncontended_calls` and `shared_rwlock_read_mostly_2threads`: the
//!   process-shared locks, in shared mappings: `SharedRwLock` (reader slots of its own) against
//!   a raw process-shared `pthread_rwlock_t` (writer-preferring non-recursive, the same
//!   preference), read and write behind calls, and the read-mostly team with 2 threads.
//!
//! `cargo bench --bench rwlock -- --interleaved [--rounds R] [FILTER]` runs the team
//! workloads as interleaved rounds (every contender in every round, rotating order; ratios
//! to std's, and for `shared_rwlock_read_mostly_2threads` to the raw pshared rwlock), the
//! form to quote on a busy host.

mod common;

use std::cell::UnsafeCell;
use std::hint::black_box;

use common::Pin;
use criterion::measurement::WallTime;
use criterion::{criterion_group, BenchmarkGroup, Criterion};

/// A counter behind a reader-writer lock.
trait RwCounter: Send + Sync {
    fn new() -> Self;
    fn read(&self) -> u64;
    fn write(&self);
}

impl RwCounter for pthread_sync::RwLock<u64> {
    fn new() -> Self {
        pthread_sync::RwLock::new(0)
    }
    #[inline]
    fn read(&self) -> u64 {
        *self.read().unwrap()
    }
    #[inline]
    fn write(&self) {
        *self.write().unwrap() += 1;
    }
}

impl RwCounter for std::sync::RwLock<u64> {
    fn new() -> Self {
        std::sync::RwLock::new(0)
    }
    #[inline]
    fn read(&self) -> u64 {
        *self.read().unwrap()
    }
    #[inline]
    fn write(&self) {
        *self.write().unwrap() += 1;
    }
}

impl RwCounter for parking_lot::RwLock<u64> {
    fn new() -> Self {
        parking_lot::RwLock::new(0)
    }
    #[inline]
    fn read(&self) -> u64 {
        *self.read()
    }
    #[inline]
    fn write(&self) {
        *self.write() += 1;
    }
}

/// glibc's `PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP` (not in the `libc` crate).
const PREFER_WRITER_NONRECURSIVE: libc::c_int = 2;

/// A raw pthread rwlock of kind `KIND` (0: glibc's default, reader-preferring) and a counter.
struct RawRw<const KIND: libc::c_int> {
    lock: Box<UnsafeCell<libc::pthread_rwlock_t>>,
    value: UnsafeCell<u64>,
}

// SAFETY: the value is read under a read lock and written under the write lock.
unsafe impl<const KIND: libc::c_int> Sync for RawRw<KIND> {}
// SAFETY: as above; the rwlock is heap-allocated and never moves.
unsafe impl<const KIND: libc::c_int> Send for RawRw<KIND> {}

impl<const KIND: libc::c_int> RwCounter for RawRw<KIND> {
    fn new() -> Self {
        let lock = Box::new(UnsafeCell::new(libc::PTHREAD_RWLOCK_INITIALIZER));
        let mut attr = std::mem::MaybeUninit::<libc::pthread_rwlockattr_t>::uninit();
        // SAFETY: the attribute object is initialised, set, used and destroyed in order; the
        // rwlock is initialised once, in place, before any use.
        unsafe {
            assert_eq!(libc::pthread_rwlockattr_init(attr.as_mut_ptr()), 0);
            assert_eq!(
                libc::pthread_rwlockattr_setkind_np(attr.as_mut_ptr(), KIND),
                0
            );
            assert_eq!(libc::pthread_rwlock_init(lock.get(), attr.as_ptr()), 0);
            libc::pthread_rwlockattr_destroy(attr.as_mut_ptr());
        }
        RawRw {
            lock,
            value: UnsafeCell::new(0),
        }
    }
    #[inline]
    fn read(&self) -> u64 {
        // SAFETY: an initialised rwlock; the value is read under its read lock.
        unsafe {
            assert_eq!(libc::pthread_rwlock_rdlock(self.lock.get()), 0);
            let v = *self.value.get();
            libc::pthread_rwlock_unlock(self.lock.get());
            v
        }
    }
    #[inline]
    fn write(&self) {
        // SAFETY: an initialised rwlock; the value is written under its write lock.
        unsafe {
            assert_eq!(libc::pthread_rwlock_wrlock(self.lock.get()), 0);
            *self.value.get() += 1;
            libc::pthread_rwlock_unlock(self.lock.get());
        }
    }
}

/// This crate's process-shared, robust reader-writer lock, in an anonymous shared region.
struct OursShared(pthread_sync::ShmBox<pthread_sync::SharedRwLock<u64>>);

impl RwCounter for OursShared {
    fn new() -> Self {
        let region = pthread_sync::ShmBox::anonymous(pthread_sync::SharedRwLock::new(0))
            .expect("a shared region");
        drop(region.write().expect("armed")); // every mutex armed
        OursShared(region)
    }
    #[inline]
    fn read(&self) -> u64 {
        *self.0.read().unwrap()
    }
    #[inline]
    fn write(&self) {
        *self.0.write().unwrap() += 1;
    }
}

/// A raw process-shared `pthread_rwlock_t` of the writer-preferring non-recursive kind and a
/// counter, in a shared anonymous mapping (what a program sharing a table between processes
/// would use without this crate; a dead holder there stalls everyone after it).
struct RawSharedRw {
    base: *mut libc::c_void,
}

// SAFETY: the value is read under a read lock and written under the write lock; the mapping
// lives as long as the value.
unsafe impl Sync for RawSharedRw {}
// SAFETY: as above.
unsafe impl Send for RawSharedRw {}

impl RawSharedRw {
    const LEN: usize = 4096;

    fn lock(&self) -> *mut libc::pthread_rwlock_t {
        self.base.cast()
    }

    fn value(&self) -> *mut u64 {
        // SAFETY: offset 128 lies inside the 4096-byte mapping, aligned for u64.
        unsafe { self.base.cast::<u8>().add(128).cast() }
    }
}

impl RwCounter for RawSharedRw {
    fn new() -> Self {
        // SAFETY: a fresh anonymous shared mapping; no other argument is a pointer.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                Self::LEN,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(base, libc::MAP_FAILED, "mmap");
        let raw = RawSharedRw { base };
        let mut attr = std::mem::MaybeUninit::<libc::pthread_rwlockattr_t>::uninit();
        // SAFETY: the attribute object is initialised, set, used and destroyed in order; the
        // rwlock is initialised once, in place in the mapping (zeroed, unused), before any use.
        unsafe {
            assert_eq!(libc::pthread_rwlockattr_init(attr.as_mut_ptr()), 0);
            assert_eq!(
                libc::pthread_rwlockattr_setpshared(
                    attr.as_mut_ptr(),
                    libc::PTHREAD_PROCESS_SHARED
                ),
                0
            );
            assert_eq!(
                libc::pthread_rwlockattr_setkind_np(attr.as_mut_ptr(), PREFER_WRITER_NONRECURSIVE),
                0
            );
            assert_eq!(libc::pthread_rwlock_init(raw.lock(), attr.as_ptr()), 0);
            libc::pthread_rwlockattr_destroy(attr.as_mut_ptr());
        }
        raw
    }
    #[inline]
    fn read(&self) -> u64 {
        // SAFETY: an initialised rwlock; the value is read under its read lock.
        unsafe {
            assert_eq!(libc::pthread_rwlock_rdlock(self.lock()), 0);
            let v = *self.value();
            libc::pthread_rwlock_unlock(self.lock());
            v
        }
    }
    #[inline]
    fn write(&self) {
        // SAFETY: an initialised rwlock; the value is written under its write lock.
        unsafe {
            assert_eq!(libc::pthread_rwlock_wrlock(self.lock()), 0);
            *self.value() += 1;
            libc::pthread_rwlock_unlock(self.lock());
        }
    }
}

impl Drop for RawSharedRw {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, unused from here on.
        unsafe { libc::munmap(self.base, Self::LEN) };
    }
}

/// `threads` threads share `iters` operations, one write every `period` (the rest reads).
fn team<C: RwCounter>(g: &mut BenchmarkGroup<'_, WallTime>, id: &str, threads: usize, period: u64) {
    g.bench_function(id, |b| {
        b.iter_custom(|iters| {
            let c = C::new();
            common::run_team(threads, Pin::Unpinned, |i| {
                for op in 0..common::share(iters, threads, i) {
                    if op % period == period - 1 {
                        c.write();
                    } else {
                        black_box(c.read());
                    }
                }
            })
        })
    });
}

fn group(c: &mut Criterion, name: &str, threads: usize, period: u64) {
    common::multithreaded();
    let mut g = c.benchmark_group(name);
    team::<pthread_sync::RwLock<u64>>(&mut g, "ours_RwLock", threads, period);
    team::<std::sync::RwLock<u64>>(&mut g, "std_RwLock", threads, period);
    team::<parking_lot::RwLock<u64>>(&mut g, "parking_lot_RwLock", threads, period);
    team::<RawRw<0>>(&mut g, "raw_pthread_reader_pref", threads, period);
    team::<RawRw<PREFER_WRITER_NONRECURSIVE>>(&mut g, "raw_pthread_writer_nonrec", threads, period);
    g.finish();
}

fn read_mostly_1(c: &mut Criterion) {
    group(c, "rwlock_read_mostly_1thread", 1, 1001);
}
fn read_mostly_2(c: &mut Criterion) {
    group(c, "rwlock_read_mostly_2threads", 2, 1001);
}
fn read_mostly_4(c: &mut Criterion) {
    group(c, "rwlock_read_mostly_4threads", 4, 1001);
}
fn write_heavy_2(c: &mut Criterion) {
    group(c, "rwlock_write_heavy_2threads", 2, 4);
}

#[inline(never)]
fn ours_read(l: &pthread_sync::RwLock<u64>) -> u64 {
    *l.read().unwrap()
}
#[inline(never)]
fn ours_write(l: &pthread_sync::RwLock<u64>) {
    *l.write().unwrap() += 1;
}
#[inline(never)]
fn raw_read(l: &RawRw<PREFER_WRITER_NONRECURSIVE>) -> u64 {
    l.read()
}
#[inline(never)]
fn raw_write(l: &RawRw<PREFER_WRITER_NONRECURSIVE>) {
    l.write();
}
#[inline(never)]
fn std_read(l: &std::sync::RwLock<u64>) -> u64 {
    *l.read().unwrap()
}
#[inline(never)]
fn pl_read(l: &parking_lot::RwLock<u64>) -> u64 {
    *l.read()
}

fn uncontended(c: &mut Criterion) {
    common::multithreaded();
    let ours = <pthread_sync::RwLock<u64> as RwCounter>::new();
    let raw = <RawRw<PREFER_WRITER_NONRECURSIVE> as RwCounter>::new();
    let std_l = <std::sync::RwLock<u64> as RwCounter>::new();
    let pl = <parking_lot::RwLock<u64> as RwCounter>::new();
    let mut g = c.benchmark_group("rwlock_uncontended_calls");
    g.bench_function("ours_read", |b| b.iter(|| ours_read(black_box(&ours))));
    g.bench_function("raw_read", |b| b.iter(|| raw_read(black_box(&raw))));
    g.bench_function("std_read", |b| b.iter(|| std_read(black_box(&std_l))));
    g.bench_function("parking_lot_read", |b| b.iter(|| pl_read(black_box(&pl))));
    // Writes, with reads never taken in between (the bias stays revoked: a steady state of
    // writes; one read between writes would re-bias and make each write revoke).
    g.bench_function("ours_write", |b| b.iter(|| ours_write(black_box(&ours))));
    g.bench_function("raw_write", |b| b.iter(|| raw_write(black_box(&raw))));
    g.finish();
}

/// `threads` threads share `n` operations of a fresh `C`, one write every `period`: the time.
fn team_run<C: RwCounter>(n: u64, threads: usize, period: u64) -> std::time::Duration {
    let c = C::new();
    common::run_team(threads, Pin::Unpinned, |i| {
        for op in 0..common::share(n, threads, i) {
            if op % period == period - 1 {
                c.write();
            } else {
                black_box(c.read());
            }
        }
    })
}

/// Every workload, each contender in every round (rotating order): the ratios that a busy
/// host cannot skew the way one-after-the-other groups are skewed (see BENCHMARKING.md).
fn interleaved(opts: &common::Interleaved) {
    use common::Scenario;
    common::multithreaded();
    println!("rwlock --interleaved: ratios to std_RwLock; process multi-threaded");
    for (name, threads, period) in [
        ("rwlock_read_mostly_1thread", 1, 1001),
        ("rwlock_read_mostly_2threads", 2, 1001),
        ("rwlock_read_mostly_4threads", 4, 1001),
        ("rwlock_write_heavy_2threads", 2, 4),
    ] {
        opts.group(
            name,
            "operation",
            200_000,
            "std_RwLock",
            &[
                Scenario::new("ours_RwLock", |n| {
                    team_run::<pthread_sync::RwLock<u64>>(n, threads, period)
                }),
                Scenario::new("std_RwLock", |n| {
                    team_run::<std::sync::RwLock<u64>>(n, threads, period)
                }),
                Scenario::new("parking_lot_RwLock", |n| {
                    team_run::<parking_lot::RwLock<u64>>(n, threads, period)
                }),
                Scenario::new("raw_pthread_reader_pref", |n| {
                    team_run::<RawRw<0>>(n, threads, period)
                }),
                Scenario::new("raw_pthread_writer_nonrec", |n| {
                    team_run::<RawRw<PREFER_WRITER_NONRECURSIVE>>(n, threads, period)
                }),
            ],
        );
    }
    // The process-shared locks (in shared mappings), with the raw pshared rwlock as anchor.
    opts.group(
        "shared_rwlock_read_mostly_2threads",
        "operation",
        200_000,
        "raw_pshared_writer_nonrec",
        &[
            Scenario::new("ours_SharedRwLock", |n| team_run::<OursShared>(n, 2, 1001)),
            Scenario::new("raw_pshared_writer_nonrec", |n| {
                team_run::<RawSharedRw>(n, 2, 1001)
            }),
        ],
    );
}

#[inline(never)]
fn ours_shared_read(l: &OursShared) -> u64 {
    l.read()
}
#[inline(never)]
fn ours_shared_write(l: &OursShared) {
    l.write();
}
#[inline(never)]
fn raw_shared_read(l: &RawSharedRw) -> u64 {
    l.read()
}
#[inline(never)]
fn raw_shared_write(l: &RawSharedRw) {
    l.write();
}

fn shared_uncontended(c: &mut Criterion) {
    common::multithreaded();
    let ours = OursShared::new();
    let raw = RawSharedRw::new();
    let mut g = c.benchmark_group("shared_rwlock_uncontended_calls");
    g.bench_function("ours_read", |b| {
        b.iter(|| ours_shared_read(black_box(&ours)))
    });
    g.bench_function("raw_pshared_read", |b| {
        b.iter(|| raw_shared_read(black_box(&raw)))
    });
    g.bench_function("ours_write", |b| {
        b.iter(|| ours_shared_write(black_box(&ours)))
    });
    g.bench_function("raw_pshared_write", |b| {
        b.iter(|| raw_shared_write(black_box(&raw)))
    });
    g.finish();
}

fn shared_read_mostly_2(c: &mut Criterion) {
    common::multithreaded();
    let mut g = c.benchmark_group("shared_rwlock_read_mostly_2threads");
    team::<OursShared>(&mut g, "ours_SharedRwLock", 2, 1001);
    team::<RawSharedRw>(&mut g, "raw_pshared_writer_nonrec", 2, 1001);
    g.finish();
}

criterion_group! {
    name = shared_calls;
    config = common::quick();
    targets = shared_uncontended
}
criterion_group! {
    name = shared_teams;
    config = common::cross_thread();
    targets = shared_read_mostly_2
}
criterion_group! {
    name = calls;
    config = common::quick();
    targets = uncontended
}
criterion_group! {
    name = teams;
    config = common::cross_thread();
    targets = read_mostly_1, read_mostly_2, read_mostly_4, write_heavy_2
}

fn main() {
    if let Some(opts) = common::Interleaved::from_args() {
        interleaved(&opts);
        return;
    }
    calls();
    teams();
    shared_calls();
    shared_teams();
    Criterion::default().configure_from_args().final_summary();
}
