//! Fault-injection soak: worker processes that share one anonymous region are `SIGKILL`ed at
//! random moments, again and again, while they run a mixed workload on every shared primitive;
//! after every round the parent checks what users of shared memory fear.
//!
//! ```sh
//! cargo test --release --test soak                              # 20 s
//! PTHREAD_SYNC_SOAK_SECS=120 cargo test --release --test soak   # longer
//! PTHREAD_SYNC_SOAK_SEED=0x1234 ...                             # replay a seed's choices
//! PTHREAD_SYNC_SOAK_PARTS=lock,sem ...      # a subset: lock, cond, sem, rw, barrier
//! PTHREAD_SYNC_SOAK_ALLOW=stranded ...                          # count stranded lock waiters
//! ```
//!
//! The run is three **phases**, one after the other, each with its own workers and its own
//! share of the time (`PHASES`): the mixed workload (`lock`, `cond`, `sem`) half of it, the
//! reader-writer lock (`rw`) and the barrier (`barrier`) a quarter each. A subset of the parts
//! runs only the phases that have some, sharing the whole time. Each phase prints its figures:
//! kills by what the victim was doing, and what the survivors met.
//!
//! `WORKERS` (3) processes share a region made with `ShmBox::anonymous` before they are forked.
//! In the mixed phase each loops over three parts:
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
//! The reader-writer phase (`SharedRwLock<Ledger>`, the ledger's invariant and journal): each
//! worker reads 1 to 5 times (under the read lock it checks `a == b == sum(applied)`, then
//! holds it through a window where kills land, and checks that nothing changed: a writer
//! overlapping a reader is a violation) for every update (under the write lock, the ledger's
//! update with its window). Readers are killed holding a read (their slot is reclaimed,
//! silently: the next writer must get in within the bound, every wait being a
//! `read_timeout`/`write_timeout` of `BOUND`), waiting for one, and writers killed waiting,
//! draining, or mid-update: the next locker, a reader or a writer, must get `OwnerDied` with a
//! write guard, repair and `make_consistent` (a reader then downgrades). The journal makes
//! the count exact: a replacement takes over its position's updates, and at the end
//! `a == b == sum(applied) == sum(committed)`. The parent reads the table every round.
//!
//! The barrier phase (`SharedBarrier<WORKERS>`, one seat per worker): members wait round after
//! round; before each wait a member counts its arrival for the round, after it checks that all
//! `WORKERS` arrived before it left, and the leader counts itself (two leaders in a round is a
//! violation). A member is killed in a wait or between rounds (only once it holds its seat: a
//! worker still joining holds none, and its round would wait for the replacement instead of
//! breaking). Every survivor must then return `BarrierBroken(MemberDied { seat, pid })` naming
//! it within `BOUND` (the latency is measured from the kill); the parent checks the epoch's
//! rounds exactly (every round one leader and every arrival, but the victim's last, which it
//! may not have recorded); a survivor chosen at random calls `reset`; a replacement joins the
//! freed seat; the survivors go on in a new epoch. A break with no kill is a violation.
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
    BreakCause, Error, OwnerDied, SharedBarrier, SharedCond, SharedLockError, SharedLockResult,
    SharedLocker, SharedLockerGuard, SharedRwLock, SharedRwLockReadGuard, SharedRwLockWriteGuard,
    SharedSem,
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
/// The barrier rounds of one epoch whose arrivals and leaders are checked (epochs last a
/// few milliseconds: a few hundred rounds).
const ROUND_RING: usize = 1 << 14;
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
const RW_PART: u64 = 8;
const BARRIER_PART: u64 = 16;
const PART_NAMES: [(&str, u64); 5] = [
    ("lock", LEDGER_PART),
    ("cond", RING_PART),
    ("sem", PERMIT_PART),
    ("rw", RW_PART),
    ("barrier", BARRIER_PART),
];
/// The phases, one after the other, each with its own workers (the parts of one phase run
/// together in every worker's loop), and each phase's share of the run's time: the mixed
/// workload half of it, the reader-writer lock and the barrier a quarter each.
const PHASES: [(&str, u64, u64); 3] = [
    ("mixed", LEDGER_PART | RING_PART | PERMIT_PART, 2),
    ("rwlock", RW_PART, 1),
    ("barrier", BARRIER_PART, 1),
];

/// What a worker is doing (the low `OP_BITS` bits of `Slot::doing`).
const OP_BITS: u32 = 5;
const OP_MASK: u64 = (1 << OP_BITS) - 1;
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
const RW_READ_WAIT: u64 = 11;
const RW_READING: u64 = 12;
const RW_WRITE_WAIT: u64 = 13;
const RW_UPDATE: u64 = 14;
const JOIN: u64 = 15;
const BARRIER_WAIT: u64 = 16;
const BARRIER_RECORD: u64 = 17;
const BARRIER_GO: u64 = 18;
const BARRIER_RESET: u64 = 19;
const OPS: [&str; 20] = [
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
    "rw read wait",
    "rw reading (read held)",
    "rw write wait (writer mutex, drain)",
    "rw update (write held)",
    "barrier join",
    "barrier wait",
    "barrier, between rounds",
    "barrier, broken: waiting for the reset",
    "barrier reset",
];

/// A worker's semaphore state (`Slot::sem`).
const FREE: u64 = 0;
const WANT: u64 = 1;
const HELD: u64 = 2;
const RELEASING: u64 = 3;
const SEM_STATES: [&str; 4] = ["free", "want", "held", "releasing"];

/// Problems a process records in its slot: hangs (`is_hang`) and violations.
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
const HANG_RW_READ: u64 = 18;
const HANG_RW_WRITE: u64 = 19;
const HANG_BARRIER: u64 = 20;
const RW_OVERLAP: u64 = 21;
const BARRIER_EARLY: u64 = 22;
const TWO_LEADERS: u64 = 23;
const BARRIER_FAILED: u64 = 24;
const PROBLEMS: [&str; 25] = [
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
    "hang: a read_timeout of the SharedRwLock ran out (2 s)",
    "hang: a write_timeout of the SharedRwLock ran out (2 s): a dead reader's hold not \
     reclaimed?",
    "hang: a barrier wait_timeout ran out (2 s) with no break",
    "the data changed under a read guard (a writer overlapped a reader)",
    "a member left a barrier round before every member had arrived",
    "two leaders in one barrier round",
    "a barrier join or wait failed (not a break, not a timeout)",
];

/// Whether a problem is a hang (else a violation).
fn is_hang(code: u64) -> bool {
    code <= HANG_SEM || (HANG_RW_READ..=HANG_BARRIER).contains(&code)
}

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
    /// `(ns since the run's base instant) << OP_BITS | op`: one word, so never torn.
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
    /// The reader-writer lock's journal, as `committed` and `applied_uncommitted` are the
    /// ledger's.
    rw_committed: AtomicU64,
    rw_applied_uncommitted: AtomicU64,
    rw_reads: AtomicU64,
    rw_writes: AtomicU64,
    /// `OwnerDied` met by a read and by a write, and half-done updates repaired.
    rw_owner_died_read: AtomicU64,
    rw_owner_died_write: AtomicU64,
    rw_repairs: AtomicU64,
    /// The longest wait for a read hold and for the write hold (ns).
    rw_read_wait_max: AtomicU64,
    rw_write_wait_max: AtomicU64,
    /// Barrier: 1 once this incarnation holds a seat (`seat`).
    member: AtomicU64,
    seat: AtomicU64,
    /// The barrier epoch (the number of breaks handled when it began) this incarnation's
    /// `rounds_in_epoch` count in, and the rounds it completed and recorded there.
    epoch: AtomicU64,
    rounds_in_epoch: AtomicU64,
    rounds: AtomicU64,
    leads: AtomicU64,
    /// The break this member reported (`breaks + 1` when it saw it; 0: none), when (ns since
    /// the base), and its cause: kind (1 died, 2 panicked, 3 aborted, 4 reset, 5 other),
    /// seat, pid.
    broke: AtomicU64,
    broke_at: AtomicU64,
    cause: [AtomicU64; 3],
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
            rw_committed: AtomicU64::new(0),
            rw_applied_uncommitted: AtomicU64::new(0),
            rw_reads: AtomicU64::new(0),
            rw_writes: AtomicU64::new(0),
            rw_owner_died_read: AtomicU64::new(0),
            rw_owner_died_write: AtomicU64::new(0),
            rw_repairs: AtomicU64::new(0),
            rw_read_wait_max: AtomicU64::new(0),
            rw_write_wait_max: AtomicU64::new(0),
            member: AtomicU64::new(0),
            seat: AtomicU64::new(0),
            epoch: AtomicU64::new(0),
            rounds_in_epoch: AtomicU64::new(0),
            rounds: AtomicU64::new(0),
            leads: AtomicU64::new(0),
            broke: AtomicU64::new(0),
            broke_at: AtomicU64::new(0),
            cause: std::array::from_fn(|_| AtomicU64::new(0)),
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
    /// The reader-writer phase: a ledger (the same invariant and journal) behind a
    /// `SharedRwLock`; readers check it, writers update it.
    table: SharedRwLock<Ledger>,
    /// The barrier phase: one seat per worker.
    barrier: SharedBarrier<WORKERS>,
    /// Per round of the current barrier epoch (`r % ROUND_RING`, for `r < ROUND_RING`):
    /// arrivals counted before the wait, leaders after it.
    arrivals: [AtomicU64; ROUND_RING],
    led: [AtomicU64; ROUND_RING],
    /// Barrier breaks handled (each begins a new epoch); the survivor asked to reset after
    /// the last one, and the break whose reset is asked for and done; `go`: the epoch
    /// survivors may go on in (set after the reset).
    breaks: AtomicU64,
    resetter: AtomicU64,
    reset_asked: AtomicU64,
    reset_done: AtomicU64,
    go: AtomicU64,
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
        self.slot
            .doing
            .store(nanos(self.base) << OP_BITS | op, Release);
    }

    fn problem(&self, code: u64) {
        let _ = self
            .slot
            .first_problem
            .compare_exchange(0, code, AcqRel, Relaxed);
        count(if is_hang(code) {
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
    if parts & BARRIER_PART != 0 {
        return barrier_worker(&cx, &mut rng);
    }
    if parts & RW_PART != 0 {
        return rw_worker(&cx, &mut rng);
    }
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
    journaled_update(cx, &g, done, rng, UPDATE);
    drop(g);
    *done += 1;
    cx.slot.committed.store(*done, Release);
    cx.doing(IDLE);
}

/// The update itself, under whichever lock excludes the others (a locker, or the table's
/// write lock): the journal checked against what this worker committed, then `a += 1`,
/// window, `applied[p] += 1`, `b += 1`, with `doing` set to `phase` while it runs.
fn journaled_update(cx: &Ctx<'_>, ledger: &Ledger, done: &mut u64, rng: &mut Rng, phase: u64) {
    let mine = &ledger.applied[cx.p];
    if get(mine) != *done {
        cx.problem(JOURNAL);
        *done = get(mine);
    }
    cx.doing(phase);
    bump(&ledger.a);
    window(rng);
    bump(mine);
    bump(&ledger.b);
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

// ---- The reader-writer lock phase (workers and parent). ----

/// A worker of the reader-writer phase: takes over its journal, then reads (checking the
/// ledger under the read lock) a few times for every update.
fn rw_worker(cx: &Ctx<'_>, rng: &mut Rng) -> i32 {
    let Some(mut done) = rw_take_over(cx) else {
        return park(cx);
    };
    loop {
        for _ in 0..=rng.below(4) {
            rw_read(cx, rng);
        }
        rw_update(cx, &mut done, rng);
        if cx.s.stop.load(Acquire) != 0 {
            return 0;
        }
    }
}

/// As `take_over`, for the reader-writer lock's ledger (under its write lock).
fn rw_take_over(cx: &Ctx<'_>) -> Option<u64> {
    cx.doing(START);
    let g = rw_write(cx)?;
    let applied = get(&g.applied[cx.p]);
    let committed = cx.slot.rw_committed.load(Acquire);
    if applied == committed.wrapping_add(1) {
        count(&cx.slot.rw_applied_uncommitted);
    } else if applied < committed {
        cx.problem(LOST_UPDATE);
    } else if applied != committed {
        cx.problem(JOURNAL);
    }
    cx.slot.rw_committed.store(applied, Release);
    drop(g);
    cx.doing(IDLE);
    Some(applied)
}

/// One read: the ledger whole, and unchanged while the read is held (a window, where kills
/// land).
fn rw_read(cx: &Ctx<'_>, rng: &mut Rng) {
    cx.doing(RW_READ_WAIT);
    let start = Instant::now();
    let result = cx.s.table.read_timeout(BOUND);
    let Some(g) = rw_read_result(cx, result, start) else {
        cx.doing(IDLE);
        return;
    };
    cx.doing(RW_READING);
    let before = (get(&g.a), get(&g.b));
    window(rng);
    if (get(&g.a), get(&g.b)) != before {
        cx.problem(RW_OVERLAP);
    }
    drop(g);
    count(&cx.slot.rw_reads);
    cx.doing(IDLE);
}

/// What a read of the table returned: the read guard, with the ledger checked (a dead
/// writer's half-done update repaired through the write guard `OwnerDied` carries, then
/// downgraded); `None` (the problem recorded) if not acquired.
fn rw_read_result<'a>(
    cx: &Ctx<'_>,
    result: SharedLockResult<SharedRwLockReadGuard<'a, Ledger>, SharedRwLockWriteGuard<'a, Ledger>>,
    start: Instant,
) -> Option<SharedRwLockReadGuard<'a, Ledger>> {
    cx.slot
        .rw_read_wait_max
        .fetch_max(start.elapsed().as_nanos() as u64, Relaxed);
    match result {
        Ok(g) => {
            match g.state() {
                State::Clean => {}
                // A read cannot repair: recorded, the next writer repairs.
                State::HalfDone => cx.problem(TORN_UNREPORTED),
                State::Corrupt => cx.problem(CORRUPT),
            }
            Some(g)
        }
        Err(SharedLockError::OwnerDied(died)) => {
            count(&cx.slot.rw_owner_died_read);
            rw_consistent(cx, died).map(SharedRwLockWriteGuard::downgrade)
        }
        Err(SharedLockError::Poisoned(_)) => {
            cx.problem(POISONED);
            None
        }
        Err(SharedLockError::Failed(Error::TimedOut)) => {
            cx.problem(HANG_RW_READ);
            None
        }
        Err(SharedLockError::Failed(_)) => {
            cx.problem(LOCK_FAILED);
            None
        }
    }
}

/// The write hold (bounded), the ledger checked and repaired if a writer died mid-update.
fn rw_write<'a>(cx: &Ctx<'a>) -> Option<SharedRwLockWriteGuard<'a, Ledger>> {
    let start = Instant::now();
    let result = cx.s.table.write_timeout(BOUND);
    cx.slot
        .rw_write_wait_max
        .fetch_max(start.elapsed().as_nanos() as u64, Relaxed);
    match result {
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
        Err(SharedLockError::OwnerDied(died)) => {
            count(&cx.slot.rw_owner_died_write);
            rw_consistent(cx, died)
        }
        Err(SharedLockError::Poisoned(_)) => {
            cx.problem(POISONED);
            None
        }
        Err(SharedLockError::Failed(Error::TimedOut)) => {
            cx.problem(HANG_RW_WRITE);
            None
        }
        Err(SharedLockError::Failed(_)) => {
            cx.problem(LOCK_FAILED);
            None
        }
    }
}

/// Repairs what a dead writer left (if half-done) and makes the lock consistent.
fn rw_consistent<'a>(
    cx: &Ctx<'_>,
    died: OwnerDied<SharedRwLockWriteGuard<'a, Ledger>>,
) -> Option<SharedRwLockWriteGuard<'a, Ledger>> {
    match died.get_ref().state() {
        State::Clean => {}
        State::HalfDone => {
            died.get_ref().repair();
            count(&cx.slot.rw_repairs);
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

/// One update of the table, as a ledger update: `a += 1`, window, `applied[p] += 1`,
/// `b += 1`, under the write lock; recorded after the unlock.
fn rw_update(cx: &Ctx<'_>, done: &mut u64, rng: &mut Rng) {
    cx.doing(RW_WRITE_WAIT);
    let Some(g) = rw_write(cx) else {
        cx.doing(IDLE);
        return;
    };
    journaled_update(cx, &g, done, rng, RW_UPDATE);
    drop(g);
    *done += 1;
    cx.slot.rw_committed.store(*done, Release);
    count(&cx.slot.rw_writes);
    cx.doing(IDLE);
}

/// The parent's read of the table: in slices, watching the workers between them.
fn rw_parent_read<'a>(cx: &Ctx<'a>) -> Option<SharedRwLockReadGuard<'a, Ledger>> {
    cx.doing(RW_READ_WAIT);
    let start = Instant::now();
    loop {
        match cx.s.table.read_timeout(SLICE) {
            Err(SharedLockError::Failed(Error::TimedOut)) if start.elapsed() < WATCHDOG + BOUND => {
                if watchdog(cx.s, cx.base).is_err() {
                    return None;
                }
            }
            result => return rw_read_result(cx, result, start),
        }
    }
}

/// The parent's round check of the table: whole, and every committed update in it.
fn rw_check(cx: &Ctx<'_>) -> Result<(), String> {
    let s = cx.s;
    let g = rw_parent_read(cx).ok_or_else(|| parent_lock_failed(cx, "rw table"))?;
    for p in 0..WORKERS {
        let applied = get(&g.applied[p]);
        let committed = s.slots[p].rw_committed.load(Acquire);
        if committed > applied || applied - committed > 1 {
            return Err(format!(
                "rw table: worker {p} committed {committed}, the table has {applied}"
            ));
        }
    }
    if g.state() != State::Clean {
        return Err("rw table: a != b or b != sum(applied) under a read".into());
    }
    Ok(())
}

// ---- The barrier phase (workers and parent). ----

/// A member of the barrier phase: joins, then waits round after round, checking that every
/// member arrived before it left and that each round has one leader. On a break it records
/// the cause, waits for the reset (making it, if the parent asks it to), and goes on in the
/// new epoch.
fn barrier_worker(cx: &Ctx<'_>, rng: &mut Rng) -> i32 {
    let (s, slot) = (cx.s, cx.slot);
    cx.doing(JOIN);
    let me = match s.barrier.join() {
        Ok(me) => me,
        Err(_) => {
            cx.problem(BARRIER_FAILED);
            return park(cx);
        }
    };
    slot.seat.store(me.seat() as u64, SeqCst);
    slot.epoch.store(s.go.load(SeqCst), SeqCst);
    slot.rounds_in_epoch.store(0, SeqCst);
    slot.member.store(1, SeqCst);
    let mut r = 0usize;
    loop {
        if s.stop.load(Acquire) != 0 {
            return 0;
        }
        if r < ROUND_RING {
            s.arrivals[r].fetch_add(1, SeqCst);
        }
        cx.doing(BARRIER_WAIT);
        let result = me.wait_timeout(BOUND);
        cx.doing(BARRIER_RECORD);
        match result {
            Ok(res) => {
                if r < ROUND_RING {
                    if get(&s.arrivals[r]) != WORKERS as u64 {
                        cx.problem(BARRIER_EARLY);
                    }
                    if res.is_leader() && s.led[r].fetch_add(1, SeqCst) != 0 {
                        cx.problem(TWO_LEADERS);
                    }
                }
                if res.is_leader() {
                    count(&slot.leads);
                }
                r += 1;
                slot.rounds_in_epoch.store(r as u64, SeqCst);
                count(&slot.rounds);
                // Now and then a moment between rounds, so kills land there too.
                if rng.below(8) == 0 {
                    for _ in 0..rng.below(2000) {
                        spin_loop();
                    }
                }
            }
            Err(Error::BarrierBroken(cause)) => {
                if s.stop.load(Acquire) != 0 {
                    return 0;
                }
                let (kind, seat, pid) = match cause {
                    BreakCause::MemberDied { seat, pid } => (1, seat as u64, u64::from(pid)),
                    BreakCause::MemberPanicked { seat, pid } => (2, seat as u64, u64::from(pid)),
                    BreakCause::Aborted => (3, 0, 0),
                    BreakCause::Reset => (4, 0, 0),
                    _ => (5, 0, 0),
                };
                for (field, v) in slot.cause.iter().zip([kind, seat, pid]) {
                    field.store(v, SeqCst);
                }
                slot.broke_at.store(nanos(cx.base), SeqCst);
                let this = s.breaks.load(SeqCst) + 1;
                slot.broke.store(this, SeqCst);
                if !await_reset(cx, this) {
                    return 0;
                }
                r = 0;
                slot.epoch.store(this, SeqCst);
                slot.rounds_in_epoch.store(0, SeqCst);
            }
            Err(Error::TimedOut) => {
                cx.problem(HANG_BARRIER);
                return park(cx);
            }
            Err(_) => {
                cx.problem(BARRIER_FAILED);
                return park(cx);
            }
        }
    }
}

/// After break `this`: waits until the parent lets the epoch after it begin, making the
/// reset if the parent asks this position to. `false` if the run stops meanwhile.
fn await_reset(cx: &Ctx<'_>, this: u64) -> bool {
    let s = cx.s;
    cx.doing(BARRIER_GO);
    loop {
        if s.stop.load(Acquire) != 0 {
            return false;
        }
        if s.reset_asked.load(SeqCst) == this
            && s.resetter.load(SeqCst) == cx.p as u64
            && s.reset_done.load(SeqCst) != this
        {
            cx.doing(BARRIER_RESET);
            s.barrier.reset();
            s.reset_done.store(this, SeqCst);
            cx.doing(BARRIER_GO);
        }
        if s.go.load(SeqCst) >= this {
            return true;
        }
        std::thread::sleep(Duration::from_micros(100));
    }
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
    /// Barrier: per break, how long after the kill the last survivor was released (ns), and
    /// the rounds the epoch it ended had completed.
    break_latency: Vec<u64>,
    epoch_rounds: Vec<u64>,
}

struct Run {
    seed: u64,
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
        return PART_NAMES.iter().fold(0, |all, (_, bit)| all | bit);
    };
    let mut parts = 0;
    for word in text.split(',').map(str::trim).filter(|w| !w.is_empty()) {
        match PART_NAMES.iter().find(|(name, _)| *name == word) {
            Some((_, bit)) => parts |= bit,
            None => panic!("{PARTS_VAR}: unknown part {word:?} (lock, cond, sem, rw, barrier)"),
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
        let (op, since) = (d & OP_MASK, d >> OP_BITS);
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
    if s.parts.load(Relaxed) & RW_PART != 0 {
        rw_check(cx)?;
    }
    if s.parts.load(Relaxed) & BARRIER_PART != 0 {
        // A break comes only from a kill (handled at once): any other is a violation.
        let handled = s.breaks.load(SeqCst);
        for (p, slot) in s.slots[..WORKERS].iter().enumerate() {
            if slot.broke.load(SeqCst) > handled {
                let cause: Vec<u64> = slot.cause.iter().map(get).collect();
                return Err(format!(
                    "barrier member {p} saw a break nobody caused (kind, seat, pid) = {cause:?}"
                ));
            }
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
            let age = Duration::from_nanos(now.saturating_sub(d >> OP_BITS));
            let blocked = match &children[p] {
                Some(child) => blocked_in(s, child.pid()),
                None => "gone".into(),
            };
            format!(
                "worker {p} {} for {:.3} s (sem {}; {blocked})",
                OPS[(d & OP_MASK) as usize],
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
                ("the rw table", addr_of(&s.table)),
                ("the barrier", addr_of(&s.barrier)),
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
    let barrier = s.parts.load(Relaxed) & BARRIER_PART != 0;
    for (p, slot) in s.slots[..WORKERS].iter().enumerate() {
        let d = slot.doing.load(Acquire);
        if barrier && slot.member.load(SeqCst) == 0 {
            // Not joined yet: a kill now would leave no seat to find (the round waits for
            // the replacement instead of breaking).
            figures.spared += 1;
            continue;
        }
        if d & OP_MASK == IDLE || Duration::from_nanos(now.saturating_sub(d >> OP_BITS)) < SPARE {
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

/// Stops the workers (each leaves after its own turn; barrier members are released by an
/// `abort`) and checks they all exit with 0.
fn stop(cx: &Ctx<'_>, children: &mut [Option<Child>]) -> Result<(), String> {
    cx.s.stop.store(1, SeqCst);
    if cx.s.parts.load(Relaxed) & BARRIER_PART != 0 {
        cx.s.barrier.abort();
    }
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

/// The exact totals of a phase once every worker has exited.
fn final_checks(cx: &Ctx<'_>) -> Result<(), String> {
    let s = cx.s;
    let parts = s.parts.load(Relaxed);
    recorded_problems(s)?;
    if parts & LEDGER_PART != 0 {
        let g = parent_lock(cx, &s.ledger, LOCK_LEDGER)
            .ok_or_else(|| parent_lock_failed(cx, "ledger"))?;
        let (a, b, total) = (get(&g.a), get(&g.b), sum(&g.applied));
        let committed: u64 = s.slots[..WORKERS].iter().map(|x| get(&x.committed)).sum();
        if !(a == b && b == total && total == committed) {
            return Err(format!(
                "final ledger: a = {a}, b = {b}, sum(applied) = {total}, sum(committed) = \
                 {committed}"
            ));
        }
    }
    if parts & RING_PART != 0 {
        let g = parent_lock(cx, &s.mailbox, LOCK_MAILBOX)
            .ok_or_else(|| parent_lock_failed(cx, "mailbox"))?;
        if g.state() != State::Clean {
            return Err("final mailbox: ticket != sum(passes)".into());
        }
    }
    if parts & PERMIT_PART != 0 {
        let value = s.permits.value();
        if value != PERMITS || s.inside.load(SeqCst) != 0 {
            return Err(format!(
                "final semaphore: {value} of {PERMITS} permits, inside = {:#b}",
                s.inside.load(SeqCst)
            ));
        }
    }
    if parts & RW_PART != 0 {
        cx.doing(RW_WRITE_WAIT);
        let g = rw_write(cx).ok_or_else(|| parent_lock_failed(cx, "rw table"))?;
        let (a, b, total) = (get(&g.a), get(&g.b), sum(&g.applied));
        let committed: u64 = s.slots[..WORKERS]
            .iter()
            .map(|x| get(&x.rw_committed))
            .sum();
        if !(a == b && b == total && total == committed) {
            return Err(format!(
                "final rw table: a = {a}, b = {b}, sum(applied) = {total}, sum(committed) = \
                 {committed}"
            ));
        }
        drop(g);
        cx.doing(IDLE);
    }
    if parts & BARRIER_PART != 0 {
        // The last epoch: every round but the last two (members may have left one round
        // apart, at the abort) had every arrival and one leader.
        let epoch = s.go.load(SeqCst);
        let done = s.slots[..WORKERS]
            .iter()
            .filter(|x| get(&x.epoch) == epoch)
            .map(|x| get(&x.rounds_in_epoch))
            .min()
            .unwrap_or(0) as usize;
        for r in 0..done.saturating_sub(1).min(ROUND_RING) {
            let (arrived, led) = (get(&s.arrivals[r]), get(&s.led[r]));
            if arrived != WORKERS as u64 || led != 1 {
                return Err(format!(
                    "barrier epoch {epoch}, round {r}: {arrived} arrivals, {led} leaders"
                ));
            }
        }
    }
    recorded_problems(s)
}

/// After barrier member `dead` (process `pid`, killed at `killed_at` ns since the base) was
/// killed and reaped: every survivor must report the break, naming it, within `BOUND`; the
/// rounds of the epoch it ends are checked; a survivor resets; the next epoch may begin.
/// (The caller then forks the replacement, which joins the freed seat.)
fn after_barrier_kill(
    cx: &Ctx<'_>,
    dead: usize,
    pid: libc::pid_t,
    killed_at: u64,
    rng: &mut Rng,
    figures: &mut Figures,
) -> Result<(), String> {
    let s = cx.s;
    let victim = &s.slots[dead];
    victim.member.store(0, SeqCst);
    let this = s.breaks.load(SeqCst) + 1;
    let epoch = s.go.load(SeqCst);
    let seat = victim.seat.load(SeqCst);
    let survivors: Vec<usize> = (0..WORKERS).filter(|&p| p != dead).collect();
    // Every survivor released with the break.
    let start = Instant::now();
    for &p in &survivors {
        while s.slots[p].broke.load(SeqCst) != this {
            if start.elapsed() > BOUND {
                return Err(format!(
                    "hang: barrier member {p} not released within {} s after member {dead} \
                     (seat {seat}, pid {pid}) was killed",
                    BOUND.as_secs()
                ));
            }
            std::thread::sleep(Duration::from_micros(100));
        }
    }
    let mut last = 0;
    for &p in &survivors {
        let slot = &s.slots[p];
        let cause: Vec<u64> = slot.cause.iter().map(get).collect();
        if cause != [1, seat, pid as u64] {
            return Err(format!(
                "barrier member {p} saw the break with cause (kind, seat, pid) = {cause:?}, \
                 not member {dead}'s death (1, {seat}, {pid})"
            ));
        }
        last = last.max(get(&slot.broke_at));
    }
    figures.break_latency.push(last.saturating_sub(killed_at));
    // The epoch's rounds: `rounds` completed by every survivor (they wait in the next).
    let counts: Vec<u64> = survivors
        .iter()
        .map(|&p| get(&s.slots[p].rounds_in_epoch))
        .collect();
    let rounds = counts[0];
    if counts.iter().any(|&c| c != rounds)
        || survivors.iter().any(|&p| get(&s.slots[p].epoch) != epoch)
    {
        return Err(format!(
            "barrier epoch {epoch}: the survivors completed {counts:?} rounds"
        ));
    }
    // The victim completed as many, or was killed before recording the last one.
    let mine = if get(&victim.epoch) == epoch {
        get(&victim.rounds_in_epoch)
    } else {
        0
    };
    let unrecorded = mine + 1 == rounds;
    if !(mine == rounds || unrecorded) {
        return Err(format!(
            "barrier epoch {epoch}: the survivors completed {rounds} rounds, the victim {mine}"
        ));
    }
    let n = WORKERS as u64;
    let r = rounds as usize;
    for i in 0..(r + 1).min(ROUND_RING) {
        let (arrived, led) = (get(&s.arrivals[i]), get(&s.led[i]));
        let ok = if i + 1 < r {
            arrived == n && led == 1
        } else if i + 1 == r {
            // Its leader may be the victim, killed before counting itself.
            arrived == n && (led == 1 || (led == 0 && unrecorded))
        } else {
            // The round broken open: every survivor arrived, the victim perhaps.
            led == 0 && (arrived == n - 1 || (arrived == n && !unrecorded))
        };
        if !ok {
            return Err(format!(
                "barrier epoch {epoch}, round {i} of {r}: {arrived} arrivals, {led} leaders \
                 (the victim recorded {mine} rounds)"
            ));
        }
        s.arrivals[i].store(0, SeqCst);
        s.led[i].store(0, SeqCst);
    }
    figures.epoch_rounds.push(rounds);
    // A survivor resets; the next epoch begins.
    s.breaks.store(this, SeqCst);
    let resetter = survivors[rng.below(survivors.len() as u64) as usize];
    s.resetter.store(resetter as u64, SeqCst);
    s.reset_asked.store(this, SeqCst);
    let start = Instant::now();
    while s.reset_done.load(SeqCst) != this {
        if start.elapsed() > BOUND {
            return Err(format!(
                "barrier member {resetter} did not reset within 2 s"
            ));
        }
        std::thread::sleep(Duration::from_micros(100));
    }
    if s.barrier.is_broken() {
        return Err("the barrier is still broken after the reset".into());
    }
    s.go.store(this, SeqCst);
    victim.doing.store(IDLE, Release);
    Ok(())
}

/// The figures of a phase.
fn report(cx: &Ctx<'_>, run: &Run, phase: &Phase, f: &Figures) {
    let s = cx.s;
    let parts = phase.parts;
    let workers = &s.slots[..WORKERS];
    let total =
        |field: fn(&Slot) -> &AtomicU64| -> u64 { s.slots.iter().map(|x| get(field(x))).sum() };
    println!(
        "soak: phase {} ({}): seed {:#x}, {:.1} s of {:.1} s, {WORKERS} workers, bound {} s, \
         watchdog {} s",
        phase.name,
        parts_text(parts),
        run.seed,
        phase.start.elapsed().as_secs_f64(),
        phase.time.as_secs_f64(),
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
        "soak:   kills {} in {} rounds ({} checks); killed while: {}",
        f.kills,
        f.rounds,
        f.checks,
        by_op.join(", ")
    );
    println!(
        "soak:   spared {} times (in one operation for over {} ms), {} rounds without a kill",
        f.spared,
        SPARE.as_millis(),
        f.rounds_without_kill
    );
    if parts & LEDGER_PART != 0 {
        // Every worker is gone: the parent locks as any process would (repairing if it must).
        let committed: u64 = workers.iter().map(|x| get(&x.committed)).sum();
        match lock_checked(cx, &s.ledger, LOCK_LEDGER) {
            Some(g) => println!(
                "soak:   updates committed {committed} (ledger a = {}, b = {}; {} of them in \
                 the ledger from workers killed before recording them); half-done updates \
                 repaired {}",
                get(&g.a),
                get(&g.b),
                total(|x| &x.applied_uncommitted),
                get(&g.repairs)
            ),
            None => println!("soak:   updates committed {committed} (ledger not readable)"),
        }
    }
    if parts & RING_PART != 0 {
        if let Some(g) = lock_checked(cx, &s.mailbox, LOCK_MAILBOX) {
            println!(
                "soak:   hand-offs {} (ticket), half-done hand-offs repaired {}",
                get(&g.ticket),
                get(&g.repairs)
            );
        }
    }
    if parts & (LEDGER_PART | RING_PART) != 0 {
        println!(
            "soak:   owner died seen {} (by the parent {}), repairs seen {} (by the parent {})",
            total(|x| &x.owner_died),
            get(&s.slots[PARENT].owner_died),
            total(|x| &x.repairs),
            get(&s.slots[PARENT].repairs),
        );
    }
    if parts & PERMIT_PART != 0 {
        println!(
            "soak:   permits taken {} (max inside {} of {PERMITS}); killed holders' permits \
             re-posted {}; killed mid-wait/mid-post: audit found the permit taken {} \
             (re-posted), free {}",
            total(|x| &x.sem_entries),
            get(&s.max_inside),
            f.reposted,
            f.audit_taken,
            f.audit_free
        );
    }
    if parts & (LEDGER_PART | RING_PART) != 0 {
        let allowed = if get(&s.allow_stranded) != 0 {
            format!(", allowed by {ALLOW_VAR}=stranded")
        } else {
            String::new()
        };
        println!(
            "soak:   stranded lock waiters {} (slept through a free mutex{allowed})",
            total(|x| &x.stranded)
        );
    }
    if parts & RW_PART != 0 {
        let committed: u64 = workers.iter().map(|x| get(&x.rw_committed)).sum();
        let max = |field: fn(&Slot) -> &AtomicU64| {
            let ns = s.slots.iter().map(|x| get(field(x))).max().unwrap_or(0);
            Duration::from_nanos(ns)
        };
        println!(
            "soak:   rw: reads {}, updates committed {committed} ({} of them in the table \
             from writers killed before recording them); owner died seen by a read {}, by a \
             write {}; half-done updates repaired {}",
            total(|x| &x.rw_reads),
            total(|x| &x.rw_applied_uncommitted),
            total(|x| &x.rw_owner_died_read),
            total(|x| &x.rw_owner_died_write),
            total(|x| &x.rw_repairs),
        );
        println!(
            "soak:   rw: longest wait for a read {:.1} ms, for a write {:.1} ms (bound {} s)",
            max(|x| &x.rw_read_wait_max).as_secs_f64() * 1e3,
            max(|x| &x.rw_write_wait_max).as_secs_f64() * 1e3,
            BOUND.as_secs()
        );
    }
    if parts & BARRIER_PART != 0 {
        let mut latency = f.break_latency.clone();
        latency.sort_unstable();
        let ms = |ns: u64| ns as f64 / 1e6;
        let median = latency.get(latency.len() / 2).copied().unwrap_or(0);
        let max = latency.last().copied().unwrap_or(0);
        let mut rounds = f.epoch_rounds.clone();
        rounds.sort_unstable();
        println!(
            "soak:   barrier: rounds completed {} (counted by their leaders; member-rounds {}), \
             breaks {} (each a kill, each reset by a survivor), rounds per epoch median {}",
            total(|x| &x.leads),
            total(|x| &x.rounds),
            latency.len(),
            rounds.get(rounds.len() / 2).copied().unwrap_or(0),
        );
        println!(
            "soak:   barrier: survivors released after a kill in {:.1} ms (median), {:.1} ms \
             (max), bound {} s",
            ms(median),
            ms(max),
            BOUND.as_secs()
        );
    }
    let lost: u64 = if parts & LEDGER_PART != 0 {
        lock_checked(cx, &s.ledger, LOCK_LEDGER).map_or(0, |g| {
            (0..WORKERS)
                .map(|p| get(&workers[p].committed).saturating_sub(get(&g.applied[p])))
                .sum()
        })
    } else {
        0
    };
    println!(
        "soak:   hangs {}, lost updates {lost}, violations {} (all phases so far)",
        total(|x| &x.hangs),
        total(|x| &x.violations)
    );
}

/// A phase of the run.
struct Phase {
    name: &'static str,
    parts: u64,
    time: Duration,
    start: Instant,
}

/// One phase: its workers forked, killed at random and replaced, every round checked; then
/// stopped and the totals checked. The phase's result, and what each worker was doing when
/// it ended.
fn run_phase(
    cx: &Ctx<'_>,
    phase: &Phase,
    rng: &mut Rng,
    incarnation: &mut u64,
    figures: &mut Figures,
) -> (Result<(), String>, String) {
    let s = cx.s;
    let base = cx.base;
    s.parts.store(phase.parts, SeqCst);
    s.stop.store(0, SeqCst);
    let mut next_seed = |rng: &mut Rng| {
        *incarnation += 1;
        rng.next() ^ *incarnation
    };
    let mut children: Vec<Option<Child>> = (0..WORKERS)
        .map(|p| Some(spawn(s, p, next_seed(rng), base)))
        .collect();
    let barrier = phase.parts & BARRIER_PART != 0;
    let end = phase.start + phase.time;
    let result = (|| {
        while Instant::now() < end {
            figures.rounds += 1;
            std::thread::sleep(Duration::from_micros(rng.below(4000)));
            check_round(cx, &mut children, figures)?;
            std::thread::sleep(Duration::from_micros(rng.below(3000)));
            let Some(dead) = victim(s, base, rng, figures) else {
                continue;
            };
            let child = children[dead].take().unwrap();
            let pid = child.pid();
            child.kill_and_reap();
            let killed_at = nanos(base);
            figures.kills += 1;
            let op = (s.slots[dead].doing.load(Acquire) & OP_MASK) as usize;
            figures.kills_by_op[op.min(OPS.len() - 1)] += 1;
            if barrier {
                after_barrier_kill(cx, dead, pid, killed_at, rng, figures)?;
            } else {
                after_kill(cx, dead, figures)?;
            }
            children[dead] = Some(spawn(s, dead, next_seed(rng), base));
        }
        check_round(cx, &mut children, figures)?;
        stop(cx, &mut children)?;
        final_checks(cx)
    })();
    // What each worker was doing when the phase ended (on a failure, some may be stuck),
    // then every worker killed and reaped before the figures are read.
    let last = snapshot(s, base, &children);
    drop(children);
    (result, last)
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
    let run = Run { seed };
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
    let new_ledger = || Ledger {
        a: AtomicU64::new(0),
        b: AtomicU64::new(0),
        applied: std::array::from_fn(|_| AtomicU64::new(0)),
        repairs: AtomicU64::new(0),
    };
    let region = ShmBox::anonymous(Soak {
        ledger: SharedLocker::new(new_ledger()),
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
        table: SharedRwLock::new(new_ledger()),
        barrier: SharedBarrier::new(),
        arrivals: std::array::from_fn(|_| AtomicU64::new(0)),
        led: std::array::from_fn(|_| AtomicU64::new(0)),
        breaks: AtomicU64::new(0),
        resetter: AtomicU64::new(0),
        reset_asked: AtomicU64::new(0),
        reset_done: AtomicU64::new(0),
        go: AtomicU64::new(0),
    })
    .unwrap();
    let s = &*region;
    let base = Instant::now();
    let cx = Ctx::new(s, PARENT, base);
    let mut rng = Rng::new(seed);
    let mut incarnation = 0u64;
    let phases: Vec<(&str, u64, u64)> = PHASES
        .iter()
        .map(|&(name, bits, weight)| (name, bits & parts, weight))
        .filter(|&(_, bits, _)| bits != 0)
        .collect();
    let weights: u64 = phases.iter().map(|p| p.2).sum();
    for (name, bits, weight) in phases {
        let phase = Phase {
            name,
            parts: bits,
            time: Duration::from_secs_f64(secs as f64 * weight as f64 / weights as f64),
            start: Instant::now(),
        };
        let mut figures = Figures::default();
        let (result, last) = run_phase(&cx, &phase, &mut rng, &mut incarnation, &mut figures);
        report(&cx, &run, &phase, &figures);
        if let Err(why) = result {
            println!("soak: at the failure: {last}");
            panic!(
                "soak failed in phase {name} (seed {seed:#x}; replay with {SEED_VAR}={seed:#x}): \
                 {why}"
            );
        }
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
