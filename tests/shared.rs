//! Process-shared primitives across processes: exact counts with every kind, a holder killed
//! mid-update and recovered, `NotRecoverable` after an unrepaired drop, owner death seen by a
//! condvar waiter, producer/consumer and semaphore ping-pong, unrelated processes sharing a
//! named region, a C program on the same region and another creating one (both built from
//! the C declarations in the `shm` docs), use outside a region refused, the documented byte
//! layout of each primitive, the poison flag's values, and arming words forged dead, stuck or
//! corrupt.
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
use support::{cond_seq, fork_child, Case, Child};

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
    // glibc's trylock of a not recoverable robust mutex leaves its lock word taken (every
    // later trylock `EBUSY`, every lock waiting forever); the crate puts the word back, so
    // each try and each lock, in any process, keeps saying `NotRecoverable`.
    for _ in 0..3 {
        assert_eq!(
            r.pair.try_lock().map(|_| ()).unwrap_err().error(),
            Some(Error::NotRecoverable)
        );
    }
    let child = fork_child(|| {
        for _ in 0..3 {
            match r.pair.try_lock().map(|_| ()) {
                Err(SharedLockError::Failed(Error::NotRecoverable)) => {}
                _ => return 1,
            }
        }
        match r.pair.lock_timeout(Duration::from_secs(5)).map(|_| ()) {
            Err(SharedLockError::Failed(Error::NotRecoverable)) => {}
            _ => return 2,
        }
        match r.pair.lock().map(|_| ()) {
            Err(SharedLockError::Failed(Error::NotRecoverable)) => 0,
            _ => 3,
        }
    });
    assert_eq!(
        child.wait(),
        0,
        "a trylock left the not recoverable mutex taken"
    );
    assert_eq!(
        r.pair.lock().map(|_| ()).unwrap_err().error(),
        Some(Error::NotRecoverable)
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

/// The C declarations of the module docs of `shm` (its one ```` ```c ```` block), taken
/// from the source so that the C programs below are built from exactly what the docs say.
fn documented_c_declarations() -> String {
    support::shm_docs_c_block(None)
}

/// A C program built with the system `cc` in a directory of its own, removed when dropped.
struct CProgram {
    dir: std::path::PathBuf,
    binary: std::path::PathBuf,
}

impl CProgram {
    /// Builds `body` after `#define _GNU_SOURCE` and the documented declarations; `None` when
    /// there is no `cc` on this machine. A compiler error fails the case.
    fn build(what: &str, body: &str) -> Option<CProgram> {
        let dir =
            std::env::temp_dir().join(format!("pthread-sync-c-{}-{what}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let program = CProgram {
            binary: dir.join(what),
            dir,
        };
        let source = program.dir.join(format!("{what}.c"));
        let text = format!(
            "#define _GNU_SOURCE\n{}\n{body}",
            documented_c_declarations()
        );
        std::fs::write(&source, text).unwrap();
        let built = support::cc(&source, &program.binary);
        match built {
            Ok(out) if out.status.success() => Some(program),
            Ok(out) => panic!("cc failed: {}", String::from_utf8_lossy(&out.stderr)),
            Err(_) => None,
        }
    }
}

impl Drop for CProgram {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The fingerprint Rust and the C peer agree on for `ForC`.
const FOR_C_FINGERPRINT: u64 = 0x7073_796e_635f_7065;

#[repr(C)]
struct ForC {
    count: SharedLocker<u64>,
    ready: SharedSem,
}
// SAFETY: #[repr(C)], shared primitives only; the fingerprint names this layout only (the C
// `struct value` of the shm module docs).
unsafe impl ShmSafe for ForC {
    const FINGERPRINT: Option<u64> = Some(FOR_C_FINGERPRINT);
}

/// The C side of the layout test: the documented declarations (`struct region`), a region
/// opened and checked as the docs say, its primitives used with glibc's own calls.
const C_PEER: &str = r#"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 5) return 2;
    long n = atol(argv[2]);
    if (sizeof(struct value) != (size_t) atol(argv[3])) return 3;
    uint64_t fingerprint = strtoull(argv[4], NULL, 16);
    int fd = shm_open(argv[1], O_RDWR, 0);
    if (fd < 0) return 4;
    struct stat st;
    if (fstat(fd, &st) != 0 || (size_t) st.st_size < sizeof(struct region)) return 5;
    struct region *r = mmap(NULL, sizeof *r, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (r == MAP_FAILED) return 5;
    struct psync_header *h = &r->h;
    if (__atomic_load_n(&h->init_state, __ATOMIC_ACQUIRE) != 2) return 6;
    if (memcmp(h->magic, "PSYNCSHM", 8) != 0 || h->version != 1 || h->header_size != 64
        || h->data_size != sizeof(struct value) || h->data_align != _Alignof(struct value)
        || h->fingerprint != fingerprint || h->data_offset != 64
        || h->total_len != 64 + sizeof(struct value)) return 6;
    if (__atomic_load_n(&r->v.count.arming, __ATOMIC_ACQUIRE) != 1
        || __atomic_load_n(&r->v.ready.arming, __ATOMIC_ACQUIRE) != 1) return 7;
    for (long i = 0; i < n; i++) {
        int e = pthread_mutex_lock(&r->v.count.mutex);
        if (e == EOWNERDEAD) e = pthread_mutex_consistent(&r->v.count.mutex);
        if (e != 0) return 8;
        if (__atomic_load_n(&r->v.count.poisoned, __ATOMIC_RELAXED) != 0) return 8;
        r->v.count.data++;
        pthread_mutex_unlock(&r->v.count.mutex);
    }
    if (sem_post(&r->v.ready.sem) != 0) return 9;
    return 0;
}
"#;

/// A C program (built here with the system `cc` from the documented declarations) opens the
/// named region Rust created, checks its header as the docs say (the agreed fingerprint
/// included), and locks the same `pthread_mutex_t` and posts the same `sem_t` as this
/// process, concurrently: exact totals. This is what proves the documented layout.
fn a_c_program_uses_the_same_region() -> Outcome {
    const N: u64 = 50_000;
    let Some(peer) = CProgram::build("peer", C_PEER) else {
        return Skipped("no C compiler (`cc`) on this machine");
    };
    let name = Name::new("c-peer");
    let region = ShmBox::create(
        &name.0,
        0o600,
        ForC {
            count: SharedLocker::new(0),
            ready: SharedSem::new(0).unwrap(),
        },
    )
    .unwrap();
    // Arm both (their first use), as this C peer expects armed objects.
    drop(region.count.lock().unwrap());
    assert_eq!(region.ready.try_wait(), Err(Error::WouldBlock));
    let mut child = Spawned(vec![Command::new(&peer.binary)
        .arg(&name.0)
        .arg(N.to_string())
        .arg(size_of::<ForC>().to_string())
        .arg(format!("{FOR_C_FINGERPRINT:x}"))
        .spawn()
        .unwrap()]);
    for _ in 0..N {
        *region.count.lock().unwrap() += 1;
    }
    region.ready.wait_timeout(Duration::from_secs(30)).unwrap();
    let status = child.0[0].wait().unwrap();
    assert!(status.success(), "C peer: {status:?}");
    assert_eq!(*region.count.lock().unwrap(), 2 * N);
    Passed
}

/// The fingerprint Rust and the C peer agree on for `CondForC`.
const COND_FOR_C_FINGERPRINT: u64 = 0x7073_796e_635f_6376;

/// A turn counter and the condvar both sides wait on (the C `struct cond_value`).
#[repr(C)]
struct CondForC {
    turn: SharedLocker<u64>,
    cond: SharedCond,
}
// SAFETY: #[repr(C)], shared primitives only; the fingerprint names this layout only.
unsafe impl ShmSafe for CondForC {
    const FINGERPRINT: Option<u64> = Some(COND_FOR_C_FINGERPRINT);
}

/// The C side of the condvar case: the documented wait and notify steps of `SharedCond`
/// (`shm` module docs), in C, ping-ponging with Rust: C takes the odd turns.
const C_COND_PEER: &str = r#"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct cond_value { struct shared_locker_u64 turn; struct shared_cond cond; };
struct cond_region { struct psync_header h; struct cond_value v; };

static int lock(struct shared_locker_u64 *l) {
    int e = pthread_mutex_lock(&l->mutex);
    if (e == EOWNERDEAD) e = pthread_mutex_consistent(&l->mutex);
    return e;
}

/* Waits (with the mutex held) at most until `deadline`, in sleeps of at most 20 ms, after
   each of which a moved `seq` is a wake-up (the documented steps); returns with the mutex
   held. */
static int cond_wait(struct shared_cond *c, struct shared_locker_u64 *l,
                     const struct timespec *deadline) {
    __atomic_add_fetch(&c->waiters, 1, __ATOMIC_SEQ_CST);
    uint32_t seen = __atomic_load_n(&c->seq, __ATOMIC_SEQ_CST);
    pthread_mutex_unlock(&l->mutex);
    for (;;) {
        struct timespec slice;
        clock_gettime(CLOCK_MONOTONIC, &slice);
        slice.tv_nsec += 20000000;
        if (slice.tv_nsec >= 1000000000) { slice.tv_sec++; slice.tv_nsec -= 1000000000; }
        int last = slice.tv_sec > deadline->tv_sec
            || (slice.tv_sec == deadline->tv_sec && slice.tv_nsec >= deadline->tv_nsec);
        long r = syscall(SYS_futex, &c->seq, FUTEX_WAIT_BITSET, seen, last ? deadline : &slice,
                         NULL, FUTEX_BITSET_MATCH_ANY);
        if (r == 0 || errno != ETIMEDOUT) break; /* a wake-up: EAGAIN, EINTR included */
        if (last || __atomic_load_n(&c->seq, __ATOMIC_SEQ_CST) != seen) break;
    }
    __atomic_sub_fetch(&c->waiters, 1, __ATOMIC_SEQ_CST);
    return lock(l);
}

static void cond_notify(struct shared_cond *c, int all) {
    if (__atomic_load_n(&c->waiters, __ATOMIC_SEQ_CST) == 0) return;
    __atomic_add_fetch(&c->seq, 1, __ATOMIC_SEQ_CST);
    syscall(SYS_futex, &c->seq, FUTEX_WAKE, all ? INT_MAX : 1, NULL, NULL, 0);
}

int main(int argc, char **argv) {
    if (argc != 3) return 2;
    long rounds = atol(argv[2]);
    int fd = shm_open(argv[1], O_RDWR, 0);
    if (fd < 0) return 4;
    struct cond_region *r = mmap(NULL, sizeof *r, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (r == MAP_FAILED) return 5;
    if (__atomic_load_n(&r->h.init_state, __ATOMIC_ACQUIRE) != 2
        || r->h.data_size != sizeof(struct cond_value)) return 6;
    if (__atomic_load_n(&r->v.turn.arming, __ATOMIC_ACQUIRE) != 1) return 7;
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += 30;
    if (lock(&r->v.turn) != 0) return 8;
    for (long i = 0; i < rounds; i++) {
        while (r->v.turn.data % 2 == 0) {
            if (cond_wait(&r->v.cond, &r->v.turn, &deadline) != 0) return 8;
            struct timespec now;
            clock_gettime(CLOCK_MONOTONIC, &now);
            if (now.tv_sec > deadline.tv_sec
                || (now.tv_sec == deadline.tv_sec && now.tv_nsec >= deadline.tv_nsec))
                return 10; /* a lost wake-up */
        }
        r->v.turn.data++;
        cond_notify(&r->v.cond, i % 2);
    }
    pthread_mutex_unlock(&r->v.turn.mutex);
    return 0;
}
"#;

/// A C program waits and notifies on the same `SharedCond` as this process, by the
/// documented steps (futex words, no `pthread_cond_t`): 2 000 turns handed back and forth,
/// each side waiting for the other's, with `notify_one` and `notify_all`; no turn is lost
/// (the C side gives up with an error after 30 s, a lost wake-up). Every 250th of Rust's
/// notifications is left half-done, as by a notifier killed between its bump of `seq` and
/// its wake: the C waiter's 20 ms looks see it.
fn a_c_program_waits_and_notifies_on_the_same_condvar() -> Outcome {
    const ROUNDS: u64 = 1_000;
    let Some(peer) = CProgram::build("cond_peer", C_COND_PEER) else {
        return Skipped("no C compiler (`cc`) on this machine");
    };
    let name = Name::new("c-cond");
    let region = ShmBox::create(
        &name.0,
        0o600,
        CondForC {
            turn: SharedLocker::new(0),
            cond: SharedCond::new(),
        },
    )
    .unwrap();
    drop(region.turn.lock().unwrap()); // armed, as the C peer expects
    let mut child = Spawned(vec![Command::new(&peer.binary)
        .arg(&name.0)
        .arg(ROUNDS.to_string())
        .spawn()
        .unwrap()]);
    let mut turn = region.turn.lock().unwrap();
    for i in 0..ROUNDS {
        // After a half-done notification, C's answer comes within its next 20 ms look (a C
        // waiter that slept until its own 30 s deadline would take longer than this).
        let patience = if i % 250 == 0 && i > 0 { 5 } else { 30 };
        let (g, timeout) = region
            .cond
            .wait_timeout_while(turn, Duration::from_secs(patience), |t| *t % 2 == 1)
            .unwrap();
        assert!(
            !timeout.timed_out(),
            "a wake-up from C was lost at turn {i} (or C missed a half-done notification)"
        );
        turn = g;
        *turn += 1;
        if i % 250 == 249 {
            cond_seq(&region.cond).fetch_add(1, SeqCst); // and no wake
        } else if i % 2 == 0 {
            region.cond.notify_one();
        } else {
            region.cond.notify_all();
        }
    }
    drop(turn);
    let status = child.0[0].wait().unwrap();
    assert!(status.success(), "C peer: {status:?}");
    assert_eq!(*region.turn.lock().unwrap(), 2 * ROUNDS);
    Passed
}

/// The fingerprint Rust and the C creator agree on for `MadeByC`.
const MADE_BY_C_FINGERPRINT: u64 = 0x7073_796e_635f_6372;

/// The value a C program creates (its `struct made_by_c`).
#[repr(C)]
struct MadeByC {
    /// Armed by the C creator, which takes over a dead armer's claim to do it; 1000.
    by_c: SharedLocker<u64>,
    /// Left unarmed by the C creator: Rust arms it; 2000.
    by_rust: SharedLocker<u64>,
    /// Left with a dead armer's claim: Rust takes it over; 3000.
    abandoned: SharedLocker<u64>,
    /// Armed by the C creator as `PTHREAD_MUTEX_ERRORCHECK`; 4.
    errorcheck: SharedErrorCheckLocker<u32>,
    /// Armed by the C creator as `PTHREAD_MUTEX_RECURSIVE`; 5.
    recursive: SharedRecursiveLocker<u32>,
    /// Armed by the C creator with 0: Rust posts it when it has armed `by_rust`.
    go: SharedSem,
    /// Left unarmed, initial 0: whichever process uses it first arms it; C posts it at the end.
    done: SharedSem,
    /// Left unarmed, initial 2: Rust arms it (with 2).
    spare: SharedSem,
}
// SAFETY: #[repr(C)], shared primitives only; the fingerprint names this layout only (the C
// `struct made_by_c` below).
unsafe impl ShmSafe for MadeByC {
    const FINGERPRINT: Option<u64> = Some(MADE_BY_C_FINGERPRINT);
}

/// The same layout without the agreed fingerprint: a region of `MadeByC` is refused as one.
#[repr(transparent)]
struct Unagreed(MadeByC);
// SAFETY: as `MadeByC`, whose layout it has; no fingerprint declared.
unsafe impl ShmSafe for Unagreed {}

/// The C creator: every step of the module docs' "Creating a region from C" and of their
/// arming protocol, written in C from the docs.
const C_CREATOR: &str = r#"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* SharedLocker<u32> (and the other kinds): u32 data at round_up(49, 4) = 52. */
struct shared_locker_u32 {
    uint32_t arming;
    pthread_mutex_t mutex;
    uint8_t poisoned;
    uint32_t data;
};

struct made_by_c {
    struct shared_locker_u64 by_c;
    struct shared_locker_u64 by_rust;
    struct shared_locker_u64 abandoned;
    struct shared_locker_u32 errorcheck;
    struct shared_locker_u32 recursive;
    struct shared_sem go;
    struct shared_sem done;
    struct shared_sem spare;
};

/* A robust, process-shared mutex of `type`: the attributes the docs list. */
static int init_mutex(pthread_mutex_t *m, int type) {
    pthread_mutexattr_t a;
    int e = pthread_mutexattr_init(&a);
    if (e) return e;
    if (!(e = pthread_mutexattr_settype(&a, type))
        && !(e = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED))
        && !(e = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST))
        && !(e = pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_NONE)))
        e = pthread_mutex_init(m, &a);
    pthread_mutexattr_destroy(&a);
    return e;
}

/* The arming protocol: 0 once the object is armed (by anyone); -1 for a word that is no
   state, a failed initialisation or an armer that never finishes. `type` is the mutex type,
   or -1 for a semaphore armed with `initial`. This program arms from one thread only, so a
   claim in its own name is a dead predecessor's. */
static int arm(uint32_t *word, void *obj, int type, uint32_t initial) {
    uint32_t mine = 0x80000000u | (uint32_t) getpid();
    for (int tries = 0; tries < 1000; tries++) {
        uint32_t seen = __atomic_load_n(word, __ATOMIC_ACQUIRE);
        if (seen == 1) return 0;
        if (seen != 0) {
            uint32_t pid = seen & 0x7fffffffu;
            if (!(seen & 0x80000000u) || pid == 0 || pid >= (1u << 22)) return -1;
            if (pid != (uint32_t) getpid() && (kill((pid_t) pid, 0) == 0 || errno != ESRCH)) {
                usleep(1000); /* being armed by a live process */
                continue;
            }
            /* its armer is dead: take the claim over from this exact value */
        }
        if (!__atomic_compare_exchange_n(word, &seen, mine, 0, __ATOMIC_ACQUIRE,
                                         __ATOMIC_ACQUIRE))
            continue;
        int e = type >= 0 ? init_mutex(obj, type) : sem_init(obj, 1, initial);
        __atomic_store_n(word, e == 0 ? 1u : 0u, __ATOMIC_RELEASE);
        return e == 0 ? 0 : -1;
    }
    return -1;
}

/* Locks a shared lock from C: armed first if need be, a dead holder's lock made consistent
   (one counter: nothing to repair), a poisoned one refused. */
static int lock(struct shared_locker_u64 *l) {
    if (arm(&l->arming, &l->mutex, PTHREAD_MUTEX_NORMAL, 0) != 0) return -1;
    int e = pthread_mutex_lock(&l->mutex);
    if (e == EOWNERDEAD) e = pthread_mutex_consistent(&l->mutex);
    if (e != 0) return -1;
    if (__atomic_load_n(&l->poisoned, __ATOMIC_RELAXED) != 0) {
        pthread_mutex_unlock(&l->mutex);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 5) return 2;
    const char *name = argv[1];
    long n = atol(argv[2]);
    if (sizeof(struct made_by_c) != (size_t) atol(argv[3])) return 3;
    uint64_t fingerprint = strtoull(argv[4], NULL, 16);

    /* A dead armer's pid: a child that has exited and been reaped. */
    pid_t dead = fork();
    if (dead < 0) return 4;
    if (dead == 0) _exit(0);
    if (waitpid(dead, NULL, 0) != dead) return 4;
    uint32_t dead_claim = 0x80000000u | (uint32_t) dead;

    /* Steps 1 and 2: the name, the size, the mapping. */
    uint64_t align = _Alignof(struct made_by_c);
    uint64_t offset = align > 64 ? align : 64;
    uint64_t total = offset + sizeof(struct made_by_c);
    int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
    if (fd < 0) return 5;
    if (ftruncate(fd, (off_t) total) != 0 || posix_fallocate(fd, 0, (off_t) total) != 0) {
        shm_unlink(name);
        return 6;
    }
    char *base = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (base == MAP_FAILED) {
        shm_unlink(name);
        return 7;
    }

    /* Step 3: the header but the state and the pid. */
    struct psync_header *h = (struct psync_header *) base;
    memcpy(h->magic, "PSYNCSHM", 8);
    h->version = 1;
    h->header_size = 64;
    h->data_size = sizeof(struct made_by_c);
    h->data_align = align;
    h->fingerprint = fingerprint;
    h->data_offset = offset;
    h->total_len = total;
    /* Step 4: the pid, then state 1. */
    __atomic_store_n(&h->creator_pid, (int32_t) getpid(), __ATOMIC_RELAXED);
    __atomic_store_n(&h->init_state, 1u, __ATOMIC_RELEASE);

    /* Step 5: the value. */
    struct made_by_c *v = (struct made_by_c *) (base + offset);
    v->by_c.data = 1000;
    __atomic_store_n(&v->by_c.arming, dead_claim, __ATOMIC_RELAXED);
    if (arm(&v->by_c.arming, &v->by_c.mutex, PTHREAD_MUTEX_NORMAL, 0) != 0) goto failed;
    v->by_rust.data = 2000; /* unarmed: all zero */
    v->abandoned.data = 3000;
    __atomic_store_n(&v->abandoned.arming, dead_claim, __ATOMIC_RELAXED);
    v->errorcheck.data = 4;
    if (init_mutex(&v->errorcheck.mutex, PTHREAD_MUTEX_ERRORCHECK) != 0) goto failed;
    __atomic_store_n(&v->errorcheck.arming, 1u, __ATOMIC_RELEASE);
    v->recursive.data = 5;
    if (init_mutex(&v->recursive.mutex, PTHREAD_MUTEX_RECURSIVE) != 0) goto failed;
    __atomic_store_n(&v->recursive.arming, 1u, __ATOMIC_RELEASE);
    v->go.initial = 0;
    if (sem_init(&v->go.sem, 1, v->go.initial) != 0) goto failed;
    __atomic_store_n(&v->go.arming, 1u, __ATOMIC_RELEASE);
    v->done.initial = 0;
    v->spare.initial = 2;

    /* Step 6: published. */
    __atomic_store_n(&h->init_state, 2u, __ATOMIC_RELEASE);

    /* Wait for Rust to open it and arm `by_rust`, then count beside it. */
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += 30;
    while (sem_clockwait(&v->go.sem, CLOCK_MONOTONIC, &deadline) != 0)
        if (errno != EINTR) return 9;
    if (__atomic_load_n(&v->by_rust.arming, __ATOMIC_ACQUIRE) != 1) return 10;
    for (long i = 0; i < n; i++) {
        if (lock(&v->by_c) != 0) return 11;
        v->by_c.data++;
        pthread_mutex_unlock(&v->by_c.mutex);
        if (lock(&v->by_rust) != 0) return 12;
        v->by_rust.data++;
        pthread_mutex_unlock(&v->by_rust.mutex);
    }
    /* Tell the Rust users `by_c` is poisoned: set the flag holding the mutex. */
    if (lock(&v->by_c) != 0) return 13;
    __atomic_store_n(&v->by_c.poisoned, (uint8_t) 1, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&v->by_c.mutex);
    if (arm(&v->done.arming, &v->done.sem, -1, v->done.initial) != 0) return 14;
    if (sem_post(&v->done.sem) != 0) return 15;
    return 0;

failed:
    munmap(base, total);
    shm_unlink(name);
    return 8;
}
"#;

/// A C program creates a named region from the module docs alone (header, the agreed
/// fingerprint, `SharedLocker`-compatible locks it arms itself, by the arming protocol or
/// directly, of every kind, semaphores armed or left unarmed, a lock left with a dead armer's
/// claim); Rust opens it with that fingerprint (and refuses it without), arms what is left
/// unarmed, takes the dead claim over, and counts beside the C program; the C program poisons
/// one lock and Rust sees it.
fn a_c_program_creates_a_region() -> Outcome {
    const N: u64 = 20_000;
    let Some(creator) = CProgram::build("creator", C_CREATOR) else {
        return Skipped("no C compiler (`cc`) on this machine");
    };
    let name = Name::new("c-creator");
    let mut child = Spawned(vec![Command::new(&creator.binary)
        .arg(&name.0)
        .arg(N.to_string())
        .arg(size_of::<MadeByC>().to_string())
        .arg(format!("{MADE_BY_C_FINGERPRINT:x}"))
        .spawn()
        .unwrap()]);
    let c_pid = child.0[0].id() as i32;
    // Until the C program has made the name; then `open` waits for it to publish.
    let started = Instant::now();
    let region = loop {
        match ShmBox::<MadeByC>::open_timeout(&name.0, Duration::from_secs(10)) {
            Err(Error::NotFound) if started.elapsed() < Duration::from_secs(20) => {
                if let Some(status) = child.0[0].try_wait().unwrap() {
                    panic!("the C creator ended before creating: {status:?}");
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            opened => break opened.unwrap(),
        }
    };
    // The header as the C program wrote it.
    let file = std::fs::read(format!("/dev/shm{}", name.0)).unwrap();
    assert_eq!(&file[..8], b"PSYNCSHM");
    assert_eq!(i32::from_ne_bytes(file[44..48].try_into().unwrap()), c_pid);
    assert_eq!(
        u64::from_ne_bytes(file[32..40].try_into().unwrap()),
        MADE_BY_C_FINGERPRINT
    );
    assert_eq!(shm::fingerprint::<MadeByC>(), MADE_BY_C_FINGERPRINT);
    // The same layout without the agreed number is another type.
    assert_eq!(
        ShmBox::<Unagreed>::open(&name.0).map(|_| ()),
        Err(Error::TypeMismatch {
            what: "type fingerprint",
            found: MADE_BY_C_FINGERPRINT,
            expected: shm::fingerprint::<Unagreed>(),
        })
    );
    let v = &*region;
    // Armed by C: the normal lock (over a dead claim), errorcheck and recursive kinds.
    assert_eq!(*v.by_c.lock().unwrap(), 1000);
    {
        let g = v.errorcheck.lock().unwrap();
        assert_eq!(*g, 4);
        assert_eq!(
            v.errorcheck.lock().map(|_| ()).unwrap_err().error(),
            Some(Error::Deadlock),
            "C armed it PTHREAD_MUTEX_ERRORCHECK"
        );
    }
    {
        let outer = v.recursive.lock().unwrap();
        let inner = v.recursive.lock().unwrap();
        assert_eq!(
            (*outer, *inner),
            (5, 5),
            "C armed it PTHREAD_MUTEX_RECURSIVE"
        );
    }
    // Left unarmed by C, armed here: the lock, and the semaphore with its stored initial.
    assert_eq!(v.spare.value(), 2);
    v.spare.try_wait().unwrap();
    assert_eq!(v.spare.value(), 1);
    assert_eq!(*v.by_rust.lock().unwrap(), 2000);
    // Left with a dead armer's claim: taken over.
    assert_eq!(*v.abandoned.lock().unwrap(), 3000);
    v.go.post().unwrap();
    for _ in 0..N {
        // C poisons `by_c` once its own increments are done, maybe before these are.
        match v.by_c.lock() {
            Ok(mut g) => *g += 1,
            Err(SharedLockError::Poisoned(p)) => *p.into_inner() += 1,
            Err(e) => panic!("{e}"),
        }
        *v.by_rust.lock().unwrap() += 1;
    }
    v.done.wait_timeout(Duration::from_secs(30)).unwrap();
    let status = child.0[0].wait().unwrap();
    assert!(status.success(), "C creator: {status:?}");
    match v.by_c.lock() {
        Err(SharedLockError::Poisoned(p)) => assert_eq!(*p.into_inner(), 1000 + 2 * N),
        other => panic!("expected the flag C set, got {:?}", other.map(|_| ())),
    }
    v.by_c.clear_poison();
    assert_eq!(*v.by_c.lock().unwrap(), 1000 + 2 * N);
    assert_eq!(*v.by_rust.lock().unwrap(), 2000 + 2 * N);
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
    // fails with a typed error and leaves the word unarmed, for the next user to try. The
    // value is written as another process would, through the object (`pwrite` at the data
    // offset 64 + 40), not through this process's `&SharedSem`.
    let name = Name::new("bad-initial");
    let sem = ShmBox::create(&name.0, 0o600, SharedSem::new(0).unwrap()).unwrap();
    let c_name = std::ffi::CString::new(name.0.as_str()).unwrap();
    // SAFETY: a NUL-terminated name of an existing object.
    let fd = unsafe { libc::shm_open(c_name.as_ptr(), libc::O_RDWR, 0) };
    assert!(fd >= 0, "shm_open: {}", std::io::Error::last_os_error());
    let bytes = u32::MAX.to_ne_bytes();
    // SAFETY: `fd` is open; `bytes` is valid for reads of its 4 bytes; then closed once.
    let written = unsafe {
        let n = libc::pwrite(fd, bytes.as_ptr().cast(), 4, 64 + 40);
        libc::close(fd);
        n
    };
    assert_eq!(written, 4);
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
        ("a_c_program_creates_a_region", a_c_program_creates_a_region),
        (
            "a_c_program_waits_and_notifies_on_the_same_condvar",
            a_c_program_waits_and_notifies_on_the_same_condvar,
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
