//! A process may die at any instant: forked children `SIGKILL`ed in every phase of the shared
//! primitives (waiting on a `SharedCond` plain or timed, woken and killed before it ran,
//! notifying in a loop or between a notification's two steps, blocked in a `SharedSem` wait,
//! woken and killed, posting in a loop or between a post's two steps, blocked on or holding a
//! `SharedLocker`, arming a primitive, creating a named region), and what the survivors must
//! still get.
//!
//! Every wait of a survivor is bounded ([`BOUND`]): a notify, a wake-up or an exit that does
//! not come in time is a failed case, reported with what hung, and every child of the case is
//! killed and reaped by its `Child` guard as the panic unwinds. The parent itself calls no
//! condvar operation that could block (out of reach of any bound): notifications run in
//! children of their own, but for the one case that needs a `notify_one` at a chosen instant
//! (the protocol's notify is one `FUTEX_WAKE`, which never blocks), and the parent only
//! takes locks with a timeout.
//!
//! A waiter counts as blocked once it has raised its flag holding the lock (so the parent,
//! getting the lock after it, knows the wait released it) and its process sleeps in `futex`
//! (`/proc/<pid>/stat` state `S` and, where readable, `/proc/<pid>/syscall` naming `futex`).
//!
//! `harness = false` (see `support`): children use only the primitives under test and the
//! region, then `_exit`; the parent checks every exit status. Regions are anonymous, except
//! in the creator case, whose names are unlinked by guards.

mod support;

use std::sync::atomic::Ordering::{Acquire, Relaxed, Release, SeqCst};
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize};
use std::time::{Duration, Instant};

use pthread_sync::shm::{self, ShmBox, ShmSafe};
use pthread_sync::{Error, SharedCond, SharedLockError, SharedLocker, SharedSem};
use support::Outcome::{self, Passed};
use support::{
    cond_seq, fork_child, is_futex_call, proc_state, sleeps_in_futex, Case, Child, OneCpu, Rng,
};

/// How long a survivor may take for any one step (a notify returning, a woken waiter
/// exiting, a lock): past it, the step hung and the case fails.
const BOUND: Duration = Duration::from_secs(5);

/// A timed wait that should never time out within a case.
const LONG: Duration = Duration::from_secs(60);

/// Flag slots in a region (one per waiter of a case).
const SLOTS: usize = 8;

/// A condvar, its lock, and the flags the parent watches.
#[repr(C)]
struct Waiters {
    /// Wake-up tokens: a waiter waits while there are none, then takes one and exits.
    tokens: SharedLocker<u32>,
    cond: SharedCond,
    /// Waiter `i` sets `ready[i]`, holding the lock, just before it waits.
    ready: [AtomicU32; SLOTS],
    /// Asks looping children to stop.
    stop: AtomicU32,
    /// Calls completed by a looping notifier.
    notifies: AtomicU64,
}
// SAFETY: #[repr(C)], shared primitives and atomics only.
unsafe impl ShmSafe for Waiters {}

impl Waiters {
    fn new() -> Waiters {
        Waiters {
            tokens: SharedLocker::new(0),
            cond: SharedCond::new(),
            ready: std::array::from_fn(|_| AtomicU32::new(0)),
            stop: AtomicU32::new(0),
            notifies: AtomicU64::new(0),
        }
    }

    /// Names this region's condvar in failure messages.
    fn watch(&self) {
        WATCHED_COND.store(&self.cond as *const SharedCond as usize, Relaxed);
    }

    fn tokens(&self) -> u32 {
        *self
            .tokens
            .lock_timeout(BOUND)
            .unwrap_or_else(|e| panic!("the tokens lock: {e:?}"))
    }

    fn add_tokens(&self, n: u32) {
        *self
            .tokens
            .lock_timeout(BOUND)
            .unwrap_or_else(|e| panic!("the tokens lock: {e:?}")) += n;
    }
}

/// How a waiter waits.
#[derive(Clone, Copy)]
enum Wait {
    /// `wait_while`.
    Plain,
    /// `wait_timeout_while` with a timeout ([`LONG`]) that never runs out in a case.
    Timed,
}

/// Which notification.
#[derive(Clone, Copy)]
enum Notify {
    One,
    All,
}

impl Notify {
    fn call(self, cond: &SharedCond) {
        match self {
            Notify::One => cond.notify_one(),
            Notify::All => cond.notify_all(),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Notify::One => "notify_one",
            Notify::All => "notify_all",
        }
    }
}

/// A child that raises `ready[slot]` under the lock, waits (`how`) until there is a token,
/// takes it and exits 0.
fn spawn_waiter(w: &Waiters, slot: usize, how: Wait) -> Child {
    fork_child(move || {
        let Ok(g) = w.tokens.lock() else { return 10 };
        w.ready[slot].store(1, Release);
        let mut g = match how {
            Wait::Plain => match w.cond.wait_while(g, |t| *t == 0) {
                Ok(g) => g,
                Err(_) => return 11,
            },
            Wait::Timed => match w.cond.wait_timeout_while(g, LONG, |t| *t == 0) {
                Ok((g, r)) if !r.timed_out() => g,
                Ok(_) => return 12,
                Err(_) => return 13,
            },
        };
        *g -= 1;
        0
    })
}

/// Waits (bounded) until waiter `slot` is blocked in its wait.
fn await_waiting(w: &Waiters, slot: usize, child: &Child) {
    await_flag(&w.ready[slot], 1);
    // The flag was raised holding the lock: getting the lock now means the waiter released
    // it, inside the wait.
    let _ = w.tokens();
    await_futex_sleep(child.pid());
}

/// Waits (bounded) until `flag` reads `value`.
fn await_flag(flag: &AtomicU32, value: u32) {
    let start = Instant::now();
    while flag.load(Acquire) != value {
        assert!(start.elapsed() < BOUND, "flag never set");
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// Waits (bounded) until `pid` sleeps in `futex`.
fn await_futex_sleep(pid: libc::pid_t) {
    let start = Instant::now();
    while !sleeps_in_futex(pid) {
        assert!(
            start.elapsed() < BOUND,
            "process {pid} never went to sleep in futex"
        );
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// Sends `SIGKILL` to `child` without reaping it, and waits (bounded) until it is a zombie.
fn kill_leaving_zombie(child: &Child) {
    // SAFETY: `child` is this process's unreaped child, so its pid cannot have been reused.
    unsafe { libc::kill(child.pid(), libc::SIGKILL) };
    let start = Instant::now();
    while proc_state(child.pid()) != Some('Z') {
        assert!(
            start.elapsed() < BOUND,
            "a killed child never became a zombie"
        );
        std::thread::sleep(Duration::from_micros(100));
    }
}

/// The `SharedCond` of the running case, for naming the word a hung process waits on.
static WATCHED_COND: AtomicUsize = AtomicUsize::new(0);

/// glibc 2.36's `pthread_cond_t` words (x86_64), by offset: named in a failure message when
/// `SharedCond` may still be one (56 bytes: its arming word, then the `pthread_cond_t` at
/// byte 8).
const GLIBC_COND_WORDS: [(usize, &str); 9] = [
    (0, "__wseq"),
    (8, "__g1_start"),
    (16, "__g_refs[0]"),
    (20, "__g_refs[1]"),
    (24, "__g_size[0]"),
    (28, "__g_size[1]"),
    (32, "__g1_orig_size (its internal lock)"),
    (36, "__wrefs"),
    (40, "__g_signals[0]"),
];

/// Where `pid` is blocked, for a failure message: its `/proc/<pid>/syscall`, with a futex
/// address named by its offset in the watched `SharedCond` when it lies there.
fn blocked_where(pid: libc::pid_t) -> String {
    let Ok(line) = std::fs::read_to_string(format!("/proc/{pid}/syscall")) else {
        return "(its /proc/<pid>/syscall is unreadable)".into();
    };
    let mut words = line.split_whitespace();
    let nr = words.next().and_then(|n| n.parse::<libc::c_long>().ok());
    let addr = words
        .next()
        .and_then(|a| usize::from_str_radix(a.trim_start_matches("0x"), 16).ok());
    let (Some(true), Some(addr)) = (nr.map(is_futex_call), addr) else {
        return format!("syscall: {}", line.trim());
    };
    let cond = WATCHED_COND.load(Relaxed);
    let size = std::mem::size_of::<SharedCond>();
    if cond == 0 || addr < cond || addr >= cond + size {
        return format!("in futex on {addr:#x} (not in the SharedCond)");
    }
    let offset = addr - cond;
    let glibc = if size == 56 && offset >= 8 {
        GLIBC_COND_WORDS
            .iter()
            .find(|&&(o, _)| o == offset - 8)
            .map_or(String::new(), |(_, name)| {
                format!(" (= {name} of a glibc 2.36 pthread_cond_t at byte 8)")
            })
    } else {
        String::new()
    };
    format!("in futex on byte {offset} of the SharedCond{glibc}")
}

/// Checks that `child` exits with `code` within [`BOUND`]; fails the case (after killing it)
/// if it is still running then, saying where it was blocked.
fn expect_exit(child: Child, code: i32, what: &str) {
    match child.wait_within(BOUND) {
        Ok(c) => assert_eq!(c, code, "{what}: exit code"),
        Err(child) => {
            let place = blocked_where(child.pid());
            drop(child); // killed and reaped
            panic!("{what}: still running after {BOUND:?} (hung, {place}; killed)");
        }
    }
}

/// Runs `f` in a child of its own and checks that it returns within [`BOUND`].
fn bounded(what: &str, f: impl FnOnce()) {
    let child = fork_child(|| {
        f();
        0
    });
    expect_exit(child, 0, what);
}

/// Waits (bounded) until exactly `n` of `live` have exited (each with 0); the rest.
fn await_exits(mut live: Vec<Child>, n: usize, what: &str) -> Vec<Child> {
    let start = Instant::now();
    let mut exited = 0;
    loop {
        let mut running = Vec::with_capacity(live.len());
        for child in live {
            match child.wait_within(Duration::ZERO) {
                Ok(code) => {
                    assert_eq!(code, 0, "{what}: a woken waiter's exit code");
                    exited += 1;
                }
                Err(child) => running.push(child),
            }
        }
        live = running;
        assert!(exited <= n, "{what}: {exited} waiters exited, {n} expected");
        if exited == n {
            return live;
        }
        assert!(
            start.elapsed() < BOUND,
            "{what}: only {exited} of {n} woken waiters exited within {BOUND:?} (hung)"
        );
        std::thread::sleep(Duration::from_micros(500));
    }
}

/// Waits (bounded) until `count` reaches `target`: sleeping in short steps when the children
/// share this process's CPU (each wake-up preempts the running child somewhere), spinning
/// when they do not.
fn await_count(count: impl Fn() -> u64, target: u64, pinned: bool, what: &str) {
    let start = Instant::now();
    while count() < target {
        assert!(start.elapsed() < BOUND, "{what} stalled");
        if pinned {
            std::thread::sleep(Duration::from_micros(50));
        } else {
            std::hint::spin_loop();
        }
    }
}

/// One waiter, `SIGKILL`ed while blocked in its wait (`how`); then `notify` returns, a second
/// waiter starts waiting, and the next `notify` returns and wakes it.
///
/// glibc's process-shared `pthread_cond_t` (2.36) keeps a count of the waiters inside each
/// group's futex wait (`__g_refs`): a waiter killed there never takes its reference back, and
/// the signaller that must next switch groups (here the second `notify`) waits forever for
/// that count to reach zero (sourceware bug 21422).
fn killed_waiter_then(how: Wait, notify: Notify) {
    let region = ShmBox::anonymous(Waiters::new()).unwrap();
    let w = &*region;
    w.watch();
    let first = spawn_waiter(w, 0, how);
    await_waiting(w, 0, &first);
    first.kill_and_reap();
    bounded(
        &format!("{} after the only waiter was killed", notify.name()),
        || notify.call(&w.cond),
    );
    let second = spawn_waiter(w, 1, how);
    await_waiting(w, 1, &second);
    w.add_tokens(1);
    bounded(
        &format!(
            "the next {} (with a live waiter; the group switch of sourceware 21422)",
            notify.name()
        ),
        || notify.call(&w.cond),
    );
    expect_exit(second, 0, "the second waiter, notified");
    assert_eq!(w.tokens(), 0);
}

fn cond_notify_one_after_a_killed_waiter() -> Outcome {
    killed_waiter_then(Wait::Plain, Notify::One);
    Passed
}

fn cond_notify_all_after_a_killed_waiter() -> Outcome {
    killed_waiter_then(Wait::Plain, Notify::All);
    Passed
}

fn cond_waiter_killed_in_wait_timeout() -> Outcome {
    killed_waiter_then(Wait::Timed, Notify::One);
    Passed
}

/// Seven waiters, three of them (1, 3, 5) `SIGKILL`ed while blocked. Exactly counted wake-ups
/// then: each `notify_one`, after one token, makes exactly one live waiter take it and exit
/// (the notification is not spent on a dead one); a `notify_all` with a token each finishes
/// the rest; then a fresh waiter and a `notify_one` still work (on glibc that `notify_one`
/// is the group switch that waits for the dead waiters' references).
fn cond_many_waiters_some_killed() -> Outcome {
    const WAITERS: usize = 7;
    const KILLED: [usize; 3] = [1, 3, 5];
    let region = ShmBox::anonymous(Waiters::new()).unwrap();
    let w = &*region;
    w.watch();
    let mut all: Vec<Option<Child>> = Vec::new();
    for slot in 0..WAITERS {
        let child = spawn_waiter(w, slot, Wait::Plain);
        await_waiting(w, slot, &child);
        all.push(Some(child));
    }
    for slot in KILLED {
        all[slot].take().unwrap().kill_and_reap();
    }
    let mut live: Vec<Child> = all.into_iter().flatten().collect();
    for round in 1..=2 {
        w.add_tokens(1);
        let what = format!("notify_one #{round} after 3 of 7 waiters were killed");
        bounded(&what, || w.cond.notify_one());
        live = await_exits(live, 1, &what);
        assert_eq!(w.tokens(), 0, "{what}: the token was taken");
    }
    let rest = live.len();
    assert_eq!(rest, 2);
    w.add_tokens(rest as u32);
    let what = "notify_all for the last live waiters";
    bounded(what, || w.cond.notify_all());
    let live = await_exits(live, rest, what);
    assert!(live.is_empty());
    assert_eq!(w.tokens(), 0);
    let fresh = spawn_waiter(w, WAITERS, Wait::Plain);
    await_waiting(w, WAITERS, &fresh);
    w.add_tokens(1);
    bounded(
        "notify_one for a fresh waiter after the killed ones (the group switch)",
        || w.cond.notify_one(),
    );
    expect_exit(fresh, 0, "the fresh waiter, notified");
    Passed
}

/// A child that waits on the condvar again and again (1 ms timed waits, so `notify_all` has
/// waiters to wake and glibc's group switches happen) until `stop`.
fn spawn_churner(w: &Waiters) -> Child {
    fork_child(|| {
        while w.stop.load(Acquire) == 0 {
            let Ok(g) = w.tokens.lock() else { return 20 };
            if w.cond.wait_timeout(g, Duration::from_millis(1)).is_err() {
                return 21;
            }
        }
        0
    })
}

/// 20 rounds: a child calling `notify_all` in a tight loop (two others waiting and re-waiting
/// meanwhile) is `SIGKILL`ed at a random moment (after a random number of calls; on odd
/// rounds all of them share one CPU, see [`OneCpu`]); then the waiters stop within the
/// bound, and a fresh waiter and `notify_one` still work.
///
/// glibc 2.36's `pthread_cond_broadcast` holds the condvar's internal lock (two bits of
/// `__g1_orig_size`) while it switches groups; a notifier killed there leaves it held, and
/// every later notify, and every waiter that times out, waits for it forever.
fn cond_notifier_killed_in_a_notify_all_loop() -> Outcome {
    let mut rng = Rng::new("cond_notifier_killed_in_a_notify_all_loop");
    for round in 0..20 {
        let region = ShmBox::anonymous(Waiters::new()).unwrap();
        let w = &*region;
        w.watch();
        let pinned = OneCpu::pin_if(round % 2 == 1);
        let churners: Vec<Child> = (0..2).map(|_| spawn_churner(w)).collect();
        let notifier = fork_child(|| loop {
            w.cond.notify_all();
            w.notifies.fetch_add(1, Relaxed);
        });
        await_count(
            || w.notifies.load(Relaxed),
            1 + rng.below(20_000),
            pinned.is_some(),
            "the notifier",
        );
        notifier.kill_and_reap();
        drop(pinned);
        let calls = w.notifies.load(Relaxed);
        w.stop.store(1, Release);
        for churner in churners {
            expect_exit(
                churner,
                0,
                &format!("round {round}: a waiting churner, after the notifier was killed after {calls} notify_all"),
            );
        }
        let fresh = spawn_waiter(w, 0, Wait::Plain);
        await_waiting(w, 0, &fresh);
        w.add_tokens(1);
        bounded(
            &format!("round {round}: notify_one after the notifier was killed"),
            || w.cond.notify_one(),
        );
        expect_exit(
            fresh,
            0,
            &format!("round {round}: a fresh waiter after the notifier was killed"),
        );
    }
    Passed
}

/// A semaphore and the counters of its cases.
#[repr(C)]
struct Sems {
    sem: SharedSem,
    ready: [AtomicU32; SLOTS],
    stop: AtomicU32,
    /// Posts completed by a looping poster (counted after each `post` returns).
    posted: AtomicU64,
    /// Units taken by a consumer (counted after each wait returns).
    taken: AtomicU64,
}
// SAFETY: #[repr(C)], a shared semaphore and atomics only.
unsafe impl ShmSafe for Sems {}

impl Sems {
    fn new() -> Sems {
        Sems {
            sem: SharedSem::new(0).unwrap(),
            ready: std::array::from_fn(|_| AtomicU32::new(0)),
            stop: AtomicU32::new(0),
            posted: AtomicU64::new(0),
            taken: AtomicU64::new(0),
        }
    }
}

/// A child that raises `ready[slot]`, takes one unit (`wait`) and exits 0.
fn spawn_sem_waiter(s: &Sems, slot: usize) -> Child {
    fork_child(move || {
        s.ready[slot].store(1, Release);
        match s.sem.wait() {
            Ok(()) => 0,
            Err(_) => 30,
        }
    })
}

fn await_sem_waiting(s: &Sems, slot: usize, child: &Child) {
    await_flag(&s.ready[slot], 1);
    await_futex_sleep(child.pid());
}

/// Three processes blocked in `SharedSem::wait`, the middle one `SIGKILL`ed: two posts wake
/// the two others; the value is exact after (0, then 3 posts give 3 units and no more), and
/// a fresh waiter and a post still work.
fn sem_waiter_killed_while_blocked() -> Outcome {
    let region = ShmBox::anonymous(Sems::new()).unwrap();
    let s = &*region;
    assert_eq!(s.sem.value(), 0); // arms it
    let mut all: Vec<Option<Child>> = (0..3)
        .map(|slot| {
            let child = spawn_sem_waiter(s, slot);
            await_sem_waiting(s, slot, &child);
            Some(child)
        })
        .collect();
    all[1].take().unwrap().kill_and_reap();
    let live: Vec<Child> = all.into_iter().flatten().collect();
    s.sem.post().unwrap();
    s.sem.post().unwrap();
    let live = await_exits(live, 2, "two posts after a blocked waiter was killed");
    assert!(live.is_empty());
    assert_eq!(s.sem.value(), 0, "the dead waiter took nothing");
    for _ in 0..3 {
        s.sem.post().unwrap();
    }
    assert_eq!(s.sem.value(), 3);
    for _ in 0..3 {
        s.sem.try_wait().unwrap();
    }
    assert_eq!(s.sem.try_wait(), Err(Error::WouldBlock));
    let fresh = spawn_sem_waiter(s, 3);
    await_sem_waiting(s, 3, &fresh);
    s.sem.post().unwrap();
    expect_exit(fresh, 0, "a fresh semaphore waiter, posted");
    assert_eq!(s.sem.value(), 0);
    Passed
}

/// 10 rounds: a child posting in a tight loop (counting each post after it returns) while
/// another takes units (counting each after its wait returns) is `SIGKILL`ed at a random
/// point (on odd rounds all of them share one CPU, see [`OneCpu`]). A permit is not an owner, so nothing is to be repaired; what must hold: the consumer
/// stops within the bound; the units are all there, `posted <= value + taken <= posted + 1`
/// (the one post the poster may have made without counting it); exactly `value` units can
/// be taken; a fresh waiter and a post still work.
fn sem_poster_killed_in_a_post_loop() -> Outcome {
    let mut rng = Rng::new("sem_poster_killed_in_a_post_loop");
    for round in 0..10 {
        let region = ShmBox::anonymous(Sems::new()).unwrap();
        let s = &*region;
        assert_eq!(s.sem.value(), 0); // arms it
        let pinned = OneCpu::pin_if(round % 2 == 1);
        let consumer = fork_child(|| loop {
            if s.stop.load(Acquire) != 0 {
                return 0;
            }
            match s.sem.wait_timeout(Duration::from_millis(1)) {
                Ok(()) => {
                    s.taken.fetch_add(1, SeqCst);
                }
                Err(Error::TimedOut) => {}
                Err(_) => return 31,
            }
        });
        let poster = fork_child(|| loop {
            if s.sem.post().is_err() {
                return 32;
            }
            s.posted.fetch_add(1, SeqCst);
        });
        await_count(
            || s.posted.load(Relaxed),
            1 + rng.below(20_000),
            pinned.is_some(),
            "the poster",
        );
        poster.kill_and_reap();
        drop(pinned);
        s.stop.store(1, Release);
        expect_exit(consumer, 0, &format!("round {round}: the consumer"));
        let (posted, taken, value) = (
            s.posted.load(SeqCst),
            s.taken.load(SeqCst),
            u64::from(s.sem.value()),
        );
        assert!(
            posted <= value + taken && value + taken <= posted + 1,
            "round {round}: posted {posted}, taken {taken}, value {value}"
        );
        for _ in 0..value {
            s.sem.try_wait().unwrap();
        }
        assert_eq!(s.sem.try_wait(), Err(Error::WouldBlock));
        let fresh = spawn_sem_waiter(s, 0);
        await_sem_waiting(s, 0, &fresh);
        s.sem.post().unwrap();
        expect_exit(fresh, 0, &format!("round {round}: a fresh waiter"));
        assert_eq!(s.sem.value(), 0);
    }
    Passed
}

/// A lock and the flags of its case.
#[repr(C)]
struct Lockers {
    lock: SharedLocker<u64>,
    ready: [AtomicU32; SLOTS],
}
// SAFETY: #[repr(C)], a shared lock and atomics only.
unsafe impl ShmSafe for Lockers {}

/// A child that raises `ready[slot]`, then locks: on a plain `Ok` it adds 1 and exits 0; on
/// `OwnerDied` it exits 3 (with `expect_owner_died`, it instead checks the dead holder's 7,
/// repairs it to 8, makes the lock consistent and exits 0).
fn spawn_locker(l: &Lockers, slot: usize, expect_owner_died: bool) -> Child {
    fork_child(move || {
        l.ready[slot].store(1, Release);
        match l.lock.lock() {
            Ok(mut g) if !expect_owner_died => {
                *g += 1;
                0
            }
            Ok(_) => 4,
            Err(SharedLockError::OwnerDied(mut died)) if expect_owner_died => {
                if **died.get_mut() != 7 {
                    return 5;
                }
                **died.get_mut() = 8;
                match died.make_consistent() {
                    Ok(_) => 0,
                    Err(_) => 6,
                }
            }
            Err(SharedLockError::OwnerDied(_)) => 3,
            Err(_) => 7,
        }
    })
}

/// `SharedLocker`: a process `SIGKILL`ed while blocked in `lock` changes nothing for the
/// others (the next waiter gets a plain `Ok` when the holder unlocks); a holder `SIGKILL`ed
/// while another process is blocked in `lock` hands that one `OwnerDied`, within the bound.
fn locker_waiter_and_holder_killed() -> Outcome {
    let region = ShmBox::anonymous(Lockers {
        lock: SharedLocker::new(0),
        ready: std::array::from_fn(|_| AtomicU32::new(0)),
    })
    .unwrap();
    let l = &*region;
    let held = l.lock.lock_timeout(BOUND).unwrap();
    let doomed = spawn_locker(l, 0, false);
    await_flag(&l.ready[0], 1);
    await_futex_sleep(doomed.pid());
    let next = spawn_locker(l, 1, false);
    await_flag(&l.ready[1], 1);
    await_futex_sleep(next.pid());
    doomed.kill_and_reap();
    drop(held);
    expect_exit(next, 0, "a lock waiter, after another waiter was killed");
    assert_eq!(*l.lock.lock_timeout(BOUND).unwrap(), 1);

    let holder = fork_child(|| {
        let Ok(mut g) = l.lock.lock() else { return 1 };
        *g = 7; // a "half-done" update
        l.ready[2].store(1, Release);
        loop {
            // SAFETY: sleeps; the parent kills this process here.
            unsafe { libc::pause() };
        }
    });
    await_flag(&l.ready[2], 1);
    let heir = spawn_locker(l, 3, true);
    await_flag(&l.ready[3], 1);
    await_futex_sleep(heir.pid());
    holder.kill_and_reap();
    expect_exit(heir, 0, "a lock waiter whose holder was killed (OwnerDied)");
    assert_eq!(*l.lock.lock_timeout(BOUND).unwrap(), 8);
    Passed
}

const ARMED_LOCKS: usize = 2048;

/// Many unarmed locks, and how far a child got arming them.
#[repr(C)]
struct Unarmed {
    locks: [SharedLocker<u32>; ARMED_LOCKS],
    progress: AtomicU32,
}
// SAFETY: #[repr(C)], shared locks and an atomic.
unsafe impl ShmSafe for Unarmed {}

/// The arming word of a shared lock: its first `u32`, per the documented layout.
fn arming_word<T>(lock: &SharedLocker<T>) -> &AtomicU32 {
    // SAFETY: the documented layout puts the arming word, a `u32` used atomically, first in
    // every shared primitive; `lock` lives in a region, aligned, for the borrow.
    unsafe { AtomicU32::from_ptr((lock as *const SharedLocker<T>).cast_mut().cast()) }
}

/// 30 rounds: a child arming 2048 fresh locks one after another (each lock's first use) is
/// `SIGKILL`ed at a random point (sharing this process's CPU, see [`OneCpu`]). Every lock is
/// then armed, unarmed or claimed by the dead armer, and at most one was held by it; after
/// the child is reaped, every one of them locks within the bound (a dead claim is taken
/// over; a held one gives `OwnerDied`). Once, while the dead armer is still an unreaped
/// zombie, a lock of its claim is timed and reported (a zombie's pid still exists:
/// `kill(pid, 0)` succeeds, so the claim looks live).
fn arming_killed_at_random() -> Outcome {
    let mut rng = Rng::new("arming_killed_at_random");
    let (mut claims_seen, mut holding_seen, mut zombie_measured) = (0, 0, false);
    for round in 0..30 {
        let region = ShmBox::anonymous(Unarmed {
            locks: std::array::from_fn(|_| SharedLocker::new(0)),
            progress: AtomicU32::new(0),
        })
        .unwrap();
        let u = &*region;
        // Sharing this process's CPU, so the kill lands anywhere (see `OneCpu`): killed from
        // another CPU, the armer dies at its next system call, its `getpid` before a claim.
        let pinned = OneCpu::new();
        let armer = fork_child(|| {
            for lock in &u.locks {
                u.progress.fetch_add(1, Relaxed);
                if lock.lock().is_err() {
                    return 1;
                }
            }
            loop {
                // SAFETY: sleeps until killed.
                unsafe { libc::pause() };
            }
        });
        await_count(
            || u64::from(u.progress.load(Relaxed)),
            1 + rng.below(ARMED_LOCKS as u64 - 1),
            true,
            "the armer",
        );
        kill_leaving_zombie(&armer);
        drop(pinned);
        let claimed: Vec<usize> = (0..ARMED_LOCKS)
            .filter(|&i| arming_word(&u.locks[i]).load(SeqCst) & (1 << 31) != 0)
            .collect();
        assert!(claimed.len() <= 1, "one armer, one claim at most");
        if let (Some(&i), false) = (claimed.first(), zombie_measured) {
            zombie_measured = true;
            let started = Instant::now();
            let result = u.locks[i].lock().map(|_| ()).map_err(|e| e.error());
            let took = started.elapsed();
            eprintln!(
                "round {round}: lock of a claim by an unreaped (zombie) armer: {result:?} after {took:?}"
            );
            assert!(took < BOUND, "bounded even for a zombie's claim");
            assert!(
                matches!(result, Ok(()) | Err(Some(Error::Unfinished))),
                "{result:?}"
            );
        }
        claims_seen += claimed.len();
        armer.kill_and_reap();
        let started = Instant::now();
        let mut died_holding = 0;
        for (i, lock) in u.locks.iter().enumerate() {
            match lock.lock_timeout(BOUND) {
                Ok(g) => drop(g),
                // Killed between its lock and unlock: nothing to repair in a bare count.
                Err(SharedLockError::OwnerDied(died)) => {
                    died_holding += 1;
                    drop(died.make_consistent().unwrap());
                }
                Err(e) => panic!("round {round}: lock {i} after the armer died: {e:?}"),
            }
            assert_eq!(arming_word(lock).load(SeqCst), 1, "lock {i} armed");
        }
        assert!(died_holding <= 1, "one armer, one held lock at most");
        assert!(claimed.is_empty() || died_holding == 0);
        holding_seen += died_holding;
        assert!(started.elapsed() < BOUND);
    }
    eprintln!(
        "arming_killed_at_random: of 30 kills, {claims_seen} landed mid-arm, {holding_seen} \
         holding a lock (OwnerDied to the next), the rest between"
    );
    Passed
}

/// A name unlinked when dropped (and before use).
struct Name(String);

impl Name {
    fn new(round: u32, i: u32) -> Name {
        let name = format!("/pthread-sync-death-{}-{round}-{i}", std::process::id());
        let _ = shm::unlink(&name);
        Name(name)
    }
}

impl Drop for Name {
    fn drop(&mut self) {
        let _ = shm::unlink(&self.0);
    }
}

const CREATES: u32 = 40;

/// 15 rounds: a child creating named regions of 32 KiB one after another is `SIGKILL`ed at
/// a random point (on odd rounds sharing this process's CPU, see [`OneCpu`]). Every region it finished opens; the one it was creating opens as one of
/// `Ok`, `NotFound`, `CreatorDied` or `Unfinished`, each within the opener's bound (20 ms),
/// both while the dead creator is an unreaped zombie and after. The outcomes are reported;
/// every name is unlinked.
fn creator_killed_at_random() -> Outcome {
    const OPEN_WAIT: Duration = Duration::from_millis(20);
    let mut rng = Rng::new("creator_killed_at_random");
    let mut outcomes: Vec<String> = Vec::new();
    for round in 0..15 {
        let names: Vec<Name> = (0..CREATES).map(|i| Name::new(round, i)).collect();
        let progress = ShmBox::anonymous(AtomicU32::new(0)).unwrap();
        let (names_ref, progress_ref) = (&names, &*progress);
        let pinned = OneCpu::pin_if(round % 2 == 1);
        let creator = fork_child(move || {
            for (i, name) in names_ref.iter().enumerate() {
                progress_ref.store(i as u32 + 1, Relaxed);
                match ShmBox::create(&name.0, 0o600, [0u64; 4096]) {
                    Ok(region) => drop(region),
                    Err(_) => return 1,
                }
            }
            loop {
                // SAFETY: sleeps until killed.
                unsafe { libc::pause() };
            }
        });
        await_count(
            || u64::from(progress_ref.load(Relaxed)),
            1 + rng.below(u64::from(CREATES) - 1),
            pinned.is_some(),
            "the creator",
        );
        kill_leaving_zombie(&creator);
        drop(pinned);
        let in_flight = progress_ref.load(SeqCst) as usize - 1;
        let open = |i: usize| {
            let started = Instant::now();
            let result = ShmBox::<[u64; 4096]>::open_timeout(&names[i].0, OPEN_WAIT);
            let took = started.elapsed();
            assert!(took < OPEN_WAIT + Duration::from_millis(400), "{took:?}");
            match result {
                Ok(r) => {
                    assert!(r.iter().all(|&x| x == 0));
                    "Ok".to_string()
                }
                Err(Error::NotFound) => "NotFound".to_string(),
                Err(Error::CreatorDied { .. }) => "CreatorDied".to_string(),
                // Killed before its pid was in the header: say how far it got (the object
                // unsized, or sized with the header's state still 0).
                Err(Error::Unfinished) => {
                    let path = format!("/dev/shm{}", names[i].0);
                    match std::fs::metadata(path).map(|m| m.len()) {
                        Ok(0) => "Unfinished(unsized)".to_string(),
                        Ok(_) => "Unfinished(sized)".to_string(),
                        Err(_) => "Unfinished".to_string(),
                    }
                }
                Err(e) => panic!("round {round}: region {i}: {e:?}"),
            }
        };
        for i in 0..in_flight {
            assert_eq!(open(i), "Ok", "round {round}: a finished region {i}");
        }
        let zombie = open(in_flight);
        creator.kill_and_reap();
        let reaped = open(in_flight);
        outcomes.push(format!("{zombie}->{reaped}"));
    }
    let mut counts = std::collections::BTreeMap::new();
    for outcome in outcomes {
        *counts.entry(outcome).or_insert(0) += 1;
    }
    eprintln!(
        "creator_killed_at_random: the in-flight region (zombie creator -> reaped): {counts:?}"
    );
    Passed
}

/// The flags of the stranded-waiter scenario, beside its lock.
#[repr(C)]
struct Strand {
    lock: SharedLocker<u32>,
    a_locked: AtomicU32,
    go: AtomicU32,
    relocked: AtomicU32,
    killed: AtomicU32,
}
// SAFETY: #[repr(C)], a shared primitive and atomics.
unsafe impl ShmSafe for Strand {}

/// Sets the calling process's policy to `SCHED_FIFO` at `prio`; `false` if refused.
fn fifo(prio: i32) -> bool {
    let param = libc::sched_param {
        sched_priority: prio,
    };
    // SAFETY: `param` is a valid sched_param; pid 0 is the calling process.
    unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) == 0 }
}

/// A waiter woken by an unlock is killed before it takes the mutex, and the holder takes
/// the free mutex back by the fast path, so glibc's unlock that follows wakes nobody: with
/// a plain `pthread_mutex_lock`, every other waiter then sleeps forever on a free mutex (a
/// C reproduction of this gives `ETIMEDOUT` after the whole bound of a timed lock). The
/// crate's waiters sleep at most 20 ms at a time and try again, so the third process takes
/// the mutex soon after it is free. Made deterministic with `SCHED_FIFO` on one CPU: the
/// holder (priority 20) unlocks and relocks before the woken waiter (ordinary) can run, and
/// the parent (priority 10) kills that waiter before it runs.
fn a_waiter_killed_after_its_wake_up_strands_nobody() -> Outcome {
    let Some(_pinned) = one_cpu_and_fifo() else {
        return Outcome::Skipped("SCHED_FIFO refused (no privilege)");
    };
    let region = ShmBox::anonymous(Strand {
        lock: SharedLocker::new(0),
        a_locked: AtomicU32::new(0),
        go: AtomicU32::new(0),
        relocked: AtomicU32::new(0),
        killed: AtomicU32::new(0),
    })
    .unwrap();
    let r = &*region;
    drop(r.lock.lock().unwrap()); // armed
    let holder = fork_child(|| {
        if !fifo(20) {
            return 40;
        }
        let g = r.lock.lock().unwrap();
        r.a_locked.store(1, SeqCst);
        while r.go.load(SeqCst) == 0 {
            std::thread::sleep(Duration::from_micros(100));
        }
        drop(g); // wakes the first waiter
        let g = r.lock.lock().unwrap(); // the fast path: that waiter has not run
        r.relocked.store(1, SeqCst);
        while r.killed.load(SeqCst) == 0 {
            std::thread::sleep(Duration::from_micros(100));
        }
        drop(g); // no waiters bit left: wakes nobody
        0
    });
    await_flag(&r.a_locked, 1);
    let first = fork_child(|| {
        drop(r.lock.lock());
        0
    });
    await_futex_sleep(first.pid());
    let third = fork_child(|| match r.lock.lock() {
        Ok(g) => {
            drop(g);
            0
        }
        Err(_) => 41,
    });
    await_futex_sleep(third.pid());
    assert!(fifo(10), "SCHED_FIFO for the parent");
    r.go.store(1, SeqCst);
    let start = Instant::now();
    while r.relocked.load(SeqCst) == 0 {
        // Spinning at priority 10: the first waiter (ordinary) gets no CPU meanwhile.
        if start.elapsed() > BOUND {
            ordinary();
            panic!("the holder never relocked");
        }
        std::hint::spin_loop();
    }
    first.kill_and_reap();
    ordinary();
    r.killed.store(1, SeqCst);
    expect_exit(holder, 0, "the holder");
    // The mutex is free now; the third process must take it within the bound.
    expect_exit(third, 0, "the third process, stranded on a free mutex");
    Passed
}

/// Back to the ordinary policy (`SCHED_OTHER`).
fn ordinary() {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: as in `fifo`.
    unsafe { libc::sched_setscheduler(0, libc::SCHED_OTHER, &param) };
}

/// For the cases that need a wake-up to reach a process that is then killed before it runs:
/// pinned to one CPU, and `SCHED_FIFO` allowed (`None`: refused, the case is skipped); the
/// calling process is back at the ordinary policy, for its children to inherit.
fn one_cpu_and_fifo() -> Option<OneCpu> {
    let pinned = OneCpu::new();
    // The highest priority the cases take (a holder's), so that a lower `RLIMIT_RTPRIO`
    // skips them rather than failing them.
    if !fifo(20) {
        return None;
    }
    ordinary();
    Some(pinned)
}

/// `SCHED_FIFO` at priority 10 for the calling process while it lives, the ordinary policy
/// after (also when a case panics).
struct Fifo;

impl Fifo {
    fn new() -> Fifo {
        assert!(fifo(10), "SCHED_FIFO for the parent");
        Fifo
    }
}

impl Drop for Fifo {
    fn drop(&mut self) {
        ordinary();
    }
}

/// Two children asleep in futex waits on this one CPU; the parent, at `SCHED_FIFO` (so
/// neither can run), calls `wake`, which wakes one of them, and kills the woken one (the
/// kernel's choice: runnable now, the other still asleep) before it runs. Returns the other;
/// `None` if the states do not tell which was woken (a look's 20 ms timer made a waiter
/// runnable in that instant), and then both are killed and the caller starts again.
fn kill_the_woken(pair: [Child; 2], wake: impl FnOnce()) -> Option<Child> {
    let _fifo = Fifo::new();
    if !pair.iter().all(|c| sleeps_in_futex(c.pid())) {
        return None;
    }
    wake();
    let runnable = pair.each_ref().map(|c| proc_state(c.pid()) == Some('R'));
    let [a, b] = pair;
    let (woken, other) = match runnable {
        [true, false] => (a, b),
        [false, true] => (b, a),
        _ => return None,
    };
    woken.kill_and_reap();
    Some(other)
}

/// Runs `attempt` until it returns `Some`, 3 tries at most: for a case whose setup can be
/// spoiled by timing it does not control (`kill_the_woken`: a 20 ms timer that fires within
/// a few microseconds; a parent delayed past a waiter's deadline), which it tells and says
/// with `None`.
fn with_retries(what: &str, mut attempt: impl FnMut() -> Option<Outcome>) -> Outcome {
    for _ in 0..3 {
        if let Some(outcome) = attempt() {
            return outcome;
        }
    }
    panic!("{what}: no try in 3 set the case up as it needs");
}

/// Two processes wait on a `SharedCond` for a token; the parent, at `SCHED_FIFO` on their one
/// CPU (so neither runs until it allows), adds a token and calls `notify_one`, which wakes
/// one of them, and kills that one before it runs. The wake-up is spent: a wait that slept
/// until the next one would leave the other asleep beside a token forever. The crate's
/// shared waits look again every 20 ms, and one that finds the sequence word moved returns
/// as woken: the other takes the token within the bound (a waiter exits 0 only once it took
/// a token, so the killed one took nothing).
fn cond_waiter_killed_after_its_wake_up_strands_nobody() -> Outcome {
    let Some(_pinned) = one_cpu_and_fifo() else {
        return Outcome::Skipped("SCHED_FIFO refused (no privilege)");
    };
    with_retries("SharedCond", || {
        let region = ShmBox::anonymous(Waiters::new()).unwrap();
        let w = &*region;
        w.watch();
        let first = spawn_waiter(w, 0, Wait::Plain);
        await_waiting(w, 0, &first);
        let second = spawn_waiter(w, 1, Wait::Plain);
        await_waiting(w, 1, &second);
        let other = kill_the_woken([first, second], || {
            w.add_tokens(1);
            // One `FUTEX_WAKE` (the crate's notify never blocks): the woken one gets no CPU.
            w.cond.notify_one();
        })?;
        expect_exit(
            other,
            0,
            "the other waiter, after notify_one's wake-up went to a waiter killed before it ran",
        );
        assert_eq!(w.tokens(), 0);
        Some(Passed)
    })
}

/// Runs `step` in a child that then `SIGKILL`s itself (the death at exactly that point), and
/// checks that the signal ended it.
fn killed_right_after(who: &str, step: impl FnOnce()) {
    let child = fork_child(|| {
        step();
        // SAFETY: plain system calls: the process kills itself.
        unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
        50
    });
    let status = child.wait_status();
    assert!(
        libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGKILL,
        "{who} was killed (status {status:#x})"
    );
}

/// A notifier killed between the two steps of a notification: the sequence word bumped (the
/// first `u32` of a `SharedCond`, its documented layout), then `SIGKILL` before the wake. The
/// waiter, asleep on the old value, sees the word moved at its next look (20 ms) and takes
/// the token.
fn cond_notifier_killed_between_its_bump_and_its_wake() -> Outcome {
    let region = ShmBox::anonymous(Waiters::new()).unwrap();
    let w = &*region;
    w.watch();
    let waiter = spawn_waiter(w, 0, Wait::Plain);
    await_waiting(w, 0, &waiter);
    w.add_tokens(1);
    killed_right_after("the notifier", || {
        cond_seq(&w.cond).fetch_add(1, SeqCst);
    });
    expect_exit(
        waiter,
        0,
        "the waiter, after a notifier killed between its bump and its wake",
    );
    assert_eq!(w.tokens(), 0);
    Passed
}

/// A notification left half-done (the bump of `seq`, no wake: a notifier killed between
/// them) while a `wait_timeout` sleeps its last slice, the one that ends at its deadline
/// (19 ms: its only one, under a 20 ms look). The wait must return woken (`timed_out()`
/// false), since a notification came before the deadline; without the bump the same wait
/// times out. The child tells a bump that came too late (the parent delayed past 19 ms) by
/// `seq` still unmoved when its wait returned, and the case is then tried again.
fn cond_timed_wait_sees_a_half_done_notification_in_its_last_slice() -> Outcome {
    let region = ShmBox::anonymous(Waiters::new()).unwrap();
    let w = &*region;
    for bump in [true, false] {
        with_retries("a half-done notification in the last slice", || {
            w.ready[0].store(0, Relaxed);
            let child = fork_child(|| {
                let Ok(g) = w.tokens.lock() else { return 10 };
                let seen = cond_seq(&w.cond).load(SeqCst);
                w.ready[0].store(1, Release);
                let timed_out = match w.cond.wait_timeout(g, Duration::from_millis(19)) {
                    Ok((_, r)) => r.timed_out(),
                    Err(_) => return 13,
                };
                let moved = cond_seq(&w.cond).load(SeqCst) != seen;
                match (bump, moved, timed_out) {
                    (true, true, false) | (false, false, true) => 0,
                    (true, false, _) => 14, // the bump came after the deadline
                    _ => 12,
                }
            });
            await_waiting(w, 0, &child);
            if bump {
                cond_seq(&w.cond).fetch_add(1, SeqCst); // and no wake
            }
            let status = child.wait_status();
            if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 14 {
                return None;
            }
            assert!(
                libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
                "the timed waiter (bump: {bump}): status {status:#x}"
            );
            Some(Passed)
        });
    }
    Passed
}

/// The semaphore's form of the stranded waiter: two processes blocked in `SharedSem::wait`;
/// the parent, at `SCHED_FIFO` on their one CPU, posts (glibc wakes one sleeper) and kills the
/// woken one before it runs (`kill_the_woken`). glibc's `sem_wait` would leave the other
/// asleep with the value at 1 until the next post; the crate's shared waits look again every
/// 20 ms, and the other takes the unit (a waiter exits 0 only once it took one).
fn sem_waiter_killed_after_its_wake_up_strands_nobody() -> Outcome {
    let Some(_pinned) = one_cpu_and_fifo() else {
        return Outcome::Skipped("SCHED_FIFO refused (no privilege)");
    };
    with_retries("SharedSem", || {
        let region = ShmBox::anonymous(Sems::new()).unwrap();
        let s = &*region;
        assert_eq!(s.sem.value(), 0); // arms it
        let first = spawn_sem_waiter(s, 0);
        await_sem_waiting(s, 0, &first);
        let second = spawn_sem_waiter(s, 1);
        await_sem_waiting(s, 1, &second);
        let other = kill_the_woken([first, second], || s.sem.post().unwrap())?;
        expect_exit(
            other,
            0,
            "the other semaphore waiter, after the post's wake-up went to a waiter killed \
             before it ran",
        );
        assert_eq!(s.sem.value(), 0);
        Some(Passed)
    })
}

/// A poster killed between the two steps of glibc 2.36's `sem_post`: the value raised (the
/// low 32 bits of the `sem_t`'s first 64-bit word, `struct new_sem`'s `data`; the `sem_t` at
/// byte 8 of a `SharedSem`, its documented layout), then `SIGKILL` before the wake. The waiter,
/// asleep, takes the unit at its next look (20 ms).
fn sem_poster_killed_between_its_increment_and_its_wake() -> Outcome {
    let region = ShmBox::anonymous(Sems::new()).unwrap();
    let s = &*region;
    assert_eq!(s.sem.value(), 0); // arms it
    let waiter = spawn_sem_waiter(s, 0);
    await_sem_waiting(s, 0, &waiter);
    killed_right_after("the poster", || {
        // SAFETY: the armed `sem_t` lies at byte 8 of the `SharedSem` (8-aligned); glibc's
        // 64-bit `sem_t` keeps its value in the low half of its first word, which its own
        // calls change atomically.
        let data = unsafe {
            &*std::ptr::addr_of!(s.sem)
                .cast::<u8>()
                .add(8)
                .cast::<AtomicU64>()
        };
        data.fetch_add(1, SeqCst);
    });
    expect_exit(
        waiter,
        0,
        "the semaphore waiter, after a poster killed between its increment and its wake",
    );
    assert_eq!(s.sem.value(), 0);
    Passed
}

fn main() {
    let cases: &[Case] = &[
        (
            "cond_notify_one_after_a_killed_waiter",
            cond_notify_one_after_a_killed_waiter,
        ),
        (
            "cond_notify_all_after_a_killed_waiter",
            cond_notify_all_after_a_killed_waiter,
        ),
        (
            "cond_waiter_killed_in_wait_timeout",
            cond_waiter_killed_in_wait_timeout,
        ),
        (
            "cond_many_waiters_some_killed",
            cond_many_waiters_some_killed,
        ),
        (
            "cond_notifier_killed_in_a_notify_all_loop",
            cond_notifier_killed_in_a_notify_all_loop,
        ),
        (
            "sem_waiter_killed_while_blocked",
            sem_waiter_killed_while_blocked,
        ),
        (
            "sem_poster_killed_in_a_post_loop",
            sem_poster_killed_in_a_post_loop,
        ),
        (
            "locker_waiter_and_holder_killed",
            locker_waiter_and_holder_killed,
        ),
        ("arming_killed_at_random", arming_killed_at_random),
        ("creator_killed_at_random", creator_killed_at_random),
        (
            "a_waiter_killed_after_its_wake_up_strands_nobody",
            a_waiter_killed_after_its_wake_up_strands_nobody,
        ),
        (
            "cond_waiter_killed_after_its_wake_up_strands_nobody",
            cond_waiter_killed_after_its_wake_up_strands_nobody,
        ),
        (
            "cond_notifier_killed_between_its_bump_and_its_wake",
            cond_notifier_killed_between_its_bump_and_its_wake,
        ),
        (
            "cond_timed_wait_sees_a_half_done_notification_in_its_last_slice",
            cond_timed_wait_sees_a_half_done_notification_in_its_last_slice,
        ),
        (
            "sem_waiter_killed_after_its_wake_up_strands_nobody",
            sem_waiter_killed_after_its_wake_up_strands_nobody,
        ),
        (
            "sem_poster_killed_between_its_increment_and_its_wake",
            sem_poster_killed_between_its_increment_and_its_wake,
        ),
    ];
    support::run(cases);
}
