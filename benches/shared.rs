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
//!
//! The uncontended costs (each shared kind, `SharedSem` post+wait, against the raw pshared
//! call) are measured behind a call in `benches/calls.rs`.
//!
//! Children use only the primitives and the region, then `_exit`; every child is reaped.

mod common;

use std::cell::UnsafeCell;
use std::mem::MaybeUninit;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion};
use pthread_sync::shm::{ShmBox, ShmSafe};
use pthread_sync::{SharedLocker, SharedSem};

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

criterion_group! {
    name = benches;
    config = common::cross_thread();
    targets = contended_2, contended_4, pingpong_one_cpu, pingpong_unpinned
}
criterion_main!(benches);
