//! Process-shared primitives across processes: exact counts with every kind, a holder killed
//! mid-update and recovered, `NotRecoverable` after an unrepaired drop, owner death seen by a
//! condvar waiter, producer/consumer and semaphore ping-pong, unrelated processes sharing a
//! named region, a C program on the same region, and use outside a region refused.
//!
//! `harness = false` (see `support`): children use only the primitives and raw memory, then
//! `_exit`; the parent checks every exit status, and children left running are killed.

mod support;

use std::process::Command;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release, SeqCst};
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8};
use std::time::{Duration, Instant};

use pthread_sync::shm::{self, ShmBox, ShmSafe};
use pthread_sync::{
    Error, SharedCond, SharedErrorCheckLocker, SharedLockError, SharedLocker,
    SharedRecursiveLocker, SharedSem,
};
use support::Outcome::{self, Passed, Skipped};
use support::{fork_child, Case, Child};

const PROCESSES: usize = 4;
const INCREMENTS: u64 = 100_000;

/// A unique region name for `case`, unlinked when dropped (and before use).
struct Name(String);

impl Name {
    fn new(case: &str) -> Name {
        let name = format!("/pthread-sync-shared-{}-{case}", std::process::id());
        let _ = shm::unlink(&name);
        Name(name)
    }
}

impl Drop for Name {
    fn drop(&mut self) {
        let _ = shm::unlink(&self.0);
    }
}

/// Waits (bounded) until `flag` reads `value`.
fn await_flag(flag: &AtomicU32, value: u32) {
    let start = Instant::now();
    while flag.load(Acquire) != value {
        assert!(start.elapsed() < Duration::from_secs(20), "flag never set");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[repr(C)]
struct Counters {
    normal: SharedLocker<u64>,
    errorcheck: SharedErrorCheckLocker<u64>,
    /// A recursive guard gives `&T`: the count is an atomic read and written in two steps
    /// (load, then store), so only the lock keeps increments from being lost.
    recursive: SharedRecursiveLocker<AtomicU64>,
}
// SAFETY: #[repr(C)], shared primitives only.
unsafe impl ShmSafe for Counters {}

/// 4 processes x 100 000 increments of a plain counter under each kind: exact totals.
fn every_kind_counts_exactly_across_processes() -> Outcome {
    let region = ShmBox::anonymous(Counters {
        normal: SharedLocker::new(0),
        errorcheck: SharedErrorCheckLocker::new(0),
        recursive: SharedRecursiveLocker::new(AtomicU64::new(0)),
    })
    .unwrap();
    let c = &*region;
    let children: Vec<Child> = (0..PROCESSES)
        .map(|_| {
            fork_child(|| {
                for _ in 0..INCREMENTS {
                    let Ok(mut g) = c.normal.lock() else { return 1 };
                    *g += 1;
                    drop(g);
                    let Ok(mut g) = c.errorcheck.lock() else {
                        return 2;
                    };
                    *g += 1;
                    drop(g);
                    let Ok(outer) = c.recursive.lock() else {
                        return 3;
                    };
                    let Ok(inner) = c.recursive.lock() else {
                        return 4;
                    };
                    inner.store(inner.load(Relaxed) + 1, Relaxed);
                    drop((inner, outer));
                }
                0
            })
        })
        .collect();
    for child in children {
        assert_eq!(child.wait(), 0);
    }
    let total = PROCESSES as u64 * INCREMENTS;
    assert_eq!(*c.normal.lock().unwrap(), total);
    assert_eq!(*c.errorcheck.lock().unwrap(), total);
    assert_eq!(c.recursive.lock().unwrap().load(Relaxed), total);
    Passed
}

/// Two fields that must be equal between updates.
#[repr(C)]
struct Pair {
    a: u64,
    b: u64,
}
// SAFETY: #[repr(C)], integers only.
unsafe impl ShmSafe for Pair {}

#[repr(C)]
struct Recovery {
    pair: SharedLocker<Pair>,
    /// 1: the child holds the lock with `a` updated and `b` not yet.
    midway: AtomicU32,
}
// SAFETY: #[repr(C)], a shared lock and an atomic.
unsafe impl ShmSafe for Recovery {}

/// A holder `SIGKILL`ed between the two writes of an update: the next locker gets the guard
/// with `OwnerDied`, sees the half-update, repairs it and makes the mutex consistent; every
/// update committed before the kill is there.
fn killed_holder_is_recovered() -> Outcome {
    let region = ShmBox::anonymous(Recovery {
        pair: SharedLocker::new(Pair { a: 0, b: 0 }),
        midway: AtomicU32::new(0),
    })
    .unwrap();
    let r = &*region;
    for _ in 0..10 {
        let mut g = r.pair.lock().unwrap();
        g.a += 1;
        g.b += 1;
    }
    let child = fork_child(|| {
        for _ in 0..5 {
            let Ok(mut g) = r.pair.lock() else { return 1 };
            g.a += 1;
            g.b += 1;
        }
        let Ok(mut g) = r.pair.lock() else { return 2 };
        g.a += 1; // half of an update
        r.midway.store(1, Release);
        loop {
            // SAFETY: sleeps; the parent kills this process here.
            unsafe { libc::pause() };
        }
    });
    await_flag(&r.midway, 1);
    child.kill_and_reap();
    let guard = match r.pair.lock() {
        Err(SharedLockError::OwnerDied(mut died)) => {
            let g = died.get_mut();
            assert_eq!(
                (g.a, g.b),
                (16, 15),
                "the committed updates and the half one"
            );
            g.b = g.a; // repair
            died.make_consistent().unwrap()
        }
        other => panic!("expected OwnerDied, got {:?}", other.map(|_| ())),
    };
    drop(guard);
    let g = r.pair.lock().unwrap();
    assert_eq!((g.a, g.b), (16, 16));
    Passed
}

/// A guard of a dead holder's lock dropped unrepaired: the mutex is not recoverable for
/// every process after.
fn dropped_unrepaired_is_not_recoverable_everywhere() -> Outcome {
    let region = ShmBox::anonymous(Recovery {
        pair: SharedLocker::new(Pair { a: 0, b: 0 }),
        midway: AtomicU32::new(0),
    })
    .unwrap();
    let r = &*region;
    let child = fork_child(|| {
        let Ok(g) = r.pair.lock() else { return 1 };
        std::mem::forget(g);
        0 // exits holding it: the kernel marks the owner dead
    });
    assert_eq!(child.wait(), 0);
    match r.pair.lock() {
        Err(SharedLockError::OwnerDied(died)) => drop(died), // not made consistent
        other => panic!("expected OwnerDied, got {:?}", other.map(|_| ())),
    }
    assert_eq!(
        r.pair.lock().map(|_| ()).unwrap_err().error(),
        Some(Error::NotRecoverable)
    );
    let child = fork_child(|| match r.pair.try_lock().map(|_| ()) {
        Err(SharedLockError::Failed(Error::NotRecoverable)) => 0,
        _ => 1,
    });
    assert_eq!(
        child.wait(),
        0,
        "another process sees it not recoverable too"
    );
    Passed
}

#[repr(C)]
struct Waiting {
    lock: SharedLocker<u32>,
    cond: SharedCond,
}
// SAFETY: #[repr(C)], shared primitives only.
unsafe impl ShmSafe for Waiting {}

/// A process waiting on a `SharedCond` whose mutex's holder dies: the wait returns the guard
/// with `OwnerDied`.
fn owner_death_reaches_a_condvar_waiter() -> Outcome {
    let region = ShmBox::anonymous(Waiting {
        lock: SharedLocker::new(0),
        cond: SharedCond::new(),
    })
    .unwrap();
    let w = &*region;
    let guard = w.lock.lock().unwrap();
    let child = fork_child(|| {
        // Gets the lock once the parent waits, notifies, and dies holding it.
        let Ok(mut g) = w.lock.lock() else { return 1 };
        *g = 7;
        w.cond.notify_all();
        std::mem::forget(g);
        // SAFETY: ends this process by SIGKILL, as a crash would.
        unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
        2
    });
    let result = w
        .cond
        .wait_timeout_while(guard, Duration::from_secs(20), |v| *v == 0);
    let guard = match result {
        Err(SharedLockError::OwnerDied(died)) => {
            let died = died.map(|(g, timeout)| {
                assert!(!timeout.timed_out());
                g
            });
            assert_eq!(**died.get_ref(), 7);
            died.make_consistent().unwrap()
        }
        other => panic!("expected OwnerDied, got {:?}", other.map(|_| ())),
    };
    drop(guard);
    child.kill_and_reap(); // it killed itself; reaped, and checked it was SIGKILL
    assert_eq!(*w.lock.lock().unwrap(), 7);
    Passed
}

const SLOTS: usize = 16;

#[repr(C)]
struct Queue {
    items: [u64; SLOTS],
    head: u64,
    len: u64,
    produced: u64,
}
// SAFETY: #[repr(C)], integers only.
unsafe impl ShmSafe for Queue {}

#[repr(C)]
struct Channel {
    queue: SharedLocker<Queue>,
    not_empty: SharedCond,
    not_full: SharedCond,
}
// SAFETY: #[repr(C)], shared primitives only.
unsafe impl ShmSafe for Channel {}

/// Two producer processes and a consumer (the parent) through a bounded queue with a
/// `SharedLocker` and two `SharedCond`s: every item arrives once.
fn producer_consumer_across_processes() -> Outcome {
    const PER_PRODUCER: u64 = 20_000;
    let region = ShmBox::anonymous(Channel {
        queue: SharedLocker::new(Queue {
            items: [0; SLOTS],
            head: 0,
            len: 0,
            produced: 0,
        }),
        not_empty: SharedCond::new(),
        not_full: SharedCond::new(),
    })
    .unwrap();
    let ch = &*region;
    let producers: Vec<Child> = (0..2u64)
        .map(|p| {
            fork_child(move || {
                for i in 0..PER_PRODUCER {
                    let Ok(g) = ch.queue.lock() else { return 1 };
                    let Ok(mut g) = ch.not_full.wait_while(g, |q| q.len == SLOTS as u64) else {
                        return 2;
                    };
                    let tail = (g.head + g.len) as usize % SLOTS;
                    g.items[tail] = p * PER_PRODUCER + i + 1;
                    g.len += 1;
                    g.produced += 1;
                    drop(g);
                    ch.not_empty.notify_one();
                }
                0
            })
        })
        .collect();
    let (mut sum, mut received) = (0u64, 0u64);
    while received < 2 * PER_PRODUCER {
        let g = ch.queue.lock().unwrap();
        let (mut g, _) = ch
            .not_empty
            .wait_timeout_while(g, Duration::from_secs(20), |q| q.len == 0)
            .unwrap();
        assert!(g.len > 0, "a producer stalled");
        while g.len > 0 {
            let head = g.head as usize;
            sum += g.items[head];
            g.head = (g.head + 1) % SLOTS as u64;
            g.len -= 1;
            received += 1;
        }
        drop(g);
        ch.not_full.notify_all();
    }
    for child in producers {
        assert_eq!(child.wait(), 0);
    }
    let n = 2 * PER_PRODUCER;
    assert_eq!(sum, n * (n + 1) / 2, "every item once");
    Passed
}

#[repr(C)]
struct PingPong {
    ping: SharedSem,
    pong: SharedSem,
    count: AtomicU64,
}
// SAFETY: #[repr(C)], shared primitives and an atomic.
unsafe impl ShmSafe for PingPong {}

/// `SharedSem` ping-pong between two processes: 20 000 exact round trips.
fn sem_ping_pong_across_processes() -> Outcome {
    const ROUNDS: u64 = 20_000;
    let region = ShmBox::anonymous(PingPong {
        ping: SharedSem::new(0).unwrap(),
        pong: SharedSem::new(0).unwrap(),
        count: AtomicU64::new(0),
    })
    .unwrap();
    let pp = &*region;
    let child = fork_child(|| {
        for _ in 0..ROUNDS {
            if pp.ping.wait().is_err() {
                return 1;
            }
            pp.count.fetch_add(1, SeqCst);
            if pp.pong.post().is_err() {
                return 2;
            }
        }
        0
    });
    for i in 0..ROUNDS {
        pp.ping.post().unwrap();
        pp.pong.wait_timeout(Duration::from_secs(20)).unwrap();
        assert_eq!(pp.count.load(SeqCst), i + 1);
    }
    assert_eq!(child.wait(), 0);
    assert_eq!((pp.ping.value(), pp.pong.value()), (0, 0));
    Passed
}

#[repr(C)]
struct Named {
    count: SharedLocker<u64>,
    started: SharedSem,
}
// SAFETY: #[repr(C)], shared primitives only.
unsafe impl ShmSafe for Named {}

/// The role of an unrelated process (this binary, started again by `Command` with the
/// region's name): opens the region and adds `n` under its lock.
fn unrelated_process_role(name: &str, n: u64) -> i32 {
    let region = match ShmBox::<Named>::open_timeout(name, Duration::from_secs(10)) {
        Ok(r) => r,
        Err(_) => return 10,
    };
    if region.started.post().is_err() {
        return 11;
    }
    for _ in 0..n {
        match region.count.lock() {
            Ok(mut g) => *g += 1,
            Err(_) => return 12,
        }
    }
    0
}

/// Two unrelated processes (started with `std::process::Command`, sharing no memory but the
/// named region) and this one agree on every count.
fn unrelated_processes_share_a_named_region() -> Outcome {
    const N: u64 = 50_000;
    let name = Name::new("unrelated");
    let region = ShmBox::create(
        &name.0,
        0o600,
        Named {
            count: SharedLocker::new(0),
            started: SharedSem::new(0).unwrap(),
        },
    )
    .unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut others = Spawned(
        (0..2)
            .map(|_| {
                Command::new(&exe)
                    .env(ROLE_VAR, format!("{} {N}", name.0))
                    .spawn()
                    .unwrap()
            })
            .collect(),
    );
    for _ in 0..N {
        *region.count.lock().unwrap() += 1;
    }
    for other in &mut others.0 {
        let status = other.wait().unwrap();
        assert!(status.success(), "{status:?}");
    }
    assert_eq!(region.started.value(), 2);
    assert_eq!(*region.count.lock().unwrap(), 3 * N);
    Passed
}

#[repr(C)]
struct ForC {
    count: SharedLocker<u64>,
    posted: SharedSem,
}
// SAFETY: #[repr(C)], shared primitives only.
unsafe impl ShmSafe for ForC {}

/// The C side of the layout test: the region's layout as the crate documents it, declared in
/// C, used with glibc's own calls.
const C_PROGRAM: &str = r#"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* The documented layout: a 64-byte header, then T at offset 64. */
struct header { char magic[8]; uint32_t version, header_size; uint64_t size, align,
                fingerprint; uint32_t state; int32_t creator; uint64_t data_offset, length; };
/* SharedLocker<T>: the arming word (1 = armed), the pthread_mutex_t, the poison flag, T. */
struct shared_locker_u64 { uint32_t armed; pthread_mutex_t mutex; uint8_t poisoned;
                           uint64_t data; };
/* SharedSem: the arming word, the sem_t, the initial value. */
struct shared_sem { uint32_t armed; sem_t sem; uint32_t initial; };
struct region { struct header h; struct shared_locker_u64 count; struct shared_sem posted; };

int main(int argc, char **argv) {
    if (argc != 4) return 2;
    long n = atol(argv[2]);
    size_t expected_size = (size_t) atol(argv[3]);
    if (sizeof(struct region) - sizeof(struct header) != expected_size) return 3;
    int fd = shm_open(argv[1], O_RDWR, 0);
    if (fd < 0) return 4;
    struct region *r = mmap(NULL, sizeof *r, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (r == MAP_FAILED) return 5;
    if (r->h.header_size != 64 || r->h.data_offset != 64 || r->h.state != 2) return 6;
    if (r->count.armed != 1 || r->posted.armed != 1) return 7;
    for (long i = 0; i < n; i++) {
        int e = pthread_mutex_lock(&r->count.mutex);
        if (e == EOWNERDEAD) pthread_mutex_consistent(&r->count.mutex);
        else if (e != 0) return 8;
        r->count.data++;
        pthread_mutex_unlock(&r->count.mutex);
    }
    if (sem_post(&r->posted.sem) != 0) return 9;
    return 0;
}
"#;

/// A C program (built here with the system `cc`) maps the same named region, locks the same
/// `pthread_mutex_t` and posts the same `sem_t` as this process, concurrently: exact totals.
/// This is what proves the documented layout.
fn a_c_program_uses_the_same_region() -> Outcome {
    const N: u64 = 50_000;
    let dir = std::env::temp_dir().join(format!("pthread-sync-c-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let source = dir.join("peer.c");
    let binary = dir.join("peer");
    std::fs::write(&source, C_PROGRAM).unwrap();
    let built = Command::new("cc")
        .arg("-O2")
        .arg("-o")
        .arg(&binary)
        .arg(&source)
        .arg("-lpthread")
        .output();
    let built = match built {
        Ok(out) if out.status.success() => true,
        Ok(out) => panic!("cc failed: {}", String::from_utf8_lossy(&out.stderr)),
        Err(_) => false,
    };
    if !built {
        let _ = std::fs::remove_dir_all(&dir);
        return Skipped("no C compiler (`cc`) on this machine");
    }
    let name = Name::new("c-peer");
    let region = ShmBox::create(
        &name.0,
        0o600,
        ForC {
            count: SharedLocker::new(0),
            posted: SharedSem::new(0).unwrap(),
        },
    )
    .unwrap();
    // Arm both (their first use), as the C side expects armed objects.
    drop(region.count.lock().unwrap());
    assert_eq!(region.posted.try_wait(), Err(Error::WouldBlock));
    let mut peer = Spawned(vec![Command::new(&binary)
        .arg(&name.0)
        .arg(N.to_string())
        .arg(std::mem::size_of::<ForC>().to_string())
        .spawn()
        .unwrap()]);
    for _ in 0..N {
        *region.count.lock().unwrap() += 1;
    }
    region.posted.wait_timeout(Duration::from_secs(30)).unwrap();
    let status = peer.0[0].wait().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(status.success(), "C peer: {status:?}");
    assert_eq!(*region.count.lock().unwrap(), 2 * N);
    Passed
}

/// A shared primitive used outside a region is refused before any pthread call.
fn outside_a_region_is_refused() -> Outcome {
    let lock = SharedLocker::new(0u8);
    assert_eq!(
        lock.lock().map(|_| ()).unwrap_err().error(),
        Some(Error::NotInRegion)
    );
    let sem = SharedSem::new(1).unwrap();
    assert_eq!(sem.try_wait(), Err(Error::NotInRegion));
    assert_eq!(sem.value(), 1);
    let boxed = Box::new(SharedErrorCheckLocker::new(0u8));
    assert!(boxed.try_lock().is_err());
    // Once moved into a region, the same value works.
    let region = ShmBox::anonymous(lock).unwrap();
    *region.lock().unwrap() += 1;
    assert_eq!(*region.lock().unwrap(), 1);
    Passed
}

const MUTEXES: usize = 32;

#[repr(C)]
struct Stress {
    locks: [SharedLocker<[u64; 2]>; MUTEXES],
    /// How many operations the child's threads have completed (so the kill lands mid-run).
    ops: AtomicU64,
}
// SAFETY: #[repr(C)], shared primitives and an atomic.
unsafe impl ShmSafe for Stress {}

/// glibc's robust-mutex stress shape (nptl's tst-robust tests): many robust mutexes; a child
/// whose threads lock, try-lock and time-lock them at random, each update writing two fields,
/// is `SIGKILL`ed at a random moment. The parent then locks every mutex: each is either free
/// or hands over `OwnerDied` (then repaired and made consistent); all stay usable, and every
/// pair is whole again.
///
/// The child starts threads: safe here because this binary's parent is single-threaded at
/// `fork` (`harness = false`), so no lock (malloc's included) is held by a thread the child
/// lacks.
fn robust_stress_child_killed_at_random() -> Outcome {
    for round in 0..5u64 {
        let region = ShmBox::anonymous(Stress {
            locks: std::array::from_fn(|_| SharedLocker::new([0, 0])),
            ops: AtomicU64::new(0),
        })
        .unwrap();
        let st = &*region;
        let child = fork_child(|| {
            // The threads never end: the parent kills this process while they run.
            std::thread::scope(|scope| {
                for t in 0..4u64 {
                    scope.spawn(move || {
                        let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ (t + 1) ^ (round << 8);
                        loop {
                            x ^= x << 13;
                            x ^= x >> 7;
                            x ^= x << 17;
                            let lock = &st.locks[(x % MUTEXES as u64) as usize];
                            let got = match x % 3 {
                                0 => lock.lock(),
                                1 => lock.try_lock(),
                                _ => lock.lock_timeout(Duration::from_millis(1)),
                            };
                            let mut g = match got {
                                Ok(g) => g,
                                Err(SharedLockError::OwnerDied(d)) => d.make_consistent().unwrap(),
                                Err(_) => continue,
                            };
                            g[0] += 1;
                            std::hint::spin_loop();
                            g[1] += 1;
                            drop(g);
                            st.ops.fetch_add(1, Relaxed);
                        }
                    });
                }
            });
            1 // unreachable: the threads never end
        });
        // Kill after a pseudo-random amount of progress.
        let target = 2_000 + (round * 7919) % 20_000;
        let start = Instant::now();
        while st.ops.load(Relaxed) < target {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the child made no progress"
            );
            std::thread::sleep(Duration::from_micros(200));
        }
        child.kill_and_reap();
        let mut recovered = 0;
        for lock in &st.locks {
            let mut g = match lock.lock_timeout(Duration::from_secs(10)) {
                Ok(g) => g,
                Err(SharedLockError::OwnerDied(mut d)) => {
                    recovered += 1;
                    let g = d.get_mut();
                    g[1] = g[0]; // repair a possibly half-done update
                    d.make_consistent().unwrap()
                }
                Err(e) => panic!("round {round}: a mutex is unusable: {e:?}"),
            };
            assert_eq!(g[0], g[1], "round {round}: pair whole");
            g[0] += 1;
            g[1] += 1;
        }
        // All usable again, from another process too.
        let check = fork_child(|| {
            for lock in &st.locks {
                match lock.try_lock() {
                    Ok(g) if g[0] == g[1] => {}
                    _ => return 1,
                }
            }
            0
        });
        assert_eq!(check.wait(), 0);
        assert!(recovered <= 4, "at most one lock per killed thread");
        eprintln!("round {round}: {recovered} owner-died mutexes recovered");
    }
    Passed
}

/// The shared errorcheck kind reports misuse as the in-process one does: a relock is
/// `Deadlock`, a foreign unlock `NotOwner`; the shared recursive kind re-enters (glibc's
/// count).
fn errorcheck_and_recursive_semantics_in_a_region() -> Outcome {
    #[repr(C)]
    struct Both {
        e: SharedErrorCheckLocker<u32>,
        r: SharedRecursiveLocker<AtomicU32>,
    }
    // SAFETY: #[repr(C)], shared primitives only.
    unsafe impl ShmSafe for Both {}
    let region = ShmBox::anonymous(Both {
        e: SharedErrorCheckLocker::new(0),
        r: SharedRecursiveLocker::new(AtomicU32::new(0)),
    })
    .unwrap();
    let g = region.e.lock().unwrap();
    assert_eq!(
        region.e.lock().map(|_| ()).unwrap_err().error(),
        Some(Error::Deadlock)
    );
    let foreign = std::thread::scope(|s| {
        // SAFETY: this thread holds no guard of the lock.
        s.spawn(|| unsafe { region.e.force_unlock() })
            .join()
            .unwrap()
    });
    assert_eq!(foreign, Err(Error::NotOwner));
    std::mem::forget(g);
    // SAFETY: the only guard was forgotten.
    assert_eq!(unsafe { region.e.force_unlock() }, Ok(()));
    assert!(region.e.try_lock().is_ok());
    let outer = region.r.lock().unwrap();
    let inner = region.r.lock().unwrap();
    inner.store(3, SeqCst);
    drop(inner);
    assert_eq!(outer.load(SeqCst), 3);
    drop(outer);
    Passed
}

/// `Debug` of a shared lock never takes it: a dead holder's `OwnerDied` is still there for
/// the next real lock (taking and dropping it unrepaired would make it not recoverable).
fn debug_never_takes_a_shared_lock() -> Outcome {
    let region = ShmBox::anonymous(SharedLocker::new(5u32)).unwrap();
    let r = &*region;
    let child = fork_child(|| {
        let Ok(g) = r.lock() else { return 1 };
        std::mem::forget(g);
        0 // exits holding it
    });
    assert_eq!(child.wait(), 0);
    let shown = format!("{:?}", *region);
    assert_eq!(shown, "SharedLocker { poisoned: false, .. }");
    assert!(matches!(r.lock(), Err(SharedLockError::OwnerDied(_))));
    Passed
}

/// The arming word of a shared lock, reached through the documented layout (its first
/// `u32`), for forging states other processes could leave.
fn arming_word<T>(lock: &SharedLocker<T>) -> &AtomicU32 {
    // SAFETY: the documented layout puts the arming word, a `u32` used atomically, first in
    // every shared primitive; `lock` lives in a region, aligned, for the borrow.
    unsafe { AtomicU32::from_ptr((lock as *const SharedLocker<T>).cast_mut().cast()) }
}

/// The arming word of a shared semaphore (its first `u32`, as for a lock).
fn sem_arming_word(sem: &SharedSem) -> &AtomicU32 {
    // SAFETY: as for `arming_word`: the documented layout puts it first; `sem` is in a region.
    unsafe { AtomicU32::from_ptr((sem as *const SharedSem).cast_mut().cast()) }
}

/// Arming words that are no state of the protocol: a value with bit 31 clear other than 0
/// and 1, or a claim naming pid 0 or a pid at or above Linux's `PID_MAX_LIMIT` (2^22).
const CORRUPT_WORDS: [u32; 7] = [
    2,
    0x1234_5678,
    0x7fff_ffff,
    0x8000_0000,
    0x8040_0000,
    0xdead_beef,
    0xffff_ffff,
];

/// Asserts that `result` is a `CorruptHeader` that came at once (within 100 ms of `started`).
fn corrupt_at_once(result: Result<(), Error>, started: Instant, what: &str) {
    assert!(
        matches!(result, Err(Error::CorruptHeader(_))),
        "{what}: {result:?}"
    );
    assert!(
        started.elapsed() < Duration::from_millis(100),
        "{what}: not at once"
    );
}

/// Arming against forged states: a claim by a process that died mid-arm is taken over (the
/// lock or semaphore works); a word that is no state at all is refused with a typed error at
/// once by every call, before and after arming, and left untouched; a claim by a live process
/// that never finishes is waited for at most about a second, then `Unfinished`, never forever.
fn arming_survives_dead_stuck_and_corrupt_armers() -> Outcome {
    const ARMING: u32 = 1 << 31;
    // Dead armer: a child's pid, after the child is gone.
    let region = ShmBox::anonymous(SharedLocker::new(0u64)).unwrap();
    let dead = fork_child(|| 0);
    let dead_pid = dead.pid() as u32;
    assert_eq!(dead.wait(), 0);
    arming_word(&region).store(ARMING | dead_pid, SeqCst);
    *region.lock().unwrap() += 1;
    assert_eq!(*region.lock().unwrap(), 1, "re-armed and usable");
    assert_eq!(arming_word(&region).load(SeqCst), 1);
    let sem = ShmBox::anonymous(SharedSem::new(2).unwrap()).unwrap();
    sem_arming_word(&sem).store(ARMING | dead_pid, SeqCst);
    sem.post().unwrap();
    assert_eq!(
        sem.value(),
        3,
        "re-armed with its initial value, then posted"
    );
    assert_eq!(sem_arming_word(&sem).load(SeqCst), 1);
    // Corrupt words, on fresh objects and on armed ones (scribbled over after arming).
    for word in CORRUPT_WORDS {
        for armed_first in [false, true] {
            let what = format!("{word:#x}, armed first: {armed_first}");
            let lock = ShmBox::anonymous(SharedLocker::new(7u64)).unwrap();
            let sem = ShmBox::anonymous(SharedSem::new(1).unwrap()).unwrap();
            if armed_first {
                drop(lock.lock().unwrap());
                sem.post().unwrap();
            }
            arming_word(&lock).store(word, SeqCst);
            sem_arming_word(&sem).store(word, SeqCst);
            let started = Instant::now();
            corrupt_at_once(
                lock.lock().map(|_| ()).map_err(|e| e.error().unwrap()),
                started,
                &what,
            );
            corrupt_at_once(
                lock.try_lock().map(|_| ()).map_err(|e| e.error().unwrap()),
                started,
                &what,
            );
            corrupt_at_once(
                lock.lock_timeout(Duration::from_secs(5))
                    .map(|_| ())
                    .map_err(|e| e.error().unwrap()),
                started,
                &what,
            );
            corrupt_at_once(sem.wait(), started, &what);
            corrupt_at_once(sem.try_wait(), started, &what);
            corrupt_at_once(sem.wait_timeout(Duration::from_secs(5)), started, &what);
            corrupt_at_once(sem.post(), started, &what);
            assert!(sem.acquire().is_err(), "{what}");
            // Refused, never taken over: the words are as they were.
            assert_eq!(arming_word(&lock).load(SeqCst), word, "{what}");
            assert_eq!(sem_arming_word(&sem).load(SeqCst), word, "{what}");
            if armed_first {
                // Nothing was touched: the word put back, both work as before.
                arming_word(&lock).store(1, SeqCst);
                sem_arming_word(&sem).store(1, SeqCst);
                assert_eq!(*lock.lock().unwrap(), 7, "{what}");
                assert_eq!(sem.value(), 2, "{what}");
            }
        }
    }
    // A semaphore whose stored initial value (offset 40) is above SEM_VALUE_MAX: arming
    // fails with a typed error and leaves the word unarmed, for the next user to try.
    let sem = ShmBox::anonymous(SharedSem::new(0).unwrap()).unwrap();
    // SAFETY: offset 40 is the initial value (documented), in the region, aligned; no other
    // thread or process uses the semaphore.
    unsafe {
        (&*sem as *const SharedSem)
            .cast::<u8>()
            .cast_mut()
            .add(40)
            .cast::<u32>()
            .write(u32::MAX)
    };
    assert!(matches!(sem.post(), Err(Error::InvalidInput(_))));
    assert_eq!(sem_arming_word(&sem).load(SeqCst), 0);
    // Stuck armer: a live process (a sleeping child) that never finishes.
    let region = ShmBox::anonymous(SharedLocker::new(0u64)).unwrap();
    let stuck = fork_child(|| loop {
        // SAFETY: sleeps until killed.
        unsafe { libc::pause() };
    });
    arming_word(&region).store(ARMING | stuck.pid() as u32, SeqCst);
    let start = Instant::now();
    assert_eq!(
        region.lock().map(|_| ()).unwrap_err().error(),
        Some(Error::Unfinished)
    );
    assert!(start.elapsed() < Duration::from_secs(5), "bounded");
    stuck.kill_and_reap();
    Passed
}

/// `n` rounded up to a multiple of `align` (a power of two).
fn round_up(n: usize, align: usize) -> usize {
    n.div_ceil(align) * align
}

/// Runs `f`, which panics, without printing the panic message.
fn quietly_panicking(f: impl FnOnce()) {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    std::panic::set_hook(hook);
    assert!(result.is_err(), "it was meant to panic");
}

/// A 16-byte type aligned to 16.
#[derive(Clone, Copy, PartialEq, Debug)]
#[repr(C, align(16))]
struct Align16([u8; 16]);
// SAFETY: #[repr(C)], bytes only.
unsafe impl ShmSafe for Align16 {}

/// The documented layout of a `SharedLocker<T>`, as a C program sees it, checked for one `T`:
/// the size and alignment by the formulas; `T`, the arming word, the poison flag at their
/// offsets within a region (real addresses); and the `pthread_mutex_t` at offset 8, through
/// glibc's own calls on that address.
fn check_locker_layout<T: ShmSafe + Send + Copy + PartialEq + std::fmt::Debug>(value: T) {
    let ty = std::any::type_name::<T>();
    let align = 8.max(align_of::<T>());
    let data = round_up(49, align_of::<T>());
    let size = round_up(data + size_of::<T>(), align);
    assert_eq!(
        size_of::<SharedLocker<T>>(),
        size,
        "size of SharedLocker<{ty}>"
    );
    assert_eq!(
        align_of::<SharedLocker<T>>(),
        align,
        "align of SharedLocker<{ty}>"
    );
    let region = ShmBox::anonymous(SharedLocker::new(value)).unwrap();
    let base = (&*region as *const SharedLocker<T>).cast::<u8>().cast_mut();
    let guard = region.lock().unwrap();
    let at = (&*guard as *const T as usize) - base as usize;
    assert_eq!(at, data, "offset of T in SharedLocker<{ty}>");
    assert_eq!(*guard, value);
    // SAFETY: offset 0 is the arming word (documented), a `u32` used atomically, in the
    // region, aligned.
    let word = unsafe { AtomicU32::from_ptr(base.cast()) };
    assert_eq!(word.load(Acquire), 1, "armed");
    let mutex = base.wrapping_add(8).cast::<libc::pthread_mutex_t>();
    // SAFETY: offset 8 is the armed `pthread_mutex_t` (documented), held by this thread
    // through `guard`: a trylock from the same thread of a normal mutex is EBUSY.
    assert_eq!(unsafe { libc::pthread_mutex_trylock(mutex) }, libc::EBUSY);
    drop(guard);
    // SAFETY: as above, now free: glibc locks and unlocks it at that address.
    unsafe {
        assert_eq!(libc::pthread_mutex_trylock(mutex), 0);
        assert!(region.try_lock().is_err(), "held through the raw address");
        assert_eq!(libc::pthread_mutex_unlock(mutex), 0);
    }
    let poison = poison_flag(&region);
    assert_eq!(poison.load(Relaxed), 0);
    quietly_panicking(|| {
        let _held = region.lock().unwrap();
        panic!("poisons it");
    });
    assert_eq!(
        poison.load(Relaxed),
        1,
        "a panic while holding writes 1 at 48"
    );
    region.clear_poison();
    assert_eq!(poison.load(Relaxed), 0);
}

/// Every row of the module docs' table "The shared primitives: byte layout" (but
/// `SharedCond`'s), checked against `size_of`, `align_of` and the real offsets in a region.
fn documented_layout_of_each_primitive() -> Outcome {
    check_locker_layout(7u8);
    check_locker_layout(0x0102_0304u32);
    check_locker_layout(0x0102_0304_0506_0708u64);
    check_locker_layout([1u8, 2, 3]);
    check_locker_layout(Align16([9; 16]));
    assert_eq!(size_of::<SharedLocker<u64>>(), 64);
    // The other kinds have the same layout.
    assert_eq!(size_of::<SharedErrorCheckLocker<u32>>(), 56);
    assert_eq!(size_of::<SharedRecursiveLocker<Align16>>(), 80);
    assert_eq!(align_of::<SharedRecursiveLocker<Align16>>(), 16);
    // SharedSem: the arming word, the sem_t at 8, the initial value at 40; 48 bytes.
    assert_eq!((size_of::<SharedSem>(), align_of::<SharedSem>()), (48, 8));
    let sem = ShmBox::anonymous(SharedSem::new(5).unwrap()).unwrap();
    let base = (&*sem as *const SharedSem).cast::<u8>().cast_mut();
    // SAFETY: offset 40 is the initial value (documented), in the region, aligned; written
    // once by the creator.
    assert_eq!(unsafe { base.add(40).cast::<u32>().read() }, 5);
    sem.post().unwrap(); // arms it (sem_init with 5), then 6
                         // SAFETY: offset 0 is the arming word, as above.
    assert_eq!(unsafe { AtomicU32::from_ptr(base.cast()) }.load(Acquire), 1);
    let raw = base.wrapping_add(8).cast::<libc::sem_t>();
    let mut value = 0;
    // SAFETY: offset 8 is the armed `sem_t` (documented); `value` is valid for writes.
    assert_eq!(unsafe { libc::sem_getvalue(raw, &mut value) }, 0);
    assert_eq!(value, 6);
    // SAFETY: as above: glibc takes a unit at that address.
    assert_eq!(unsafe { libc::sem_trywait(raw) }, 0);
    assert_eq!(sem.value(), 5);
    Passed
}

/// The poison flag of a shared lock (offset 48), atomically.
fn poison_flag<T>(lock: &SharedLocker<T>) -> &AtomicU8 {
    // SAFETY: the documented layout puts the poison flag, a byte used atomically, at offset
    // 48 of every shared lock; `lock` lives in a region, for the borrow.
    unsafe {
        AtomicU8::from_ptr(
            (lock as *const SharedLocker<T>)
                .cast::<u8>()
                .cast_mut()
                .add(48),
        )
    }
}

/// The poison flag as the module docs give it to C programs: any nonzero byte is poisoned
/// (Rust lock calls return `Poisoned` with the guard, the data intact), `clear_poison` writes
/// 0; a flag set by another process (as a C program may, holding the mutex) is seen here.
fn poison_flag_any_nonzero_is_poisoned() -> Outcome {
    for byte in [1u8, 2, 7, 0xff] {
        let region = ShmBox::anonymous(SharedLocker::new(41u64)).unwrap();
        *region.lock().unwrap() += 1;
        assert!(!region.is_poisoned());
        poison_flag(&region).store(byte, Relaxed);
        assert!(region.is_poisoned(), "{byte} reads as poisoned");
        match region.lock() {
            Err(SharedLockError::Poisoned(p)) => assert_eq!(*p.into_inner(), 42),
            other => panic!("{byte}: expected Poisoned, got {:?}", other.map(|_| ())),
        }
        assert!(region.try_lock().is_err(), "still poisoned");
        region.clear_poison();
        assert_eq!(poison_flag(&region).load(Relaxed), 0);
        assert_eq!(*region.lock().unwrap(), 42);
    }
    // Set by another process while it holds the mutex, as a C program may.
    let region = ShmBox::anonymous(SharedLocker::new(0u64)).unwrap();
    let r = &*region;
    let child = fork_child(|| {
        let Ok(mut g) = r.lock() else { return 1 };
        *g = 5;
        poison_flag(r).store(1, Relaxed);
        drop(g);
        0
    });
    assert_eq!(child.wait(), 0);
    match r.lock() {
        Err(SharedLockError::Poisoned(p)) => assert_eq!(*p.into_inner(), 5),
        other => panic!("expected Poisoned, got {:?}", other.map(|_| ())),
    }
    r.clear_poison();
    assert!(r.lock().is_ok());
    Passed
}

/// Children started with `Command`, killed and reaped if the test fails before it waits.
struct Spawned(Vec<std::process::Child>);

impl Drop for Spawned {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The environment variable that gives this binary the unrelated-process role.
const ROLE_VAR: &str = "PTHREAD_SYNC_TEST_ROLE";

fn main() {
    if let Ok(role) = std::env::var(ROLE_VAR) {
        let mut words = role.split(' ');
        let name = words.next().unwrap_or_default();
        let n = words.next().and_then(|w| w.parse().ok()).unwrap_or(0);
        std::process::exit(unrelated_process_role(name, n));
    }
    let cases: &[Case] = &[
        (
            "every_kind_counts_exactly_across_processes",
            every_kind_counts_exactly_across_processes,
        ),
        ("killed_holder_is_recovered", killed_holder_is_recovered),
        (
            "dropped_unrepaired_is_not_recoverable_everywhere",
            dropped_unrepaired_is_not_recoverable_everywhere,
        ),
        (
            "owner_death_reaches_a_condvar_waiter",
            owner_death_reaches_a_condvar_waiter,
        ),
        (
            "producer_consumer_across_processes",
            producer_consumer_across_processes,
        ),
        (
            "sem_ping_pong_across_processes",
            sem_ping_pong_across_processes,
        ),
        (
            "unrelated_processes_share_a_named_region",
            unrelated_processes_share_a_named_region,
        ),
        (
            "a_c_program_uses_the_same_region",
            a_c_program_uses_the_same_region,
        ),
        ("outside_a_region_is_refused", outside_a_region_is_refused),
        (
            "robust_stress_child_killed_at_random",
            robust_stress_child_killed_at_random,
        ),
        (
            "debug_never_takes_a_shared_lock",
            debug_never_takes_a_shared_lock,
        ),
        (
            "errorcheck_and_recursive_semantics_in_a_region",
            errorcheck_and_recursive_semantics_in_a_region,
        ),
        (
            "arming_survives_dead_stuck_and_corrupt_armers",
            arming_survives_dead_stuck_and_corrupt_armers,
        ),
        (
            "documented_layout_of_each_primitive",
            documented_layout_of_each_primitive,
        ),
        (
            "poison_flag_any_nonzero_is_poisoned",
            poison_flag_any_nonzero_is_poisoned,
        ),
    ];
    support::run(cases);
}
