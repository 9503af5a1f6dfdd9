//! [`SharedRwLock`]: a reader-writer lock in a shared-memory region that no process's death
//! can stall, on a protocol of the crate's own over robust mutexes ("big-reader" slots).
//!
//! The protocol, why a reader never overlaps a writer, and what a death does in each phase
//! are documented on the type ([`SharedRwLock`]), for its users; its bytes and steps for C in
//! the `shm` module docs.

use std::cell::{Cell, UnsafeCell};
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::PoisonError;
use std::time::Duration;

use crate::error::{fatal, Error};
use crate::locker::kind::ErrorCheck;
use crate::locker::raw::RawLock;
use crate::locker::{OwnerDied, Robust, SharedLockError, SharedLockResult};
use crate::poison::{Flag, Policy};
use crate::shim::{self, array_of, const_fn, thread_local_const, AtomicU32};
use crate::switches::{self, Mutation};

/// How many reader slots a lock has (16; 2 in the model build).
const SLOTS: usize = shim::SHARED_READER_SLOTS;

/// Every mutex of the lock: robust, process-shared, errorcheck (a relock by its holder is
/// `EDEADLK`, not a hang), armed in place on first use (`crate::placed`), counted in the
/// region's holds while held (`crate::regions`).
type Mutex = Robust<ErrorCheck>;

/// A reader slot: a mutex alone on its cache line.
#[repr(C, align(64))]
struct Slot(Mutex);

impl Slot {
    const_fn! {
        const fn new() -> Slot {
            Slot(Robust::new_const())
        }
    }
}

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
/// writer: everyone after it waits forever) but a protocol of the crate's own over robust
/// mutexes: see below for how it works, why a reader never overlaps a writer, and what a
/// death does in each phase; [`shm`](crate::shm) documents its bytes and steps for C
/// programs.
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
/// reader) waiting forever, and no call can tell. The kernel can tell a dead holder of one
/// thing only, a robust mutex (the owner's robust list, walked at its exit), so this lock is
/// made of robust mutexes:
///
/// - `SLOTS` (16) **reader slots**, each a robust, process-shared, errorcheck mutex on a
///   cache line of its own. A reader holds one for as long as it reads.
/// - a **writer mutex** of the same kind, held by a writer for as long as it writes (and
///   briefly by readers that wait for a writer: below);
/// - an **intent** word (1 while a writer drains or writes), and a **state** word (1 while a
///   writer holds the write guard, 2 once the lock is not recoverable), both owned by the
///   writer mutex's holder: only it writes them.
///
/// ## The protocol
///
/// - **Read**: take a slot (the thread's preferred one with a trylock, then the others; if all
///   are busy, wait for the preferred one), then load `intent` (acquire). 0: the read hold is
///   the slot. 1: give the slot back and wait for the writer on the writer mutex; holding it
///   (no writer can be between raising and clearing the intent then), take a slot, release
///   the writer mutex: the read hold is that slot.
/// - **A second read** by a thread that reads the lock already **shares the slot it holds**
///   (counted in a small per-thread record while shared), whatever the intent says: a slot a
///   reader holds has been passed by no writer's drain since it was taken, so holding one
///   proves no writer is in, and waiting for the writer would wait for itself. Found for
///   free when it is the preferred slot (glibc's trylock of a robust errorcheck mutex by its
///   owner says `EDEADLK`), else by an owner scan of the slots before waiting for a writer,
///   made only by a thread that holds read guards.
/// - **Write**: take the writer mutex, raise `intent` (relaxed), then **drain**: take and
///   release every slot in turn. A live reader's slot makes the writer wait for that reader;
///   a dead reader's hands it `EOWNERDEAD`: a reader writes nothing, so the slot is made
///   consistent at once, silently. Then `state` = 1 (writing) and the guard is handed out.
/// - **Write unlock**: `state` = 0, `intent` = 0 (release), release the writer mutex.
/// - **Downgrade**: with the write hold, take a slot, then clear `intent` and release the
///   writer mutex: the slot is a read hold that any later writer's drain waits for.
///
/// Writers do not starve: once a writer has raised its intent, every new reader goes to wait
/// on the writer mutex, so the writer waits only for the readers already in. Readers do not
/// starve either: a reader waiting on the writer mutex gets its read as soon as it has it.
/// Reads scale: readers on different slots write different cache lines (the slots), and only
/// read the line holding `intent` and the data. A writer pays `SLOTS` uncontended robust
/// locks and unlocks.
///
/// ## Why a reader never overlaps a writer (the store-then-load order)
///
/// A reader stores to its slot (the slot's lock) and then loads `intent`; a writer stores
/// `intent` and then "loads" each slot. In general that is Dekker's pattern, which needs a
/// store-load barrier on both sides (sequentially consistent accesses, or fences), because
/// each side could read the other's location before its own store is visible. Here it does
/// not, because the writer's load of a slot is an **acquisition of the slot's mutex**, a
/// read-modify-write of the same word the reader's lock writes, never a peek at it:
///
/// - the acquisitions of one mutex are totally ordered. If the reader's comes first, the
///   writer's drain waits until the reader releases the slot, after its read;
/// - if the writer's comes first, the reader's acquisition reads the writer's release
///   (unlock, release ordering) or a later one in that mutex's chain of releases and
///   acquisitions, so the writer's store of `intent`, made before its unlock, *happens
///   before* the reader's load of `intent`: by coherence that load cannot read the value
///   before it. It reads 1 (the reader backs off), or the value that writer's unlock stored
///   later, 0 with release ordering (the write is over, and the acquire load makes its data
///   visible), or a later writer's 1.
///
/// So no sequentially consistent access and no fence is needed, and none is used: `intent`
/// is stored relaxed when raised, with release when cleared, and loaded with acquire. This
/// also makes the model build faithful as it is (loom weakens `SeqCst` accesses to
/// `AcqRel`, which would matter to a pattern that relied on them: the in-process
/// `RwLock`'s BRAVO slots, which writers only peek at, need `shim::store_load_order`). The
/// loom model (`loom-tests/tests/shared_rwlock.rs`) checks exclusion with loom's race
/// detector and rejects the reader that checks `intent` before taking its slot (mutation
/// `SharedRwCheckFirst`): then a writer's drain can pass the slot before the reader takes
/// it, and the two overlap. A writer that peeked at the slots instead of taking them would
/// be that same race from the other side.
///
/// ## A process may die at any instant
///
/// Every wait is on a robust mutex, with sleeps of at most 20 ms
/// (`sys::RawMutex::lock_robust`), so a dead process can never strand a waiter for longer.
///
/// | who dies | where | what the others get |
/// |---|---|---|
/// | reader | holding a slot | the writer that drains it gets `EOWNERDEAD`: made consistent, nothing to repair |
/// | reader | waiting for a slot, or on the writer mutex | nothing (the kernel drops a dead waiter) |
/// | reader | holding the writer mutex (waiting for a writer, then taking a slot) | `EOWNERDEAD` to its next locker with `state` 0: made consistent, nothing to repair |
/// | writer | holding the writer mutex before or while draining (intent raised, some slots drained, one perhaps held) | the slot it held: `EOWNERDEAD`, consistent; the writer mutex: `EOWNERDEAD` with `state` 0 to its next locker, a writer or a reader sent there by the intent: made consistent, `intent` cleared by that holder. Nothing to repair |
/// | writer | holding the write guard (`state` 1) | the next locker, reader or writer, gets [`SharedLockError::OwnerDied`] with a **write** guard: repair, then [`OwnerDied::make_consistent`]; dropped unrepaired: [`Error::NotRecoverable`] for every process, readers included (the intent stays raised, so they all go to the writer mutex, which glibc then refuses) |
/// | writer | after its unlock cleared `state` | `EOWNERDEAD` with `state` 0: nothing to repair |
///
/// The intent flag is where such protocols usually break (a writer dies with it raised, and
/// readers wait for it to be cleared forever): here it belongs to the writer mutex. Readers
/// that see it raised do not wait for the flag but for the mutex, so the kernel tells one
/// of them, or the next writer, that its raiser died, and that one clears it.
///
/// ## `fork`
///
/// A forked child's thread is not the holder of its parent thread's robust mutexes: the owner
/// scan compares thread ids, so it finds none of them; glibc refuses (`EPERM`) to unlock
/// them, so a read guard the child inherited releases nothing when it is dropped. What is
/// the crate's own carries a fork generation (bumped in every child by a `pthread_atfork`
/// handler registered on first use): an inherited entry of the shared-slot record counts for
/// nothing, and an inherited write guard does nothing when dropped (it would clear the
/// parent's intent and state). A child must not use such a guard otherwise (as any shared
/// lock's: see [`atfork`](crate::atfork)).
///
/// ## Misuse
///
/// A write by a thread that holds a read of the same lock (its drain would wait for itself),
/// and a read or a write by the thread that holds the write guard, are
/// [`Error::Deadlock`] at once (an owner scan, and the mutexes' errorcheck kind), never a
/// hang. A thread may share slots of 8 locks at once (each read twice or more while one
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

/// A read guard of a [`SharedRwLock`]: shared access until dropped. `!Send`: its slot mutex
/// must be released by the thread that took it.
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
struct Shares {
    live: Cell<usize>,
    lock: [Cell<usize>; SHARES],
    slot: [Cell<usize>; SHARES],
    guards: [Cell<usize>; SHARES],
    generation: [Cell<u32>; SHARES],
}

thread_local_const! {
    static SHARED: Shares = Shares {
        live: Cell::new(0),
        lock: [const { Cell::new(0) }; SHARES],
        slot: [const { Cell::new(0) }; SHARES],
        guards: [const { Cell::new(0) }; SHARES],
        generation: [const { Cell::new(0) }; SHARES],
    };
}

/// One more read guard of `lock` on `slot`, a slot this thread holds (through at least one
/// guard); `false` if the record is full.
#[cold]
#[inline(never)]
fn share(lock: usize, slot: usize) -> bool {
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

/// A read guard of `lock` on `slot` is dropped: `true` if other guards of this thread still
/// share the slot (it stays held), `false` if this was the last one (release it).
#[inline(always)]
fn unshare(lock: usize, slot: usize) -> bool {
    SHARED.with(|r| r.live.get() != 0 && unshare_slow(r, lock, slot))
}

#[cold]
#[inline(never)]
fn unshare_slow(r: &Shares, lock: usize, slot: usize) -> bool {
    let generation = shim::fork_generation();
    for i in 0..SHARES {
        if r.guards[i].get() != 0 && r.lock[i].get() == lock && r.slot[i].get() == slot {
            if r.generation[i].get() != generation {
                // An entry a forked child inherited: its guard's release is harmless there
                // (glibc refuses to unlock another thread's mutex).
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

/// The result of an acquisition of a slot, or of a mutex only taken to wait or to drain:
/// its dead owner (`EOWNERDEAD`) left nothing to repair, so it is made consistent here.
#[inline(always)]
fn settled(m: &Mutex, acquired: Result<(), Error>) -> Result<(), Error> {
    match acquired {
        Err(Error::OwnerDied) => settle(m),
        done => done,
    }
}

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
    fn slot(&self, i: usize) -> &Mutex {
        &self.slots[i].0
    }

    /// Releases slot `i`.
    ///
    /// # Safety
    /// The calling thread holds it.
    #[inline(always)]
    unsafe fn release_slot(&self, i: usize) {
        // SAFETY: forwarded from the caller.
        unsafe { RawLock::unlock(self.slot(i)) };
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

    /// Takes a reader slot: the preferred one, else any free one, else (unless `wait` is a
    /// try) waits for the preferred one. A dead holder's slot is made consistent. A slot this
    /// thread holds already is `Mine` (glibc's trylock of a robust errorcheck mutex by its
    /// owner says `EDEADLK`: found for free).
    #[inline(always)]
    fn take_slot(&self, wait: Wait<'_>) -> Result<Taken, Error> {
        let first = preferred();
        match settled(self.slot(first), RawLock::try_lock(self.slot(first))) {
            Ok(()) => Ok(Taken::Fresh(first)),
            Err(Error::Deadlock) => Ok(Taken::Mine(first)),
            Err(Error::WouldBlock) => self.take_other_slot(first, wait),
            Err(e) => Err(e),
        }
    }

    #[cold]
    fn take_other_slot(&self, first: usize, wait: Wait<'_>) -> Result<Taken, Error> {
        for k in 1..SLOTS {
            let i = (first + k) % SLOTS;
            match settled(self.slot(i), RawLock::try_lock(self.slot(i))) {
                Err(Error::WouldBlock) => continue,
                Ok(()) => {
                    PREFERRED.with(|p| p.set(i));
                    return Ok(Taken::Fresh(i));
                }
                Err(Error::Deadlock) => return Ok(Taken::Mine(i)),
                Err(e) => return Err(e),
            }
        }
        match wait {
            Wait::Try => Err(Error::WouldBlock),
            wait => match settled(self.slot(first), wait.acquire(self.slot(first))) {
                Ok(()) => Ok(Taken::Fresh(first)),
                Err(Error::Deadlock) => Ok(Taken::Mine(first)),
                Err(e) => Err(e),
            },
        }
    }

    /// A slot the calling thread holds, if any (an owner scan: a system call per slot; only
    /// for a thread with read guards of a shared rwlock, before it writes or waits for a
    /// writer).
    #[cold]
    fn my_slot(&self) -> Option<usize> {
        self.slots
            .iter()
            .position(|s| s.0.armed().is_ok_and(|m| m.held_by_me()))
    }

    /// One more read guard on `slot`, which this thread holds.
    #[cold]
    fn share_slot(&self, slot: usize) -> Result<Read, Error> {
        if share(self.addr(), slot) {
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

    /// With the writer mutex held: raises the intent, then takes and releases every slot in
    /// turn (waiting for the readers in; a dead reader's slot made consistent).
    fn drain(&self, wait: Wait<'_>) -> Result<(), Error> {
        // Relaxed: every reader that could miss it is ordered after it by the slot it takes
        // (see the type docs, "Why a reader never overlaps a writer").
        self.intent.store(1, Relaxed);
        for slot in &self.slots {
            settled(&slot.0, wait.acquire(&slot.0))?;
            // SAFETY: acquired just above.
            unsafe { RawLock::unlock(&slot.0) };
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
            // the drain's lock of that slot would say `EDEADLK`: backed out, the same error.)
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
            if self.intent.load(Acquire) == 0 {
                return match self.take_slot(wait)? {
                    Taken::Fresh(slot) => Ok(Read::Slot(slot)),
                    Taken::Mine(slot) => self.share_slot(slot),
                };
            }
        }
        match self.take_slot(wait)? {
            Taken::Fresh(slot) if self.intent.load(Acquire) == 0 => Ok(Read::Slot(slot)),
            Taken::Fresh(slot) => self.read_behind_writer(slot, wait),
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
            // SAFETY: taken by `read_raw` on this thread.
            unsafe { self.release_slot(slot) };
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
                    // SAFETY: kept, still held.
                    unsafe { self.release_slot(slot) };
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
            match self.take_slot(wait) {
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
        let slot = match lock.take_slot(Wait::Block) {
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

impl<T: ?Sized> Drop for SharedRwLockReadGuard<'_, T> {
    #[inline(always)]
    fn drop(&mut self) {
        crate::lock_order::release(self.lock.addr());
        READS.with(|r| r.set(r.get().wrapping_sub(1)));
        if unshare(self.lock.addr(), self.slot) {
            return; // another guard of this thread holds the slot still
        }
        // SAFETY: this thread's read hold is that slot (the guard is `!Send`). In a forked
        // child, a guard inherited from the parent names a slot of the parent's thread, and
        // glibc refuses (`EPERM`) to unlock it: nothing changes.
        unsafe { self.lock.release_slot(self.slot) };
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

impl<T: ?Sized + fmt::Debug> fmt::Debug for SharedRwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}
impl<T: ?Sized + fmt::Display> fmt::Display for SharedRwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}
impl<T: ?Sized + fmt::Debug> fmt::Debug for SharedRwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}
impl<T: ?Sized + fmt::Display> fmt::Display for SharedRwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

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
