//! Fault-injection soak: worker processes that share one anonymous region are `SIGKILL`ed at
//! random moments, again and again, while they run a mixed workload on every shared primitive;
//! after every round the parent checks what users of shared memory fear.
//!
//! ```sh
//! cargo test --release --test soak                              # 20 s
//! PTHREAD_SYNC_SOAK_SECS=120 cargo test --release --test soak   # longer
//! PTHREAD_SYNC_SOAK_SEED=0x1234 ...                             # replay a seed's choices
//! PTHREAD_SYNC_SOAK_PARTS=lock,sem ...                          # a subset: lock, cond, sem
//! PTHREAD_SYNC_SOAK_ALLOW=stranded ...                          # count stranded lock waiters
//! ```
//!
//! `WORKERS` (3) processes share a region made with `ShmBox::anonymous` before they are forked.
//! Each loops over three parts:
//!
//! - **Ledger** (`SharedLocker<Ledger>`): `a` and `b` must be equal; an update of position `p`
//!   does `a += 1`, a window (a spin, a yield or a short sleep, so kills land in it), then
//!   `applied[p] += 1`, then `b += 1`, each a single store in program order. So a holder killed
//!   midway leaves `a == b + 1` and `applied` summing to `b` or to `a`, and nothing else: the
//!   one repair, `a = b = sum(applied)`, rolls the update back or forward as the journal says,
//!   and can itself be interrupted and redone. After the unlock the worker records its
//!   `committed` count in its slot. Any locker that gets `OwnerDied` repairs a half-done state
//!   (counted in the ledger, under the lock) and calls `make_consistent`; a half-done state
//!   behind a lock that did *not* report `OwnerDied` is a violation. A replacement takes over
//!   its position's journal: `applied[p]` is `committed[p]` or one more (an update in the
//!   ledger whose worker died before recording it), never less (a lost update).
//! - **Ring** (`SharedLocker<Mailbox>` + `SharedCond`): a ticket passed round the positions;
//!   position `p` waits (`wait_timeout_while`, bounded) until `ticket % WORKERS == p`, then
//!   `passes[p] += 1; ticket += 1` (torn: `ticket = sum(passes)`) and `notify_all`s, all under
//!   the lock: a notifier killed after moving the ticket leaves the mutex to its next holder as
//!   `OwnerDied`, and that holder notifies again (the `renotify` flag, for when the parent is
//!   that holder: it never touches the condvar). A notify after the unlock would die with its
//!   process and strand the waiter whatever the condvar. A dead position stalls the ring only
//!   until its replacement starts (milliseconds), so a wait past the bound is a lost wakeup,
//!   and a notify stuck past the watchdog a hang. This is where sourceware bug 21422 shows: a
//!   waiter killed in glibc's `pthread_cond_wait` leaves the group reference it holds, and a
//!   later notify that switches groups waits for it forever.
//! - **Permits** (`SharedSem` of `PERMITS`): inside, a worker sets its bit in `inside`, which
//!   must never hold more than `PERMITS` bits. A killed holder's permit is lost (a semaphore
//!   has no owner): the parent re-posts it when the slot says `HELD`; when the slot says
//!   `WANT` or `RELEASING` (the kill may have landed on either side of the `sem_t`'s own
//!   atomic step) the parent closes a gate, waits until every live worker is out of the
//!   semaphore, and reads the value, which is then exact: `PERMITS`, or one less when the dead
//!   one held it (re-posted). Anything else fails. `PERMITS = WORKERS - 1`: a waiter sleeps
//!   only when every other live position holds a permit, so it is always woken by a live
//!   holder's post, even when a poster is killed between glibc's increment and its wake.
//!
//! **Hangs.** Each worker keeps in its slot what it is doing and since when (one word); the
//! parent treats any operation in progress for longer than `WATCHDOG` as a hang (a notify or a
//! post has no bound of its own), and every bounded wait that ran out is recorded by the worker
//! as a hang. Workers live about 15 ms each, so a kill would end most hangs before any bound
//! could see them (a ring waiter whose wakeup was lost is replaced by one that finds it is its
//! turn): a worker in one operation for longer than `SPARE` (10 ms) is never chosen for a kill.
//! On a failure the parent prints, for each worker, what it was doing and where it sleeps
//! (`/proc/PID/syscall`: in `futex` on which primitive of the region).
//!
//! **Stranded lock waiters.** Lock waits are slices of 100 ms; a slice that runs out while the
//! mutex is free (`try_lock` then takes it) is a lost wakeup, and fails the run unless
//! `PTHREAD_SYNC_SOAK_ALLOW=stranded` (then only counted). glibc 2.36's robust mutex on Linux
//! 6.x has one: the waiter an unlock wakes is killed before it takes the mutex, and another
//! process takes it in between on the uncontended path (no `FUTEX_WAITERS` bit): the kernel's
//! death handling wakes a waiter for a dying pending locker only when the futex word is 0, and
//! no later unlock wakes anyone, so the other waiters sleep while the mutex is free (for ever
//! in `lock()`) until some locker next finds it contended.
//!
//! Any hang or violation fails the run: the parent prints the figures and the seed, and the
//! `Child` guards kill and reap every worker. The region is anonymous: no name to leave behind.
//!
//! Children use only the primitives, atomics and the clock (no allocation, no printing, no
//! unwinding), then `_exit`; all randomness comes from a seeded xorshift, printed, so a run's
//! choices can be replayed (its timing cannot).

mod support;

use std::hint::spin_loop;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release, SeqCst};
use std::sync::atomic::{compiler_fence, AtomicU64};
use std::time::{Duration, Instant, SystemTime};

use pthread_sync::shm::{ShmBox, ShmSafe};
use pthread_sync::{
    Error, OwnerDied, SharedCond, SharedLockError, SharedLocker, SharedLockerGuard, SharedSem,
};
use support::Outcome::{self, Passed};
use support::{fork_child, Case, Child};

const WORKERS: usize = 3;
/// One less than the workers, so a sleeping semaphore waiter always has a live holder to wake
/// it (see the module docs).
const PERMITS: u32 = WORKERS as u32 - 1;
/// The bound of every wait a worker makes.
const BOUND: Duration = Duration::from_secs(2);
/// Lock waits are made of slices this long: a slice that runs out while the mutex is free is
/// a stranded waiter (a lost wakeup), told apart from a mutex held all along.
const SLICE: Duration = Duration::from_millis(100);
/// How long an operation may stay in progress before the parent calls it a hang.
const WATCHDOG: Duration = Duration::from_secs(3);
/// A worker in one operation for longer than this is not chosen for a kill. Each worker is
/// killed every 15 ms or so; killing a stuck one would end its hang (its replacement carries
/// on: a ring waiter whose wakeup was lost is replaced by one that finds it is its turn)
/// before any bound could see it. Healthy operations take well under a millisecond.
const SPARE: Duration = Duration::from_millis(10);
const DEFAULT_SECS: u64 = 20;
/// The parent's own slot (it locks the ledger and the mailbox to check them).
const PARENT: usize = WORKERS;

const SECS_VAR: &str = "PTHREAD_SYNC_SOAK_SECS";
const SEED_VAR: &str = "PTHREAD_SYNC_SOAK_SEED";
const PARTS_VAR: &str = "PTHREAD_SYNC_SOAK_PARTS";
const ALLOW_VAR: &str = "PTHREAD_SYNC_SOAK_ALLOW";

/// The parts of the workload (bits of `Soak::parts`).
const LEDGER_PART: u64 = 1;
const RING_PART: u64 = 2;
const PERMIT_PART: u64 = 4;
const PART_NAMES: [(&str, u64); 3] = [
    ("lock", LEDGER_PART),
    ("cond", RING_PART),
    ("sem", PERMIT_PART),
];

/// What a worker is doing (the low 4 bits of `Slot::doing`).
const IDLE: u64 = 0;
const LOCK_LEDGER: u64 = 1;
const UPDATE: u64 = 2;
const COND_WAIT: u64 = 3;
const HANDOFF: u64 = 4;
const NOTIFY: u64 = 5;
const SEM_WAIT: u64 = 6;
const INSIDE: u64 = 7;
const SEM_POST: u64 = 8;
const START: u64 = 9;
const LOCK_MAILBOX: u64 = 10;
const OPS: [&str; 11] = [
    "idle",
    "ledger lock",
    "ledger update",
    "cond wait",
    "hand-off",
    "notify_all",
    "sem wait",
    "inside (permit held)",
    "sem post",
    "start",
    "mailbox lock",
];

/// A worker's semaphore state (`Slot::sem`).
const FREE: u64 = 0;
const WANT: u64 = 1;
const HELD: u64 = 2;
const RELEASING: u64 = 3;
const SEM_STATES: [&str; 4] = ["free", "want", "held", "releasing"];

/// Problems a process records in its slot: up to `HANG_SEM` hangs, then violations.
const HANG_LEDGER: u64 = 1;
const HANG_MAILBOX: u64 = 2;
const STRANDED_LEDGER: u64 = 3;
const STRANDED_MAILBOX: u64 = 4;
const HANG_COND: u64 = 5;
const HANG_SEM: u64 = 6;
const TORN_UNREPORTED: u64 = 7;
const CORRUPT: u64 = 8;
const LOCK_FAILED: u64 = 9;
const CONSISTENT_FAILED: u64 = 10;
const POISONED: u64 = 11;
const WAIT_FAILED: u64 = 12;
const OVER_PERMITS: u64 = 13;
const SEM_FAILED: u64 = 14;
const POST_FAILED: u64 = 15;
const JOURNAL: u64 = 16;
const LOST_UPDATE: u64 = 17;
const PROBLEMS: [&str; 18] = [
    "none",
    "hang: a lock_timeout of the ledger ran out (2 s; the parent's 5 s), the mutex held all along",
    "hang: a lock_timeout of the mailbox ran out (2 s; the parent's 5 s), the mutex held all \
     along",
    "stranded: a 100 ms lock_timeout of the ledger ran out though the mutex was free: a lost \
     wakeup (a woken waiter killed before it took the lock; see tests/soak.rs)",
    "stranded: a 100 ms lock_timeout of the mailbox ran out though the mutex was free: a lost \
     wakeup (a woken waiter killed before it took the lock; see tests/soak.rs)",
    "hang: a condvar wait for its turn ran past the bound (2 s): a lost wakeup",
    "hang: a sem wait_timeout ran out (bound 2 s)",
    "half-done data behind a lock that reported no OwnerDied",
    "data in no state an update or a repair can leave",
    "a lock failed (not TimedOut: NotRecoverable, ...)",
    "make_consistent failed",
    "a lock was poisoned",
    "a condvar wait failed (the guard is gone)",
    "more processes inside than permits",
    "a sem wait failed (not TimedOut)",
    "a sem post failed",
    "a worker's journal entry changed under it",
    "a committed update is missing from the ledger",
];

/// A reading of the ledger or the mailbox.
#[derive(Debug, PartialEq)]
enum State {
    Clean,
    /// What an update interrupted by a kill (or an interrupted repair) leaves.
    HalfDone,
    /// What nothing should leave.
    Corrupt,
}

/// Data whose multi-field updates a kill can interrupt, and their one repair.
trait Journal {
    fn state(&self) -> State;
    /// Makes a half-done state clean (idempotent: an interrupted repair is redone) and counts
    /// the repair.
    fn repair(&self);
    /// Called on every `OwnerDied`, repaired or not, before `make_consistent`.
    fn owner_died(&self) {}
}

fn get(x: &AtomicU64) -> u64 {
    x.load(Relaxed)
}

/// One step of a multi-field update. The data is guarded by the lock, but a kill can stop this
/// process between any two instructions, and the next holder sees exactly the stores made
/// before (an interrupt is precise; the kernel's handling of the death and the robust mutex
/// hand-over order them before the next holder's reads). The compiler fence keeps the compiler
/// from moving this store past the steps that follow, as it could for plain data nobody else
/// may read while the lock is held.
fn step(x: &AtomicU64, v: u64) {
    x.store(v, Relaxed);
    compiler_fence(SeqCst);
}

fn bump(x: &AtomicU64) {
    step(x, get(x).wrapping_add(1));
}

fn count(x: &AtomicU64) {
    x.fetch_add(1, Relaxed);
}

fn sum(xs: &[AtomicU64]) -> u64 {
    xs.iter().map(get).fold(0, u64::wrapping_add)
}

/// `a == b == sum(applied)` between updates.
#[repr(C)]
struct Ledger {
    a: AtomicU64,
    b: AtomicU64,
    /// Per position: its updates that are in `a` (and, once whole, in `b`).
    applied: [AtomicU64; WORKERS],
    /// Half-done updates repaired.
    repairs: AtomicU64,
}
// SAFETY: #[repr(C)], atomics only.
unsafe impl ShmSafe for Ledger {}

impl Journal for Ledger {
    fn state(&self) -> State {
        let (a, b, sum) = (get(&self.a), get(&self.b), sum(&self.applied));
        if a == b && b == sum {
            State::Clean
        } else if a == b.wrapping_add(1) && (sum == b || sum == a) {
            State::HalfDone
        } else {
            State::Corrupt
        }
    }

    fn repair(&self) {
        let sum = sum(&self.applied);
        step(&self.a, sum);
        step(&self.b, sum);
        bump(&self.repairs);
    }
}

/// The ring's ticket: `ticket == sum(passes)` between hand-offs.
#[repr(C)]
struct Mailbox {
    ticket: AtomicU64,
    passes: [AtomicU64; WORKERS],
    /// Half-done hand-offs repaired.
    repairs: AtomicU64,
    /// Non-zero: a holder died, maybe after changing the ticket and before notifying; the
    /// next worker to hold the lock notifies (the parent, which never touches the condvar,
    /// leaves that to a worker).
    renotify: AtomicU64,
}
// SAFETY: #[repr(C)], atomics only.
unsafe impl ShmSafe for Mailbox {}

impl Mailbox {
    fn turn(&self) -> usize {
        (get(&self.ticket) % WORKERS as u64) as usize
    }
}

impl Journal for Mailbox {
    fn state(&self) -> State {
        let (ticket, sum) = (get(&self.ticket), sum(&self.passes));
        if sum == ticket {
            State::Clean
        } else if sum == ticket.wrapping_add(1) {
            State::HalfDone
        } else {
            State::Corrupt
        }
    }

    fn repair(&self) {
        step(&self.ticket, sum(&self.passes));
        bump(&self.repairs);
    }

    fn owner_died(&self) {
        step(&self.renotify, 1);
    }
}

/// A position's record, kept across its incarnations.
#[repr(C)]
struct Slot {
    /// `(ns since the run's base instant) << 4 | op`: one word, so never torn.
    doing: AtomicU64,
    /// `FREE`, `WANT`, `HELD` or `RELEASING`.
    sem: AtomicU64,
    first_problem: AtomicU64,
    hangs: AtomicU64,
    violations: AtomicU64,
    /// Ledger updates this position completed and recorded (after the unlock).
    committed: AtomicU64,
    /// Updates found in the ledger that a killed incarnation had not recorded yet.
    applied_uncommitted: AtomicU64,
    owner_died: AtomicU64,
    repairs: AtomicU64,
    handoffs: AtomicU64,
    sem_entries: AtomicU64,
    /// Lock waits that slept through a free mutex (a slice ran out, then `try_lock` took it).
    stranded: AtomicU64,
}
// SAFETY: #[repr(C)], atomics only.
unsafe impl ShmSafe for Slot {}

impl Slot {
    fn new() -> Slot {
        Slot {
            doing: AtomicU64::new(IDLE),
            sem: AtomicU64::new(FREE),
            first_problem: AtomicU64::new(0),
            hangs: AtomicU64::new(0),
            violations: AtomicU64::new(0),
            committed: AtomicU64::new(0),
            applied_uncommitted: AtomicU64::new(0),
            owner_died: AtomicU64::new(0),
            repairs: AtomicU64::new(0),
            handoffs: AtomicU64::new(0),
            sem_entries: AtomicU64::new(0),
            stranded: AtomicU64::new(0),
        }
    }
}

#[repr(C)]
struct Soak {
    ledger: SharedLocker<Ledger>,
    mailbox: SharedLocker<Mailbox>,
    turn: SharedCond,
    permits: SharedSem,
    /// Bit `p`: position `p` holds a permit.
    inside: AtomicU64,
    max_inside: AtomicU64,
    /// Non-zero while the parent audits the semaphore: no worker starts a semaphore operation.
    gate: AtomicU64,
    stop: AtomicU64,
    parts: AtomicU64,
    /// Non-zero: a stranded lock waiter is counted, not a failure (`ALLOW_VAR`).
    allow_stranded: AtomicU64,
    slots: [Slot; WORKERS + 1],
}
// SAFETY: #[repr(C)]; shared primitives over atomics, and atomics.
unsafe impl ShmSafe for Soak {}

/// xorshift64, seeded through splitmix64.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Rng((z ^ (z >> 31)) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A process's view: the region, its slot, and the run's clock base.
#[derive(Clone, Copy)]
struct Ctx<'a> {
    s: &'a Soak,
    p: usize,
    slot: &'a Slot,
    base: Instant,
}

impl Ctx<'_> {
    fn new(s: &Soak, p: usize, base: Instant) -> Ctx<'_> {
        Ctx {
            s,
            p,
            slot: &s.slots[p],
            base,
        }
    }

    fn doing(&self, op: u64) {
        self.slot.doing.store(nanos(self.base) << 4 | op, Release);
    }

    fn problem(&self, code: u64) {
        let _ = self
            .slot
            .first_problem
            .compare_exchange(0, code, AcqRel, Relaxed);
        count(if code <= HANG_SEM {
            &self.slot.hangs
        } else {
            &self.slot.violations
        });
    }
}

/// Nanoseconds since `base` (`CLOCK_MONOTONIC`, the same in every process).
fn nanos(base: Instant) -> u64 {
    base.elapsed().as_nanos() as u64
}

/// Locks `lock` (bounded), repairing what a dead holder left; `None` (the problem recorded)
/// if it could not.
fn lock_checked<'a, T: Journal>(
    cx: &Ctx<'_>,
    lock: &'a SharedLocker<T>,
    op: u64,
) -> Option<SharedLockerGuard<'a, T>> {
    lock_watched(cx, lock, op, BOUND, || true)
}

/// The parent's lock: it waits longer than the watchdog, and watches the workers between
/// slices, so a worker stuck holding the lock is reported as what it is stuck in. `None`
/// when the watchdog fires (the caller reports it) or the bound passes (recorded).
fn parent_lock<'a, T: Journal>(
    cx: &Ctx<'_>,
    lock: &'a SharedLocker<T>,
    op: u64,
) -> Option<SharedLockerGuard<'a, T>> {
    lock_watched(cx, lock, op, WATCHDOG + BOUND, || {
        watchdog(cx.s, cx.base).is_ok()
    })
}

/// Locks `lock` in slices for at most `bound`, asking `go_on` between slices.
fn lock_watched<'a, T: Journal>(
    cx: &Ctx<'_>,
    lock: &'a SharedLocker<T>,
    op: u64,
    bound: Duration,
    mut go_on: impl FnMut() -> bool,
) -> Option<SharedLockerGuard<'a, T>> {
    cx.doing(op);
    let ledger = op == LOCK_LEDGER;
    let start = Instant::now();
    let got = loop {
        let left = bound.saturating_sub(start.elapsed());
        if left.is_zero() {
            cx.problem(if ledger { HANG_LEDGER } else { HANG_MAILBOX });
            return None;
        }
        match lock.lock_timeout(left.min(SLICE)) {
            Err(SharedLockError::Failed(Error::TimedOut)) => {}
            got => break got,
        }
        // A slice ran out: held all along (wait on), or free while this process slept?
        match lock.try_lock() {
            Err(SharedLockError::Failed(Error::WouldBlock)) if go_on() => {}
            Err(SharedLockError::Failed(Error::WouldBlock)) => return None,
            got => {
                count(&cx.slot.stranded);
                if cx.s.allow_stranded.load(Relaxed) == 0 {
                    cx.problem(if ledger {
                        STRANDED_LEDGER
                    } else {
                        STRANDED_MAILBOX
                    });
                }
                break got;
            }
        }
    };
    match got {
        Ok(g) => {
            match g.state() {
                State::Clean => {}
                State::HalfDone => {
                    cx.problem(TORN_UNREPORTED);
                    g.repair();
                }
                State::Corrupt => cx.problem(CORRUPT),
            }
            Some(g)
        }
        Err(SharedLockError::OwnerDied(died)) => consistent(cx, died),
        Err(SharedLockError::Poisoned(_)) => {
            cx.problem(POISONED);
            None
        }
        Err(SharedLockError::Failed(_)) => {
            cx.problem(LOCK_FAILED);
            None
        }
    }
}

/// Repairs what the dead holder left (if it was half-done) and makes the mutex consistent.
fn consistent<'a, T: Journal>(
    cx: &Ctx<'_>,
    died: OwnerDied<SharedLockerGuard<'a, T>>,
) -> Option<SharedLockerGuard<'a, T>> {
    count(&cx.slot.owner_died);
    died.get_ref().owner_died();
    match died.get_ref().state() {
        State::Clean => {}
        State::HalfDone => {
            died.get_ref().repair();
            count(&cx.slot.repairs);
        }
        State::Corrupt => cx.problem(CORRUPT),
    }
    match died.make_consistent() {
        Ok(g) => Some(g),
        Err(_) => {
            cx.problem(CONSISTENT_FAILED);
            None
        }
    }
}

/// Where kills should land: a spin, a yield or a short sleep, with the ledger locked.
fn window(rng: &mut Rng) {
    match rng.below(16) {
        0 => std::thread::sleep(Duration::from_micros(rng.below(200))),
        1..=3 => std::thread::yield_now(),
        _ => {
            for _ in 0..rng.below(4000) {
                spin_loop();
            }
        }
    }
}

// ---- The worker (a forked child: no allocation, no printing, no unwinding). ----

fn worker(cx: Ctx<'_>, seed: u64) -> i32 {
    let s = cx.s;
    let parts = s.parts.load(Relaxed);
    let mut rng = Rng::new(seed);
    let mut done = 0;
    if parts & LEDGER_PART != 0 {
        match take_over(&cx) {
            Some(d) => done = d,
            None => return park(&cx),
        }
    }
    loop {
        if parts & LEDGER_PART != 0 {
            for _ in 0..=rng.below(3) {
                update(&cx, &mut done, &mut rng);
            }
        }
        if parts & PERMIT_PART != 0 {
            permit(&cx, &mut rng);
        }
        if parts & RING_PART != 0 {
            if !hand_off(&cx) {
                return 0;
            }
        } else if s.stop.load(Acquire) != 0 {
            return 0;
        }
    }
}

/// Sleeps until the run stops (after a problem that leaves nothing to do).
fn park(cx: &Ctx<'_>) -> i32 {
    cx.doing(IDLE);
    while cx.s.stop.load(Acquire) == 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
    1
}

/// A new incarnation takes over its position's journal: what a killed one applied but had not
/// recorded is now committed. Its count of updates.
fn take_over(cx: &Ctx<'_>) -> Option<u64> {
    cx.doing(START);
    let g = lock_checked(cx, &cx.s.ledger, LOCK_LEDGER)?;
    let applied = get(&g.applied[cx.p]);
    let committed = cx.slot.committed.load(Acquire);
    if applied == committed.wrapping_add(1) {
        count(&cx.slot.applied_uncommitted);
    } else if applied < committed {
        cx.problem(LOST_UPDATE);
    } else if applied != committed {
        cx.problem(JOURNAL);
    }
    cx.slot.committed.store(applied, Release);
    drop(g);
    cx.doing(IDLE);
    Some(applied)
}

/// One ledger update: `a += 1`, window, `applied[p] += 1`, `b += 1`; recorded after the unlock.
fn update(cx: &Ctx<'_>, done: &mut u64, rng: &mut Rng) {
    let Some(g) = lock_checked(cx, &cx.s.ledger, LOCK_LEDGER) else {
        return;
    };
    let mine = &g.applied[cx.p];
    if get(mine) != *done {
        cx.problem(JOURNAL);
        *done = get(mine);
    }
    cx.doing(UPDATE);
    bump(&g.a);
    window(rng);
    bump(mine);
    bump(&g.b);
    drop(g);
    *done += 1;
    cx.slot.committed.store(*done, Release);
    cx.doing(IDLE);
}

/// Waits (bounded) for this position's turn, passes the ticket on, notifies everyone. `false`
/// when the run is stopping (seen under the lock at this turn, so every position leaves after
/// its own last turn and none waits for a turn that never comes).
fn hand_off(cx: &Ctx<'_>) -> bool {
    let s = cx.s;
    let Some(mut g) = lock_checked(cx, &s.mailbox, LOCK_MAILBOX) else {
        return true;
    };
    renotify(cx, &g);
    let start = Instant::now();
    cx.doing(COND_WAIT);
    loop {
        let left = BOUND.saturating_sub(start.elapsed());
        match s.turn.wait_timeout_while(g, left, |m| m.turn() != cx.p) {
            Ok((got, waited)) => {
                if waited.timed_out() {
                    cx.problem(HANG_COND);
                    drop(got);
                    cx.doing(IDLE);
                    return true;
                }
                g = got;
                break;
            }
            // The mailbox's holder died while this process waited: repair, wait on.
            Err(SharedLockError::OwnerDied(died)) => match consistent(cx, died.map(|(g, _)| g)) {
                Some(got) => {
                    g = got;
                    renotify(cx, &g);
                    cx.doing(COND_WAIT);
                }
                None => return true,
            },
            Err(SharedLockError::Poisoned(_)) => {
                cx.problem(POISONED);
                return true;
            }
            Err(SharedLockError::Failed(_)) => {
                cx.problem(WAIT_FAILED);
                return true;
            }
        }
    }
    cx.doing(HANDOFF);
    bump(&g.passes[cx.p]);
    bump(&g.ticket);
    let leaving = s.stop.load(Acquire) != 0;
    // Under the lock: a death after the ticket moved and before (or inside) the notify leaves
    // the mutex to the next holder as `OwnerDied`, and that one notifies again (`renotify`).
    // Notified after the unlock, the wakeup would die with this process.
    cx.doing(NOTIFY);
    s.turn.notify_all();
    drop(g);
    count(&cx.slot.handoffs);
    cx.doing(IDLE);
    !leaving
}

/// Notifies again if a holder of the mailbox died (the lock is held: `m` is its data).
fn renotify(cx: &Ctx<'_>, m: &Mailbox) {
    if get(&m.renotify) != 0 {
        cx.doing(NOTIFY);
        cx.s.turn.notify_all();
        step(&m.renotify, 0);
    }
}

/// Takes a permit (bounded), stays inside a moment, gives it back.
fn permit(cx: &Ctx<'_>, rng: &mut Rng) {
    let (s, slot) = (cx.s, cx.slot);
    // Against the parent's audit (Dekker: both sides store, then load, all SeqCst): either
    // this process sees the gate closed, or the parent sees `WANT` and waits for `FREE`.
    slot.sem.store(WANT, SeqCst);
    if s.gate.load(SeqCst) != 0 {
        slot.sem.store(FREE, SeqCst);
        return;
    }
    cx.doing(SEM_WAIT);
    if let Err(e) = s.permits.wait_timeout(BOUND) {
        slot.sem.store(FREE, SeqCst);
        cx.problem(if e == Error::TimedOut {
            HANG_SEM
        } else {
            SEM_FAILED
        });
        cx.doing(IDLE);
        return;
    }
    slot.sem.store(HELD, SeqCst);
    cx.doing(INSIDE);
    let bit = 1u64 << cx.p;
    let before = s.inside.fetch_or(bit, SeqCst);
    let now_inside = u64::from((before | bit).count_ones());
    if before & bit != 0 || now_inside > u64::from(PERMITS) {
        cx.problem(OVER_PERMITS);
    }
    s.max_inside.fetch_max(now_inside, Relaxed);
    for _ in 0..rng.below(2000) {
        spin_loop();
    }
    s.inside.fetch_and(!bit, SeqCst);
    slot.sem.store(RELEASING, SeqCst);
    cx.doing(SEM_POST);
    if s.permits.post().is_err() {
        cx.problem(POST_FAILED);
    }
    slot.sem.store(FREE, SeqCst);
    count(&slot.sem_entries);
    cx.doing(IDLE);
}

// ---- The parent. ----

/// The parent's own figures.
#[derive(Default)]
struct Figures {
    rounds: u64,
    kills: u64,
    kills_by_op: [u64; OPS.len()],
    /// Permits of killed holders (`HELD`) given back.
    reposted: u64,
    /// Killed in `WANT` or `RELEASING`: the audit found the permit taken (given back) or not.
    audit_taken: u64,
    audit_free: u64,
    /// Times a worker was spared (in one operation for longer than `SPARE`), and rounds in
    /// which every worker was.
    spared: u64,
    rounds_without_kill: u64,
    /// Rounds whose checks ran.
    checks: u64,
}

struct Run {
    seed: u64,
    secs: u64,
    parts: u64,
    start: Instant,
}

fn parts_text(parts: u64) -> String {
    PART_NAMES
        .iter()
        .filter(|(_, bit)| parts & bit != 0)
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join("+")
}

fn env_u64(name: &str) -> Option<u64> {
    let text = std::env::var(name).ok()?;
    let t = text.trim();
    let parsed = match t.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => t.parse(),
    };
    Some(parsed.unwrap_or_else(|_| panic!("{name}={text}: not a number")))
}

fn env_parts() -> u64 {
    let Ok(text) = std::env::var(PARTS_VAR) else {
        return LEDGER_PART | RING_PART | PERMIT_PART;
    };
    let mut parts = 0;
    for word in text.split(',').map(str::trim).filter(|w| !w.is_empty()) {
        match PART_NAMES.iter().find(|(name, _)| *name == word) {
            Some((_, bit)) => parts |= bit,
            None => panic!("{PARTS_VAR}: unknown part {word:?} (lock, cond, sem)"),
        }
    }
    assert!(parts != 0, "{PARTS_VAR}: no part");
    parts
}

fn spawn(s: &Soak, p: usize, seed: u64, base: Instant) -> Child {
    fork_child(move || worker(Ctx::new(s, p, base), seed))
}

/// How a wait status reads.
fn status_text(status: libc::c_int) -> String {
    if libc::WIFEXITED(status) {
        format!("exit code {}", libc::WEXITSTATUS(status))
    } else if libc::WIFSIGNALED(status) {
        format!("signal {}", libc::WTERMSIG(status))
    } else {
        format!("status {status:#x}")
    }
}

/// Any operation of a live worker in progress past the watchdog.
fn watchdog(s: &Soak, base: Instant) -> Result<(), String> {
    let now = nanos(base);
    let mut stuck = Vec::new();
    for (p, slot) in s.slots[..WORKERS].iter().enumerate() {
        let d = slot.doing.load(Acquire);
        let (op, since) = (d & 15, d >> 4);
        let age = Duration::from_nanos(now.saturating_sub(since));
        if op != IDLE && age > WATCHDOG {
            stuck.push(format!(
                "hang: worker {p} stuck in {} for {:.1} s (watchdog {} s)",
                OPS[op as usize],
                age.as_secs_f64(),
                WATCHDOG.as_secs()
            ));
        }
    }
    if stuck.is_empty() {
        Ok(())
    } else {
        Err(stuck.join("; "))
    }
}

/// Why the parent could not lock `what`, with what every process recorded.
fn parent_lock_failed(cx: &Ctx<'_>, what: &str) -> String {
    let found: Vec<String> = [watchdog(cx.s, cx.base), recorded_problems(cx.s)]
        .into_iter()
        .filter_map(Result::err)
        .collect();
    format!("the parent could not lock the {what}: {}", found.join("; "))
}

/// Every problem a process recorded, or `Ok`.
fn recorded_problems(s: &Soak) -> Result<(), String> {
    let mut text = String::new();
    for (p, slot) in s.slots.iter().enumerate() {
        let (hangs, violations) = (get(&slot.hangs), get(&slot.violations));
        if hangs + violations > 0 {
            let who = if p == PARENT {
                "parent".to_string()
            } else {
                format!("worker {p}")
            };
            let first = PROBLEMS[get(&slot.first_problem) as usize];
            text += &format!("{who}: {hangs} hangs, {violations} violations, first: {first}; ");
        }
    }
    if text.is_empty() {
        Ok(())
    } else {
        Err(text)
    }
}

/// The checks of every round: workers alive, nothing stuck or recorded, the ledger and the
/// mailbox whole, every committed update in the ledger.
fn check_round(
    cx: &Ctx<'_>,
    children: &mut [Option<Child>],
    figures: &mut Figures,
) -> Result<(), String> {
    let s = cx.s;
    for (p, child) in children.iter_mut().enumerate() {
        if let Some(status) = child.as_mut().and_then(Child::try_wait) {
            return Err(format!(
                "worker {p} ended on its own: {}",
                status_text(status)
            ));
        }
    }
    let found: Vec<String> = [watchdog(s, cx.base), recorded_problems(s)]
        .into_iter()
        .filter_map(Result::err)
        .collect();
    if !found.is_empty() {
        return Err(found.join("; "));
    }
    figures.checks += 1;
    if s.parts.load(Relaxed) & LEDGER_PART != 0 {
        let g = parent_lock(cx, &s.ledger, LOCK_LEDGER)
            .ok_or_else(|| parent_lock_failed(cx, "ledger"))?;
        for p in 0..WORKERS {
            let applied = get(&g.applied[p]);
            let committed = s.slots[p].committed.load(Acquire);
            if committed > applied {
                return Err(format!(
                    "lost updates: worker {p} committed {committed}, the ledger has {applied}"
                ));
            }
            if applied - committed > 1 {
                return Err(format!(
                    "worker {p}: {applied} applied but only {committed} committed"
                ));
            }
        }
        let (a, b, total) = (get(&g.a), get(&g.b), sum(&g.applied));
        if a != b || b != total {
            return Err(format!("ledger: a = {a}, b = {b}, sum(applied) = {total}"));
        }
    }
    if s.parts.load(Relaxed) & RING_PART != 0 {
        let g = parent_lock(cx, &s.mailbox, LOCK_MAILBOX)
            .ok_or_else(|| parent_lock_failed(cx, "mailbox"))?;
        if g.state() != State::Clean {
            return Err("mailbox: ticket != sum(passes)".into());
        }
    }
    recorded_problems(s)
}

/// After worker `dead` was killed and reaped: its permit accounted for, its slot reset.
fn after_kill(cx: &Ctx<'_>, dead: usize, figures: &mut Figures) -> Result<(), String> {
    let s = cx.s;
    let slot = &s.slots[dead];
    let state = slot.sem.load(SeqCst);
    let bit = 1u64 << dead;
    if s.inside.load(SeqCst) & bit != 0 {
        if state != HELD {
            return Err(format!(
                "worker {dead} was inside in sem state {}",
                SEM_STATES[state as usize]
            ));
        }
        // Out before its permit is given back, so `inside` never counts it twice.
        s.inside.fetch_and(!bit, SeqCst);
    }
    if s.parts.load(Relaxed) & PERMIT_PART != 0 {
        if state == HELD {
            s.permits.post().map_err(|e| format!("re-post: {e}"))?;
            figures.reposted += 1;
        }
        // The audit: no live worker in the semaphore, so its value is exact.
        s.gate.store(1, SeqCst);
        let start = Instant::now();
        for (p, other) in s.slots[..WORKERS].iter().enumerate() {
            while p != dead && other.sem.load(SeqCst) != FREE {
                if start.elapsed() > WATCHDOG {
                    return Err(format!(
                        "sem audit: worker {p} still in sem state {} after {} s",
                        SEM_STATES[other.sem.load(SeqCst) as usize],
                        WATCHDOG.as_secs()
                    ));
                }
                std::thread::yield_now();
            }
        }
        let value = s.permits.value();
        let ambiguous = state == WANT || state == RELEASING;
        if value == PERMITS {
            figures.audit_free += u64::from(ambiguous);
        } else if value == PERMITS - 1 && ambiguous {
            s.permits.post().map_err(|e| format!("re-post: {e}"))?;
            figures.audit_taken += 1;
        } else {
            return Err(format!(
                "permits: {value} free of {PERMITS} with every worker out, after killing one in \
                 sem state {}",
                SEM_STATES[state as usize]
            ));
        }
        let inside = s.inside.load(SeqCst);
        if inside != 0 {
            return Err(format!(
                "inside = {inside:#b} with every worker out of the semaphore"
            ));
        }
        slot.sem.store(FREE, SeqCst);
        s.gate.store(0, SeqCst);
    }
    slot.doing.store(IDLE, Release);
    Ok(())
}

/// What each worker is doing, and since when.
fn snapshot(s: &Soak, base: Instant, children: &[Option<Child>]) -> String {
    let now = nanos(base);
    let workers: Vec<String> = s.slots[..WORKERS]
        .iter()
        .enumerate()
        .map(|(p, slot)| {
            let d = slot.doing.load(Acquire);
            let age = Duration::from_nanos(now.saturating_sub(d >> 4));
            let blocked = match &children[p] {
                Some(child) => blocked_in(s, child.pid()),
                None => "gone".into(),
            };
            format!(
                "worker {p} {} for {:.3} s (sem {}; {blocked})",
                OPS[(d & 15) as usize],
                age.as_secs_f64(),
                SEM_STATES[slot.sem.load(Acquire) as usize]
            )
        })
        .collect();
    workers.join("; ")
}

/// Where a process sleeps, from `/proc/PID/syscall`: in `futex` on which of the region's
/// objects (the children map the region where this process does), or elsewhere.
fn blocked_in(s: &Soak, pid: libc::pid_t) -> String {
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/syscall")) else {
        return "no /proc/PID/syscall".into();
    };
    let mut words = text.split_whitespace();
    let number = words.next().and_then(|w| w.parse::<libc::c_long>().ok());
    let arg0 = words
        .next()
        .and_then(|w| usize::from_str_radix(w.trim_start_matches("0x"), 16).ok());
    match (number, arg0) {
        (Some(n), Some(addr)) if n == libc::SYS_futex => {
            let within = |start: usize, len: usize| (start..start + len).contains(&addr);
            let objects = [
                ("the ledger's mutex", addr_of(&s.ledger)),
                ("the mailbox's mutex", addr_of(&s.mailbox)),
                ("the condvar", addr_of(&s.turn)),
                ("the semaphore", addr_of(&s.permits)),
            ];
            match objects
                .iter()
                .find(|(_, (start, len))| within(*start, *len))
            {
                Some((name, (start, _))) => format!("in futex on {name} (+{})", addr - start),
                None => format!("in futex at {addr:#x}, outside the region's primitives"),
            }
        }
        (Some(n), _) => format!("in syscall {n}"),
        _ => text.trim().to_string(),
    }
}

fn addr_of<T>(x: &T) -> (usize, usize) {
    (x as *const T as usize, std::mem::size_of::<T>())
}

/// The worker to kill, at random among those not in one operation for longer than `SPARE`;
/// `None` if every worker is.
fn victim(s: &Soak, base: Instant, rng: &mut Rng, figures: &mut Figures) -> Option<usize> {
    let now = nanos(base);
    let mut candidates = [0; WORKERS];
    let mut n = 0;
    for (p, slot) in s.slots[..WORKERS].iter().enumerate() {
        let d = slot.doing.load(Acquire);
        if d & 15 == IDLE || Duration::from_nanos(now.saturating_sub(d >> 4)) < SPARE {
            candidates[n] = p;
            n += 1;
        } else {
            figures.spared += 1;
        }
    }
    if n == 0 {
        figures.rounds_without_kill += 1;
        return None;
    }
    Some(candidates[rng.below(n as u64) as usize])
}

/// Stops the workers (each leaves after its own turn) and checks they all exit with 0.
fn stop(cx: &Ctx<'_>, children: &mut [Option<Child>]) -> Result<(), String> {
    cx.s.stop.store(1, SeqCst);
    let start = Instant::now();
    for (p, child) in children.iter_mut().enumerate() {
        let Some(c) = child.as_mut() else { continue };
        loop {
            if let Some(status) = c.try_wait() {
                *child = None;
                if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
                    return Err(format!("worker {p} at the stop: {}", status_text(status)));
                }
                break;
            }
            watchdog(cx.s, cx.base)?;
            if start.elapsed() > Duration::from_secs(10) {
                return Err(format!("worker {p} did not stop within 10 s"));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    Ok(())
}

/// The exact totals once every worker has exited.
fn final_checks(cx: &Ctx<'_>) -> Result<(), String> {
    let s = cx.s;
    recorded_problems(s)?;
    let g =
        parent_lock(cx, &s.ledger, LOCK_LEDGER).ok_or_else(|| parent_lock_failed(cx, "ledger"))?;
    let (a, b, total) = (get(&g.a), get(&g.b), sum(&g.applied));
    let committed: u64 = s.slots[..WORKERS].iter().map(|x| get(&x.committed)).sum();
    if !(a == b && b == total && total == committed) {
        return Err(format!(
            "final ledger: a = {a}, b = {b}, sum(applied) = {total}, sum(committed) = {committed}"
        ));
    }
    drop(g);
    let g = parent_lock(cx, &s.mailbox, LOCK_MAILBOX)
        .ok_or_else(|| parent_lock_failed(cx, "mailbox"))?;
    if g.state() != State::Clean {
        return Err("final mailbox: ticket != sum(passes)".into());
    }
    drop(g);
    let value = s.permits.value();
    if value != PERMITS || s.inside.load(SeqCst) != 0 {
        return Err(format!(
            "final semaphore: {value} of {PERMITS} permits, inside = {:#b}",
            s.inside.load(SeqCst)
        ));
    }
    recorded_problems(s)
}

/// The figures of the run so far.
fn report(cx: &Ctx<'_>, run: &Run, f: &Figures) {
    let s = cx.s;
    let workers = &s.slots[..WORKERS];
    let total =
        |field: fn(&Slot) -> &AtomicU64| -> u64 { s.slots.iter().map(|x| get(field(x))).sum() };
    println!(
        "soak: seed {:#x}, {:.1} s of {} s, parts {}, {WORKERS} workers, {PERMITS} permits, \
         bound {} s, watchdog {} s",
        run.seed,
        run.start.elapsed().as_secs_f64(),
        run.secs,
        parts_text(run.parts),
        BOUND.as_secs(),
        WATCHDOG.as_secs()
    );
    let by_op: Vec<String> = OPS
        .iter()
        .zip(f.kills_by_op)
        .filter(|(_, n)| *n > 0)
        .map(|(op, n)| format!("{op} {n}"))
        .collect();
    println!(
        "soak: kills {} in {} rounds ({} checks); killed while: {}",
        f.kills,
        f.rounds,
        f.checks,
        by_op.join(", ")
    );
    println!(
        "soak: spared {} times (in one operation for over {} ms), {} rounds without a kill",
        f.spared,
        SPARE.as_millis(),
        f.rounds_without_kill
    );
    // Every worker is gone: the parent locks as any process would (repairing if it must).
    let committed: u64 = workers.iter().map(|x| get(&x.committed)).sum();
    let mut lost = 0;
    match lock_checked(cx, &s.ledger, LOCK_LEDGER) {
        Some(g) => {
            lost = (0..WORKERS)
                .map(|p| get(&workers[p].committed).saturating_sub(get(&g.applied[p])))
                .sum();
            println!(
                "soak: updates committed {committed} (ledger a = {}, b = {}; {} of them in the \
                 ledger from workers killed before recording them); half-done updates repaired \
                 {}",
                get(&g.a),
                get(&g.b),
                total(|x| &x.applied_uncommitted),
                get(&g.repairs)
            );
        }
        None => println!("soak: updates committed {committed} (ledger not readable)"),
    }
    let ring = run.parts & RING_PART != 0;
    if let Some(g) = lock_checked(cx, &s.mailbox, LOCK_MAILBOX).filter(|_| ring) {
        println!(
            "soak: hand-offs {} (ticket), half-done hand-offs repaired {}",
            get(&g.ticket),
            get(&g.repairs)
        );
    }
    println!(
        "soak: owner died seen {} (by the parent {}), repairs seen {} (by the parent {})",
        total(|x| &x.owner_died),
        get(&s.slots[PARENT].owner_died),
        total(|x| &x.repairs),
        get(&s.slots[PARENT].repairs),
    );
    if run.parts & PERMIT_PART != 0 {
        println!(
            "soak: permits taken {} (max inside {} of {PERMITS}); killed holders' permits \
             re-posted {}; killed mid-wait/mid-post: audit found the permit taken {} \
             (re-posted), free {}",
            total(|x| &x.sem_entries),
            get(&s.max_inside),
            f.reposted,
            f.audit_taken,
            f.audit_free
        );
    }
    let allowed = if get(&s.allow_stranded) != 0 {
        format!(", allowed by {ALLOW_VAR}=stranded")
    } else {
        String::new()
    };
    println!(
        "soak: stranded lock waiters {} (slept through a free mutex{allowed})",
        total(|x| &x.stranded)
    );
    println!(
        "soak: hangs {}, lost updates {lost}, violations {}",
        total(|x| &x.hangs),
        total(|x| &x.violations)
    );
}

/// The soak: see the module docs.
fn kill_workers_at_random_and_check_every_round() -> Outcome {
    let secs = env_u64(SECS_VAR).unwrap_or(DEFAULT_SECS);
    let seed = env_u64(SEED_VAR).unwrap_or_else(|| {
        let t = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        t ^ u64::from(std::process::id()) << 32
    });
    let parts = env_parts();
    let allow_stranded = match std::env::var(ALLOW_VAR) {
        Ok(v) if v == "stranded" => true,
        Ok(v) => panic!("{ALLOW_VAR}={v}: only `stranded` can be allowed"),
        Err(_) => false,
    };
    let run = Run {
        seed,
        secs,
        parts,
        start: Instant::now(),
    };
    println!(
        "soak: seed {seed:#x} (replay: {SEED_VAR}={seed:#x}), {secs} s ({SECS_VAR}), parts {} \
         ({PARTS_VAR}){}",
        parts_text(parts),
        if allow_stranded {
            ", stranded lock waiters allowed"
        } else {
            ""
        }
    );
    let region = ShmBox::anonymous(Soak {
        ledger: SharedLocker::new(Ledger {
            a: AtomicU64::new(0),
            b: AtomicU64::new(0),
            applied: std::array::from_fn(|_| AtomicU64::new(0)),
            repairs: AtomicU64::new(0),
        }),
        mailbox: SharedLocker::new(Mailbox {
            ticket: AtomicU64::new(0),
            passes: std::array::from_fn(|_| AtomicU64::new(0)),
            repairs: AtomicU64::new(0),
            renotify: AtomicU64::new(0),
        }),
        turn: SharedCond::new(),
        permits: SharedSem::new(PERMITS).unwrap(),
        inside: AtomicU64::new(0),
        max_inside: AtomicU64::new(0),
        gate: AtomicU64::new(0),
        stop: AtomicU64::new(0),
        parts: AtomicU64::new(parts),
        allow_stranded: AtomicU64::new(u64::from(allow_stranded)),
        slots: std::array::from_fn(|_| Slot::new()),
    })
    .unwrap();
    let s = &*region;
    let base = Instant::now();
    let cx = Ctx::new(s, PARENT, base);
    let mut rng = Rng::new(seed);
    let mut incarnation = 0u64;
    let mut next_seed = |rng: &mut Rng| {
        incarnation += 1;
        rng.next() ^ incarnation
    };
    let mut children: Vec<Option<Child>> = (0..WORKERS)
        .map(|p| Some(spawn(s, p, next_seed(&mut rng), base)))
        .collect();
    let mut figures = Figures::default();
    let end = Instant::now() + Duration::from_secs(secs);
    let result = (|| {
        while Instant::now() < end {
            figures.rounds += 1;
            std::thread::sleep(Duration::from_micros(rng.below(4000)));
            check_round(&cx, &mut children, &mut figures)?;
            std::thread::sleep(Duration::from_micros(rng.below(3000)));
            let Some(dead) = victim(s, base, &mut rng, &mut figures) else {
                continue;
            };
            children[dead].take().unwrap().kill_and_reap();
            figures.kills += 1;
            let op = (s.slots[dead].doing.load(Acquire) & 15) as usize;
            figures.kills_by_op[op.min(OPS.len() - 1)] += 1;
            after_kill(&cx, dead, &mut figures)?;
            children[dead] = Some(spawn(s, dead, next_seed(&mut rng), base));
        }
        check_round(&cx, &mut children, &mut figures)?;
        stop(&cx, &mut children)?;
        final_checks(&cx)
    })();
    // What each worker was doing when the run ended (on a failure, some may be stuck), then
    // every worker killed and reaped before the figures are read.
    let last = snapshot(s, base, &children);
    drop(children);
    report(&cx, &run, &figures);
    if let Err(why) = result {
        println!("soak: at the failure: {last}");
        panic!("soak failed (seed {seed:#x}; replay with {SEED_VAR}={seed:#x}): {why}");
    }
    Passed
}

fn main() {
    let cases: &[Case] = &[(
        "kill_workers_at_random_and_check_every_round",
        kill_workers_at_random_and_check_every_round,
    )];
    support::run(cases);
}
