//! [`RwLock`]: a reader-writer lock, a drop-in for `std::sync::RwLock`, whose reads scale
//! across CPUs (a biased read path, `bravo.rs`, over a lock word of the crate's own,
//! `word.rs`, in place of `pthread_rwlock_t`: see there for why and what it keeps).
//!
//! | | std's `RwLock` | this `RwLock` |
//! |---|---|---|
//! | methods | `new` (const), `read`, `try_read`, `write`, `try_write`, `is_poisoned`, `clear_poison`, `into_inner`, `get_mut`, `RwLockWriteGuard::downgrade` | the same, plus `read_timeout`, `write_timeout` (`CLOCK_MONOTONIC`) |
//! | poisoning | a writer's panic | the same |
//! | writers starve? | no (writer-preferring futex lock) | no: a writer-preferring lock word underneath (new readers queue behind a waiting writer, as under glibc's `PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP`), and a writer revokes the read bias before it enters |
//! | a second read by a thread that reads already | may deadlock while a writer waits | counted, never a deadlock |
//! | a write by a thread that holds a read (upgrade), or by the write holder | deadlocks (or panics) | panics at once, naming the mistake |
//! | reads from 2+ CPUs | one shared lock word | readers publish in per-thread slots while the lock is read-biased: no shared line written |
//!
//! How it is built: `word` (the lock word: writer-preferring, non-recursive, futex waits),
//! `bravo` (the biased read path and its revocation), `held` (the thread's count of its
//! read guards per reader slot, and its record of its other read holds). The data, guards and poisoning live here.
//!
//! Its process-shared twin, [`SharedRwLock`] (`shared.rs`), is a protocol of the crate's own:
//! reader slots that name their holder threads and a robust writer mutex (glibc's
//! process-shared rwlock cannot tell a dead reader or writer).

mod bravo;
mod held;
mod shared;
pub(crate) mod word;

pub use shared::{SharedRwLock, SharedRwLockReadGuard, SharedRwLockWriteGuard};

use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::panic::{RefUnwindSafe, UnwindSafe};
use std::sync::{LockResult, TryLockError, TryLockResult};
use std::time::Duration;

use crate::error::Error;
use crate::lock_order::{self, Wait};
use crate::locker::{LockTimeoutError, LockTimeoutResult};
use crate::poison::{Flag, Policy};
use crate::shim::{self, const_fn};
/// The lock word under the bias: the crate's own (`word.rs`). In the model, a coarse model
/// of it (`sys::model::RawRwLock`, a mutex and a condition variable: the same answers,
/// checked against the word and against glibc's rwlock by `loom-tests/tests/differential.rs`),
/// so that the bias's logic is explored in seconds; the word's own protocol is model-checked
/// on its own (`loom-tests/tests/rwlock_word.rs`).
#[cfg(loom)]
use crate::sys::RawRwLock;
use bravo::{Bias, SLOW};
#[cfg(not(loom))]
use word::Word as RawRwLock;

/// A reader-writer lock protecting a `T`: many readers at once, or one writer. The API of
/// [`std::sync::RwLock`] (replace the import, nothing else), over a writer-preferring lock
/// word of the crate's own (not `pthread_rwlock_t`: see the module `word`), with a read path
/// that scales across CPUs.
///
/// ```
/// use pthread_sync::RwLock;
///
/// let lock = RwLock::new(5);
/// {
///     let r1 = lock.read().unwrap();
///     let r2 = lock.read().unwrap();
///     assert_eq!(*r1 + *r2, 10);
/// }
/// *lock.write().unwrap() += 1;
/// assert_eq!(*lock.read().unwrap(), 6);
/// ```
///
/// What differs from std's, for the better where the crate can see a mistake:
///
/// - a thread may take a second read guard of a lock it reads already, also while a writer
///   waits (std's, and glibc's writer-preferring kind, may deadlock there): the thread's own
///   record counts it (a read of a read-biased lock, the common case, is counted through
///   the thread's reader slot, for any number of locks; a read taken while the bias is off,
///   through the lock word, is recorded for up to 8 such locks at once per thread,
///   and past that read without the record);
/// - `write` (or `write_timeout`) by a thread that holds a read guard of the same lock (an
///   upgrade, which would wait for itself forever), and `read` or `write` by the thread that
///   holds the write guard (the lock word knows its writer), panic at once with a message naming the
///   mistake; std documents that these "might panic"; `try_write` returns
///   [`TryLockError::WouldBlock`] there;
/// - [`read_timeout`](RwLock::read_timeout) and [`write_timeout`](RwLock::write_timeout), on
///   `CLOCK_MONOTONIC`.
///
/// Writers do not starve: while a writer waits, new readers wait behind it (see the module
/// docs of the crate's README for the test that shows it, against the reader-preferring kind).
#[doc(alias = "pthread_rwlock_t")]
#[repr(C)]
pub struct RwLock<T: ?Sized> {
    /// First (at the lock's address): its drop takes the lock out of the lock-order graph;
    /// it keeps the creation site (a pointer with the `lock-order` feature, else
    /// zero-sized).
    order: lock_order::Node,
    raw: RawRwLock,
    bias: Bias,
    poison: Flag,
    data: UnsafeCell<T>,
}

// SAFETY: as std's RwLock: the lock hands out `&mut T` to one writer (so `T: Send` to share
// the lock) and `&T` to many readers at once (so also `T: Sync`).
unsafe impl<T: ?Sized + Send> Send for RwLock<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLock<T> {}

impl<T: ?Sized> UnwindSafe for RwLock<T> {}
impl<T: ?Sized> RefUnwindSafe for RwLock<T> {}

/// Makes a guard `!Send`: the lock word's write lock names the thread that took it, and a
/// read hold lives in its thread's slot and record.
#[derive(Clone, Copy, Default)]
struct NotSend(PhantomData<*const ()>);

/// A read guard of a [`RwLock`]: shared access to the data until dropped.
#[must_use = "if unused the RwLock will immediately unlock"]
#[clippy::has_significant_drop]
pub struct RwLockReadGuard<'a, T: ?Sized + 'a> {
    lock: &'a RwLock<T>,
    /// How the hold was taken: through a reader slot (an index, counted in the thread's slot
    /// counts, `held`), `TRACKED` (counted in the thread's record, which knows how the hold
    /// was taken), or `SLOW` (a read lock of the word the record had no room for).
    how: usize,
    _not_send: NotSend,
}

/// A read guard counted in the thread's record (`held`).
const TRACKED: usize = SLOW - 1;

/// A write guard of a [`RwLock`]: exclusive access to the data until dropped.
#[must_use = "if unused the RwLock will immediately unlock"]
#[clippy::has_significant_drop]
pub struct RwLockWriteGuard<'a, T: ?Sized + 'a> {
    lock: &'a RwLock<T>,
    /// Whether the thread was panicking when it took the lock (poisoning, as std).
    panicking: bool,
    _not_send: NotSend,
}

// SAFETY: `&Guard` gives `&T` only, shareable between threads when `T: Sync` (as std's).
unsafe impl<T: ?Sized + Sync> Sync for RwLockReadGuard<'_, T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Sync> Sync for RwLockWriteGuard<'_, T> {}

impl<T> RwLock<T> {
    const_fn! {
        /// A new unlocked lock holding `t`: a `const fn` (the lock word at zero), so `static`
        /// locks work; nothing is allocated.
        #[inline]
        #[cfg_attr(feature = "lock-order", track_caller)]
        pub const fn new(t: T) -> RwLock<T> {
            RwLock {
                order: lock_order::Node::new(),
                raw: RawRwLock::new(),
                bias: Bias::new(),
                poison: Flag::new_const(),
                data: UnsafeCell::new(t),
            }
        }
    }

    /// The data, consuming the lock.
    ///
    /// # Errors
    /// `Err(PoisonError)` (holding the data) if a writer panicked.
    pub fn into_inner(self) -> LockResult<T> {
        let poisoned = self.poison.is_poisoned();
        crate::poison::lock_result(poisoned, self.data.into_inner())
    }
}

impl<T: ?Sized> RwLock<T> {
    #[inline(always)]
    fn addr(&self) -> usize {
        self as *const Self as *const () as usize
    }

    /// The lock's address, as the lock-order checker names it.
    #[inline(always)]
    pub(crate) fn order_addr(&self) -> usize {
        self.addr()
    }

    /// Where the lock was created (`None` without the `lock-order` feature).
    #[inline(always)]
    pub(crate) fn order_created(&self) -> crate::lock_order::graph::Site {
        self.order.created()
    }

    /// The creation site as the lock paths pass it (read only when checking).
    #[inline(always)]
    fn order_site(&self) -> &lock_order::Created {
        self.order.site()
    }

    /// A read hold: a fast read (its slot was free, so this thread held no read of the
    /// lock through it), else the thread's own hold counted again if it reads already, else
    /// `slow` (a read lock of the word).
    #[inline(always)]
    fn read_with(
        &self,
        slow: impl FnOnce(&RawRwLock) -> Result<(), Error>,
    ) -> Result<RwLockReadGuard<'_, T>, Error> {
        let lock = self.addr();
        if let Some(slot) = self.bias.try_read(lock) {
            held::slot_taken(slot);
            return Ok(self.read_guard(slot));
        }
        self.read_not_fast(lock, slow)
    }

    /// A read that the fast path did not take: the bias is off, or the slot is taken (by
    /// this thread, for this lock: a second read; or for another lock or by another thread).
    /// Out of line: inlined, it costs the fast read about a fifth of its time (measured with
    /// `benches/rwlock.rs`, one thread, 1 000 reads a write), for a tenth saved on the slow
    /// read.
    fn read_not_fast(
        &self,
        lock: usize,
        slow: impl FnOnce(&RawRwLock) -> Result<(), Error>,
    ) -> Result<RwLockReadGuard<'_, T>, Error> {
        if held::holds_a_slot() {
            let slot = Bias::slot(lock);
            if held::slot_reenter(lock, slot) {
                return Ok(self.read_guard(slot));
            }
        }
        if held::reenter(lock) {
            return Ok(self.read_guard(TRACKED));
        }
        slow(&self.raw)?;
        self.bias.after_slow_read();
        Ok(self.read_guard(if held::record(lock, SLOW) {
            TRACKED
        } else {
            SLOW
        }))
    }

    #[inline(always)]
    fn read_guard(&self, how: usize) -> RwLockReadGuard<'_, T> {
        RwLockReadGuard {
            lock: self,
            how,
            _not_send: NotSend(PhantomData),
        }
    }

    /// Releases a read hold taken `how` (a slot, or `SLOW`).
    #[inline(always)]
    fn release_read(&self, how: usize) {
        if how == SLOW {
            // SAFETY: this thread took the word's read lock for this hold.
            unsafe { self.raw.unlock_read() };
        } else {
            Bias::release(how);
        }
    }

    /// The write lock: a try of the word's write lock, then (if it failed, and this thread
    /// is not upgrading) `after_try` takes it (spinning, blocking, timed, or not at all), then
    /// the read bias is revoked (waiting for the fast readers to leave, unless `give_up` says
    /// so: then `Err(gave_up)`).
    #[inline(always)]
    fn write_with(
        &self,
        after_try: impl FnOnce(&RawRwLock) -> Result<(), Error>,
        give_up: impl FnMut() -> bool,
        gave_up: Error,
    ) -> Result<RwLockWriteGuard<'_, T>, Error> {
        let lock = self.addr();
        // An upgrade (this thread holds a read of this lock) must be found before any call
        // that could block, but looking costs a hash and two thread-local reads, so the
        // uncontended write looks only where it can matter. A free write lock of the word means
        // this thread holds no slow read (that would make the try fail); with the bias off it
        // holds no fast read either (a fast read is taken with the bias on, and no revocation
        // completes while it is held: only this thread could be revoking). Else, look first.
        let upgrade = || held::holds(lock, Bias::slot(lock));
        if self.raw.try_write().is_err() {
            if upgrade() {
                return Err(Error::Deadlock);
            }
            after_try(&self.raw)?;
        }
        if self.bias.is_on() && upgrade() {
            // SAFETY: taken just above by this thread.
            unsafe { self.raw.unlock_write() };
            return Err(Error::Deadlock);
        }
        if !self.bias.revoke(lock, give_up) {
            // SAFETY: taken just above by this thread.
            unsafe { self.raw.unlock_write() };
            return Err(gave_up);
        }
        Ok(RwLockWriteGuard {
            lock: self,
            panicking: self.poison.enter(),
            _not_send: NotSend(PhantomData),
        })
    }

    fn poisoned<G>(&self, guard: G) -> LockResult<G> {
        crate::poison::lock_result(self.poison.is_poisoned(), guard)
    }

    /// Blocks until a read hold is acquired (shared with other readers).
    ///
    /// # Errors
    /// `Err(PoisonError)` (holding the guard) if a writer panicked.
    ///
    /// # Panics
    /// If this thread holds the write guard (glibc's `EDEADLK`), or at glibc's reader limit.
    #[doc(alias = "pthread_rwlock_rdlock")]
    #[inline]
    #[track_caller]
    pub fn read(&self) -> LockResult<RwLockReadGuard<'_, T>> {
        match lock_order::acquire(self.addr(), self.order_site(), Wait::Block, || {
            self.read_with(|raw| spin_then(raw, RawRwLock::try_read, RawRwLock::read))
        }) {
            Ok(guard) => self.poisoned(guard),
            Err(e) => misuse("read", e),
        }
    }

    /// A read hold if one can be had without blocking (none while a writer holds the lock or
    /// waits for it).
    ///
    /// # Errors
    /// [`TryLockError::WouldBlock`], or [`TryLockError::Poisoned`] holding the guard.
    #[doc(alias = "pthread_rwlock_tryrdlock")]
    #[inline]
    #[track_caller]
    pub fn try_read(&self) -> TryLockResult<RwLockReadGuard<'_, T>> {
        match lock_order::acquire(self.addr(), self.order_site(), Wait::Try, || {
            self.read_with(RawRwLock::try_read)
        }) {
            Ok(guard) => Ok(self.poisoned(guard)?),
            Err(_) => Err(TryLockError::WouldBlock),
        }
    }

    /// Blocks until a read hold is acquired or `dur` has passed (on `CLOCK_MONOTONIC`).
    ///
    /// # Errors
    /// [`LockTimeoutError::TimedOut`], or [`LockTimeoutError::Poisoned`] holding the guard.
    ///
    /// # Panics
    /// As [`read`](RwLock::read).
    #[doc(alias = "pthread_rwlock_clockrdlock")]
    #[track_caller]
    pub fn read_timeout(&self, dur: Duration) -> LockTimeoutResult<RwLockReadGuard<'_, T>> {
        match lock_order::acquire(self.addr(), self.order_site(), Wait::Block, || {
            self.read_with(|raw| raw.read_for(dur))
        }) {
            Ok(guard) => Ok(self.poisoned(guard)?),
            Err(Error::TimedOut) => Err(LockTimeoutError::TimedOut),
            Err(e) => misuse("read_timeout", e),
        }
    }

    /// Blocks until the write hold is acquired (exclusive).
    ///
    /// # Errors
    /// `Err(PoisonError)` (holding the guard) if a writer panicked.
    ///
    /// # Panics
    /// If this thread holds a read guard of this lock (an upgrade would wait for itself) or
    /// the write guard (glibc's `EDEADLK`).
    #[doc(alias = "pthread_rwlock_wrlock")]
    #[inline]
    #[track_caller]
    pub fn write(&self) -> LockResult<RwLockWriteGuard<'_, T>> {
        let acquire = |raw: &RawRwLock| spin_contended(raw, RawRwLock::try_write, RawRwLock::write);
        match lock_order::acquire(self.addr(), self.order_site(), Wait::Block, || {
            self.write_with(acquire, || false, Error::WouldBlock)
        }) {
            Ok(guard) => self.poisoned(guard),
            Err(e) => misuse("write", e),
        }
    }

    /// The write hold if it can be had without blocking.
    ///
    /// # Errors
    /// [`TryLockError::WouldBlock`] (also when this thread holds the lock), or
    /// [`TryLockError::Poisoned`] holding the guard.
    #[doc(alias = "pthread_rwlock_trywrlock")]
    #[inline]
    #[track_caller]
    pub fn try_write(&self) -> TryLockResult<RwLockWriteGuard<'_, T>> {
        match lock_order::acquire(self.addr(), self.order_site(), Wait::Try, || {
            self.write_with(|_| Err(Error::WouldBlock), || true, Error::WouldBlock)
        }) {
            Ok(guard) => Ok(self.poisoned(guard)?),
            Err(_) => Err(TryLockError::WouldBlock),
        }
    }

    /// Blocks until the write hold is acquired or `dur` has passed
    /// (on `CLOCK_MONOTONIC`; the wait for fast readers to leave counts against the same
    /// deadline).
    ///
    /// # Errors
    /// [`LockTimeoutError::TimedOut`], or [`LockTimeoutError::Poisoned`] holding the guard.
    ///
    /// # Panics
    /// As [`write`](RwLock::write).
    #[doc(alias = "pthread_rwlock_clockwrlock")]
    #[track_caller]
    pub fn write_timeout(&self, dur: Duration) -> LockTimeoutResult<RwLockWriteGuard<'_, T>> {
        let expiry = shim::Expiry::after(dur);
        match lock_order::acquire(self.addr(), self.order_site(), Wait::Block, || {
            self.write_with(
                |raw| raw.write_for(dur),
                || expiry.passed(),
                Error::TimedOut,
            )
        }) {
            Ok(guard) => Ok(self.poisoned(guard)?),
            Err(Error::TimedOut) => Err(LockTimeoutError::TimedOut),
            Err(e) => misuse("write_timeout", e),
        }
    }

    /// Whether a writer panicked while holding the lock.
    #[inline]
    pub fn is_poisoned(&self) -> bool {
        self.poison.is_poisoned()
    }

    /// Clears the poisoned state, for a caller that has repaired the data.
    #[inline]
    pub fn clear_poison(&self) {
        self.poison.clear();
    }

    /// The data, through `&mut self` (no locking needed).
    ///
    /// # Errors
    /// `Err(PoisonError)` (holding the reference) if a writer panicked.
    pub fn get_mut(&mut self) -> LockResult<&mut T> {
        let poisoned = self.poison.is_poisoned();
        crate::poison::lock_result(poisoned, self.data.get_mut())
    }
}

/// How many times a contended acquisition tries again, with a growing pause in between,
/// before it blocks (the lock word sleeps at once): the holder is often about to leave.
const SPINS: u32 = 8;

/// `try_` until it succeeds or `SPINS` tries have failed, then `block`.
#[inline(always)]
fn spin_then(
    raw: &RawRwLock,
    try_: fn(&RawRwLock) -> Result<(), Error>,
    block: fn(&RawRwLock) -> Result<(), Error>,
) -> Result<(), Error> {
    match try_(raw) {
        Err(Error::WouldBlock) => {}
        done => return done,
    }
    spin_contended(raw, try_, block)
}

#[cold]
#[inline(never)]
fn spin_contended(
    raw: &RawRwLock,
    try_: fn(&RawRwLock) -> Result<(), Error>,
    block: fn(&RawRwLock) -> Result<(), Error>,
) -> Result<(), Error> {
    for round in 0..SPINS {
        for _ in 0..(2u32 << round) {
            std::hint::spin_loop();
        }
        match try_(raw) {
            Err(Error::WouldBlock) => {}
            done => return done,
        }
    }
    block(raw)
}

/// A misuse the crate detected (or glibc reported) where std's signature has no error: the
/// panic std documents as possible, naming the mistake.
#[cold]
#[inline(never)]
#[track_caller]
fn misuse(call: &'static str, err: Error) -> ! {
    match err {
        Error::Deadlock => panic!(
            "pthread-sync: RwLock::{call} would deadlock ({err}): this thread holds the lock \
             already (a write guard, or a read guard that a write would wait for)"
        ),
        e => crate::error::fatal("RwLock", e),
    }
}

impl<'a, T: ?Sized> RwLockWriteGuard<'a, T> {
    /// Turns the write hold into a read hold, atomically: no other writer can take the lock
    /// in between (as std's `downgrade`). An associated function, so it never shadows a
    /// method of `T`.
    ///
    /// ```
    /// use pthread_sync::{RwLock, RwLockWriteGuard};
    /// let lock = RwLock::new(1);
    /// let mut w = lock.write().unwrap();
    /// *w = 2;
    /// let r = RwLockWriteGuard::downgrade(w);
    /// assert_eq!(*r, 2);
    /// assert!(lock.try_write().is_err());
    /// assert_eq!(*lock.read().unwrap(), 2);
    /// ```
    pub fn downgrade(this: Self) -> RwLockReadGuard<'a, T> {
        let lock = this.lock;
        let this = std::mem::ManuallyDrop::new(this);
        lock.poison.leave(&this.panicking);
        let addr = lock.addr();
        // A read hold published before the write hold is released: any later writer waits
        // for it.
        let slot = lock.bias.downgrade(addr);
        // SAFETY: this thread holds the word's write lock (the guard proves it); the guard
        // is not dropped (ManuallyDrop), so it is released once, here.
        unsafe { lock.raw.unlock_write() };
        // The thread's own slot: counted there; another (probed) slot: in the record, where
        // a second read finds it (else it would wait for the writer that waits for it).
        if slot == Bias::slot(addr) {
            held::slot_taken(slot);
            lock.read_guard(slot)
        } else if held::record(addr, slot) {
            lock.read_guard(TRACKED)
        } else {
            held::slot_taken(slot);
            lock.read_guard(slot)
        }
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    #[inline(always)]
    fn drop(&mut self) {
        lock_order::release(self.lock.addr());
        if self.how < shim::READER_SLOTS {
            if held::slot_leave(self.how) {
                Bias::release(self.how);
            }
        } else if self.how == TRACKED {
            if let Some(how) = held::leave(self.lock.addr()) {
                self.lock.release_read(how);
            }
        } else {
            self.lock.release_read(SLOW);
        }
    }
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    #[inline(always)]
    fn drop(&mut self) {
        lock_order::release(self.lock.addr());
        self.lock.poison.leave(&self.panicking);
        // SAFETY: the guard holds the write lock and is `!Send`: this thread took it.
        unsafe { self.lock.raw.unlock_write() };
    }
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: a read hold: no writer until it is released.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the write hold: exclusive.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the write hold: exclusive, and `&mut self` excludes other uses of the guard.
        unsafe { &mut *self.lock.data.get() }
    }
}

crate::shim::fmt_through_deref!(['a, T: ?Sized] RwLockReadGuard<'a, T>);
crate::shim::fmt_through_deref!(['a, T: ?Sized] RwLockWriteGuard<'a, T>);

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    /// As std's: `RwLock { data: .., poisoned: .., .. }`, with `<locked>` (what this
    /// toolchain's std prints) while a writer holds it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RwLock");
        match self.try_read() {
            Ok(guard) => d.field("data", &&*guard),
            Err(TryLockError::Poisoned(err)) => d.field("data", &&**err.get_ref()),
            Err(TryLockError::WouldBlock) => d.field("data", &crate::poison::RwLockedMarker),
        };
        d.field("poisoned", &self.poison.is_poisoned());
        d.finish_non_exhaustive()
    }
}

impl<T: Default> Default for RwLock<T> {
    #[cfg_attr(feature = "lock-order", track_caller)]
    fn default() -> RwLock<T> {
        RwLock::new(T::default())
    }
}

impl<T> From<T> for RwLock<T> {
    #[cfg_attr(feature = "lock-order", track_caller)]
    fn from(t: T) -> RwLock<T> {
        RwLock::new(t)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::{Bias, Flag, RawRwLock, RwLock};
    use std::mem::size_of;

    /// The creation site costs a pointer with the `lock-order` feature, nothing without it.
    #[test]
    fn a_creation_site_is_a_pointer_with_the_feature_only() {
        #[repr(C)]
        struct NoSite {
            raw: RawRwLock,
            bias: Bias,
            poison: Flag,
            data: u64,
        }
        let site = if cfg!(feature = "lock-order") {
            size_of::<usize>()
        } else {
            0
        };
        assert_eq!(size_of::<RwLock<u64>>(), size_of::<NoSite>() + site);
    }
}

// The lock-order checker's view of the lock (`lock_order::name` takes it).
impl<T: ?Sized> crate::lock_order::sealed::Sealed for RwLock<T> {
    fn lock_order_addr(&self) -> usize {
        self.order_addr()
    }
    fn lock_order_created(&self) -> crate::lock_order::graph::Site {
        self.order_created()
    }
}
impl<T: ?Sized> crate::lock_order::Ordered for RwLock<T> {}
