//! The process-shared primitives, across processes.
//!
//! - `shared_contended_{2,4}`: `N` forked processes share `iters` increments of a counter under
//!   one `SharedLocker` (time per increment, start to last finisher; the forks happen before
//!   the timed span, each child waits for a start signal), next to the same lock in the same
//!   region used by `N` threads of this process, and to the raw pshared robust mutex used by
//!   `N` processes.
//! - `shared_sem_pingpong_{one_cpu,unpinned}`: a parent and a forked child hand a token back
//!   and forth through two `SharedSem`s, next to raw pshared `sem_t`s (time per round trip).
//!   On one CPU every hand-off is a context switch; unpinned, a cross-CPU wake-up (35-60 µs on
//!   these VMs, the hypervisor's cost more than the code's).
//! - `shared_cond_pingpong_{one_cpu,unpinned}`: a parent and a forked child hand a turn back
//!   and forth under a `SharedLocker<u64>` + `SharedCond` (the crate's futex protocol), next to
//!   a raw pshared robust normal `pthread_mutex_t` + a raw pshared `pthread_cond_t`
//!   (`CLOCK_MONOTONIC` condattr) in the same region (time per round trip).
//! - `shared_cond_notify_all_4procs_{one_cpu,unpinned}`: each round the parent sets a
//!   generation under the lock and calls `notify_all`; each of 4 forked children wakes, sees
//!   it and acknowledges on a second lock + condvar of the same kind (count += 1, `notify_one`);
//!   the round ends when the parent has all 4 (time per round), ours vs raw.
//!
//! The condvar scenarios also run interleaved (a batch of ours and of raw in every round,
//! rotating order; medians over rounds and the median of per-round ratios, with the CPU share
//! other processes took): `cargo bench --bench shared -- --interleaved [--rounds R]
//! [--scale F] [FILTER]`. In every condvar scenario the children first report ready (a spin on
//! an atomic in the region) and the clock starts only then: `fork` and the children's start are
//! not timed.
//!
//! The uncontended costs (each shared kind, `SharedSem` post+wait, against the raw pshared
//! call) are measured behind a call in `benches/calls.rs`.
//!
//! Children use only the primitives and the region, then `_exit`; every child is reaped.

mod common;

use std::cell::UnsafeCell;
use std::mem::MaybeUninit;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{criterion_group, BenchmarkGroup, Criterion};
use pthread_sync::shm::{ShmBox, ShmSafe};
use pthread_sync::{SharedCond, SharedLocker, SharedSem};

/// Forks a child running `body`, which must `_exit`.
fn fork(body: impl FnOnce() -> i32) -> libc::pid_t {
    // SAFETY: the bench's threads are joined whenever it forks; the child runs `body` (shared
    // primitives and the region only) and leaves with `_exit`.
    match unsafe { libc::fork() } {
        -1 => panic!("fork: {}", std::io::Error::last_os_error()),
        // SAFETY: ends the child at once.
        0 => unsafe { libc::_exit(body()) },
        pid => pid,
    }
}

fn reap(pid: libc::pid_t) {
    let mut status = 0;
    // SAFETY: our unreaped child; `status` is valid for writes.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "a child failed"
    );
}

/// A raw pshared robust normal mutex and its counter, initialised in place in a region.
#[repr(C)]
struct RawShared {
    mutex: UnsafeCell<MaybeUninit<libc::pthread_mutex_t>>,
    value: UnsafeCell<u64>,
}
// SAFETY: #[repr(C)]; a pthread mutex (initialised in place below, never moved) and the
// counter it guards.
unsafe impl Sync for RawShared {}
// SAFETY: as above.
unsafe impl ShmSafe for RawShared {}

impl RawShared {
    /// Initialises the mutex in place, pshared and robust.
    fn init(&self) {
        // SAFETY: `attr` is initialised before use and destroyed after; the mutex is
        // initialised once at its final address in the region, before anyone uses it.
        unsafe {
            let mut attr = MaybeUninit::<libc::pthread_mutexattr_t>::uninit();
            libc::pthread_mutexattr_init(attr.as_mut_ptr());
            libc::pthread_mutexattr_setpshared(attr.as_mut_ptr(), libc::PTHREAD_PROCESS_SHARED);
            libc::pthread_mutexattr_setrobust(attr.as_mut_ptr(), libc::PTHREAD_MUTEX_ROBUST);
            libc::pthread_mutexattr_settype(attr.as_mut_ptr(), libc::PTHREAD_MUTEX_NORMAL);
            assert_eq!(
                libc::pthread_mutex_init(self.mutex.get().cast(), attr.as_ptr()),
                0
            );
            libc::pthread_mutexattr_destroy(attr.as_mut_ptr());
        }
    }

    #[inline(always)]
    fn bump(&self) {
        // SAFETY: initialised by `init`; the counter is touched only under the mutex, which
        // this thread holds between the two calls.
        unsafe {
            assert_eq!(libc::pthread_mutex_lock(self.mutex.get().cast()), 0);
            *self.value.get() += 1;
            libc::pthread_mutex_unlock(self.mutex.get().cast());
        }
    }
}

#[repr(C)]
struct Arena {
    ours: SharedLocker<u64>,
    raw: RawShared,
    start: SharedSem,
    done: SharedSem,
    /// Increments each participant makes in the current batch.
    share: AtomicU64,
}
// SAFETY: #[repr(C)]; shared primitives, a raw pshared mutex, an atomic.
unsafe impl ShmSafe for Arena {}

/// Who runs the team.
#[derive(Clone, Copy)]
enum Team {
    Processes,
    Threads,
}

/// `n` participants each make `share` increments with `bump`, started together; the time
/// from the start signal to the last one done.
fn run(arena: &Arena, team: Team, n: usize, iters: u64, bump: fn(&Arena)) -> Duration {
    let share = iters.div_ceil(n as u64);
    arena.share.store(share, Relaxed);
    let body = || {
        if arena.start.wait().is_err() {
            return 1;
        }
        for _ in 0..arena.share.load(Relaxed) {
            bump(arena);
        }
        i32::from(arena.done.post().is_err())
    };
    let finish = |start: Instant| {
        for _ in 0..n {
            arena.done.wait().unwrap();
        }
        start.elapsed()
    };
    match team {
        Team::Processes => {
            let pids: Vec<_> = (0..n).map(|_| fork(body)).collect();
            let start = Instant::now();
            for _ in 0..n {
                arena.start.post().unwrap();
            }
            let elapsed = finish(start);
            pids.into_iter().for_each(reap);
            elapsed
        }
        Team::Threads => std::thread::scope(|s| {
            for _ in 0..n {
                s.spawn(|| assert_eq!(body(), 0));
            }
            let start = Instant::now();
            for _ in 0..n {
                arena.start.post().unwrap();
            }
            finish(start)
        }),
    }
}

fn ours(a: &Arena) {
    *a.ours.lock().unwrap() += 1;
}

fn raw(a: &Arena) {
    a.raw.bump();
}

fn contender(
    g: &mut BenchmarkGroup<'_, WallTime>,
    id: &str,
    team: Team,
    n: usize,
    bump: fn(&Arena),
) {
    let arena = ShmBox::anonymous(Arena {
        ours: SharedLocker::new(0),
        raw: RawShared {
            mutex: UnsafeCell::new(MaybeUninit::zeroed()),
            value: UnsafeCell::new(0),
        },
        start: SharedSem::new(0).unwrap(),
        done: SharedSem::new(0).unwrap(),
        share: AtomicU64::new(0),
    })
    .unwrap();
    arena.raw.init();
    g.bench_function(id, |b| {
        b.iter_custom(|iters| run(&arena, team, n, iters, bump))
    });
}

fn contended(c: &mut Criterion, n: usize) {
    common::multithreaded();
    let mut g = c.benchmark_group(format!("shared_contended_{n}"));
    contender(&mut g, "ours_processes", Team::Processes, n, ours);
    contender(&mut g, "ours_threads", Team::Threads, n, ours);
    contender(
        &mut g,
        "raw_pshared_robust_processes",
        Team::Processes,
        n,
        raw,
    );
    g.finish();
}

fn contended_2(c: &mut Criterion) {
    contended(c, 2);
}

fn contended_4(c: &mut Criterion) {
    contended(c, 4);
}

/// Two semaphores in a region, ours and raw, for a ping-pong.
#[repr(C)]
struct Pong {
    ping: SharedSem,
    pong: SharedSem,
    raw_ping: UnsafeCell<MaybeUninit<libc::sem_t>>,
    raw_pong: UnsafeCell<MaybeUninit<libc::sem_t>>,
    rounds: AtomicU64,
}
// SAFETY: #[repr(C)]; semaphores (the raw ones initialised in place, pshared) and an atomic.
unsafe impl Sync for Pong {}
// SAFETY: as above.
unsafe impl ShmSafe for Pong {}

fn raw_sem(s: &UnsafeCell<MaybeUninit<libc::sem_t>>) -> *mut libc::sem_t {
    s.get().cast()
}

/// `iters` round trips between this process and a forked child (both pinned to CPU 0 when
/// `one_cpu`), through ours (`raw` false) or the raw pshared `sem_t`s.
fn ping_pong(p: &Pong, iters: u64, one_cpu: bool, use_raw: bool) -> Duration {
    p.rounds.store(iters, Relaxed);
    let child = fork(|| {
        if one_cpu {
            common::pin_to_cpu(0);
        }
        for _ in 0..p.rounds.load(Relaxed) {
            if use_raw {
                // SAFETY: initialised in place, pshared, before the fork.
                unsafe {
                    libc::sem_wait(raw_sem(&p.raw_ping));
                    libc::sem_post(raw_sem(&p.raw_pong));
                }
            } else if p.ping.wait().is_err() || p.pong.post().is_err() {
                return 1;
            }
        }
        0
    });
    // The parent's side on a thread of its own, pinned if asked (the main thread stays free;
    // the thread is joined before the next fork).
    let elapsed = std::thread::scope(|s| {
        s.spawn(|| {
            if one_cpu {
                common::pin_to_cpu(0);
            }
            let start = Instant::now();
            for _ in 0..iters {
                if use_raw {
                    // SAFETY: as in the child.
                    unsafe {
                        libc::sem_post(raw_sem(&p.raw_ping));
                        libc::sem_wait(raw_sem(&p.raw_pong));
                    }
                } else {
                    p.ping.post().unwrap();
                    p.pong.wait().unwrap();
                }
            }
            start.elapsed()
        })
        .join()
        .unwrap()
    });
    reap(child);
    elapsed
}

fn pingpong(c: &mut Criterion, one_cpu: bool) {
    common::multithreaded();
    let p = ShmBox::anonymous(Pong {
        ping: SharedSem::new(0).unwrap(),
        pong: SharedSem::new(0).unwrap(),
        raw_ping: UnsafeCell::new(MaybeUninit::zeroed()),
        raw_pong: UnsafeCell::new(MaybeUninit::zeroed()),
        rounds: AtomicU64::new(0),
    })
    .unwrap();
    // SAFETY: initialised once, in place in the region, pshared, before any use.
    unsafe {
        assert_eq!(libc::sem_init(raw_sem(&p.raw_ping), 1, 0), 0);
        assert_eq!(libc::sem_init(raw_sem(&p.raw_pong), 1, 0), 0);
    }
    let name = if one_cpu {
        "shared_sem_pingpong_one_cpu"
    } else {
        "shared_sem_pingpong_unpinned"
    };
    let mut g = c.benchmark_group(name);
    g.bench_function("ours_SharedSem", |b| {
        b.iter_custom(|iters| ping_pong(&p, iters, one_cpu, false))
    });
    g.bench_function("raw_pshared_sem_t", |b| {
        b.iter_custom(|iters| ping_pong(&p, iters, one_cpu, true))
    });
    g.finish();
}

fn pingpong_one_cpu(c: &mut Criterion) {
    pingpong(c, true);
}

fn pingpong_unpinned(c: &mut Criterion) {
    pingpong(c, false);
}

// ---------------------------------------------------------------------------------------------
// SharedCond against a raw pshared pthread_cond_t
// ---------------------------------------------------------------------------------------------

/// A lock + condvar around a `u64` in a region, used by several processes.
trait SharedMonitor: Sync {
    /// Lock, `f(&mut value)`, unlock.
    fn update(&self, f: impl FnOnce(&mut u64));
    /// Lock, wait until `ready(&value)`, unlock.
    fn wait_until(&self, ready: impl FnMut(&u64) -> bool);
    fn notify_one(&self);
    fn notify_all(&self);
}

/// This crate: `SharedLocker<u64>` + `SharedCond`.
#[repr(C)]
struct OursMon {
    lock: SharedLocker<u64>,
    cond: SharedCond,
}

impl OursMon {
    const fn new() -> OursMon {
        OursMon {
            lock: SharedLocker::new(0),
            cond: SharedCond::new(),
        }
    }
}

impl SharedMonitor for OursMon {
    #[inline]
    fn update(&self, f: impl FnOnce(&mut u64)) {
        f(&mut self.lock.lock().unwrap());
    }
    #[inline]
    fn wait_until(&self, mut ready: impl FnMut(&u64) -> bool) {
        let g = self.lock.lock().unwrap();
        let _g = self.cond.wait_while(g, |v| !ready(v)).unwrap();
    }
    #[inline]
    fn notify_one(&self) {
        self.cond.notify_one();
    }
    #[inline]
    fn notify_all(&self) {
        self.cond.notify_all();
    }
}

/// A raw pshared robust normal `pthread_mutex_t` + a raw pshared `pthread_cond_t`
/// (`CLOCK_MONOTONIC`), initialised in place in a region by `init`, and the value they guard.
#[repr(C)]
struct RawMon {
    mutex: UnsafeCell<MaybeUninit<libc::pthread_mutex_t>>,
    cond: UnsafeCell<MaybeUninit<libc::pthread_cond_t>>,
    value: UnsafeCell<u64>,
}
// SAFETY: #[repr(C)]; pthread objects (initialised in place, pshared, never moved) and the
// value the mutex guards.
unsafe impl Sync for RawMon {}
// SAFETY: as above.
unsafe impl ShmSafe for RawMon {}

impl RawMon {
    const fn new() -> RawMon {
        RawMon {
            mutex: UnsafeCell::new(MaybeUninit::zeroed()),
            cond: UnsafeCell::new(MaybeUninit::zeroed()),
            value: UnsafeCell::new(0),
        }
    }

    /// Initialises both objects in place (once, before any use or fork).
    fn init(&self) {
        // SAFETY: the attribute objects are initialised before use and destroyed after; the
        // mutex and the condvar are initialised once at their final addresses in the region,
        // before anyone uses them.
        unsafe {
            let mut ma = MaybeUninit::<libc::pthread_mutexattr_t>::uninit();
            libc::pthread_mutexattr_init(ma.as_mut_ptr());
            libc::pthread_mutexattr_setpshared(ma.as_mut_ptr(), libc::PTHREAD_PROCESS_SHARED);
            libc::pthread_mutexattr_setrobust(ma.as_mut_ptr(), libc::PTHREAD_MUTEX_ROBUST);
            libc::pthread_mutexattr_settype(ma.as_mut_ptr(), libc::PTHREAD_MUTEX_NORMAL);
            assert_eq!(libc::pthread_mutex_init(self.m(), ma.as_ptr()), 0);
            libc::pthread_mutexattr_destroy(ma.as_mut_ptr());
            let mut ca = MaybeUninit::<libc::pthread_condattr_t>::uninit();
            libc::pthread_condattr_init(ca.as_mut_ptr());
            libc::pthread_condattr_setpshared(ca.as_mut_ptr(), libc::PTHREAD_PROCESS_SHARED);
            libc::pthread_condattr_setclock(ca.as_mut_ptr(), libc::CLOCK_MONOTONIC);
            assert_eq!(libc::pthread_cond_init(self.c(), ca.as_ptr()), 0);
            libc::pthread_condattr_destroy(ca.as_mut_ptr());
        }
    }

    fn m(&self) -> *mut libc::pthread_mutex_t {
        self.mutex.get().cast()
    }

    fn c(&self) -> *mut libc::pthread_cond_t {
        self.cond.get().cast()
    }

    #[inline(always)]
    fn lock(&self) {
        // SAFETY: initialised by `init`, at a stable address in the region.
        let ret = unsafe { libc::pthread_mutex_lock(self.m()) };
        assert_eq!(ret, 0, "pthread_mutex_lock");
    }

    /// # Safety
    /// The calling thread holds the mutex.
    #[inline(always)]
    unsafe fn unlock(&self) {
        // SAFETY: initialised by `init`; the caller holds it.
        unsafe { libc::pthread_mutex_unlock(self.m()) };
    }
}

impl SharedMonitor for RawMon {
    #[inline]
    fn update(&self, f: impl FnOnce(&mut u64)) {
        self.lock();
        // SAFETY: this thread holds the mutex, which guards `value`; it unlocks it once.
        unsafe {
            f(&mut *self.value.get());
            self.unlock();
        }
    }
    #[inline]
    fn wait_until(&self, mut ready: impl FnMut(&u64) -> bool) {
        self.lock();
        // SAFETY: this thread holds the mutex (retaken by every wait), which guards `value`;
        // the condvar is only ever waited on with this mutex.
        unsafe {
            while !ready(&*self.value.get()) {
                let ret = libc::pthread_cond_wait(self.c(), self.m());
                assert_eq!(ret, 0, "pthread_cond_wait");
            }
            self.unlock();
        }
    }
    #[inline]
    fn notify_one(&self) {
        // SAFETY: initialised by `init`.
        unsafe { libc::pthread_cond_signal(self.c()) };
    }
    #[inline]
    fn notify_all(&self) {
        // SAFETY: initialised by `init`.
        unsafe { libc::pthread_cond_broadcast(self.c()) };
    }
}

/// Both kinds' monitors in one region: `go` carries the turn or the generation, `ack` the
/// children's acknowledgements.
#[repr(C)]
struct CondArena {
    ours_go: OursMon,
    ours_ack: OursMon,
    raw_go: RawMon,
    raw_ack: RawMon,
    /// Children that are running (the clock starts when all are).
    ready: AtomicU64,
}
// SAFETY: #[repr(C)]; shared primitives, raw pshared pthread objects, an atomic.
unsafe impl ShmSafe for CondArena {}

fn cond_arena() -> ShmBox<CondArena> {
    let arena = ShmBox::anonymous(CondArena {
        ours_go: OursMon::new(),
        ours_ack: OursMon::new(),
        raw_go: RawMon::new(),
        raw_ack: RawMon::new(),
        ready: AtomicU64::new(0),
    })
    .unwrap();
    arena.raw_go.init();
    arena.raw_ack.init();
    arena
}

/// Which monitor pair of the arena a scenario uses.
#[derive(Clone, Copy)]
enum Impl {
    Ours,
    Raw,
}

/// Runs `parent` on a fresh thread of this process (pinned to CPU 0 when `one_cpu`) against
/// `children` forked processes each running `child(index)` (pinned alike), timing the
/// parent's side from the moment every child has reported ready.
fn forked_team(
    a: &CondArena,
    one_cpu: bool,
    children: usize,
    child: impl Fn(usize),
    parent: impl FnOnce() + Send,
) -> Duration {
    a.ready.store(0, SeqCst);
    let pids: Vec<_> = (0..children)
        .map(|i| {
            fork(|| {
                if one_cpu {
                    common::pin_to_cpu(0);
                }
                a.ready.fetch_add(1, SeqCst);
                child(i);
                0
            })
        })
        .collect();
    let elapsed = std::thread::scope(|s| {
        s.spawn(|| {
            if one_cpu {
                common::pin_to_cpu(0);
            }
            while a.ready.load(SeqCst) < children as u64 {
                std::thread::yield_now();
            }
            let start = Instant::now();
            parent();
            start.elapsed()
        })
        .join()
        .unwrap()
    });
    pids.into_iter().for_each(reap);
    elapsed
}

/// `iters` round trips between this process and a forked child over monitor `m`: the parent
/// sets the turn to `2i - 1` and notifies; the child, waiting for it, sets `2i` and notifies.
fn cond_ping_pong_on(
    a: &CondArena,
    m: &(impl SharedMonitor + ?Sized),
    iters: u64,
    one_cpu: bool,
) -> Duration {
    m.update(|turn| *turn = 0);
    forked_team(
        a,
        one_cpu,
        1,
        |_| {
            for i in 1..=iters {
                m.wait_until(|turn| *turn == 2 * i - 1);
                m.update(|turn| *turn = 2 * i);
                m.notify_one();
            }
        },
        || {
            for i in 1..=iters {
                m.update(|turn| *turn = 2 * i - 1);
                m.notify_one();
                m.wait_until(|turn| *turn == 2 * i);
            }
        },
    )
}

fn cond_ping_pong(a: &CondArena, which: Impl, iters: u64, one_cpu: bool) -> Duration {
    match which {
        Impl::Ours => cond_ping_pong_on(a, &a.ours_go, iters, one_cpu),
        Impl::Raw => cond_ping_pong_on(a, &a.raw_go, iters, one_cpu),
    }
}

/// Children woken by each `notify_all`.
const WAITER_PROCS: usize = 4;

/// `iters` rounds of `notify_all` to `WAITER_PROCS` forked children over `go`, acknowledged
/// over `ack` (see the module docs).
fn cond_broadcast_on<M: SharedMonitor>(
    a: &CondArena,
    go: &M,
    ack: &M,
    iters: u64,
    one_cpu: bool,
) -> Duration {
    go.update(|generation| *generation = 0);
    ack.update(|acks| *acks = 0);
    let n = WAITER_PROCS as u64;
    forked_team(
        a,
        one_cpu,
        WAITER_PROCS,
        |_| {
            for round in 1..=iters {
                go.wait_until(|generation| *generation >= round);
                ack.update(|acks| *acks += 1);
                ack.notify_one();
            }
        },
        || {
            for round in 1..=iters {
                go.update(|generation| *generation = round);
                go.notify_all();
                ack.wait_until(|acks| *acks >= n * round);
            }
        },
    )
}

fn cond_broadcast(a: &CondArena, which: Impl, iters: u64, one_cpu: bool) -> Duration {
    match which {
        Impl::Ours => cond_broadcast_on(a, &a.ours_go, &a.ours_ack, iters, one_cpu),
        Impl::Raw => cond_broadcast_on(a, &a.raw_go, &a.raw_ack, iters, one_cpu),
    }
}

fn where_(one_cpu: bool) -> &'static str {
    if one_cpu {
        "one_cpu"
    } else {
        "unpinned"
    }
}

fn cond_pingpong(c: &mut Criterion, one_cpu: bool) {
    common::multithreaded();
    let a = cond_arena();
    let mut g = c.benchmark_group(format!("shared_cond_pingpong_{}", where_(one_cpu)));
    g.bench_function("ours_SharedCond", |b| {
        b.iter_custom(|iters| cond_ping_pong(&a, Impl::Ours, iters, one_cpu))
    });
    g.bench_function("raw_pshared_pthread_cond", |b| {
        b.iter_custom(|iters| cond_ping_pong(&a, Impl::Raw, iters, one_cpu))
    });
    g.finish();
}

fn cond_notify_all(c: &mut Criterion, one_cpu: bool) {
    common::multithreaded();
    let a = cond_arena();
    let mut g = c.benchmark_group(format!("shared_cond_notify_all_4procs_{}", where_(one_cpu)));
    g.bench_function("ours_SharedCond", |b| {
        b.iter_custom(|iters| cond_broadcast(&a, Impl::Ours, iters, one_cpu))
    });
    g.bench_function("raw_pshared_pthread_cond", |b| {
        b.iter_custom(|iters| cond_broadcast(&a, Impl::Raw, iters, one_cpu))
    });
    g.finish();
}

fn cond_pingpong_one_cpu(c: &mut Criterion) {
    cond_pingpong(c, true);
}

fn cond_pingpong_unpinned(c: &mut Criterion) {
    cond_pingpong(c, false);
}

fn cond_notify_all_one_cpu(c: &mut Criterion) {
    cond_notify_all(c, true);
}

fn cond_notify_all_unpinned(c: &mut Criterion) {
    cond_notify_all(c, false);
}

/// The condvar scenarios, ours and raw interleaved round by round.
fn interleaved(opts: &common::Interleaved) {
    use common::Scenario;
    common::multithreaded();
    println!(
        "shared --interleaved: parent + forked children; ratios to the raw pshared robust \
         pthread_mutex_t + pshared pthread_cond_t (CLOCK_MONOTONIC)"
    );
    let a = cond_arena();
    let a = &*a;
    for (one_cpu, pp_batch, bc_batch) in [(true, 4000, 1500), (false, 600, 600)] {
        let w = where_(one_cpu);
        opts.group(
            &format!("shared_cond_pingpong_{w}"),
            "round trip",
            pp_batch,
            "raw_pshared_pthread_cond",
            &[
                Scenario::new("ours_SharedCond", |n| {
                    cond_ping_pong(a, Impl::Ours, n, one_cpu)
                }),
                Scenario::new("raw_pshared_pthread_cond", |n| {
                    cond_ping_pong(a, Impl::Raw, n, one_cpu)
                }),
            ],
        );
        opts.group(
            &format!("shared_cond_notify_all_4procs_{w}"),
            "round",
            bc_batch,
            "raw_pshared_pthread_cond",
            &[
                Scenario::new("ours_SharedCond", |n| {
                    cond_broadcast(a, Impl::Ours, n, one_cpu)
                }),
                Scenario::new("raw_pshared_pthread_cond", |n| {
                    cond_broadcast(a, Impl::Raw, n, one_cpu)
                }),
            ],
        );
    }
}

criterion_group! {
    name = benches;
    config = common::cross_thread();
    targets = contended_2, contended_4, pingpong_one_cpu, pingpong_unpinned,
        cond_pingpong_one_cpu, cond_pingpong_unpinned, cond_notify_all_one_cpu,
        cond_notify_all_unpinned
}

fn main() {
    if let Some(opts) = common::Interleaved::from_args() {
        interleaved(&opts);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
