//! `SharedRwLock` across processes: exact counts with read-locked invariant checks, a writer
//! `SIGKILL`ed mid-update (the next reader, or writer, repairs; unrepaired: not recoverable
//! for every process), readers `SIGKILL`ed holding, a reader killed waiting behind a writer,
//! a writer killed while it waits for readers (its intent raised), a dead reader process's
//! pid reused by a live process (told apart by the start-time tag), a writer under a 5 ms
//! `SIGALRM`, a thread that ends with a leaked read guard and a process that `exec`s
//! holding a read (both keep it held while the process lives), random kills in every phase
//! on one CPU and on two, timed and try forms, misuse, one region mapped twice in one process
//! (a thread reading through both mappings holds one read), use outside a region, poisoning
//! across processes, `Debug`, downgrade, the documented byte layout, and a C program reading and
//! writing by the documented steps beside Rust.
//!
//! `harness = false` (see `support`): children use only the lock and the region's atomics,
//! then `_exit`; the parent checks every exit status, bounds every wait, and kills and reaps
//! whatever is left on a failure (the `Child` guards).

mod support;

use std::process::Command;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release, SeqCst};
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8};
use std::time::{Duration, Instant};

use pthread_sync::shm::{self, ShmBox, ShmSafe};
use pthread_sync::{Error, OwnerDied, SharedLockError, SharedRwLock, SharedRwLockWriteGuard};
use support::Outcome::{self, Passed, Skipped};
use support::{fork_child, sleeps_in_futex, Case, Child, OneCpu, Rng};

/// How long the survivors may take to get in after a death: the issue's bound.
const RECOVERY: Duration = Duration::from_secs(2);

/// How long any other step may take (a child exiting, a flag being raised).
const BOUND: Duration = Duration::from_secs(10);

/// The documented layout (`shm` module docs): offsets in a `SharedRwLock<T>`.
const SLOT_STRIDE: usize = 64;
const READER_SLOTS: usize = 16;
const WRITER_AT: usize = 1024;
const INTENT_AT: usize = 1072;
const STATE_AT: usize = 1076;
const POISON_AT: usize = 1080;
/// Where the data begins: `round_up(1081, align_of::<T>())`.
const DATA_MIN: usize = 1081;

/// Two fields that are equal between updates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
struct Pair {
    a: u64,
    b: u64,
}
// SAFETY: #[repr(C)], integers only.
unsafe impl ShmSafe for Pair {}

const FLAGS: usize = 8;

/// The lock of a case and what the parent watches.
#[repr(C)]
struct Table {
    lock: SharedRwLock<Pair>,
    flags: [AtomicU32; FLAGS],
    /// Operations completed, per worker.
    ops: [AtomicU64; FLAGS],
    /// Repairs made by workers (an `OwnerDied` they met).
    repairs: AtomicU64,
    stop: AtomicU32,
}
// SAFETY: #[repr(C)], a shared lock and atomics only.
unsafe impl ShmSafe for Table {}

fn table() -> ShmBox<Table> {
    let region = ShmBox::anonymous(Table {
        lock: SharedRwLock::new(Pair { a: 0, b: 0 }),
        flags: std::array::from_fn(|_| AtomicU32::new(0)),
        ops: std::array::from_fn(|_| AtomicU64::new(0)),
        repairs: AtomicU64::new(0),
        stop: AtomicU32::new(0),
    })
    .unwrap();
    // Armed (a write takes every mutex once), as most cases want.
    drop(region.lock.write().unwrap());
    region
}

/// The `u32` at `offset` of a lock, per the documented layout.
fn word<T>(lock: &SharedRwLock<T>, offset: usize) -> &AtomicU32 {
    // SAFETY: the documented layout puts aligned `u32`s, accessed atomically, at the offsets
    // used here (arming words, intent, state); `lock` lives in a region for the borrow.
    unsafe {
        AtomicU32::from_ptr(
            (lock as *const SharedRwLock<T>)
                .cast_mut()
                .cast::<u8>()
                .add(offset)
                .cast(),
        )
    }
}

fn intent<T>(lock: &SharedRwLock<T>) -> u32 {
    word(lock, INTENT_AT).load(SeqCst)
}

fn state<T>(lock: &SharedRwLock<T>) -> u32 {
    word(lock, STATE_AT).load(SeqCst)
}

/// The word of reader slot `i` (0: free; else its holder's identity).
fn slot_word<T>(lock: &SharedRwLock<T>, i: usize) -> u64 {
    // SAFETY: the documented layout puts an aligned `u64`, accessed atomically, at the start
    // of each slot; `lock` lives in a region for the borrow.
    unsafe {
        AtomicU64::from_ptr(
            (lock as *const SharedRwLock<T>)
                .cast_mut()
                .cast::<u8>()
                .add(i * SLOT_STRIDE)
                .cast(),
        )
    }
    .load(SeqCst)
}

/// The reader slots held now.
fn held_slots<T>(lock: &SharedRwLock<T>) -> Vec<usize> {
    (0..READER_SLOTS)
        .filter(|&i| slot_word(lock, i) != 0)
        .collect()
}

/// Waits (bounded) until `flag` reads `value`.
fn await_flag(flag: &AtomicU32, value: u32) {
    let start = Instant::now();
    while flag.load(Acquire) != value {
        assert!(start.elapsed() < BOUND, "flag never set");
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// Waits (bounded) until `child` sleeps in a futex (blocked on one of the lock's mutexes).
fn await_blocked(child: &Child) {
    let start = Instant::now();
    while !sleeps_in_futex(child.pid()) {
        assert!(
            start.elapsed() < BOUND,
            "process {} never blocked",
            child.pid()
        );
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// Where `pid` sleeps, for a failure message.
fn blocked_where(pid: libc::pid_t) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/syscall"))
        .map(|s| format!("syscall: {}", s.trim()))
        .unwrap_or_else(|_| "(its /proc/<pid>/syscall is unreadable)".into())
}

/// Checks that `child` exits with `code` within `bound`; fails the case otherwise (the child
/// is then killed and reaped), saying where it was blocked.
fn expect_exit(child: Child, code: i32, bound: Duration, what: &str) {
    match child.wait_within(bound) {
        Ok(c) => assert_eq!(c, code, "{what}: exit code"),
        Err(child) => {
            let place = blocked_where(child.pid());
            drop(child);
            panic!("{what}: still running after {bound:?} (hung, {place}; killed)");
        }
    }
}

/// A child that takes the write lock, writes half an update (`a` + 1), raises `flag` and
/// sleeps until it is killed.
fn spawn_writer_midway(t: &Table, flag: usize) -> Child {
    fork_child(move || {
        let Ok(mut w) = t.lock.write() else { return 1 };
        w.a += 1;
        t.flags[flag].store(1, Release);
        loop {
            // SAFETY: sleeps; the parent kills this process here.
            unsafe { libc::pause() };
        }
    })
}

/// A child that takes a read, raises `flag` and sleeps until it is killed.
fn spawn_reader_holding(t: &Table, flag: usize) -> Child {
    fork_child(move || {
        let Ok(r) = t.lock.read() else { return 1 };
        std::hint::black_box(&*r);
        t.flags[flag].store(1, Release);
        loop {
            // SAFETY: sleeps; the parent kills this process here.
            unsafe { libc::pause() };
        }
    })
}

/// What a blocked child expects its lock call to return.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// A plain guard: a reader checks `a == b`, a writer adds 1 to both.
    Plain,
    /// `OwnerDied`: checks the half update (`a == b + 1`), repairs it (`b = a`), makes it
    /// consistent; a writer then adds 1 to both, a reader downgrades and checks.
    Repair,
}

/// A child that raises `flag`, then reads, and exits 0 if the result is as `expect`ed.
fn spawn_reader(t: &Table, flag: usize, expect: Expect) -> Child {
    fork_child(move || {
        t.flags[flag].store(1, Release);
        match (t.lock.read(), expect) {
            (Ok(r), Expect::Plain) => i32::from(r.a != r.b) * 20,
            (Err(SharedLockError::OwnerDied(mut died)), Expect::Repair) => {
                let w = died.get_mut();
                if w.a != w.b + 1 {
                    return 21;
                }
                w.b = w.a;
                match died.make_consistent() {
                    Ok(w) => {
                        let r = SharedRwLockWriteGuard::downgrade(w);
                        i32::from(r.a != r.b) * 22
                    }
                    Err(_) => 23,
                }
            }
            (Ok(_), _) => 24,
            (Err(SharedLockError::OwnerDied(_)), _) => 25,
            (Err(SharedLockError::Poisoned(_)), _) => 26,
            (Err(SharedLockError::Failed(_)), _) => 27,
        }
    })
}

/// A child that raises `flag`, then writes, and exits 0 if the result is as `expect`ed.
fn spawn_writer(t: &Table, flag: usize, expect: Expect) -> Child {
    fork_child(move || {
        t.flags[flag].store(1, Release);
        let mut w = match (t.lock.write(), expect) {
            (Ok(w), Expect::Plain) => w,
            (Err(SharedLockError::OwnerDied(mut died)), Expect::Repair) => {
                let w = died.get_mut();
                if w.a != w.b + 1 {
                    return 31;
                }
                w.b = w.a;
                match died.make_consistent() {
                    Ok(w) => w,
                    Err(_) => return 33,
                }
            }
            (Ok(_), _) => return 34,
            (Err(SharedLockError::OwnerDied(_)), _) => return 35,
            (Err(SharedLockError::Poisoned(_)), _) => return 36,
            (Err(SharedLockError::Failed(_)), _) => return 37,
        };
        if w.a != w.b {
            return 38;
        }
        w.a += 1;
        w.b += 1;
        0
    })
}

fn read_now(t: &Table) -> Pair {
    *t.lock
        .read_timeout(RECOVERY)
        .unwrap_or_else(|e| panic!("read: {e:?}"))
}

/// 4 processes x 10 000 write-locked increments of two fields, each followed by three
/// read-locked checks that the fields are equal: exact totals, no torn read.
fn four_processes_count_exactly() -> Outcome {
    const PROCESSES: usize = 4;
    const WRITES: u64 = 10_000;
    let region = table();
    let t = &*region;
    let children: Vec<Child> = (0..PROCESSES)
        .map(|_| {
            fork_child(|| {
                for _ in 0..WRITES {
                    let Ok(mut w) = t.lock.write() else { return 1 };
                    w.a += 1;
                    std::hint::black_box(&mut *w);
                    w.b += 1;
                    drop(w);
                    for _ in 0..3 {
                        let Ok(r) = t.lock.read() else { return 2 };
                        if r.a != r.b {
                            return 3;
                        }
                    }
                }
                0
            })
        })
        .collect();
    for child in children {
        assert_eq!(child.wait(), 0);
    }
    let total = PROCESSES as u64 * WRITES;
    assert_eq!(read_now(t), Pair { a: total, b: total });
    assert_eq!((intent(&t.lock), state(&t.lock)), (0, 0));
    Passed
}

/// A writer killed between its two writes while a reader (then, in the second half, a
/// writer) waits: that one gets `OwnerDied` within the bound, finds the half update, repairs
/// it and makes the lock consistent; everyone after gets plain guards.
fn killed_writer_next_locker_repairs(next: fn(&Table, usize, Expect) -> Child, who: &str) {
    let region = table();
    let t = &*region;
    for _ in 0..5 {
        let mut w = t.lock.write().unwrap();
        w.a += 1;
        w.b += 1;
    }
    let writer = spawn_writer_midway(t, 0);
    await_flag(&t.flags[0], 1);
    assert_eq!(state(&t.lock), 1, "a write guard is held");
    let heir = next(t, 1, Expect::Repair);
    await_flag(&t.flags[1], 1);
    await_blocked(&heir);
    writer.kill_and_reap();
    expect_exit(
        heir,
        0,
        RECOVERY,
        &format!("the {who} after a killed writer"),
    );
    let after = read_now(t);
    assert_eq!(after.a, after.b, "repaired");
    assert!(after.a == 6 || after.a == 7, "{after:?}");
    // Another process gets plain guards again.
    let child = spawn_writer(t, 2, Expect::Plain);
    expect_exit(child, 0, RECOVERY, "a writer after the repair");
    let child = spawn_reader(t, 3, Expect::Plain);
    expect_exit(child, 0, RECOVERY, "a reader after the repair");
    assert_eq!((intent(&t.lock), state(&t.lock)), (0, 0));
}

fn killed_writer_the_next_reader_repairs() -> Outcome {
    killed_writer_next_locker_repairs(spawn_reader, "reader");
    Passed
}

fn killed_writer_the_next_writer_repairs() -> Outcome {
    killed_writer_next_locker_repairs(spawn_writer, "writer");
    Passed
}

/// `Duration::MAX` (and any duration past what an `Instant` holds) is a wait without an end:
/// free, both timed forms succeed at once; held for writing by a child, a timed write waits
/// for its release.
fn timed_forms_with_a_huge_duration_wait_and_never_panic() -> Outcome {
    let region = ShmBox::anonymous(SharedRwLock::new(0u32)).unwrap();
    let lock = &*region;
    for dur in [Duration::MAX, Duration::from_secs(u64::MAX / 2)] {
        drop(lock.read_timeout(dur).unwrap());
        drop(lock.write_timeout(dur).unwrap());
    }
    let flags = ShmBox::anonymous([AtomicU32::new(0), AtomicU32::new(0)]).unwrap();
    let (held_flag, release_flag) = (&flags[0], &flags[1]);
    let holder = fork_child(|| {
        let Ok(mut g) = lock.write() else { return 60 };
        held_flag.store(1, SeqCst);
        while release_flag.load(SeqCst) == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        *g += 1;
        0
    });
    await_flag(held_flag, 1);
    let waited = Instant::now();
    std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(30));
            release_flag.store(1, SeqCst);
        });
        let g = lock.write_timeout(Duration::MAX).unwrap();
        assert!(
            waited.elapsed() >= Duration::from_millis(30),
            "returned early"
        );
        assert_eq!(*g, 1);
    });
    assert_eq!(holder.wait(), 0);
    Passed
}

/// Every call of a process on a lock left not recoverable: `Failed(NotRecoverable)`.
fn all_not_recoverable(lock: &SharedRwLock<Pair>) -> bool {
    let short = Duration::from_millis(50);
    let reads = [
        lock.read().map(|_| ()),
        lock.try_read().map(|_| ()),
        lock.read_timeout(short).map(|_| ()),
    ];
    let writes = [
        lock.write().map(|_| ()),
        lock.try_write().map(|_| ()),
        lock.write_timeout(short).map(|_| ()),
    ];
    reads
        .iter()
        .all(|r| matches!(r, Err(SharedLockError::Failed(Error::NotRecoverable))))
        && writes
            .iter()
            .all(|r| matches!(r, Err(SharedLockError::Failed(Error::NotRecoverable))))
}

/// A dead writer's successor (a writer, then in a second region a reader) drops its
/// `OwnerDied` guard unrepaired: every call, of this process and of another, read and write,
/// plain, try and timed, is `NotRecoverable` after.
fn dropped_unrepaired_is_not_recoverable_everywhere() -> Outcome {
    for by_reader in [false, true] {
        let region = table();
        let t = &*region;
        let writer = spawn_writer_midway(t, 0);
        await_flag(&t.flags[0], 1);
        writer.kill_and_reap();
        let died = if by_reader {
            match t.lock.read() {
                Err(SharedLockError::OwnerDied(died)) => died,
                other => panic!("expected OwnerDied, got {:?}", other.map(|_| ())),
            }
        } else {
            match t.lock.write() {
                Err(SharedLockError::OwnerDied(died)) => died,
                other => panic!("expected OwnerDied, got {:?}", other.map(|_| ())),
            }
        };
        assert_eq!(died.get_ref().a, 1, "the half update is visible");
        drop(died); // not made consistent
        assert!(all_not_recoverable(&t.lock), "in this process");
        let child = fork_child(|| i32::from(!all_not_recoverable(&t.lock)));
        expect_exit(child, 0, BOUND, "another process sees it not recoverable");
        assert_eq!(state(&t.lock), 2);
        assert_eq!(
            intent(&t.lock),
            1,
            "readers are kept going to the writer mutex"
        );
    }
    Passed
}

/// A slot left by a dead reader process whose pid now names a live process (the id space
/// wrapped around; here: this one): the slot's start-time tag differs from the live
/// process's, so the writer takes the holder for dead, reclaims the slot and gets in within
/// the bound; a slot naming a live process with its own tag makes the writer wait (it times
/// out).
fn a_reused_process_id_is_not_taken_for_the_dead_holder() -> Outcome {
    let region = table();
    let t = &*region;
    let r = t.lock.read().unwrap();
    let slot = held_slots(&t.lock)[0];
    let live = slot_word(&t.lock, slot);
    drop(r);
    // SAFETY: the documented layout: the slot's `u64` word at the start of its 64 bytes;
    // no other thread uses the lock now.
    let word = unsafe {
        AtomicU64::from_ptr(
            (&t.lock as *const SharedRwLock<Pair>)
                .cast_mut()
                .cast::<u8>()
                .add(slot * SLOT_STRIDE)
                .cast(),
        )
    };
    // This live thread's own identity, as a reader would have left it: a live holder (its
    // process lives), so a writer waits for it.
    word.store(live, SeqCst);
    let writer = fork_child(|| match t.lock.write_timeout(Duration::from_millis(100)) {
        Err(SharedLockError::Failed(Error::TimedOut)) => 0,
        _ => 1,
    });
    expect_exit(writer, 0, BOUND, "a writer behind a live holder");
    // The same ids with another process start time (bits 44..64): a dead reader process's,
    // whose pid this live process reuses.
    word.store(live ^ (1 << 44), SeqCst);
    let started = Instant::now();
    let writer = spawn_writer(t, 0, Expect::Plain);
    expect_exit(writer, 0, RECOVERY, "a writer behind a reused id");
    eprintln!(
        "a_reused_process_id_is_not_taken_for_the_dead_holder: the writer got in after {:?}",
        started.elapsed()
    );
    assert!(held_slots(&t.lock).is_empty(), "reclaimed");
    assert_eq!(read_now(t), Pair { a: 1, b: 1 });
    Passed
}

extern "C" fn no_op_handler(_: libc::c_int) {}

/// A reader `SIGKILL`ed holding, and a writer process that gets a `SIGALRM` every 5 ms (a
/// profiler's rate: every futex sleep of the drain ends early with `EINTR`), with
/// `SA_RESTART` and without, blocking and timed: the writer still finds the holder dead
/// once a 20 ms slice has passed, and gets in within the bound (a slice restarted at each
/// return would never end).
fn a_dead_reader_is_reclaimed_under_frequent_signals() -> Outcome {
    for (flags, timed) in [(libc::SA_RESTART, false), (0, true)] {
        let region = table();
        let t = &*region;
        let reader = spawn_reader_holding(t, 0);
        await_flag(&t.flags[0], 1);
        reader.kill_and_reap();
        let started = Instant::now();
        let writer = fork_child(move || {
            // SAFETY: a zeroed sigaction is valid (empty mask); the handler does nothing, and
            // sigaction and setitimer are async-signal-safe.
            unsafe {
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = no_op_handler as *const () as usize;
                sa.sa_flags = flags;
                if libc::sigaction(libc::SIGALRM, &sa, std::ptr::null_mut()) != 0 {
                    return 2;
                }
                let every = libc::timeval {
                    tv_sec: 0,
                    tv_usec: 5000,
                };
                let timer = libc::itimerval {
                    it_interval: every,
                    it_value: every,
                };
                if libc::setitimer(libc::ITIMER_REAL, &timer, std::ptr::null_mut()) != 0 {
                    return 3;
                }
            }
            let got = if timed {
                t.lock.write_timeout(Duration::from_secs(30)).is_ok()
            } else {
                t.lock.write().is_ok()
            };
            i32::from(!got)
        });
        expect_exit(writer, 0, RECOVERY, "a writer under a 5 ms SIGALRM");
        eprintln!(
            "a_dead_reader_is_reclaimed_under_frequent_signals (SA_RESTART {}, {}): the writer \
             got in after {:?}",
            flags != 0,
            if timed { "timed" } else { "blocking" },
            started.elapsed()
        );
        assert!(held_slots(&t.lock).is_empty(), "reclaimed");
    }
    Passed
}

/// A thread takes a read, leaks its guard (`Box::leak`: a reference into the data lives on)
/// and ends, its process living on: the read stays held, as a leaked guard of std's
/// `RwLock` keeps it. No writer gets in, of this process or of another (their timed writes
/// time out), and the data seen through the leaked reference never changes.
fn a_thread_that_ends_with_a_leaked_read_keeps_it_held() -> Outcome {
    let region = table();
    let t = &*region;
    drop(t.lock.write().unwrap());
    let r: &Pair = std::thread::scope(|s| {
        s.spawn(|| {
            let g: &_ = Box::leak(Box::new(t.lock.read().unwrap()));
            &**g
        })
        .join()
        .unwrap()
    });
    // The thread has ended (joined); its slot still names it.
    assert_eq!(held_slots(&t.lock).len(), 1);
    let before = *r;
    let w = t.lock.write_timeout(Duration::from_millis(300));
    assert!(
        matches!(w, Err(SharedLockError::Failed(Error::TimedOut))),
        "a writer got in under a live reference from a leaked read"
    );
    drop(w);
    let writer = fork_child(|| match t.lock.write_timeout(Duration::from_millis(300)) {
        Err(SharedLockError::Failed(Error::TimedOut)) => 0,
        _ => 1,
    });
    expect_exit(
        writer,
        0,
        BOUND,
        "another process's writer behind a leaked read",
    );
    assert_eq!(*r, before, "the data under the leaked read never changed");
    assert_eq!(held_slots(&t.lock).len(), 1, "still held");
    Passed
}

/// A reader process takes a read and `exec`s (`/bin/sleep 1`) with it held: `exec` keeps the
/// pid and the start time, so the read stays held until the new program exits (a timed
/// write times out meanwhile); then its process is gone and a writer gets in within the
/// bound.
fn a_process_that_execs_holding_a_read_keeps_it_until_it_exits() -> Outcome {
    let region = table();
    let t = &*region;
    let child = fork_child(move || {
        let Ok(r) = t.lock.read() else { return 1 };
        std::mem::forget(r);
        t.flags[0].store(1, Release);
        let prog = b"/bin/sleep\0";
        let arg = b"1\0";
        let argv = [prog.as_ptr().cast(), arg.as_ptr().cast(), std::ptr::null()];
        // SAFETY: NUL-terminated strings and a null-terminated argv; execv is
        // async-signal-safe.
        unsafe { libc::execv(prog.as_ptr().cast(), argv.as_ptr()) };
        2
    });
    await_flag(&t.flags[0], 1);
    let w = t.lock.write_timeout(Duration::from_millis(300));
    assert!(
        matches!(w, Err(SharedLockError::Failed(Error::TimedOut))),
        "a writer got in while the exec'd program runs"
    );
    drop(w);
    expect_exit(child, 0, BOUND, "the exec'd sleep");
    let started = Instant::now();
    let writer = spawn_writer(t, 1, Expect::Plain);
    expect_exit(
        writer,
        0,
        RECOVERY,
        "a writer after the exec'd program exited",
    );
    eprintln!(
        "a_process_that_execs_holding_a_read_keeps_it_until_it_exits: the writer got in {:?} \
         after the program exited",
        started.elapsed()
    );
    assert!(held_slots(&t.lock).is_empty(), "reclaimed");
    Passed
}

/// Three readers `SIGKILL`ed while holding reads (one of them while a writer already waits
/// for them): the writer gets in within the bound, with a plain guard (a reader writes
/// nothing, so there is nothing to repair), and so does the next one.
fn killed_readers_let_a_writer_in() -> Outcome {
    let region = table();
    let t = &*region;
    let readers: Vec<Child> = (0..3).map(|i| spawn_reader_holding(t, i)).collect();
    for i in 0..3 {
        await_flag(&t.flags[i], 1);
    }
    let held = held_slots(&t.lock);
    assert_eq!(held.len(), 3, "one slot per reader: {held:?}");
    let mut readers = readers.into_iter();
    readers.next().unwrap().kill_and_reap();
    // A writer already waiting for the others.
    let writer = spawn_writer(t, 4, Expect::Plain);
    await_flag(&t.flags[4], 1);
    await_blocked(&writer);
    assert_eq!(intent(&t.lock), 1, "the waiting writer raised its intent");
    for reader in readers {
        reader.kill_and_reap();
    }
    let started = Instant::now();
    expect_exit(
        writer,
        0,
        RECOVERY,
        "a writer after its readers were killed",
    );
    eprintln!(
        "killed_readers_let_a_writer_in: the writer got in {:?} after the last kill",
        started.elapsed()
    );
    let started = Instant::now();
    let w = t.lock.write_timeout(RECOVERY).unwrap();
    assert!(started.elapsed() < RECOVERY);
    assert_eq!(*w, Pair { a: 1, b: 1 });
    drop(w);
    assert!(held_slots(&t.lock).is_empty());
    Passed
}

/// A reader killed while it waits behind a writer (its intent raised; the reader sleeps on
/// the writer mutex), beside another waiting reader: when the writer is done, the other
/// reader and a later writer get in within the bound.
fn reader_killed_waiting_behind_a_writer() -> Outcome {
    let region = table();
    let t = &*region;
    let w = t.lock.write().unwrap();
    let doomed = spawn_reader(t, 0, Expect::Plain);
    await_flag(&t.flags[0], 1);
    await_blocked(&doomed);
    let other = spawn_reader(t, 1, Expect::Plain);
    await_flag(&t.flags[1], 1);
    await_blocked(&other);
    doomed.kill_and_reap();
    drop(w);
    expect_exit(other, 0, RECOVERY, "a reader waiting beside a killed one");
    let writer = spawn_writer(t, 2, Expect::Plain);
    expect_exit(
        writer,
        0,
        RECOVERY,
        "a writer after a killed waiting reader",
    );
    assert_eq!(read_now(t), Pair { a: 1, b: 1 });
    Passed
}

/// A writer killed while it waits for a reader (its intent raised, the slots before the
/// reader's drained), with another reader waiting behind its intent: that reader gets in
/// within the bound (the writer mutex's `EOWNERDEAD` tells it the intent's raiser died; it
/// clears the intent), nothing is reported to repair, and a later writer gets in as soon as
/// the first reader leaves.
fn writer_killed_waiting_for_readers() -> Outcome {
    let region = table();
    let t = &*region;
    let r = t.lock.read().unwrap();
    let mine = held_slots(&t.lock);
    assert_eq!(mine.len(), 1, "{mine:?}");
    let writer = spawn_writer(t, 0, Expect::Plain);
    await_flag(&t.flags[0], 1);
    await_blocked(&writer);
    assert_eq!(intent(&t.lock), 1, "a draining writer raised its intent");
    assert_eq!(state(&t.lock), 0, "not writing yet");
    let behind = spawn_reader(t, 1, Expect::Plain);
    await_flag(&t.flags[1], 1);
    await_blocked(&behind);
    writer.kill_and_reap();
    let started = Instant::now();
    expect_exit(
        behind,
        0,
        RECOVERY,
        "a reader behind a killed writer's intent",
    );
    eprintln!(
        "writer_killed_waiting_for_readers: the reader behind it got in {:?} after the kill \
         (the dead writer was waiting for slot {})",
        started.elapsed(),
        mine[0]
    );
    assert_eq!(
        intent(&t.lock),
        0,
        "cleared by the reader that met the dead writer"
    );
    let writer = spawn_writer(t, 2, Expect::Plain);
    await_flag(&t.flags[2], 1);
    await_blocked(&writer);
    drop(r);
    expect_exit(writer, 0, RECOVERY, "a writer after the killed one");
    assert_eq!(read_now(t), Pair { a: 1, b: 1 });
    Passed
}

/// A worker of the random-kill case: reads (checking `a == b`), writes (`a`, a pause, `b`),
/// try and timed forms, counting its operations in `ops[me]`, until `stop`. An `OwnerDied`
/// it meets is repaired (`b = a`) and counted. Exit codes name any other surprise.
fn spawn_worker(t: &Table, me: usize, seed: u64) -> Child {
    fork_child(move || {
        let mut rng = Rng(seed | 1);
        let short = Duration::from_millis(20);
        /// Repairs a dead writer's half update; the guard, or an exit code.
        fn repair<'a>(
            t: &Table,
            mut died: OwnerDied<SharedRwLockWriteGuard<'a, Pair>>,
        ) -> Result<SharedRwLockWriteGuard<'a, Pair>, i32> {
            let w = died.get_mut();
            if w.a != w.b && w.a != w.b + 1 {
                return Err(60);
            }
            w.b = w.a;
            t.repairs.fetch_add(1, Relaxed);
            died.make_consistent().map_err(|_| 61)
        }
        while t.stop.load(Acquire) == 0 {
            let op = rng.below(16);
            let read = match op {
                0..=7 => Some(t.lock.read()),
                8 => Some(t.lock.try_read()),
                9 => Some(t.lock.read_timeout(short)),
                _ => None,
            };
            if let Some(read) = read {
                match read {
                    Ok(r) if r.a == r.b => {}
                    Ok(_) => return 50,
                    Err(SharedLockError::OwnerDied(died)) => {
                        if let Err(code) = repair(t, died) {
                            return code;
                        }
                    }
                    Err(SharedLockError::Failed(Error::WouldBlock | Error::TimedOut))
                        if op >= 8 => {}
                    Err(_) => return 51,
                }
            } else {
                let write = match op {
                    10..=13 => t.lock.write(),
                    14 => t.lock.try_write(),
                    _ => t.lock.write_timeout(short),
                };
                let mut w = match write {
                    Ok(w) => w,
                    Err(SharedLockError::OwnerDied(died)) => match repair(t, died) {
                        Ok(w) => w,
                        Err(code) => return code,
                    },
                    Err(SharedLockError::Failed(Error::WouldBlock | Error::TimedOut))
                        if op >= 14 =>
                    {
                        t.ops[me].fetch_add(1, Relaxed);
                        continue;
                    }
                    Err(_) => return 52,
                };
                if w.a != w.b {
                    return 53;
                }
                w.a += 1;
                for _ in 0..rng.below(64) {
                    std::hint::spin_loop();
                }
                w.b += 1;
            }
            t.ops[me].fetch_add(1, Relaxed);
        }
        0
    })
}

/// 40 rounds on one region: three workers reading and writing with every form; one of them
/// `SIGKILL`ed at a random moment (on odd rounds all of them share this process's CPU, so
/// the kill lands anywhere: holding a slot, holding the writer mutex while waiting for a
/// writer, draining, mid-write, in an unlock). Then, within the bound, the survivors keep
/// going, and this process writes (repairing if the victim died mid-write); the survivors
/// stop and exit 0. Every round the pair is whole again.
fn random_kills_in_every_phase() -> Outcome {
    const ROUNDS: u32 = 40;
    const WORKERS: usize = 3;
    let mut rng = Rng::new("random_kills_in_every_phase");
    let region = table();
    let t = &*region;
    let mut repaired = 0;
    for round in 0..ROUNDS {
        t.stop.store(0, Release);
        let pinned = (round % 2 == 1).then(OneCpu::new);
        let mut workers: Vec<Option<Child>> = (0..WORKERS)
            .map(|i| Some(spawn_worker(t, i, rng.next())))
            .collect();
        let victim = rng.below(WORKERS as u64) as usize;
        let target = t.ops[victim].load(Relaxed) + 1 + rng.below(3_000);
        let start = Instant::now();
        while t.ops[victim].load(Relaxed) < target {
            assert!(start.elapsed() < BOUND, "round {round}: the victim stalled");
            if pinned.is_some() {
                std::thread::sleep(Duration::from_micros(50));
            } else {
                std::hint::spin_loop();
            }
        }
        workers[victim].take().unwrap().kill_and_reap();
        drop(pinned);
        // The survivors go on.
        let before: Vec<u64> = (0..WORKERS).map(|i| t.ops[i].load(Relaxed)).collect();
        let start = Instant::now();
        for (i, worker) in workers.iter_mut().enumerate() {
            let Some(child) = worker else { continue };
            while t.ops[i].load(Relaxed) < before[i] + 10 {
                if let Some(status) = child.try_wait() {
                    panic!("round {round}: worker {i} ended early: status {status:#x}");
                }
                assert!(
                    start.elapsed() < RECOVERY,
                    "round {round}: worker {i} stalled after the kill ({})",
                    blocked_where(child.pid())
                );
                std::thread::sleep(Duration::from_micros(100));
            }
        }
        // And so does this process.
        let mut w = match t.lock.write_timeout(RECOVERY) {
            Ok(w) => w,
            Err(SharedLockError::OwnerDied(mut died)) => {
                let w = died.get_mut();
                assert_eq!(w.a, w.b + 1, "round {round}: a half update");
                w.b = w.a;
                repaired += 1;
                died.make_consistent().unwrap()
            }
            Err(e) => panic!("round {round}: write after the kill: {e:?}"),
        };
        assert_eq!(w.a, w.b, "round {round}");
        w.a += 1;
        w.b += 1;
        drop(w);
        t.stop.store(1, Release);
        for (i, worker) in workers.into_iter().enumerate() {
            if let Some(child) = worker {
                expect_exit(child, 0, BOUND, &format!("round {round}: worker {i}"));
            }
        }
        let p = read_now(t);
        assert_eq!(p.a, p.b, "round {round}");
        assert_eq!((intent(&t.lock), state(&t.lock)), (0, 0), "round {round}");
    }
    eprintln!(
        "random_kills_in_every_phase: {ROUNDS} kills, {repaired} mid-write (repaired here), \
         {} repairs by workers, {} writes committed",
        t.repairs.load(Relaxed),
        read_now(t).a
    );
    Passed
}

/// The timed forms time out (after at least their duration) while the other side holds the
/// lock in another process, and succeed once it is free; a timed-out write leaves no intent
/// behind. The try forms fail with `WouldBlock` while held and succeed when free.
fn timed_and_try_forms() -> Outcome {
    let region = table();
    let t = &*region;
    let dur = Duration::from_millis(100);
    // A writer elsewhere: reads and writes wait.
    let writer = spawn_writer_midway(t, 0);
    await_flag(&t.flags[0], 1);
    for (what, result) in [
        ("read_timeout", {
            let started = Instant::now();
            let r = t.lock.read_timeout(dur).map(|_| ());
            assert!(started.elapsed() >= dur, "{:?}", started.elapsed());
            r
        }),
        ("try_read", t.lock.try_read().map(|_| ())),
    ] {
        assert!(
            matches!(
                result,
                Err(SharedLockError::Failed(Error::TimedOut | Error::WouldBlock))
            ),
            "{what} while a writer holds: {:?}",
            result.map_err(|e| e.error())
        );
    }
    let started = Instant::now();
    let w = t.lock.write_timeout(dur).map(|_| ());
    assert!(started.elapsed() >= dur);
    assert!(matches!(w, Err(SharedLockError::Failed(Error::TimedOut))));
    assert!(matches!(
        t.lock.try_write().map(|_| ()),
        Err(SharedLockError::Failed(Error::WouldBlock))
    ));
    writer.kill_and_reap();
    // It died holding the write guard: the next (timed) one repairs.
    match t.lock.write_timeout(dur) {
        Err(SharedLockError::OwnerDied(mut died)) => {
            let w = died.get_mut();
            w.b = w.a;
            drop(died.make_consistent().unwrap());
        }
        other => panic!("expected OwnerDied, got {:?}", other.map(|_| ())),
    }
    // A reader elsewhere: writes wait, reads do not.
    let reader = spawn_reader_holding(t, 1);
    await_flag(&t.flags[1], 1);
    assert!(t.lock.read_timeout(dur).is_ok());
    assert!(t.lock.try_read().is_ok());
    let started = Instant::now();
    assert!(matches!(
        t.lock.write_timeout(dur).map(|_| ()),
        Err(SharedLockError::Failed(Error::TimedOut))
    ));
    assert!(started.elapsed() >= dur);
    assert_eq!(intent(&t.lock), 0, "a timed-out writer clears its intent");
    assert!(t.lock.try_read().is_ok(), "and readers go on at once");
    assert!(matches!(
        t.lock.try_write().map(|_| ()),
        Err(SharedLockError::Failed(Error::WouldBlock))
    ));
    reader.kill_and_reap();
    // Free: every form succeeds.
    assert!(t.lock.try_write().is_ok());
    assert!(t.lock.write_timeout(dur).is_ok());
    assert!(t.lock.try_read().is_ok());
    assert!(t.lock.read_timeout(dur).is_ok());
    assert_eq!(read_now(t), Pair { a: 1, b: 1 });
    Passed
}

/// Misuse is a typed error, never a hang: a write by a thread that reads the lock, any lock
/// call by the thread that holds the write guard; a second read is counted (also while a
/// writer waits for the first).
fn misuse_is_reported() -> Outcome {
    let region = table();
    let t = &*region;
    let short = Duration::from_millis(50);
    fn deadlock<G, D>(r: Result<G, SharedLockError<G, D>>, what: &str) {
        let e = r.map(|_| ()).map_err(|e| e.error());
        assert_eq!(e, Err(Some(Error::Deadlock)), "{what}");
    }
    {
        let _r = t.lock.read().unwrap();
        deadlock(t.lock.write(), "write while reading");
        deadlock(t.lock.try_write(), "try_write while reading");
        deadlock(t.lock.write_timeout(short), "write_timeout while reading");
    }
    {
        let _w = t.lock.write().unwrap();
        deadlock(t.lock.write(), "write while writing");
        deadlock(t.lock.try_write(), "try_write while writing");
        deadlock(t.lock.write_timeout(short), "write_timeout while writing");
        deadlock(t.lock.read(), "read while writing");
        deadlock(t.lock.try_read(), "try_read while writing");
        deadlock(t.lock.read_timeout(short), "read_timeout while writing");
    }
    // A second read while a writer (another process) waits for the first: counted.
    let first = t.lock.read().unwrap();
    let writer = spawn_writer(t, 0, Expect::Plain);
    await_flag(&t.flags[0], 1);
    await_blocked(&writer);
    assert_eq!(intent(&t.lock), 1);
    let second = t.lock.read_timeout(short).expect("a counted second read");
    let third = t.lock.try_read().expect("a counted third read");
    assert_eq!(held_slots(&t.lock).len(), 1, "one slot for the thread");
    drop((first, second));
    assert!(
        writer.pid() > 0 && intent(&t.lock) == 1,
        "the writer still waits for the last guard"
    );
    drop(third);
    expect_exit(writer, 0, RECOVERY, "the writer after the counted reads");

    assert_eq!(read_now(t), Pair { a: 1, b: 1 });
    Passed
}

/// A thread's second read of a lock that lands on another slot (its preferred slot moved:
/// here because another process held it on a second lock) while a writer waits for the first:
/// the read shares the first slot instead of waiting for the writer (which waits for it), and
/// the writer gets in once both guards are dropped. And the thread's record of shared slots
/// has room for 8 at once: a ninth lock read twice is `Overflow`, never a hang.
fn a_second_read_on_another_slot_shares_the_first() -> Outcome {
    let region = table();
    let t = &*region;
    let other = ShmBox::anonymous(SharedRwLock::new(0u32)).unwrap();
    drop(other.write().unwrap());
    let first = t.lock.read().unwrap();
    let mine = held_slots(&t.lock);
    // A child (with this thread's preferred slot, inherited) holds that slot of `other`...
    let blocker = fork_child(|| {
        let Ok(r) = other.read() else { return 1 };
        std::hint::black_box(&*r);
        t.flags[0].store(1, Release);
        loop {
            // SAFETY: sleeps until killed.
            unsafe { libc::pause() };
        }
    });
    await_flag(&t.flags[0], 1);
    assert_eq!(held_slots(&other), mine, "the child took the same slot");
    // ...so this thread's read of `other` takes the next one, which becomes its preference.
    drop(other.read().unwrap());
    blocker.kill_and_reap();
    let writer = spawn_writer(t, 1, Expect::Plain);
    await_flag(&t.flags[1], 1);
    await_blocked(&writer);
    assert_eq!(intent(&t.lock), 1);
    let started = Instant::now();
    let second = t
        .lock
        .read_timeout(RECOVERY)
        .expect("a second read behind the waiting writer");
    assert!(started.elapsed() < RECOVERY);
    assert_eq!(held_slots(&t.lock), mine, "it shares the first read's slot");
    drop(first);
    std::thread::sleep(Duration::from_millis(30));
    assert!(
        writer.pid() > 0 && intent(&t.lock) == 1 && state(&t.lock) == 0,
        "the writer still waits for the shared slot"
    );
    drop(second);
    expect_exit(writer, 0, RECOVERY, "the writer after the shared slot");

    // Nine locks read twice at once: eight shared slots, then `Overflow`.
    let many =
        ShmBox::anonymous(std::array::from_fn::<_, 9, _>(|_| SharedRwLock::new(0u8))).unwrap();
    let firsts: Vec<_> = many.iter().map(|l| l.read().unwrap()).collect();
    let seconds: Vec<_> = many[..8].iter().map(|l| l.read().unwrap()).collect();
    assert_eq!(
        many[8].read().map(|_| ()).unwrap_err().error(),
        Some(Error::Overflow)
    );
    drop(seconds);
    assert!(many[8].read().is_ok(), "room again");
    drop(firsts);
    for l in many.iter() {
        assert!(l.try_write().is_ok(), "every slot released");
    }
    Passed
}

/// One named region opened twice in this process (two `ShmBox`es: one lock at two
/// addresses): this thread reads through one mapping, then through the other (one slot,
/// shared), and drops the first guard. The read stays held through the second: another
/// thread's and another process's try is `WouldBlock`, a timed write times out; a write by
/// this thread through either mapping is `Deadlock`. Once the second guard is dropped, a
/// writer gets in. Both drop orders. And the writer through one mapping gets `Deadlock` for
/// a read or a write through the other.
fn one_region_mapped_twice_reads_through_both_as_one() -> Outcome {
    let name = format!("/pthread-sync-rw-twice-{}", std::process::id());
    let _ = shm::unlink(&name);
    let a = ShmBox::create(
        &name,
        0o600,
        Table {
            lock: SharedRwLock::new(Pair { a: 0, b: 0 }),
            flags: std::array::from_fn(|_| AtomicU32::new(0)),
            ops: std::array::from_fn(|_| AtomicU64::new(0)),
            repairs: AtomicU64::new(0),
            stop: AtomicU32::new(0),
        },
    );
    let b = ShmBox::<Table>::open(&name);
    shm::unlink(&name).unwrap();
    let (a, b) = (a.unwrap(), b.unwrap());
    let (a, b) = (&*a, &*b);
    assert_ne!(
        &a.lock as *const _ as usize, &b.lock as *const _ as usize,
        "two mappings, two addresses"
    );
    let short = Duration::from_millis(50);
    fn failed<G, D>(r: Result<G, SharedLockError<G, D>>) -> Option<Error> {
        r.map(|_| ()).err().and_then(|e| e.error())
    }
    for (round, a_first) in [true, false].into_iter().enumerate() {
        let (first, second) = if a_first { (a, b) } else { (b, a) };
        let r1 = first.lock.read().unwrap();
        let r2 = second.lock.read().unwrap();
        let mine = held_slots(&a.lock);
        assert_eq!(mine.len(), 1, "one slot for the thread");
        assert_eq!(held_slots(&b.lock), mine, "seen through both mappings");
        for t in [a, b] {
            assert_eq!(failed(t.lock.write()), Some(Error::Deadlock));
            assert_eq!(failed(t.lock.try_write()), Some(Error::Deadlock));
            assert_eq!(failed(t.lock.write_timeout(short)), Some(Error::Deadlock));
        }
        drop(r1);
        assert_eq!(
            held_slots(&a.lock),
            mine,
            "the read held through the other mapping"
        );
        for t in [a, b] {
            assert_eq!(
                failed(t.lock.write()),
                Some(Error::Deadlock),
                "still reading"
            );
        }
        // Another thread, through either mapping.
        std::thread::scope(|s| {
            s.spawn(|| {
                for t in [a, b] {
                    assert_eq!(failed(t.lock.try_write()), Some(Error::WouldBlock));
                    assert_eq!(failed(t.lock.write_timeout(short)), Some(Error::TimedOut));
                }
            })
            .join()
            .unwrap();
        });
        // Another process, through either mapping.
        let writer = fork_child(|| {
            for (i, t) in [a, b].into_iter().enumerate() {
                if failed(t.lock.try_write()) != Some(Error::WouldBlock) {
                    return 10 + i as i32;
                }
                if failed(t.lock.write_timeout(short)) != Some(Error::TimedOut) {
                    return 20 + i as i32;
                }
            }
            0
        });
        assert_eq!(writer.wait(), 0, "a writer got in under a live read");
        assert_eq!(
            *r2,
            Pair {
                a: round as u64,
                b: round as u64
            }
        );
        drop(r2);
        assert!(held_slots(&a.lock).is_empty(), "released by the last guard");
        let writer = fork_child(|| {
            let Ok(mut w) = first.lock.try_write() else {
                return 1;
            };
            w.a += 1;
            w.b += 1;
            0
        });
        assert_eq!(writer.wait(), 0, "no writer after the last guard");
        let n = round as u64 + 1;
        assert_eq!(*second.lock.try_read().unwrap(), Pair { a: n, b: n });
        // The writer through one mapping: a read or a write through the other is `Deadlock`.
        let w = first.lock.write().unwrap();
        assert_eq!(failed(second.lock.read()), Some(Error::Deadlock));
        assert_eq!(failed(second.lock.try_read()), Some(Error::Deadlock));
        assert_eq!(failed(second.lock.write()), Some(Error::Deadlock));
        assert_eq!(failed(second.lock.try_write()), Some(Error::Deadlock));
        drop(w);
        assert!(second.lock.try_write().is_ok(), "nothing left behind");
    }
    Passed
}

/// Outside a region every call is refused, before any pthread call; moved into one, the
/// same value works.
fn outside_a_region_is_refused() -> Outcome {
    let lock = SharedRwLock::new(Pair { a: 3, b: 3 });
    let short = Duration::from_millis(10);
    let errors = [
        lock.read().map(|_| ()).unwrap_err().error(),
        lock.try_read().map(|_| ()).unwrap_err().error(),
        lock.read_timeout(short).map(|_| ()).unwrap_err().error(),
        lock.write().map(|_| ()).unwrap_err().error(),
        lock.try_write().map(|_| ()).unwrap_err().error(),
        lock.write_timeout(short).map(|_| ()).unwrap_err().error(),
    ];
    assert!(
        errors.iter().all(|e| *e == Some(Error::NotInRegion)),
        "{errors:?}"
    );
    let boxed = Box::new(SharedRwLock::new(0u8));
    assert_eq!(
        boxed.read().map(|_| ()).unwrap_err().error(),
        Some(Error::NotInRegion)
    );
    let region = ShmBox::anonymous(lock).unwrap();
    region.write().unwrap().a += 1;
    assert_eq!(*region.read().unwrap(), Pair { a: 4, b: 3 });
    Passed
}

/// A writer that panics poisons the lock for every process (the flag is in the region):
/// another process's reads and writes get `Poisoned` with the guard, until `clear_poison`.
fn a_panicking_writer_poisons_every_process() -> Outcome {
    let region = table();
    let t = &*region;
    // The panic happens on a thread of this process (a forked child must not unwind); the
    // thread is joined before the next fork.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let panicked = std::thread::scope(|s| {
        s.spawn(|| {
            let mut w = t.lock.write().unwrap();
            w.a += 1;
            panic!("mid-update");
        })
        .join()
        .is_err()
    });
    std::panic::set_hook(hook);
    assert!(panicked);
    assert!(t.lock.is_poisoned());
    // SAFETY: the documented poison flag, a byte at `POISON_AT`, read atomically.
    let flag = unsafe {
        &*(((&t.lock) as *const SharedRwLock<Pair>)
            .cast::<u8>()
            .add(POISON_AT)
            .cast::<AtomicU8>())
    };
    assert_eq!(flag.load(SeqCst), 1);
    let child = fork_child(|| {
        let read = match t.lock.read() {
            Err(SharedLockError::Poisoned(p)) if p.get_ref().a == 1 => 0,
            _ => 1,
        };
        let write = match t.lock.write() {
            Err(SharedLockError::Poisoned(p)) => {
                let mut w = p.into_inner();
                w.b = w.a;
                0
            }
            _ => 2,
        };
        t.lock.clear_poison();
        read + write
    });
    expect_exit(child, 0, BOUND, "another process sees the poison");
    assert!(!t.lock.is_poisoned());
    assert_eq!(*t.lock.read().unwrap(), Pair { a: 1, b: 1 });
    Passed
}

/// `Debug` never takes the lock: after a writer died holding it, printing it changes nothing,
/// and the next lock still gets `OwnerDied`.
fn debug_never_takes_the_lock() -> Outcome {
    let region = table();
    let t = &*region;
    let writer = spawn_writer_midway(t, 0);
    await_flag(&t.flags[0], 1);
    writer.kill_and_reap();
    assert_eq!(
        format!("{:?}", t.lock),
        "SharedRwLock { poisoned: false, .. }"
    );
    match t.lock.read() {
        Err(SharedLockError::OwnerDied(mut died)) => {
            let w = died.get_mut();
            w.b = w.a;
            drop(died.make_consistent().unwrap());
        }
        other => panic!("expected OwnerDied, got {:?}", other.map(|_| ())),
    }
    Passed
}

/// Downgrade is atomic across processes: a writer waiting in another process does not get in
/// between the write and the downgraded read, and gets in when that read is dropped.
fn downgrade_lets_no_writer_in_between() -> Outcome {
    let region = table();
    let t = &*region;
    let mut w = t.lock.write().unwrap();
    let writer = spawn_writer(t, 0, Expect::Plain);
    await_flag(&t.flags[0], 1);
    await_blocked(&writer);
    w.a = 10;
    w.b = 10;
    let r = SharedRwLockWriteGuard::downgrade(w);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(*r, Pair { a: 10, b: 10 }, "a writer got in between");
    assert!(t.lock.try_read().is_ok(), "reads are shared");
    drop(r);
    expect_exit(writer, 0, RECOVERY, "the writer after the downgraded read");
    assert_eq!(read_now(t), Pair { a: 11, b: 11 });
    Passed
}

/// A child forked while this process holds a read, then a write: its thread holds neither
/// (a robust mutex's owner is a thread), so its record and its copies of the guards count for
/// nothing: it reads with a slot of its own, its write is no upgrade (it waits, and times
/// out), and dropping its copy of the write guard leaves the parent's write in place.
fn a_forked_child_holds_nothing_of_its_parent() -> Outcome {
    let region = table();
    let t = &*region;
    let r = t.lock.read().unwrap();
    let parents = held_slots(&t.lock);
    let parent_word = slot_word(&t.lock, parents[0]);
    let child = fork_child(|| {
        let Ok(mine) = t.lock.read() else { return 1 };
        let slots = held_slots(&t.lock).len();
        drop(mine);
        // SAFETY: the child's own copy of the parent's read guard (the parent's is dropped
        // only in the parent), dropped as a child returning through the parent's frames
        // would drop it: the slot names the parent's thread, so it stays held.
        drop(unsafe { std::ptr::read(&r) });
        if slot_word(&t.lock, parents[0]) != parent_word {
            return 4; // the child released its parent's slot
        }
        match t.lock.write_timeout(Duration::from_millis(50)) {
            Err(SharedLockError::Failed(Error::TimedOut)) => {}
            _ => return 2, // `Deadlock` would be the parent's read taken for the child's
        }
        if slots != 2 {
            return 3; // the child's read took a slot of its own
        }
        0
    });
    expect_exit(child, 0, BOUND, "a child forked while the parent reads");
    drop(r);
    let w = t.lock.write().unwrap();
    let child = fork_child(|| {
        // SAFETY: the child's own copy of the parent's guard (the parent's is never dropped
        // in this process: it `_exit`s), dropped as a child returning through the parent's
        // frames would drop it.
        drop(unsafe { std::ptr::read(&w) });
        let still = (intent(&t.lock), state(&t.lock));
        match t.lock.try_read() {
            Err(SharedLockError::Failed(Error::WouldBlock)) if still == (1, 1) => 0,
            _ => 1,
        }
    });
    expect_exit(
        child,
        0,
        BOUND,
        "a child dropping its copy of the write guard",
    );
    assert_eq!((intent(&t.lock), state(&t.lock)), (1, 1));
    drop(w);
    assert_eq!((intent(&t.lock), state(&t.lock)), (0, 0));
    Passed
}

fn round_up(n: usize, align: usize) -> usize {
    n.div_ceil(align) * align
}

/// The documented layout of one `SharedRwLock<T>`: size, alignment and data offset for
/// several `T`, and the slots, writer mutex and words at their offsets (glibc's own
/// `pthread_mutex_trylock` finds a read's slot held there).
fn documented_layout() -> Outcome {
    fn check<T: ShmSafe + Send + Copy + PartialEq + std::fmt::Debug>(value: T) {
        let align = std::mem::align_of::<T>().max(64);
        let data = round_up(DATA_MIN, std::mem::align_of::<T>());
        let size = round_up(data + std::mem::size_of::<T>(), align);
        assert_eq!(std::mem::size_of::<SharedRwLock<T>>(), size, "size");
        assert_eq!(std::mem::align_of::<SharedRwLock<T>>(), align, "align");
        let region = ShmBox::anonymous(SharedRwLock::new(value)).unwrap();
        let r = region.read().unwrap();
        let at = &*r as *const T as usize - &*region as *const SharedRwLock<T> as usize;
        assert_eq!(at, data, "data offset of {}", std::any::type_name::<T>());
        assert_eq!(*r, value);
    }
    check(7u8);
    check([1u8, 2, 3]);
    check(9u32);
    check(5u64);
    check(Pair { a: 1, b: 2 });
    #[derive(Clone, Copy, Debug, PartialEq)]
    #[repr(C, align(128))]
    struct Wide(u64);
    // SAFETY: #[repr(C)], an integer.
    unsafe impl ShmSafe for Wide {}
    check(Wide(3));

    let region = table();
    let t = &*region;
    assert_eq!(word(&t.lock, WRITER_AT).load(SeqCst), 1, "writer armed");
    let w = t.lock.write().unwrap();
    assert_eq!((intent(&t.lock), state(&t.lock)), (1, 1));
    drop(w);
    assert_eq!((intent(&t.lock), state(&t.lock)), (0, 0));
    assert!(held_slots(&t.lock).is_empty(), "every slot word 0");
    let r = t.lock.read().unwrap();
    let held = held_slots(&t.lock);
    assert_eq!(held.len(), 1);
    // The slot's word is this thread's identity: its thread id in bits 0..22, its process
    // id in bits 22..44, and in bits 44..64 the low 20 bits of its process's start time
    // (field 22 of /proc/self/stat).
    let id = slot_word(&t.lock, held[0]);
    // SAFETY: gettid has no preconditions.
    assert_eq!(
        id & 0x3f_ffff,
        unsafe { libc::gettid() } as u64,
        "thread id"
    );
    assert_eq!(
        (id >> 22) & 0x3f_ffff,
        u64::from(std::process::id()),
        "process id"
    );
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let start: u64 = after.split(' ').nth(19).unwrap().parse().unwrap();
    assert_eq!(id >> 44, start & 0xf_ffff, "process start-time tag");
    // The writer mutex at its documented offset is free: another thread's glibc trylock
    // takes it.
    let base = (&t.lock) as *const SharedRwLock<Pair> as usize;
    std::thread::scope(|s| {
        s.spawn(|| {
            let m = (base + WRITER_AT + 8) as *mut libc::pthread_mutex_t;
            // SAFETY: an armed robust process-shared mutex at the documented offset.
            assert_eq!(unsafe { libc::pthread_mutex_trylock(m) }, 0, "writer mutex");
            // SAFETY: taken just above by this thread.
            unsafe { libc::pthread_mutex_unlock(m) };
        });
    });
    drop(r);
    Passed
}

/// A unique region name, unlinked when dropped (and before use).
struct Name(String);

impl Name {
    fn new(case: &str) -> Name {
        let name = format!("/pthread-sync-rw-{}-{case}", std::process::id());
        let _ = shm::unlink(&name);
        Name(name)
    }
}

impl Drop for Name {
    fn drop(&mut self) {
        let _ = shm::unlink(&self.0);
    }
}

/// The C declarations of the `shm` module docs (the header and the other primitives), as
/// `tests/shared.rs` reads them.
fn documented_c_declarations() -> String {
    support::shm_docs_c_block(None)
}

/// The C declarations of the reader-writer lock in the `shm` module docs (the `c` block of
/// its section), taken from the source so that the C program is built from what the docs
/// say.
fn documented_rwlock_declarations() -> String {
    support::shm_docs_c_block(Some("//! ## The reader-writer lock, from C"))
}

/// The fingerprint Rust and the C peer agree on for `RwForC`.
const RW_FOR_C_FINGERPRINT: u64 = 0x7073_796e_635f_7277;

#[repr(C)]
struct RwForC {
    pair: SharedRwLock<Pair>,
}
// SAFETY: #[repr(C)], a shared lock over integers; the fingerprint names this layout only.
unsafe impl ShmSafe for RwForC {
    const FINGERPRINT: Option<u64> = Some(RW_FOR_C_FINGERPRINT);
}

/// The C side: the documented declarations and steps, reading (checking `a == b`) and
/// writing (`a`, then `b`) the same pair as Rust.
const C_RW_PEER: &str = r#"
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

struct rw_value { struct shared_rwlock_pair pair; };
struct rw_region { struct psync_header h; struct rw_value v; };

/* Locks `m` sleeping 20 ms at most at a time (a waiter can be stranded on a free robust
   mutex: see the docs); 0, EOWNERDEAD or an error. */
static int lock_sliced(pthread_mutex_t *m) {
    for (;;) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        t.tv_nsec += 20000000;
        if (t.tv_nsec >= 1000000000) { t.tv_sec++; t.tv_nsec -= 1000000000; }
        int e = pthread_mutex_clocklock(m, CLOCK_MONOTONIC, &t);
        if (e != ETIMEDOUT) return e;
    }
}

/* Field 3 (state letter), field 20 (num_threads) and field 22 (starttime) of the stat file
   at `path`; -1 if it cannot be read. */
static int stat_of(const char *path, char *state, long *threads, unsigned long long *start) {
    char buf[1024];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t got = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (got <= 0) return -1;
    buf[got] = 0;
    char *p = strrchr(buf, ')');
    if (!p) return -1;
    p += 2;
    *state = *p;
    for (int field = 3; field < 22; field++) {
        p = strchr(p, ' ');
        if (!p) return -1;
        p++;
        if (field + 1 == 20) *threads = strtol(p, NULL, 10);
    }
    *start = strtoull(p, NULL, 10);
    return 0;
}

/* This thread's identity (read once: this program does not fork). */
static uint64_t my_identity(void) {
    static uint64_t id;
    if (id == 0) {
        char state;
        long threads;
        unsigned long long start = 0;
        if (stat_of("/proc/self/stat", &state, &threads, &start) != 0) start = 0;
        id = (uint64_t) (start & 0xfffff) << 44 | (uint64_t) getpid() << 22 | (uint64_t) gettid();
    }
    return id;
}

/* Whether the process of the holder `h` lives (a thread that ended inside it does not
   free its read). */
static int alive(uint64_t h) {
    char path[32], state;
    long threads = 0;
    unsigned long long start;
    pid_t pid = (pid_t) ((h >> 22) & 0x3fffff);
    snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
    if (stat_of(path, &state, &threads, &start) != 0) return kill(pid, 0) == 0 || errno != ESRCH;
    if (state == 'X' || (state == 'Z' && threads <= 1)) return 0;
    return (h >> 44) == 0 || (start & 0xfffff) == (h >> 44);
}

/* Waits until slot `i` no longer holds `h`: reclaims a dead holder's, else sleeps on the
   word's low half, 20 ms at most at a time (this peer looks at the holder before every
   sleep, so a signal's EINTR cannot keep it from looking). */
static void wait_slot(struct shared_rwlock_pair *l, int i, uint64_t h) {
    uint64_t *w = &l->slots[i].holder;
    while (__atomic_load_n(w, __ATOMIC_SEQ_CST) == h) {
        if (!alive(h)) {
            uint64_t seen = h;
            __atomic_compare_exchange_n(w, &seen, 0, 0, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
            continue;
        }
        struct timespec t = { 0, 20000000 };
        syscall(SYS_futex, (uint32_t *) w, FUTEX_WAIT, (uint32_t) h, &t, NULL, 0);
    }
}

/* A reader slot: a free one from this thread's own first choice on, else waits for that
   one. The slot. */
static int take_slot(struct shared_rwlock_pair *l) {
    uint64_t me = my_identity();
    int first = gettid() % 16;
    for (;;) {
        for (int k = 0; k < 16; k++) {
            int i = (first + k) % 16;
            uint64_t seen = 0;
            if (__atomic_compare_exchange_n(&l->slots[i].holder, &seen, me, 0,
                                            __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
                return i;
        }
        uint64_t h = __atomic_load_n(&l->slots[first].holder, __ATOMIC_SEQ_CST);
        if (h != 0) wait_slot(l, first, h);
    }
}

static void release_slot(struct shared_rwlock_pair *l, int i) {
    uint64_t seen = my_identity();
    __atomic_compare_exchange_n(&l->slots[i].holder, &seen, 0, 0, __ATOMIC_SEQ_CST,
                                __ATOMIC_RELAXED);
    if (__atomic_load_n(&l->intent, __ATOMIC_SEQ_CST) != 0)
        syscall(SYS_futex, (uint32_t *) &l->slots[i].holder, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* The writer mutex; -2 if a writer died mid-update (this peer does not repair). */
static int take_writer(struct shared_rwlock_pair *l) {
    int e = lock_sliced(&l->writer);
    if (e == EOWNERDEAD) {
        if (__atomic_load_n(&l->state, __ATOMIC_RELAXED) != 0) return -2;
        e = pthread_mutex_consistent(&l->writer);
    }
    return e == 0 ? 0 : -1;
}

/* Read: the slot held, or a negative error. */
static int psync_rw_read(struct shared_rwlock_pair *l) {
    int slot = take_slot(l);
    if (__atomic_load_n(&l->intent, __ATOMIC_SEQ_CST) == 0) return slot;
    release_slot(l, slot); /* never wait holding a slot */
    int e = take_writer(l);
    if (e != 0) return e;
    if (__atomic_load_n(&l->intent, __ATOMIC_RELAXED) != 0)
        __atomic_store_n(&l->intent, 0, __ATOMIC_RELEASE);
    slot = take_slot(l);
    pthread_mutex_unlock(&l->writer);
    return slot;
}

static void psync_rw_read_unlock(struct shared_rwlock_pair *l, int slot) {
    release_slot(l, slot);
}

/* Write: 0, or a negative error. */
static int psync_rw_write(struct shared_rwlock_pair *l) {
    int e = take_writer(l);
    if (e != 0) return e;
    __atomic_store_n(&l->intent, 1, __ATOMIC_SEQ_CST);
    for (int i = 0; i < 16; i++) {
        uint64_t h = __atomic_load_n(&l->slots[i].holder, __ATOMIC_SEQ_CST);
        if (h != 0) wait_slot(l, i, h);
    }
    __atomic_store_n(&l->state, 1, __ATOMIC_RELAXED);
    return 0;
}

static void psync_rw_write_unlock(struct shared_rwlock_pair *l) {
    __atomic_store_n(&l->state, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&l->intent, 0, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&l->writer);
}

int main(int argc, char **argv) {
    if (argc != 4) return 2;
    long n = atol(argv[2]);
    if (sizeof(struct rw_value) != (size_t) atol(argv[3])) return 3;
    int fd = shm_open(argv[1], O_RDWR, 0);
    if (fd < 0) return 4;
    struct rw_region *r = mmap(NULL, sizeof *r, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (r == MAP_FAILED) return 5;
    if (__atomic_load_n(&r->h.init_state, __ATOMIC_ACQUIRE) != 2
        || r->h.data_size != sizeof(struct rw_value) || r->h.data_offset != 64) return 6;
    struct shared_rwlock_pair *l = &r->v.pair;
    for (long i = 0; i < n; i++) {
        int slot = psync_rw_read(l);
        if (slot < 0) return 7;
        if (l->a != l->b) return 8;
        psync_rw_read_unlock(l, slot);
        if (i % 4 == 0) {
            if (psync_rw_write(l) != 0) return 9;
            l->a++;
            __atomic_signal_fence(__ATOMIC_SEQ_CST);
            l->b++;
            psync_rw_write_unlock(l);
        }
    }
    return 0;
}
"#;

/// A C program built from the documented declarations and steps reads and writes the same
/// lock as this process, concurrently: exact totals, no torn read on either side.
fn a_c_program_shares_the_lock() -> Outcome {
    const N: u64 = 40_000;
    if Command::new("cc").arg("--version").output().is_err() {
        return Skipped("no C compiler (`cc`) on this machine");
    }
    let dir = std::env::temp_dir().join(format!("pthread-sync-rw-c-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    struct Cleanup(std::path::PathBuf);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let _cleanup = Cleanup(dir.clone());
    let source = dir.join("rw_peer.c");
    let binary = dir.join("rw_peer");
    std::fs::write(
        &source,
        format!(
            "#define _GNU_SOURCE\n#include <errno.h>\n#include <time.h>\n{}\n{}\n{C_RW_PEER}",
            documented_c_declarations(),
            documented_rwlock_declarations()
        ),
    )
    .unwrap();
    let built = support::cc(&source, &binary).unwrap();
    assert!(
        built.status.success(),
        "cc failed: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    let name = Name::new("c-peer");
    let region = ShmBox::create(
        &name.0,
        0o600,
        RwForC {
            pair: SharedRwLock::new(Pair { a: 0, b: 0 }),
        },
    )
    .unwrap();
    drop(region.pair.write().unwrap()); // armed, as the C peer expects
    let mut peer = Command::new(&binary)
        .arg(&name.0)
        .arg(N.to_string())
        .arg(std::mem::size_of::<RwForC>().to_string())
        .spawn()
        .unwrap();
    struct Reap<'a>(&'a mut std::process::Child);
    impl Drop for Reap<'_> {
        fn drop(&mut self) {
            if self.0.try_wait().ok().flatten().is_none() {
                let _ = self.0.kill();
                let _ = self.0.wait();
            }
        }
    }
    let peer = Reap(&mut peer);
    for i in 0..N {
        let r = region.pair.read().unwrap();
        assert_eq!(r.a, r.b, "a torn read in Rust");
        drop(r);
        if i % 4 == 0 {
            let mut w = region.pair.write().unwrap();
            w.a += 1;
            std::hint::black_box(&mut *w);
            w.b += 1;
        }
    }
    let start = Instant::now();
    let status = loop {
        if let Some(status) = peer.0.try_wait().unwrap() {
            break status;
        }
        assert!(start.elapsed() < BOUND, "the C peer hung");
        std::thread::sleep(Duration::from_millis(1));
    };
    assert!(status.success(), "C peer: {status:?}");
    let total = 2 * N / 4;
    assert_eq!(*region.pair.read().unwrap(), Pair { a: total, b: total });
    Passed
}

/// A 17th reader (all 16 slots held) that waits for its preferred slot gets in once any
/// other slot is freed, within a few slices, while its preferred slot's holder keeps
/// reading (it looks at every slot again after each slice instead of only waiting for that
/// one holder to leave).
fn a_seventeenth_reader_takes_any_freed_slot() -> Outcome {
    use std::sync::mpsc::{channel, Receiver, Sender};
    let region = table();
    let lock = &region.lock;
    std::thread::scope(|s| {
        let (late_step, late_steps): (Sender<()>, Receiver<()>) = channel();
        let (late_held, late_holds) = channel::<()>();
        let (late_done, late_result) = channel::<Duration>();
        let late = s.spawn(move || {
            // Alone: its preferred slot, which it keeps preferring (it was free).
            let g = lock.read().unwrap();
            late_held.send(()).unwrap();
            late_steps.recv().unwrap();
            drop(g);
            late_steps.recv().unwrap();
            let start = Instant::now();
            let g = lock.read().unwrap();
            late_done.send(start.elapsed()).unwrap();
            drop(g);
        });
        late_holds.recv().unwrap();
        let preferred = held_slots(lock);
        assert_eq!(preferred.len(), 1);
        let preferred = preferred[0];
        late_step.send(()).unwrap();
        while !held_slots(lock).is_empty() {
            std::thread::yield_now();
        }
        // Sixteen holders, one at a time, each on a slot of its own: note which holds the
        // late reader's preferred slot.
        let mut holders = Vec::new();
        let mut keep = None;
        for k in 0..READER_SLOTS {
            let before = held_slots(lock);
            let (release, released) = channel::<()>();
            let (held, holds) = channel::<()>();
            let h = s.spawn(move || {
                let g = lock.read().unwrap();
                held.send(()).unwrap();
                released.recv().unwrap();
                drop(g);
            });
            holds.recv().unwrap();
            let new: Vec<usize> = held_slots(lock)
                .into_iter()
                .filter(|i| !before.contains(i))
                .collect();
            assert_eq!(new.len(), 1, "holder {k} took no slot of its own");
            if new[0] == preferred {
                keep = Some(k);
            }
            holders.push((h, release));
        }
        let keep = keep.expect("no holder took the late reader's preferred slot");
        // The late reader waits on its preferred slot (every slot held); every other
        // holder leaves; it must get in while the preferred slot's holder stays.
        late_step.send(()).unwrap();
        std::thread::sleep(Duration::from_millis(60));
        let mut kept = None;
        for (k, (h, release)) in holders.into_iter().enumerate() {
            if k == keep {
                kept = Some((h, release));
                continue;
            }
            release.send(()).unwrap();
            h.join().unwrap();
        }
        let waited = late_result.recv_timeout(Duration::from_secs(2));
        let (h, release) = kept.unwrap();
        release.send(()).unwrap();
        h.join().unwrap();
        late.join().unwrap();
        let waited = waited.expect("the 17th reader got no freed slot while one holder stayed");
        eprintln!(
            "17th reader: in {waited:?} after it began to wait (60 ms before the others left)"
        );
    });
    Passed
}

fn main() {
    let cases: &[Case] = &[
        ("four_processes_count_exactly", four_processes_count_exactly),
        (
            "timed_forms_with_a_huge_duration_wait_and_never_panic",
            timed_forms_with_a_huge_duration_wait_and_never_panic,
        ),
        (
            "killed_writer_the_next_reader_repairs",
            killed_writer_the_next_reader_repairs,
        ),
        (
            "killed_writer_the_next_writer_repairs",
            killed_writer_the_next_writer_repairs,
        ),
        (
            "dropped_unrepaired_is_not_recoverable_everywhere",
            dropped_unrepaired_is_not_recoverable_everywhere,
        ),
        (
            "killed_readers_let_a_writer_in",
            killed_readers_let_a_writer_in,
        ),
        (
            "a_reused_process_id_is_not_taken_for_the_dead_holder",
            a_reused_process_id_is_not_taken_for_the_dead_holder,
        ),
        (
            "a_dead_reader_is_reclaimed_under_frequent_signals",
            a_dead_reader_is_reclaimed_under_frequent_signals,
        ),
        (
            "a_thread_that_ends_with_a_leaked_read_keeps_it_held",
            a_thread_that_ends_with_a_leaked_read_keeps_it_held,
        ),
        (
            "a_process_that_execs_holding_a_read_keeps_it_until_it_exits",
            a_process_that_execs_holding_a_read_keeps_it_until_it_exits,
        ),
        (
            "reader_killed_waiting_behind_a_writer",
            reader_killed_waiting_behind_a_writer,
        ),
        (
            "writer_killed_waiting_for_readers",
            writer_killed_waiting_for_readers,
        ),
        ("random_kills_in_every_phase", random_kills_in_every_phase),
        ("timed_and_try_forms", timed_and_try_forms),
        (
            "a_seventeenth_reader_takes_any_freed_slot",
            a_seventeenth_reader_takes_any_freed_slot,
        ),
        ("misuse_is_reported", misuse_is_reported),
        (
            "a_second_read_on_another_slot_shares_the_first",
            a_second_read_on_another_slot_shares_the_first,
        ),
        (
            "one_region_mapped_twice_reads_through_both_as_one",
            one_region_mapped_twice_reads_through_both_as_one,
        ),
        ("outside_a_region_is_refused", outside_a_region_is_refused),
        (
            "a_panicking_writer_poisons_every_process",
            a_panicking_writer_poisons_every_process,
        ),
        ("debug_never_takes_the_lock", debug_never_takes_the_lock),
        (
            "downgrade_lets_no_writer_in_between",
            downgrade_lets_no_writer_in_between,
        ),
        (
            "a_forked_child_holds_nothing_of_its_parent",
            a_forked_child_holds_nothing_of_its_parent,
        ),
        ("documented_layout", documented_layout),
        ("a_c_program_shares_the_lock", a_c_program_shares_the_lock),
    ];
    support::run(cases);
}
