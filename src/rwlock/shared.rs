//! [`SharedRwLock`]: a reader-writer lock in a shared-memory region that no process's death
//! can stall, on a protocol of the crate's own: "big-reader" slots that name their holders,
//! and a robust writer mutex.
//!
//! The protocol, why a reader never overlaps a writer, and what a death does in each phase
//! are documented on the type ([`SharedRwLock`]), for its users; its bytes and steps for C in
//! the `shm` module docs.

use std::cell::{Cell, UnsafeCell};
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::Ordering::{Relaxed, Release, SeqCst};
use std::sync::PoisonError;
use std::time::Duration;

use crate::error::{fatal, Error};
use crate::locker::kind::ErrorCheck;
use crate::locker::raw::RawLock;
use crate::locker::{OwnerDied, Robust, SharedLockError, SharedLockResult};
use crate::poison::{Flag, Policy};
use crate::shim::{self, array_of, const_fn, thread_local_const, AtomicU32};
use crate::switches::{self, Mutation};
use crate::sys::{self, Deadline, Futex64, Scope};

/// How many reader slots a lock has (16; 2 in the model build).
const SLOTS: usize = shim::SHARED_READER_SLOTS;

/// The writer mutex: robust, process-shared, errorcheck (a relock by its holder is
/// `EDEADLK`, not a hang), armed in place on first use (`crate::placed`), counted in the
/// region's holds while held (`crate::regions`).
type Mutex = Robust<ErrorCheck>;

/// A reader slot: a 64-bit word alone on its cache line, 0 (free) or the identity of the
/// thread that holds it (`sys::thread_identity`: its thread id in bits 0..22, its process id
/// in bits 22..44, a tag of its process's start time in bits 44..64). The low half (never 0
/// while held) is a futex word that a draining writer sleeps on.
#[repr(C, align(64))]
struct Slot(Futex64);

impl Slot {
    const_fn! {
        const fn new() -> Slot {
            Slot(Futex64::new(0))
        }
    }
}

/// How long a wait on a slot sleeps before the waiter looks again at whether its holder
/// lives (as `sys::RawMutex::lock_robust` slices its waits): a slice's end is fixed when it
/// begins, whatever interrupts the sleeps within it.
const SLICE: Duration = Duration::from_millis(20);

/// `state`: no write in progress.
const CLEAN: u32 = 0;
/// `state`: a thread holds the write guard (if it dies, the data may be half-updated).
const WRITING: u32 = 1;
/// `state`: a dead writer's successor gave up without repairing; the writer mutex is not
/// recoverable (glibc refuses it) and `intent` stays raised, so every reader meets that too.
const NOT_RECOVERABLE: u32 = 2;

/// A reader-writer lock for a shared-memory region ([`ShmBox`](crate::ShmBox)), robust
/// against the death of any process at any instant: a dead reader's hold is reclaimed with
/// nothing to repair, a dead writer's successor (the next reader or writer) gets
/// [`SharedLockError::OwnerDied`] with a write guard, to repair the data and
/// [`make_consistent`](OwnerDied::make_consistent), and nobody ever waits forever. Reads
/// scale across CPUs (readers write no shared cache line); writers do not starve.
///
/// It is not a `pthread_rwlock_t` (glibc's process-shared one cannot tell a dead reader or
/// writer: everyone after it waits forever) but a protocol of the crate's own, over reader
/// slots that name their holders and a robust writer mutex: see below for how it works, why
/// a reader never overlaps a writer, and what a death does in each phase;
/// [`shm`](crate::shm) documents its bytes and steps for C programs.
///
/// ```
/// use pthread_sync::{SharedLockError, SharedRwLock, ShmBox};
///
/// let table = ShmBox::anonymous(SharedRwLock::new([0u64; 4]))?;
/// // elsewhere, in a forked child or another process that opened the region:
/// match table.write() {
///     Ok(mut w) => w[0] += 1,
///     // A writer died mid-update: repair through the guard, then make it consistent.
///     Err(SharedLockError::OwnerDied(mut died)) => {
///         died.get_mut()[0] = 0;
///         died.make_consistent()?[0] += 1;
///     }
///     Err(e) => return Err(e.to_string().into()),
/// }
/// let r1 = table.read().map_err(|e| e.to_string())?;
/// let r2 = table.read().map_err(|e| e.to_string())?; // readers share it
/// assert_eq!(r1[0] + r2[0], 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// What each call returns: the guard, or [`SharedLockError::OwnerDied`] (acquired: a writer
/// died mid-update; for a read too the guard inside is a write guard, since repairing needs
/// exclusive access: after `make_consistent`,
/// [`SharedRwLockWriteGuard::downgrade`] turns it into a read), [`SharedLockError::Poisoned`]
/// (acquired: a writer panicked, in any process), or [`SharedLockError::Failed`] (not
/// acquired: [`Error::WouldBlock`], [`Error::TimedOut`], [`Error::Deadlock`] for a write by a
/// thread that reads it or any lock by its writer, [`Error::NotRecoverable`],
/// [`Error::NotInRegion`], [`Error::Overflow`] past the shared-slot record: see
/// [Misuse](#misuse)).
///
/// Like the shared lockers it is `!Unpin`, built unarmed by a `const fn` and armed in place
/// on first use inside a region (anywhere else every call is [`Error::NotInRegion`]); its
/// write guard gives `&mut T` only for `T: Unpin`; `Debug` never takes it.
///
/// # How it is built
///
/// glibc's process-shared `pthread_rwlock_t` keeps its readers as a count: a reader or a
/// writer that dies holding it leaves every later writer (and, behind a dead writer, every
/// reader) waiting forever, and no call can tell. This lock's readers instead write their
/// own name where a writer looks for them, so a writer can tell a dead reader from a live
/// one; the writer side is a robust mutex, so the kernel tells the next locker of a dead
/// writer:
///
/// - `SLOTS` (16) **reader slots**, each a 64-bit word on a cache line of its own: 0 (free)
///   or the **identity** of the thread that holds it: its thread id in bits 0..22, its
///   **process** id in bits 22..44 (Linux ids are below 2^22), and in bits 44..64 the low 20
///   bits of its process's start time (field 22 of `/proc/self/stat`; read once per thread,
///   again in a forked child). A reader holds one for as long as it reads. The low half
///   (the thread id and the pid's low bits: never 0) is also a futex word, for a writer to
///   sleep on.
/// - a **writer mutex**, robust, process-shared, errorcheck, held by a writer for as long as
///   it writes (and briefly by readers that wait for a writer: below);
/// - an **intent** word (1 while a writer drains or writes), and a **state** word (1 while a
///   writer holds the write guard, 2 once the lock is not recoverable), both owned by the
///   writer mutex's holder: only it writes them.
///
/// ## The protocol
///
/// - **Read**: take a slot: a compare-exchange of the thread's preferred slot from 0 to its
///   identity, else of the others, and if all are busy, wait for the preferred one as a
///   writer waits (below). Then load `intent`. 0: the read hold is the slot. 1: give the
///   slot back and wait for the writer on the writer mutex; holding it (no writer can be
///   between raising and clearing the intent then), take a slot, release the writer mutex:
///   the read hold is that slot.
/// - **Release**: a compare-exchange of the slot from the thread's identity to 0 (in a
///   forked child, a guard inherited from the parent names a slot holding the parent
///   thread's identity, and nothing changes), then a load of `intent`: if it is raised, a
///   `FUTEX_WAKE` of the slot (a draining writer may sleep on it).
/// - **A second read** by a thread that reads the lock already **shares the slot it holds**
///   (counted in a small per-thread record while shared), whatever the intent says: a slot a
///   reader holds has been passed by no writer's drain since it was taken, so holding one
///   proves no writer is in, and waiting for the writer would wait for itself. Found for
///   free when it is the preferred slot (its word is the thread's identity), else by an
///   owner scan of the slots (16 loads) before waiting for a writer, made only by a thread
///   that holds read guards.
/// - **Write**: take the writer mutex, raise `intent`, then **drain**: load each slot, and
///   wait for each holder seen there to leave (a reader that takes a slot after the intent
///   was raised sees it and gives the slot back without reading). A wait on a slot spins
///   briefly, then sleeps on its word (`FUTEX_WAIT` on its low half, in slices of 20 ms; the
///   holder's release wakes it), and once 20 ms have passed since the slice began, whatever
///   the futex returned (a timeout, a signal's `EINTR`, a spurious wake-up), with the word
///   unchanged (a try: at once), looks at whether the holder lives: a dead holder's slot is
///   **reclaimed** with a compare-exchange to 0, with nothing to repair (a reader writes
///   nothing). Then `state` = 1 (writing) and the guard is handed out.
/// - **Write unlock**: `state` = 0, `intent` = 0 (release), release the writer mutex.
/// - **Downgrade**: with the write hold, take a slot, then clear `intent` and release the
///   writer mutex: the slot is a read hold that any later writer's drain waits for.
///
/// A holder is **alive** while its **process** is: `/proc/<pid>/stat` exists, does not say
/// dead (`X`) or zombie (`Z` with one thread: a leader that ended before its other threads
/// shows `Z` with more), and gives a start time whose low 20 bits are the identity's tag (a
/// later process with the same pid started later); without `/proc`, if `kill(pid, 0)` is
/// not `ESRCH`. The thread itself may have ended: a thread that ends holding a read, its
/// guard leaked (`mem::forget`, `Box::leak`: a reference into the data may live on in
/// another thread), keeps the read held until its process ends, as a leaked guard of std's
/// `RwLock` keeps it held; a slot is reclaimed only from a process that is gone, which can
/// hold no reference any more.
///
/// Writers do not starve: once a writer has raised its intent, every new reader goes to wait
/// on the writer mutex, so the writer waits only for the readers already in. Readers do not
/// starve either: a reader waiting on the writer mutex gets its read as soon as it has it.
/// Reads scale: readers on different slots write different cache lines (the slots), and only
/// read the line holding `intent` and the data. An uncontended read is one compare-exchange
/// and one load to take, one compare-exchange and one load to release: no system call, no
/// robust list (so it needs no count of the region's holds either, only the check that the
/// lock lies in a live region). A write is one robust lock and unlock, a store, and 16 loads.
///
/// ## Why a reader never overlaps a writer (the store-then-load order)
///
/// A reader stores to its slot and then loads `intent`; a writer stores `intent` and then
/// loads each slot. That is Dekker's pattern: each side could read the other's location
/// before its own store is visible (a store buffer does exactly that), unless all four
/// accesses are sequentially consistent, which puts them in one total order. They are
/// (`SeqCst` compare-exchange and loads on the reader's side, `SeqCst` store and loads on the
/// writer's). In that order, either the reader's exchange comes before the writer's load of
/// that slot, so the writer sees the reader and waits for it; or it comes after, so it comes
/// after the writer's store of `intent` too, and the reader's later load sees 1 (or a later
/// value: 0 stored with release by that writer's unlock, once the write is over, or a later
/// writer's 1), and backs off. Both missing each other would need the reader's load before
/// the writer's store and the writer's load before the reader's exchange: a cycle in a total
/// order. A reader sees the last writer's data: the 0 it reads was stored with release by
/// that writer's unlock (and a fresh lock's 0 precedes every write). A writer sees the
/// readers' reads done: a release of a slot is a compare-exchange with release ordering that
/// the writer's (acquire) load reads, and a dead reader did all it will ever do before
/// `/proc` said so.
///
/// The same order makes the release's wake safe: a reader that stores 0 and then loads
/// `intent` as 0 comes, with that load, before the writer's store of `intent`; that writer's
/// later load of the slot sees 0, and it never sleeps on it. Otherwise the reader sees the
/// intent and wakes the slot; and a writer that sleeps does so only while the word still
/// holds the id it saw (the kernel compares it under its queue lock).
///
/// loom weakens `SeqCst` accesses to `AcqRel`, so the model build puts a `SeqCst` fence
/// between each side's store and load (`shim::store_load_order`, as the in-process
/// `RwLock`'s BRAVO slots). The loom model (`loom-tests/tests/shared_rwlock.rs`) checks
/// exclusion with loom's race detector, a dead reader's slot reclaimed, and rejects the
/// reader that checks `intent` before taking its slot (mutation `SharedRwCheckFirst`: a
/// writer's drain can pass the slot before the reader takes it) and the writer that raises
/// `intent` and loads the slots relaxed, without the store-load order (mutation
/// `SharedRwWriterRelaxed`: each side misses the other).
///
/// ## A process may die at any instant
///
/// Every wait is on the robust writer mutex or on a slot word, with sleeps of at most 20 ms
/// (`sys::RawMutex::lock_robust`, and the slot waits' slices), so a dead process can never
/// strand a waiter for longer.
///
/// | who dies | where | what the others get |
/// |---|---|---|
/// | reader | holding a slot | the writer that drains it (or a reader waiting for that slot) finds its holder dead when its first 20 ms slice on the slot ends, signals or not (a try: at once; once one holder was found dead, the drain looks at the next ones before sleeping, so readers killed together cost one slice) and reclaims the slot: nothing to repair |
/// | a reader's thread, not its process | holding a slot (the guard leaked) | nothing: the read stays held until the process ends (a thread that ends with a leaked read guard keeps the read held until its process ends); writers wait for it, as behind a leaked guard of std's `RwLock` (a timed write times out) |
/// | nobody: a reader's process `exec`s | holding a slot | the read stays held until the new program exits (`exec` keeps the pid and the start time) |
/// | reader | between its exchange and its check of `intent`, or giving the slot back | as holding a slot: reclaimed |
/// | reader | waiting for a slot, or on the writer mutex | nothing (the kernel drops a dead waiter) |
/// | reader | holding the writer mutex (waiting for a writer, then taking a slot) | `EOWNERDEAD` to its next locker with `state` 0: made consistent, nothing to repair; a slot it took there is reclaimed |
/// | writer | holding the writer mutex before or while draining (intent raised, perhaps asleep on a slot) | the writer mutex: `EOWNERDEAD` with `state` 0 to its next locker, a writer or a reader sent there by the intent: made consistent, `intent` cleared by that holder. Nothing to repair |
/// | writer | holding the write guard (`state` 1) | the next locker, reader or writer, gets [`SharedLockError::OwnerDied`] with a **write** guard: repair, then [`OwnerDied::make_consistent`]; dropped unrepaired: [`Error::NotRecoverable`] for every process, readers included (the intent stays raised, so they all go to the writer mutex, which glibc then refuses) |
/// | writer | after its unlock cleared `state` | `EOWNERDEAD` with `state` 0: nothing to repair |
///
/// The intent flag is where such protocols usually break (a writer dies with it raised, and
/// readers wait for it to be cleared forever): here it belongs to the writer mutex. Readers
/// that see it raised do not wait for the flag but for the mutex, so the kernel tells one
/// of them, or the next writer, that its raiser died, and that one clears it.
///
/// **Pid reuse.** A dead reader's slot names a process id the kernel may give to a new
/// process once the id space has wrapped around (`/proc/sys/kernel/pid_max`: 32 768 to
/// 4 194 304; ids are handed out in increasing order). A slot left by a dead reader can
/// wait a long time for a writer, so the wrap can come first; then the pid alone would make
/// a live stranger look like the holder, and the writer would wait for it (never the
/// reverse: a live holder's process keeps its pid). The start-time tag closes that: the
/// stranger started later, so the low 20 bits of its start time differ unless the two start
/// times are a multiple of 2^20 clock ticks apart (about 2.9 hours at `USER_HZ` 100): a
/// stranger with the same pid starting in one tick of that period, a chance of about one in
/// a million per reuse; it would then be waited for until it exits. A thread id reused
/// inside a live holder's process names the same process, with the same identity: that
/// thread is taken for the leaked read's holder (its write is [`Error::Deadlock`], a read
/// of it may share that slot), which lets no writer in.
///
/// **Limits.** If `/proc` cannot be read when the reader takes its identity, the tag is 0
/// and only the pid is compared (then a reuse before the writer looks makes it wait for the
/// stranger's exit). All processes using a lock must share one **PID namespace** (ids from
/// another namespace name other processes, or none: a live reader there could be taken for
/// dead) and one **time namespace** (the start time in `/proc/<pid>/stat` is shifted by the
/// reading process's boottime offset: a reader in another time namespace than a writer's
/// has a tag that matches no start time that writer reads, and is taken for dead while it
/// reads). A 17th concurrent reader
/// (all 16 slots held) waits on its preferred slot for one 20 ms slice at a time, then
/// looks at every slot again: it gets in within a slice of any slot being freed (a release
/// wakes a sleeper only while a writer's intent is raised, so not at once) or of the
/// preferred slot's holder being found dead.
///
/// **One region mapped twice in one process** (a named region opened twice: two
/// [`ShmBox`](crate::ShmBox)es, one lock at two addresses) works as one lock: a thread that
/// reads it through one mapping and then through the other holds one slot, shared by both
/// guards, and keeps it until the last of them is dropped, in either order (the per-thread
/// record of shared slots names the lock by its region's object, a named region's
/// `(st_dev, st_ino)`, and its offset there, not by its address); a write by that thread
/// through either mapping is [`Error::Deadlock`]. The lock-order checker
/// ([`lock_order`](crate::lock_order)) names locks by address, so it sees two locks there.
///
/// ## `fork`
///
/// A forked child's thread is another thread, with another id: it re-reads its identity (the
/// cached one carries a fork generation, bumped in every child by a `pthread_atfork` handler
/// registered before the identity is first read), so the owner scan finds none of its
/// parent's slots, and a read guard the child inherited releases nothing when it is dropped
/// (the release's compare-exchange from the child's identity fails). What else is the
/// crate's own carries a fork generation too: an inherited entry of the shared-slot record
/// counts for nothing, and an inherited write guard does nothing when dropped (it would
/// clear the parent's intent and state). A child must not use such a guard otherwise (as any
/// shared lock's: see [`atfork`](crate::atfork)).
///
/// A child made without the `pthread_atfork` handlers (glibc's `_Fork`, a raw `clone` or
/// `fork` system call) has the parent's fork generation, so it takes the parent thread's
/// cached identity for its own: it must not use a lock, or a guard, it inherited (a guard
/// it drops releases the parent's slot; a read shares it), only `_exit` or `exec`.
///
/// ## Misuse
///
/// A write by a thread that holds a read of the same lock (its drain would wait for itself),
/// and a read or a write by the thread that holds the write guard, are
/// [`Error::Deadlock`] at once (an owner scan, and the writer mutex's errorcheck kind), never
/// a hang. A thread may share slots of 8 locks at once (each read twice or more while one
/// guard is alive); a read that would share a ninth is [`Error::Overflow`].
#[doc(alias = "pthread_rwlock_t")]
#[doc(alias = "PTHREAD_PROCESS_SHARED")]
#[repr(C)]
pub struct SharedRwLock<T: ?Sized> {
    slots: [Slot; SLOTS],
    writer: Mutex,
    /// 1 while a writer drains or writes; written by the writer mutex's holder only.
    intent: AtomicU32,
    /// `CLEAN`, `WRITING` or `NOT_RECOVERABLE`; written by the writer mutex's holder only.
    state: AtomicU32,
    poison: Flag,
    data: UnsafeCell<T>,
}

// SAFETY: as std's RwLock: one writer gets `&mut T` (so `T: Send`), many readers `&T` at once
// (so also `T: Sync`); the mutexes and words are made to be shared.
unsafe impl<T: ?Sized + Send> Send for SharedRwLock<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send + Sync> Sync for SharedRwLock<T> {}

/// A read guard of a [`SharedRwLock`]: shared access until dropped. `!Send`: its slot names
/// the thread that took it, and only that thread releases it.
#[must_use = "if unused the SharedRwLock will immediately unlock"]
#[clippy::has_significant_drop]
pub struct SharedRwLockReadGuard<'a, T: ?Sized + 'a> {
    lock: &'a SharedRwLock<T>,
    /// The slot this read holds (with other guards of this thread, if it is shared: see
    /// `Shares`).
    slot: usize,
    _not_send: PhantomData<*const ()>,
}

/// A write guard of a [`SharedRwLock`]: exclusive access until dropped. `!Send`, as the read
/// guard.
#[must_use = "if unused the SharedRwLock will immediately unlock"]
#[clippy::has_significant_drop]
pub struct SharedRwLockWriteGuard<'a, T: ?Sized + 'a> {
    lock: &'a SharedRwLock<T>,
    /// Whether the thread was panicking when it took the lock (poisoning, as std).
    panicking: bool,
    /// `false` while a dead writer's successor has not made the writer mutex consistent:
    /// released so, it makes the lock not recoverable for everyone.
    consistent: bool,
    /// The fork generation it was made in (`shim::fork_generation`): dropped in a forked
    /// child that inherited it, it does nothing (the write hold, and the words it would
    /// clear, are the parent's).
    generation: u32,
    _not_send: PhantomData<*const ()>,
}

// SAFETY: `&guard` gives `&T` only, shareable between threads when `T: Sync` (as std's).
unsafe impl<T: ?Sized + Sync> Sync for SharedRwLockReadGuard<'_, T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Sync> Sync for SharedRwLockWriteGuard<'_, T> {}

/// What an acquisition may wait: not at all, without bound, or until a point.
#[derive(Clone, Copy)]
enum Wait<'e> {
    Try,
    Block,
    Until(&'e shim::Expiry),
}

/// How the lock-order checker sees a wait: a try adds no edge.
#[inline(always)]
fn lock_order_wait(wait: &Wait<'_>) -> crate::lock_order::Wait {
    match wait {
        Wait::Try => crate::lock_order::Wait::Try,
        Wait::Block | Wait::Until(_) => crate::lock_order::Wait::Block,
    }
}

impl Wait<'_> {
    /// Acquires `m` as this wait allows (`Err(OwnerDied)` is an acquisition).
    #[inline(always)]
    fn acquire(self, m: &Mutex) -> Result<(), Error> {
        match self {
            Wait::Try => RawLock::try_lock(m),
            Wait::Block => RawLock::lock(m),
            Wait::Until(expiry) => RawLock::lock_for(m, expiry.remaining()),
        }
    }
}

/// How a read was acquired.
enum Read {
    /// The read hold is this slot (taken, or shared with this thread's hold of it).
    Slot(usize),
    /// A writer died holding the write guard: this thread holds the write side instead
    /// (writer mutex, intent, drained), to repair.
    Recovered,
}

/// What an acquisition of a slot found.
enum Taken {
    /// Acquired now.
    Fresh(usize),
    /// This thread holds it already (a read of this lock it has).
    Mine(usize),
}

/// What an acquisition of the writer mutex found.
enum Writer {
    /// Usable as it is (or made consistent: its dead holder was not writing).
    Clean,
    /// Its holder died holding the write guard: still inconsistent, the data may be torn.
    Torn,
}

thread_local_const! {
    /// The slot this thread tries first (`usize::MAX`: not chosen yet). Moved to the slot
    /// that worked when it was busy, so two threads that hash alike (a forked child inherits
    /// its parent thread's choice) soon part.
    static PREFERRED: Cell<usize> = Cell::new(usize::MAX);
}

thread_local_const! {
    /// How many read guards of shared rwlocks this thread holds now. 0 (almost always, for
    /// a writer): it holds no slot of any, so it cannot be upgrading; otherwise a write, or
    /// a read about to wait for a writer, first looks for a slot of that lock it holds (an
    /// owner scan, exact also in a forked child, whose thread owns none of its parent's).
    static READS: Cell<usize> = Cell::new(0);
}

/// How many entries [`Shares`] has: slots of shared rwlocks shared by several read guards of
/// one thread at once (a second read of a lock the thread reads already).
const SHARES: usize = 8;

/// A thread's slots held by more than one of its read guards: a second read of a lock the
/// thread reads already shares the slot it holds (counted here) instead of taking another
/// (which, with a writer's intent raised, it would have to wait for, while the writer waits
/// for the slot it holds). An entry lives only while two guards or more share its slot (the
/// last one releases the slot as an unshared guard does); `live` entries (0: none, the
/// guards' drops look no further). Each entry names its fork generation: one a forked child
/// inherited counts for nothing.
///
/// An entry names its lock by where the lock lies in the shared-memory object
/// ([`LockKey`]), not by its address: one region mapped twice in one process puts one lock
/// at two addresses, and the guards a thread takes through both hold one slot, which only
/// the last of them may release.
struct Shares {
    live: Cell<usize>,
    lock: [Cell<LockKey>; SHARES],
    slot: [Cell<usize>; SHARES],
    guards: [Cell<usize>; SHARES],
    generation: [Cell<u32>; SHARES],
}

thread_local_const! {
    static SHARED: Shares = Shares {
        live: Cell::new(0),
        lock: [const { Cell::new(LockKey::NONE) }; SHARES],
        slot: [const { Cell::new(0) }; SHARES],
        guards: [const { Cell::new(0) }; SHARES],
        generation: [const { Cell::new(0) }; SHARES],
    };
}

/// A lock as the [`Shares`] record names it: the object of the region it lies in (a named
/// region's `(st_dev, st_ino)`, an anonymous region's number) and its offset there
/// (`regions::identity`), the same through every mapping of the region. A lock in no live
/// region (never met: a read guard borrows its region) is named by its address, under a
/// `dev` no object has.
#[derive(Clone, Copy, PartialEq, Eq)]
struct LockKey {
    dev: u64,
    ino: u64,
    offset: usize,
}

impl LockKey {
    /// What an empty entry holds (never compared: an empty entry has no guards).
    const NONE: LockKey = LockKey {
        dev: 0,
        ino: 0,
        offset: 0,
    };

    /// The `dev` of a lock named by its address (no device number, nor an anonymous
    /// region's, is `u64::MAX - 1`).
    const LOOSE: u64 = u64::MAX - 1;

    /// The key of the lock at `[addr, addr + len)`.
    #[cold]
    fn of(addr: usize, len: usize) -> LockKey {
        match crate::regions::identity(addr, len) {
            Some(id) => LockKey {
                dev: id.object.dev,
                ino: id.object.ino,
                offset: id.offset,
            },
            None => LockKey {
                dev: Self::LOOSE,
                ino: 0,
                offset: addr,
            },
        }
    }
}

/// One more read guard of `lock` on `slot`, a slot this thread holds (through at least one
/// guard); `false` if the record is full.
#[cold]
#[inline(never)]
fn share(lock: LockKey, slot: usize) -> bool {
    shim::watch_forks();
    let generation = shim::fork_generation();
    SHARED.with(|r| {
        let mut free = None;
        for i in 0..SHARES {
            if r.guards[i].get() == 0 {
                free = free.or(Some(i));
            } else if r.lock[i].get() == lock
                && r.slot[i].get() == slot
                && r.generation[i].get() == generation
            {
                r.guards[i].set(r.guards[i].get() + 1);
                return true;
            }
        }
        let Some(i) = free else { return false };
        // The guard holding the slot already, and this one.
        r.lock[i].set(lock);
        r.slot[i].set(slot);
        r.generation[i].set(generation);
        r.guards[i].set(2);
        r.live.set(r.live.get() + 1);
        true
    })
}

/// A read guard of the lock at `[addr, addr + len)` on `slot` is dropped: `true` if other
/// guards of this thread still share the slot (it stays held, perhaps through another
/// mapping of the lock), `false` if this was the last one (release it). With no entry live
/// (almost always), one thread-local load: the lock's key is made only past it.
#[inline(always)]
fn unshare(addr: usize, len: usize, slot: usize) -> bool {
    SHARED.with(|r| r.live.get() != 0 && unshare_slow(r, addr, len, slot))
}

#[cold]
#[inline(never)]
fn unshare_slow(r: &Shares, addr: usize, len: usize, slot: usize) -> bool {
    // The lock's key (a scan of the region table) is made only for an entry of this slot.
    let mut lock = None;
    let generation = shim::fork_generation();
    for i in 0..SHARES {
        if r.guards[i].get() != 0
            && r.slot[i].get() == slot
            && r.lock[i].get() == *lock.get_or_insert_with(|| LockKey::of(addr, len))
        {
            if r.generation[i].get() != generation {
                // An entry a forked child inherited: its guard's release is harmless there
                // (the slot names the parent's thread, so the release changes nothing).
                r.guards[i].set(0);
                r.live.set(r.live.get() - 1);
                return false;
            }
            let left = r.guards[i].get() - 1;
            if left == 1 {
                // One guard left: it releases the slot as an unshared one would.
                r.guards[i].set(0);
                r.live.set(r.live.get() - 1);
            } else {
                r.guards[i].set(left);
            }
            return true;
        }
    }
    false
}

#[inline(always)]
fn preferred() -> usize {
    PREFERRED.with(|p| {
        let v = p.get();
        if v < SLOTS {
            return v;
        }
        let v = (shim::thread_hash() >> 32) % SLOTS;
        p.set(v);
        v
    })
}

thread_local_const! {
    /// This thread's identity for the slots (`sys::thread_identity`, never 0) and the fork
    /// generation it was read in (`(0, _)`: not read yet).
    static ME: Cell<(u64, u32)> = Cell::new((0, 0));
}

/// The calling thread's identity: cached, read again in a forked child (another process,
/// with other ids and another start time).
#[inline(always)]
fn me() -> u64 {
    ME.with(|c| {
        let (id, generation) = c.get();
        if id != 0 && generation == shim::fork_generation() {
            id
        } else {
            me_now(c)
        }
    })
}

#[cold]
#[inline(never)]
fn me_now(c: &Cell<(u64, u32)>) -> u64 {
    // Watched before the generation is read: a fork after this moves it in the child.
    shim::watch_forks();
    let generation = shim::fork_generation();
    let id = sys::thread_identity();
    c.set((id, generation));
    id
}

/// A dead holder of the writer mutex (`EOWNERDEAD`) that left nothing to repair: made
/// consistent here.
#[cold]
fn settle(m: &Mutex) -> Result<(), Error> {
    // SAFETY: acquired (EOWNERDEAD is an acquisition), so armed and held by this thread.
    let consistent = unsafe { RawLock::mutex(m).consistent() };
    if consistent.is_err() {
        // SAFETY: as above: this thread holds it.
        unsafe { RawLock::unlock(m) };
    }
    consistent
}

impl<T> SharedRwLock<T> {
    const_fn! {
        /// A new, unarmed lock holding `t`: plain bytes, to be placed in a
        /// [`ShmBox`](crate::ShmBox) (its mutexes are initialised in place on first use
        /// there; anywhere else every call is refused with [`Error::NotInRegion`]).
        ///
        /// ```
        /// use pthread_sync::{Error, SharedRwLock, ShmBox};
        ///
        /// let outside = SharedRwLock::new(1u32);
        /// assert_eq!(outside.read().map(|_| ()).unwrap_err().error(), Some(Error::NotInRegion));
        /// let inside = ShmBox::anonymous(outside)?;
        /// assert_eq!(*inside.read().map_err(|e| e.to_string())?, 1);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        #[inline]
        pub const fn new(t: T) -> SharedRwLock<T> {
            SharedRwLock {
                slots: array_of![Slot::new(); SLOTS],
                writer: Robust::new_const(),
                intent: AtomicU32::new(0),
                state: AtomicU32::new(CLEAN),
                poison: Flag::new_const(),
                data: UnsafeCell::new(t),
            }
        }
    }
}

impl<T: ?Sized> SharedRwLock<T> {
    #[inline(always)]
    fn addr(&self) -> usize {
        self as *const Self as *const () as usize
    }

    /// The lock's address, as the lock-order checker names it.
    #[inline(always)]
    pub(crate) fn order_addr(&self) -> usize {
        self.addr()
    }

    #[inline(always)]
    fn slot(&self, i: usize) -> &Futex64 {
        &self.slots[i].0
    }

    /// Whether the lock lies in a live region this process mapped (checked on every read, as
    /// every shared primitive checks every use; the writer mutex checks it for writes). The
    /// region table's per-thread fast check (`regions::hold`), with nothing counted: a read
    /// links nothing into the thread's robust list.
    #[inline(always)]
    fn in_region(&self) -> bool {
        crate::regions::hold(self.addr(), std::mem::size_of_val(self)).is_some()
    }

    /// Releases slot `i`, if this thread holds it (in a forked child, a guard inherited from
    /// the parent names a slot holding the parent thread's identity: nothing changes), and
    /// wakes a writer that may sleep on it (one has raised its intent).
    #[inline(always)]
    fn release_slot(&self, i: usize) {
        if self
            .slot(i)
            .compare_exchange(me(), 0, SeqCst, Relaxed)
            .is_err()
        {
            return;
        }
        // Dekker's order against the writer's store of `intent` and load of the slot (see the
        // type docs): if this load misses the intent, that writer's load sees the slot free.
        shim::store_load_order();
        if self.intent.load(SeqCst) != 0 {
            self.wake_slot(i);
        }
    }

    #[cold]
    #[inline(never)]
    fn wake_slot(&self, i: usize) {
        self.slot(i).wake(i32::MAX, Scope::Shared);
    }

    /// Releases the writer mutex.
    ///
    /// # Safety
    /// The calling thread holds it.
    #[inline(always)]
    unsafe fn release_writer(&self) {
        // SAFETY: forwarded from the caller.
        unsafe { RawLock::unlock(&self.writer) };
    }

    /// Takes a reader slot (compare-exchange 0 -> `me`): the preferred one, else any free
    /// one, else (unless `wait` is a try) waits for the preferred one. A slot holding `me`
    /// already is `Mine` (a read of this lock this thread has).
    #[inline(always)]
    fn take_slot(&self, me: u64, wait: Wait<'_>) -> Result<Taken, Error> {
        let first = preferred();
        match self.slot(first).compare_exchange(0, me, SeqCst, Relaxed) {
            Ok(_) => Ok(Taken::Fresh(first)),
            Err(seen) if seen == me => Ok(Taken::Mine(first)),
            Err(_) => self.take_other_slot(first, me, wait),
        }
    }

    #[cold]
    fn take_other_slot(&self, first: usize, me: u64, wait: Wait<'_>) -> Result<Taken, Error> {
        let mut rounds = 0u32;
        loop {
            for k in 1..SLOTS {
                let i = (first + k) % SLOTS;
                match self.slot(i).compare_exchange(0, me, SeqCst, Relaxed) {
                    Ok(_) => {
                        PREFERRED.with(|p| p.set(i));
                        return Ok(Taken::Fresh(i));
                    }
                    Err(seen) if seen == me => return Ok(Taken::Mine(i)),
                    Err(_) => {}
                }
            }
            // Every slot busy (as many readers as slots, at this instant): wait for the
            // preferred one to be released (or its dead holder's to be reclaimed), for one
            // slice at most, then look at every slot again: a release wakes no reader (only a
            // draining writer), so another slot freed meanwhile is found within a slice,
            // not only when the preferred one's holder leaves. From the second round on, the
            // preferred holder's life is looked at before each sleep.
            match self.slot(first).compare_exchange(0, me, SeqCst, Relaxed) {
                Ok(_) => return Ok(Taken::Fresh(first)),
                Err(seen) if seen == me => return Ok(Taken::Mine(first)),
                Err(seen) => {
                    self.await_slot(first, seen, wait, rounds > 0, true)?;
                    rounds = rounds.saturating_add(1);
                }
            }
        }
    }

    /// Waits until slot `i` no longer holds `seen` (a holder's identity), as `wait` allows:
    /// sleeps on the word in slices of `SLICE` (the holder's release wakes it while a
    /// writer's intent is raised), and whenever a slice has ended with the word unchanged
    /// (at once for a try, or with `look`) looks at whether the holder lives: a dead
    /// holder's slot is reclaimed (compare-exchange `seen` -> 0: a reader writes nothing, so
    /// there is nothing to repair). `Ok(true)` if it reclaimed it. A try that would sleep is
    /// `WouldBlock`; past the expiry, `TimedOut`. With `one_slice`, `Ok(false)` also once the
    /// first slice has ended (the word unchanged).
    ///
    /// Each slice's end is fixed when the slice begins, and is compared with the clock after
    /// every return of the futex, whatever it returned: a signal handler (`EINTR`) or a
    /// spurious wake-up only sleeps again until that same end, so signals more frequent than
    /// `SLICE` cannot keep the look from happening (a new deadline per sleep would).
    #[cold]
    #[inline(never)]
    fn await_slot(
        &self,
        i: usize,
        seen: u64,
        wait: Wait<'_>,
        look: bool,
        one_slice: bool,
    ) -> Result<bool, Error> {
        let word = self.slot(i);
        let mut spins = 0;
        // Whether to look at the holder's life before sleeping (a look reads `/proc`: only
        // when the holder has had a whole slice to leave and has not, or when the caller
        // just found another holder dead: processes are often killed together).
        let mut look = look || matches!(wait, Wait::Try);
        // The end of the slice under way (`None`: none begun).
        let mut slice: Option<Deadline> = None;
        loop {
            if word.load(SeqCst) != seen {
                return Ok(false);
            }
            if spins < shim::spins(100) && !matches!(wait, Wait::Try) {
                spins += 1;
                std::hint::spin_loop();
                continue;
            }
            if look && !sys::holder_alive(seen) {
                // Whoever wins this (the word may have changed meanwhile) goes on.
                let _ = word.compare_exchange(seen, 0, SeqCst, Relaxed);
                return Ok(true);
            }
            let end = *slice.get_or_insert_with(|| Deadline::after(SLICE));
            let deadline = match wait {
                Wait::Try => return Err(Error::WouldBlock),
                Wait::Block => end,
                Wait::Until(expiry) => {
                    if expiry.passed() {
                        return Err(Error::TimedOut);
                    }
                    end.min(Deadline::after(expiry.remaining()))
                }
            };
            // On the low half: the holder's thread id and the low bits of its process id (a
            // change of the high half alone would need the same ids reused, and is seen when
            // the slice ends).
            word.wait(seen as u32, Some(&deadline), Scope::Shared);
            // After any return (a wake, a signal, a timeout): the slice is over once its end
            // has passed, and then the holder is looked at (if it is still there).
            look = end.passed();
            if look {
                if one_slice {
                    // The caller looks elsewhere first (and asks for the look next time).
                    return Ok(false);
                }
                slice = None;
            }
        }
    }

    /// A slot the calling thread holds, if any (an owner scan: a comparison of each slot's
    /// word with this thread's identity; only for a thread with read guards of a shared
    /// rwlock, before it writes or waits for a writer).
    #[cold]
    fn my_slot(&self) -> Option<usize> {
        let me = me();
        // Relaxed: only this thread stores its identity, and only it clears it (a reclaim
        // needs it dead).
        self.slots.iter().position(|s| s.0.load(Relaxed) == me)
    }

    /// One more read guard on `slot`, which this thread holds.
    #[cold]
    fn share_slot(&self, slot: usize) -> Result<Read, Error> {
        if share(LockKey::of(self.addr(), std::mem::size_of_val(self)), slot) {
            Ok(Read::Slot(slot))
        } else {
            // As many shared slots as the record holds (SHARES locks read twice at once).
            Err(Error::Overflow)
        }
    }

    /// Whether the calling thread holds the writer mutex.
    #[cold]
    fn holds_the_writer(&self) -> bool {
        self.writer.armed().is_ok_and(|m| m.held_by_me())
    }

    /// Takes the writer mutex. A dead holder    /// Takes the writer mutex. A dead holder that was not writing left nothing to repair
    /// (made consistent here); one that was writing leaves it inconsistent (`Torn`).
    fn take_writer(&self, wait: Wait<'_>) -> Result<Writer, Error> {
        match wait.acquire(&self.writer) {
            Ok(()) => Ok(Writer::Clean),
            Err(Error::OwnerDied) => {
                // Written by the dead holder before it died, under this mutex.
                if self.state.load(Relaxed) != CLEAN {
                    return Ok(Writer::Torn);
                }
                settle(&self.writer).map(|()| Writer::Clean)
            }
            // A trylock by the holder: EBUSY, where the blocking calls give EDEADLK.
            Err(Error::WouldBlock) if self.holds_the_writer() => Err(Error::Deadlock),
            Err(e) => Err(e),
        }
    }

    /// With the writer mutex held: raises the intent, then waits for every slot held at that
    /// moment to be released (or its dead holder's reclaimed).
    fn drain(&self, wait: Wait<'_>) -> Result<(), Error> {
        // Dekker's pattern with the reader's take-then-check (type docs, "Why a reader never
        // overlaps a writer"): the store and the loads sequentially consistent.
        let order = if switches::active(Mutation::SharedRwWriterRelaxed) {
            // Deliberately broken (model checks only): the intent raised and the slots
            // looked at without the store-then-load order.
            Relaxed
        } else {
            SeqCst
        };
        self.intent.store(1, order);
        if order == SeqCst {
            shim::store_load_order();
        }
        // Every slot looked at once (16 loads, no branch per slot); almost always all free.
        let mut seen = [0u64; SLOTS];
        let mut any = 0;
        for (i, slot) in self.slots.iter().enumerate() {
            seen[i] = slot.0.load(order);
            any |= seen[i];
        }
        if any == 0 {
            return Ok(());
        }
        self.await_holders(&seen, wait)
    }

    /// The drain's waits: for each slot, for the holder `seen` there after the intent was
    /// raised.
    #[cold]
    #[inline(never)]
    fn await_holders(&self, seen: &[u64; SLOTS], wait: Wait<'_>) -> Result<(), Error> {
        let me = me();
        // Once one holder was found dead, the next ones are looked at before any sleep.
        let mut found_dead = false;
        for (i, &seen) in seen.iter().enumerate() {
            if seen == 0 {
                continue;
            }
            if seen == me {
                // This thread's own read (an upgrade the owner scan missed): it would wait
                // for itself.
                return Err(Error::Deadlock);
            }
            // Only the holder seen now: a reader that takes the slot later sees the intent
            // and gives it back without reading.
            found_dead |= self.await_slot(i, seen, wait, found_dead, false)?;
        }
        Ok(())
    }

    /// With the writer mutex held and the drain failed (`torn`: the mutex still
    /// inconsistent): undoes the write attempt. Torn, the mutex is released unrepaired,
    /// which makes the lock not recoverable (reached only when a slot itself is broken).
    #[cold]
    fn back_out(&self, torn: bool) {
        if torn {
            self.state.store(NOT_RECOVERABLE, Relaxed);
        } else {
            self.intent.store(0, Release);
        }
        // SAFETY: the caller holds the writer mutex.
        unsafe { self.release_writer() };
    }

    /// The write side: writer mutex, drain, `state` writing. `Ok(true)`: a writer died
    /// holding the write guard (the mutex is still inconsistent).
    fn write_raw(&self, wait: Wait<'_>) -> Result<bool, Error> {
        if READS.with(Cell::get) > 0 && self.my_slot().is_some() {
            // An upgrade: the drain would wait for this thread's own slot. (Were it missed,
            // the drain would find this thread's identity in that slot: backed out, the
            // same error.)
            return Err(Error::Deadlock);
        }
        let torn = matches!(self.take_writer(wait)?, Writer::Torn);
        // A dead writer drained before it wrote and its intent stayed raised, so no reader
        // is in: the repairer's drain (which waits, whatever `wait` says) meets at most
        // readers backing off.
        if let Err(e) = self.drain(if torn { Wait::Block } else { wait }) {
            self.back_out(torn);
            return Err(e);
        }
        self.state.store(WRITING, Relaxed);
        Ok(torn)
    }

    /// The read side (see the type docs, "The protocol").
    #[inline(always)]
    fn read_raw(&self, wait: Wait<'_>) -> Result<Read, Error> {
        if switches::active(Mutation::SharedRwCheckFirst) {
            // Deliberately broken (model checks only): the intent checked before the slot is
            // taken, never after, so a writer's drain can pass the slot first.
            if self.intent.load(SeqCst) == 0 {
                return match self.take_slot(me(), wait)? {
                    Taken::Fresh(slot) => Ok(Read::Slot(slot)),
                    Taken::Mine(slot) => self.share_slot(slot),
                };
            }
        }
        if !self.in_region() {
            return Err(Error::NotInRegion);
        }
        match self.take_slot(me(), wait)? {
            Taken::Fresh(slot) => {
                // Dekker's order: the slot's exchange before this load (type docs).
                shim::store_load_order();
                if self.intent.load(SeqCst) == 0 {
                    Ok(Read::Slot(slot))
                } else {
                    self.read_behind_writer(slot, wait)
                }
            }
            // A slot this thread holds was passed by no writer's drain since: no writer is
            // in, whatever the intent says (type docs, "The protocol").
            Taken::Mine(slot) => self.share_slot(slot),
        }
    }

    /// A reader that found a writer's intent raised, holding `slot`: waits for the writer on
    /// the writer mutex, then takes a slot under it.
    #[cold]
    #[inline(never)]
    fn read_behind_writer(&self, slot: usize, wait: Wait<'_>) -> Result<Read, Error> {
        let keep = switches::active(Mutation::SharedRwKeepSlot);
        if !keep {
            self.release_slot(slot);
        }
        if READS.with(Cell::get) > 0 && !keep {
            if let Some(mine) = self.my_slot() {
                // This thread reads this lock already, on another slot: the writer waits for
                // that one, so this read shares it instead of waiting for the writer.
                return self.share_slot(mine);
            }
        }
        let writer = match self.take_writer(wait) {
            Ok(writer) => writer,
            Err(e) => {
                if keep {
                    self.release_slot(slot);
                }
                return Err(e);
            }
        };
        if let Writer::Torn = writer {
            // Repairing needs the write side, and it is this thread's now.
            if let Err(e) = self.drain(Wait::Block) {
                self.back_out(true);
                return Err(e);
            }
            self.state.store(WRITING, Relaxed);
            return Ok(Read::Recovered);
        }
        // Holding the writer mutex: no writer is between raising and clearing the intent. A
        // raised one was left by a holder that died before its drain was over: clear it.
        if self.intent.load(Relaxed) != 0 {
            self.intent.store(0, Release);
        }
        let taken = if keep {
            Ok(Read::Slot(slot))
        } else {
            match self.take_slot(me(), wait) {
                Ok(Taken::Fresh(slot)) => Ok(Read::Slot(slot)),
                Ok(Taken::Mine(slot)) => self.share_slot(slot),
                Err(e) => Err(e),
            }
        };
        // SAFETY: taken above by this thread.
        unsafe { self.release_writer() };
        taken
    }

    /// A read hold, as a result.
    #[inline(always)]
    #[track_caller]
    fn read_with(
        &self,
        wait: Wait<'_>,
    ) -> SharedLockResult<SharedRwLockReadGuard<'_, T>, SharedRwLockWriteGuard<'_, T>> {
        let checked = crate::lock_order::acquiring(self.addr(), lock_order_wait(&wait));
        let read = self.read_raw(wait);
        crate::lock_order::acquired(checked, self.addr(), &read);
        match read {
            Ok(Read::Slot(slot)) => self.read_result(slot),
            Ok(Read::Recovered) => Err(SharedLockError::OwnerDied(OwnerDied::new(
                self.write_guard(false),
            ))),
            Err(e) => Err(SharedLockError::Failed(e)),
        }
    }

    #[inline(always)]
    fn read_result(
        &self,
        slot: usize,
    ) -> SharedLockResult<SharedRwLockReadGuard<'_, T>, SharedRwLockWriteGuard<'_, T>> {
        let guard = SharedRwLockReadGuard::new(self, slot);
        if self.poison.is_poisoned() {
            Err(SharedLockError::Poisoned(PoisonError::new(guard)))
        } else {
            Ok(guard)
        }
    }

    /// The write guard of a write side this thread holds (`consistent`: see its field).
    #[inline(always)]
    fn write_guard(&self, consistent: bool) -> SharedRwLockWriteGuard<'_, T> {
        SharedRwLockWriteGuard {
            lock: self,
            panicking: self.poison.enter(),
            consistent,
            generation: shim::fork_generation(),
            _not_send: PhantomData,
        }
    }

    #[inline(always)]
    #[track_caller]
    fn write_with(&self, wait: Wait<'_>) -> SharedLockResult<SharedRwLockWriteGuard<'_, T>> {
        shim::watch_forks();
        let checked = crate::lock_order::acquiring(self.addr(), lock_order_wait(&wait));
        let write = self.write_raw(wait);
        crate::lock_order::acquired(checked, self.addr(), &write);
        match write {
            Ok(true) => Err(SharedLockError::OwnerDied(OwnerDied::new(
                self.write_guard(false),
            ))),
            Ok(false) => {
                let guard = self.write_guard(true);
                if self.poison.is_poisoned() {
                    Err(SharedLockError::Poisoned(PoisonError::new(guard)))
                } else {
                    Ok(guard)
                }
            }
            Err(e) => Err(SharedLockError::Failed(e)),
        }
    }

    /// Blocks until a read hold is acquired (shared with other readers).
    ///
    /// # Errors
    /// [`SharedLockError::OwnerDied`] with a **write** guard when a writer died mid-update
    /// (repair, [`make_consistent`](OwnerDied::make_consistent), then
    /// [`downgrade`](SharedRwLockWriteGuard::downgrade) if a read is what you want);
    /// [`SharedLockError::Poisoned`] with the read guard; [`SharedLockError::Failed`] with
    /// [`Error::Deadlock`] if this thread holds the write guard, [`Error::NotRecoverable`],
    /// [`Error::NotInRegion`], [`Error::Overflow`] (see [Misuse](SharedRwLock#misuse)). A
    /// second read by a thread that reads it already shares its hold, also while a writer
    /// waits.
    ///
    /// ```
    /// use pthread_sync::{Error, SharedRwLock, ShmBox};
    ///
    /// let lock = ShmBox::anonymous(SharedRwLock::new(5u32))?;
    /// let first = lock.read().map_err(|e| e.to_string())?;
    /// let again = lock.read().map_err(|e| e.to_string())?; // shares the first one's slot
    /// assert_eq!(*first + *again, 10);
    /// // A write by a reader would wait for itself:
    /// assert_eq!(lock.write().map(|_| ()).unwrap_err().error(), Some(Error::Deadlock));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[doc(alias = "pthread_rwlock_rdlock")]
    #[inline]
    #[track_caller]
    pub fn read(
        &self,
    ) -> SharedLockResult<SharedRwLockReadGuard<'_, T>, SharedRwLockWriteGuard<'_, T>> {
        self.read_with(Wait::Block)
    }

    /// A read hold if one can be had without waiting: none while a writer holds the lock or
    /// drains it (nor, rarely, while another reader waits for a writer on the writer mutex).
    ///
    /// # Errors
    /// As [`read`](Self::read), and `Failed(Error::WouldBlock)`.
    ///
    /// ```
    /// use pthread_sync::{Error, SharedRwLock, ShmBox};
    ///
    /// let lock = ShmBox::anonymous(SharedRwLock::new(0u32))?;
    /// let w = lock.write().map_err(|e| e.to_string())?;
    /// let other = std::thread::scope(|s| {
    ///     s.spawn(|| lock.try_read().map(|_| ()).unwrap_err().error()).join().unwrap()
    /// });
    /// assert_eq!(other, Some(Error::WouldBlock));
    /// drop(w);
    /// assert!(lock.try_read().is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[doc(alias = "pthread_rwlock_tryrdlock")]
    #[inline]
    #[track_caller]
    pub fn try_read(
        &self,
    ) -> SharedLockResult<SharedRwLockReadGuard<'_, T>, SharedRwLockWriteGuard<'_, T>> {
        self.read_with(Wait::Try)
    }

    /// Blocks until a read hold is acquired or `dur` has passed (every wait on
    /// `CLOCK_MONOTONIC`, against one deadline).
    ///
    /// # Errors
    /// As [`read`](Self::read), and `Failed(Error::TimedOut)`.
    ///
    /// ```
    /// use pthread_sync::{Error, SharedRwLock, ShmBox};
    /// use std::time::Duration;
    ///
    /// let lock = ShmBox::anonymous(SharedRwLock::new(0u32))?;
    /// let w = lock.write().map_err(|e| e.to_string())?;
    /// let other = std::thread::scope(|s| {
    ///     s.spawn(|| lock.read_timeout(Duration::from_millis(20)).map(|_| ()).unwrap_err().error())
    ///         .join()
    ///         .unwrap()
    /// });
    /// assert_eq!(other, Some(Error::TimedOut));
    /// # drop(w);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[doc(alias = "pthread_rwlock_clockrdlock")]
    #[track_caller]
    pub fn read_timeout(
        &self,
        dur: Duration,
    ) -> SharedLockResult<SharedRwLockReadGuard<'_, T>, SharedRwLockWriteGuard<'_, T>> {
        let expiry = shim::Expiry::after(dur);
        self.read_with(Wait::Until(&expiry))
    }

    /// Blocks until the write hold is acquired (exclusive): waits for the writer mutex, then
    /// for the readers in (new readers wait behind it).
    ///
    /// # Errors
    /// [`SharedLockError::OwnerDied`] when a writer died mid-update (repair, then
    /// [`make_consistent`](OwnerDied::make_consistent)); [`SharedLockError::Poisoned`];
    /// [`SharedLockError::Failed`] with [`Error::Deadlock`] if this thread holds a read or
    /// the write guard of this lock, [`Error::NotRecoverable`], [`Error::NotInRegion`].
    ///
    /// ```
    /// use pthread_sync::{Error, SharedRwLock, ShmBox};
    ///
    /// let lock = ShmBox::anonymous(SharedRwLock::new([1u8, 2, 3]))?;
    /// let mut w = lock.write().map_err(|e| e.to_string())?;
    /// w[0] = 9;
    /// assert_eq!(lock.write().map(|_| ()).unwrap_err().error(), Some(Error::Deadlock));
    /// drop(w);
    /// assert_eq!(*lock.read().map_err(|e| e.to_string())?, [9, 2, 3]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[doc(alias = "pthread_rwlock_wrlock")]
    #[inline]
    #[track_caller]
    pub fn write(&self) -> SharedLockResult<SharedRwLockWriteGuard<'_, T>> {
        self.write_with(Wait::Block)
    }

    /// The write hold if it can be had without waiting (no writer, no reader in; a reader
    /// caught in the instant of its own acquisition also makes it fail).
    ///
    /// # Errors
    /// As [`write`](Self::write), and `Failed(Error::WouldBlock)`.
    ///
    /// ```
    /// use pthread_sync::{Error, SharedRwLock, ShmBox};
    ///
    /// let lock = ShmBox::anonymous(SharedRwLock::new(0u32))?;
    /// let r = lock.read().map_err(|e| e.to_string())?;
    /// let other = std::thread::scope(|s| {
    ///     s.spawn(|| lock.try_write().map(|_| ()).unwrap_err().error()).join().unwrap()
    /// });
    /// assert_eq!(other, Some(Error::WouldBlock));
    /// drop(r);
    /// *lock.try_write().map_err(|e| e.to_string())? += 1;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[doc(alias = "pthread_rwlock_trywrlock")]
    #[inline]
    #[track_caller]
    pub fn try_write(&self) -> SharedLockResult<SharedRwLockWriteGuard<'_, T>> {
        self.write_with(Wait::Try)
    }

    /// Blocks until the write hold is acquired or `dur` has passed (the wait for the writer
    /// mutex and the wait for the readers against one deadline, on `CLOCK_MONOTONIC`). On a
    /// timeout nothing is left behind: the intent is cleared, readers waiting behind it go
    /// on.
    ///
    /// # Errors
    /// As [`write`](Self::write), and `Failed(Error::TimedOut)`.
    ///
    /// ```
    /// use pthread_sync::{Error, SharedRwLock, ShmBox};
    /// use std::time::Duration;
    ///
    /// let lock = ShmBox::anonymous(SharedRwLock::new(0u32))?;
    /// let r = lock.read().map_err(|e| e.to_string())?;
    /// let other = std::thread::scope(|s| {
    ///     s.spawn(|| lock.write_timeout(Duration::from_millis(20)).map(|_| ()).unwrap_err().error())
    ///         .join()
    ///         .unwrap()
    /// });
    /// assert_eq!(other, Some(Error::TimedOut));
    /// assert!(lock.try_read().is_ok(), "no intent left raised");
    /// # drop(r);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[doc(alias = "pthread_rwlock_clockwrlock")]
    #[track_caller]
    pub fn write_timeout(&self, dur: Duration) -> SharedLockResult<SharedRwLockWriteGuard<'_, T>> {
        let expiry = shim::Expiry::after(dur);
        self.write_with(Wait::Until(&expiry))
    }

    /// Whether a writer panicked while holding the lock, in any process.
    pub fn is_poisoned(&self) -> bool {
        self.poison.is_poisoned()
    }

    /// Clears the poisoned state (for every process), for a caller that has repaired the
    /// data.
    pub fn clear_poison(&self) {
        self.poison.clear();
    }
}

impl<'a, T: ?Sized> OwnerDied<SharedRwLockWriteGuard<'a, T>> {
    /// Marks the lock consistent again (`pthread_mutex_consistent` of its writer mutex), for
    /// a caller that has repaired the data, and gives the plain write guard back.
    ///
    /// # Errors
    /// What `pthread_mutex_consistent` reports; the guard is then dropped (the lock becomes
    /// not recoverable).
    #[doc(alias = "pthread_mutex_consistent")]
    pub fn make_consistent(self) -> Result<SharedRwLockWriteGuard<'a, T>, Error> {
        let mut guard = self.into_inner();
        // SAFETY: the guard proves this thread holds the writer mutex.
        unsafe { RawLock::mutex(&guard.lock.writer).consistent() }?;
        guard.consistent = true;
        Ok(guard)
    }
}

impl<'a, T: ?Sized> SharedRwLockWriteGuard<'a, T> {
    /// Turns the write hold into a read hold, atomically: no writer can get in between.
    /// An associated function, so it never shadows a method of `T`. A guard still
    /// inconsistent (from [`OwnerDied::into_inner`]) gives up the repair: the lock becomes
    /// not recoverable for everyone else, as when it is dropped.
    ///
    /// ```
    /// use pthread_sync::{SharedRwLock, SharedRwLockWriteGuard, ShmBox};
    ///
    /// let lock = ShmBox::anonymous(SharedRwLock::new(1u32))?;
    /// let mut w = lock.write().map_err(|e| e.to_string())?;
    /// *w = 2;
    /// let r = SharedRwLockWriteGuard::downgrade(w);
    /// assert_eq!(*r, 2);
    /// assert!(lock.try_read().is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Panics
    /// In a forked child, for a guard it inherited (the write hold is the parent's).
    pub fn downgrade(this: Self) -> SharedRwLockReadGuard<'a, T> {
        let generation = shim::fork_generation();
        assert!(
            this.generation == generation,
            "pthread-sync: SharedRwLockWriteGuard::downgrade of a guard inherited across fork \
             (the write hold is the parent's)"
        );
        let this = std::mem::ManuallyDrop::new(this);
        let lock = this.lock;
        lock.poison.leave(&this.panicking);
        // Holding the write side: only readers backing off hold slots, for an instant (and
        // this thread none: a writer reads nothing).
        let slot = match lock.take_slot(me(), Wait::Block) {
            Ok(Taken::Fresh(slot)) => slot,
            Ok(Taken::Mine(_)) => fatal("SharedRwLock slot (downgrade)", Error::Deadlock),
            Err(e) => fatal("SharedRwLock slot (downgrade)", e),
        };
        if this.consistent {
            lock.state.store(CLEAN, Relaxed);
            lock.intent.store(0, Release);
        } else {
            lock.state.store(NOT_RECOVERABLE, Relaxed);
        }
        // SAFETY: the guard proves this thread holds the writer mutex; the guard is not
        // dropped (ManuallyDrop), so it is released once, here.
        unsafe { lock.release_writer() };
        SharedRwLockReadGuard::new(lock, slot)
    }

    /// The data, pinned: mutable access to data that holds shared primitives (`!Unpin`),
    /// without the means to move them. An associated function, so it never shadows `T`'s.
    pub fn as_pin_mut(this: &mut Self) -> std::pin::Pin<&mut T> {
        // SAFETY: the write hold is exclusive and `&mut this` makes this the only reference;
        // the data lives in a region and never moves, and `Pin` keeps the caller from moving
        // it.
        unsafe { std::pin::Pin::new_unchecked(&mut *this.lock.data.get()) }
    }
}

impl<'a, T: ?Sized> SharedRwLockReadGuard<'a, T> {
    /// The guard of a read hold of `slot` this thread has just taken (or shares).
    #[inline(always)]
    fn new(lock: &'a SharedRwLock<T>, slot: usize) -> Self {
        READS.with(|r| r.set(r.get() + 1));
        SharedRwLockReadGuard {
            lock,
            slot,
            _not_send: PhantomData,
        }
    }
}

impl<T: ?Sized> SharedRwLockReadGuard<'_, T> {
    /// A reader's death, in the model (threads stand in for processes): the thread's
    /// identity is dead from now on (other threads' liveness checks say so) and its slot
    /// stays as it was (nobody is woken: a writer sleeping on it sees the death at the end
    /// of its wait's slice, which in the model may come at any point). The thread must not
    /// use the lock again.
    #[cfg(loom)]
    pub(crate) fn die(self) {
        sys::thread_dies(me());
        std::mem::forget(self);
    }
}

impl<T: ?Sized> Drop for SharedRwLockReadGuard<'_, T> {
    #[inline(always)]
    fn drop(&mut self) {
        crate::lock_order::release(self.lock.addr());
        READS.with(|r| r.set(r.get().wrapping_sub(1)));
        if unshare(
            self.lock.addr(),
            std::mem::size_of_val(self.lock),
            self.slot,
        ) {
            return; // another guard of this thread holds the slot still
        }
        // This thread's read hold is that slot (the guard is `!Send`). In a forked child, a
        // guard inherited from the parent names a slot holding the parent thread's identity:
        // nothing changes.
        self.lock.release_slot(self.slot);
    }
}

impl<T: ?Sized> Drop for SharedRwLockWriteGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        crate::lock_order::release(self.lock.addr());
        if self.generation != shim::fork_generation() {
            return; // inherited by a forked child: the write hold is the parent's
        }
        let lock = self.lock;
        lock.poison.leave(&self.panicking);
        if self.consistent {
            lock.state.store(CLEAN, Relaxed);
            // Release: a reader that loads it (acquire) sees the data written.
            lock.intent.store(0, Release);
        } else {
            // Given up unrepaired: the intent stays raised (readers go to the writer mutex),
            // and releasing the inconsistent mutex makes glibc refuse it to everyone.
            lock.state.store(NOT_RECOVERABLE, Relaxed);
        }
        // SAFETY: the guard proves this thread holds the writer mutex (it is `!Send`).
        unsafe { lock.release_writer() };
    }
}

impl<T: ?Sized> Deref for SharedRwLockReadGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: a read hold: no writer until it is released.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> Deref for SharedRwLockWriteGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the write hold: exclusive.
        unsafe { &*self.lock.data.get() }
    }
}

/// `&mut T` for plain data only (`T: Unpin`): data holding shared primitives (`!Unpin`) could
/// otherwise have an armed one moved out of its place (see [`Shared`](crate::kind::Shared)).
impl<T: ?Sized + Unpin> DerefMut for SharedRwLockWriteGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the write hold is exclusive, and `&mut self` makes this the only reference.
        unsafe { &mut *self.lock.data.get() }
    }
}

crate::shim::fmt_through_deref!(['a, T: ?Sized] SharedRwLockReadGuard<'a, T>);
crate::shim::fmt_through_deref!(['a, T: ?Sized] SharedRwLockWriteGuard<'a, T>);

impl<T: ?Sized> fmt::Debug for SharedRwLock<T> {
    /// `SharedRwLock { poisoned: .., .. }`: never the data, since taking the lock could be
    /// the acquisition that finds a writer dead (and dropping that guard unrepaired would make
    /// the lock not recoverable for everyone).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedRwLock")
            .field("poisoned", &self.poison.is_poisoned())
            .finish_non_exhaustive()
    }
}

impl<T: Default> Default for SharedRwLock<T> {
    fn default() -> SharedRwLock<T> {
        SharedRwLock::new(T::default())
    }
}

impl<T> From<T> for SharedRwLock<T> {
    fn from(t: T) -> SharedRwLock<T> {
        SharedRwLock::new(t)
    }
}

// The lock-order checker's view of the lock (`lock_order::name` takes it).
impl<T: ?Sized> crate::lock_order::sealed::Sealed for SharedRwLock<T> {
    fn lock_order_addr(&self) -> usize {
        self.order_addr()
    }
    fn lock_order_created(&self) -> crate::lock_order::graph::Site {
        None // bytes shared with C: no room for a site
    }
}
impl<T: ?Sized> crate::lock_order::Ordered for SharedRwLock<T> {}
