//! The process-shared placement: [`Shared<K>`](Shared), a kind wrapper that makes any kind's
//! lock a robust, process-shared pthread mutex armed in place inside a shared-memory region.

use std::fmt;
use std::marker::PhantomData;
use std::sync::{PoisonError, TryLockError};
use std::time::Duration;

use super::kind::{self, Exclusive, Kind};
use super::raw::RawLock;
use super::{Guard, Lock};
use crate::error::Error;
use crate::placed::Placed;
use crate::poison::{Flag, Policy};
use crate::regions;
use crate::shim::const_fn;
use crate::sys::{MutexAttr, MutexType, Protocol, RawMutex, Released, Take};

/// The process-shared placement of kind `K`: `Lock<Shared<K>, T>` is a lock of `K`'s type
/// over a `PTHREAD_PROCESS_SHARED`, `PTHREAD_MUTEX_ROBUST` mutex that lives, with its data,
/// inside a shared-memory region ([`ShmBox`](crate::ShmBox)). Use it through its aliases:
/// [`SharedLocker`](crate::SharedLocker), [`SharedErrorCheckLocker`](crate::SharedErrorCheckLocker),
/// [`SharedRecursiveLocker`](crate::SharedRecursiveLocker).
///
/// What differs from the in-process kinds:
///
/// - Every lock call returns a [`SharedLockResult`]: a holder that died (its process killed
///   or exited, or its thread exited) hands the next locker the guard inside
///   [`SharedLockError::OwnerDied`]; the caller repairs the data and calls
///   [`OwnerDied::make_consistent`]. A guard dropped unrepaired leaves the mutex
///   [`Error::NotRecoverable`] for every process, as POSIX says. `EOWNERDEAD` is never
///   hidden and the mutex never unlocked silently.
/// - A panic while holding the lock poisons it for every process: the flag lives in the
///   region, beside the data ([`SharedLockError::Poisoned`]).
/// - Recursion (the recursive kind) is glibc's own: its owner is the kernel thread id, valid
///   across processes, and the robust owner-died path covers a dead owner's reused id.
/// - The mutex is initialised on first use, in place (see [`Error::NotInRegion`]): built with
///   `new` anywhere, it can be used only inside a region, and every use checks that.
/// - The shared primitives are `!Unpin`, and a shared lock's guard gives `&mut T` only when
///   `T: Unpin` (plain data). Data that holds shared primitives (a lock inside a lock) is
///   reached through `&T`, or [`Guard::as_pin_mut`]: never `&mut` to a primitive, which could
///   move an armed one (its robust-list entry, its waiters) out from under glibc:
///
/// ```compile_fail
/// use pthread_sync::{ShmBox, SharedLocker};
/// let region = ShmBox::anonymous(SharedLocker::new(SharedLocker::new(7u32))).unwrap();
/// let mut outer = region.lock().unwrap();
/// // Moving the inner (armed) lock out through the outer guard does not compile:
/// let moved = std::mem::replace(&mut *outer, SharedLocker::new(0));
/// ```
///
/// Plain data gets `&mut` as usual:
///
/// ```
/// use pthread_sync::{ShmBox, SharedLocker};
/// let region = ShmBox::anonymous(SharedLocker::new([0u64; 4])).unwrap();
/// region.lock().unwrap()[2] = 9;
/// assert_eq!(region.lock().unwrap()[2], 9);
/// ```
pub struct Shared<K>(PhantomData<K>, std::convert::Infallible);

/// What a kind contributes to its shared placement: [`Normal`](kind::Normal),
/// [`ErrorCheck`](kind::ErrorCheck), [`Recursive`](kind::Recursive) and their
/// [`Inherit`](kind::Inherit) forms. Not the [`Protect`](kind::Protect) (priority ceiling)
/// forms: every shared lock is robust, and glibc refuses a robust ceiling mutex (`ENOTSUP`),
/// so that placement does not compile:
///
/// ```compile_fail
/// use pthread_sync::{kind, Lock};
/// let _ = Lock::<kind::Shared<kind::Protect<kind::Normal>>, u32>::new(0);
/// ```
///
/// while the inheriting form, the same expression otherwise, does:
///
/// ```
/// use pthread_sync::{kind, Lock};
/// let _ = Lock::<kind::Shared<kind::Inherit<kind::Normal>>, u32>::new(0);
/// ```
///
/// Sealed.
pub trait SharedKind: Kind {
    /// The pthread mutex type.
    const TYPE: MutexType;
    /// The priority protocol.
    const PROTOCOL: Protocol = Protocol::None;
    /// The name `Debug` prints for the shared placement.
    const SHARED_NAME: &'static str;
}

impl SharedKind for kind::Normal {
    const TYPE: MutexType = MutexType::Normal;
    const SHARED_NAME: &'static str = "SharedLocker";
}
impl SharedKind for kind::ErrorCheck {
    const TYPE: MutexType = MutexType::ErrorCheck;
    const SHARED_NAME: &'static str = "SharedErrorCheckLocker";
}
impl SharedKind for kind::Recursive {
    const TYPE: MutexType = MutexType::Recursive;
    const SHARED_NAME: &'static str = "SharedRecursiveLocker";
}

impl<K: SharedKind> kind::sealed::Kind for Shared<K> {
    type Raw = Robust<K>;
    type Poison = Flag;
    /// None: the layout is documented for C (the lock is named by its first nested
    /// acquisition).
    type Created = ();
    const NAME: &'static str = K::SHARED_NAME;
    const DEBUG_TRIES_LOCK: bool = false;
}
impl<K: SharedKind> Kind for Shared<K> {}
impl<K: SharedKind + Exclusive> Exclusive for Shared<K> {}

/// A robust, process-shared pthread mutex of `K`'s type, armed in place on first use.
/// `!Unpin` (through `Placed`): see [`Shared`].
#[repr(transparent)]
pub struct Robust<K> {
    mutex: Placed<RawMutex>,
    _kind: PhantomData<fn() -> K>,
}

impl<K: SharedKind> Robust<K> {
    const_fn! {
        /// A new, unarmed robust mutex (also the member seats of a `SharedBarrier`).
        #[inline(always)]
        pub(crate) const fn new_const() -> Robust<K> {
            // Any bytes do: arming initialises the mutex in place with `K::TYPE`.
            Robust { mutex: Placed::new(RawMutex::new(K::TYPE)), _kind: PhantomData }
        }
    }

    /// Whether the mutex is recursive: the only kind a thread can hold through one mapping
    /// of a region while it is on the thread's robust list at its address in another
    /// (`crate::regions`).
    const RECURSIVE: bool = matches!(K::TYPE, MutexType::Recursive);

    /// Whether the mutex is a priority-inheritance one (its inline steps differ a little).
    /// Every shared kind's uncontended lock and unlock are done inline: no protocol, or
    /// priority inheritance (a shared ceiling kind does not compile).
    const PI: bool = matches!(K::PROTOCOL, Protocol::Inherit);

    /// Every attribute of the mutex.
    const ATTR: MutexAttr = MutexAttr {
        ty: K::TYPE,
        pshared: true,
        robust: true,
        protocol: K::PROTOCOL,
    };

    /// Acquires the mutex with `acquire`, arming it first if this is its first use. It must
    /// be inside a live region this process mapped, checked on every use (an armed mutex
    /// moved out of its region through some `&mut` would be refused here, never locked at its
    /// new address); an acquisition (also one that finds the owner dead) is counted in the
    /// region's holds (`crate::regions`), since it links the mutex into this thread's robust
    /// list: a region is never unmapped while one of its robust mutexes is held.
    #[inline(always)]
    fn acquire(&self, acquire: impl FnOnce(&RawMutex) -> Result<(), Error>) -> Result<(), Error> {
        // Counted before locking, uncounted if it fails: a count briefly one too high is
        // harmless, since nobody reads it until this thread's borrow of the region ends (a
        // region is dropped only then) or the thread exits (not inside a lock call). Not
        // after: an entry counting 0 is free for the taking, and during a blocking lock a
        // signal handler's shared lock in another region would take this one, so the mutex
        // would be held uncounted (its region unmapped at drop while on the robust list).
        // Found again if a signal handler took the entry over before it counted (rare).
        let hold = loop {
            let Some(hold) = regions::hold(self as *const Self as usize, size_of::<Self>()) else {
                return Err(Error::NotInRegion);
            };
            if hold.acquired(Self::RECURSIVE) {
                break hold;
            }
        };
        let acquired = match self.mutex.get(|| Self::ATTR) {
            Ok(mutex) => acquire(mutex),
            Err(e) => Err(e),
        };
        if !matches!(acquired, Ok(()) | Err(Error::OwnerDied)) {
            hold.failed(Self::RECURSIVE);
        }
        acquired
    }

    /// The fast path of every acquisition: the acquisition [`Robust::acquire`] makes when the
    /// mutex is armed, in the region this thread used last, and free, with its last owner
    /// alive, done inline (`sys::RawMutex::try_lock_robust_uncontended`); `false`: not
    /// acquired, nothing counted, for `acquire` to do it all. One straight
    /// line that calls nothing, every other case out of it, so that the uncontended lock
    /// costs what its work does.
    #[inline(always)]
    fn uncontended(&self) -> bool {
        let Some(mutex) = self.mutex.armed() else {
            return false;
        };
        let Some(hold) = regions::hold_last(self as *const Self as usize, size_of::<Self>()) else {
            return false;
        };
        // Counted before locking, as in `acquire` (not counted: `acquire` finds it again).
        if !hold.acquired(Self::RECURSIVE) {
            return false;
        }
        match mutex.try_lock_robust_uncontended(Self::PI) {
            Take::Acquired => true,
            Take::NotRecoverable => Self::not_recoverable(mutex, hold),
            Take::Busy | Take::Glibc => {
                hold.failed(Self::RECURSIVE);
                false
            }
        }
    }

    /// After [`Take::NotRecoverable`]: gives the word back and uncounts the hold; `false`
    /// (`acquire` then finds the mutex not recoverable through glibc, and says so).
    #[cold]
    #[inline(never)]
    fn not_recoverable(mutex: &RawMutex, hold: regions::Hold) -> bool {
        // SAFETY: `try_lock_robust_uncontended` has just returned `NotRecoverable`.
        unsafe { mutex.give_back_taken(Self::PI) };
        hold.failed(Self::RECURSIVE);
        false
    }

    #[cold]
    #[inline(never)]
    fn lock_slow(&self) -> Result<(), Error> {
        self.acquire(RawMutex::lock_robust)
    }

    #[cold]
    #[inline(never)]
    fn try_lock_slow(&self) -> Result<(), Error> {
        self.acquire(RawMutex::try_lock_robust)
    }

    /// The fast path of every release: the release [`Robust::unlock_slow`] makes when the
    /// region is the one this thread used last and the inline path can release the mutex
    /// (`sys::RawMutex::unlock_robust_uncontended`); `false`: nothing done, for
    /// `unlock_slow`. Straight, as [`Robust::uncontended`].
    ///
    /// # Safety
    /// As [`RawLock::unlock`].
    #[inline(always)]
    unsafe fn released(&self) -> bool {
        let Some(release) = regions::released_last(self as *const Self as usize, size_of::<Self>())
        else {
            return false;
        };
        // SAFETY: the caller holds the lock, so the mutex is armed and held by this thread.
        let mutex = unsafe { self.mutex.get_armed() };
        // SAFETY: as above.
        match unsafe { mutex.unlock_robust_uncontended(Self::RECURSIVE, Self::PI) } {
            Released::Done => release.down(Self::RECURSIVE),
            // SAFETY: `unlock_robust_uncontended` has just returned `Wake`.
            Released::Wake => unsafe { Self::woken(mutex, release) },
            Released::Glibc => return false,
        }
        true
    }

    /// After [`Released::Wake`]: wakes a waiter, then uncounts the hold (not before: until
    /// the wake the mutex is the thread's pending robust operation).
    ///
    /// # Safety
    /// `unlock_robust_uncontended` of `mutex` has just returned `Wake`.
    #[cold]
    #[inline(never)]
    unsafe fn woken(mutex: &RawMutex, release: regions::Unhold) {
        // SAFETY: the caller's contract.
        unsafe { mutex.wake_released(Self::PI) };
        release.down(Self::RECURSIVE);
    }

    /// Every release but [`Robust::released`]'s: the robust unlock (inline where it can be,
    /// else glibc's), then one hold fewer (out of line).
    ///
    /// # Safety
    /// As [`RawLock::unlock`].
    #[cold]
    #[inline(never)]
    unsafe fn unlock_slow(&self) {
        // SAFETY: the caller holds the lock, so the mutex is armed and held by this thread.
        unsafe { self.mutex.get_armed().unlock_robust(Self::RECURSIVE) };
        regions::released(
            self as *const Self as usize,
            size_of::<Self>(),
            Self::RECURSIVE,
        );
    }

    /// The mutex (armed) for a call that is not an acquisition, such as `force_unlock` or an
    /// ownership check (`RawMutex::held_by_me`).
    pub(crate) fn armed(&self) -> Result<&RawMutex, Error> {
        if !regions::contains(self as *const Self as usize, size_of::<Self>()) {
            return Err(Error::NotInRegion);
        }
        self.mutex.get(|| Self::ATTR)
    }
}

// SAFETY: every acquisition is the pthread call on the one robust mutex, which excludes;
// `mutex` is it (armed: a guard exists only after a successful acquisition).
unsafe impl<K: SharedKind> RawLock for Robust<K> {
    fn new() -> Self {
        Robust::new_const()
    }

    #[inline(always)]
    fn lock(&self) -> Result<(), Error> {
        if self.uncontended() {
            return Ok(());
        }
        self.lock_slow()
    }

    #[inline(always)]
    fn try_lock(&self) -> Result<(), Error> {
        if self.uncontended() {
            return Ok(());
        }
        self.try_lock_slow()
    }

    #[inline]
    fn lock_for(&self, dur: Duration) -> Result<(), Error> {
        if self.uncontended() {
            return Ok(());
        }
        self.acquire(|m| m.lock_robust_for(dur))
    }

    #[inline(always)]
    unsafe fn unlock(&self) {
        // SAFETY: the caller holds the lock (both).
        if !unsafe { self.released() } {
            unsafe { self.unlock_slow() }
        }
    }

    #[inline(always)]
    unsafe fn mutex(&self) -> &RawMutex {
        // SAFETY: the caller guarantees the lock was acquired, so it is armed.
        unsafe { self.mutex.get_armed() }
    }
}

/// Why a lock call on a shared lock did not return a plain guard.
///
/// `G` is the guard the call returns; `D` the guard an owner-died result carries, the same
/// for the mutexes. A [`SharedRwLock`](crate::SharedRwLock) read whose writer died mid-update
/// carries a write guard instead (`D` = [`SharedRwLockWriteGuard`](crate::SharedRwLockWriteGuard)):
/// repairing needs exclusive access.
pub enum SharedLockError<G, D = G> {
    /// The lock was acquired, but its previous holder died holding it: the data may be
    /// half-updated. Repair it through the guard inside, then
    /// [`OwnerDied::make_consistent`].
    OwnerDied(OwnerDied<D>),
    /// The lock was acquired, but a panic (in any process) poisoned it; the guard is inside.
    Poisoned(PoisonError<G>),
    /// The lock was not acquired: [`Error::WouldBlock`] (`try_lock`), [`Error::TimedOut`]
    /// (`lock_timeout`), [`Error::Deadlock`] (errorcheck relock), [`Error::NotRecoverable`]
    /// (a dead holder's successor dropped it unrepaired), [`Error::NotInRegion`],
    /// [`Error::Overflow`] (recursion limit).
    Failed(Error),
}

/// The result of a lock call on a shared lock (`D`: see [`SharedLockError`]).
pub type SharedLockResult<G, D = G> = Result<G, SharedLockError<G, D>>;

impl<G, D> SharedLockError<G, D> {
    /// The error's cause without the guard: [`Error::OwnerDied`] for an owner-died guard,
    /// `None` for a poisoned one, the error itself for a failure. (The guard stays inside;
    /// dropping an owner-died one unrepaired makes the mutex not recoverable.)
    pub fn error(&self) -> Option<Error> {
        match self {
            SharedLockError::OwnerDied(_) => Some(Error::OwnerDied),
            SharedLockError::Poisoned(_) => None,
            SharedLockError::Failed(e) => Some(*e),
        }
    }
}

impl<G, D> fmt::Debug for SharedLockError<G, D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SharedLockError::OwnerDied(_) => f.write_str("OwnerDied(..)"),
            SharedLockError::Poisoned(_) => f.write_str("Poisoned(..)"),
            SharedLockError::Failed(e) => f.debug_tuple("Failed").field(e).finish(),
        }
    }
}

impl<G, D> fmt::Display for SharedLockError<G, D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SharedLockError::OwnerDied(_) => Error::OwnerDied.fmt(f),
            SharedLockError::Poisoned(_) => {
                f.write_str("poisoned lock: a thread panicked while holding it")
            }
            SharedLockError::Failed(e) => e.fmt(f),
        }
    }
}

impl<G, D> std::error::Error for SharedLockError<G, D> {}

impl<G, D> From<TryLockError<G>> for SharedLockError<G, D> {
    fn from(err: TryLockError<G>) -> Self {
        match err {
            TryLockError::Poisoned(p) => SharedLockError::Poisoned(p),
            TryLockError::WouldBlock => SharedLockError::Failed(Error::WouldBlock),
        }
    }
}

/// A guard of a lock whose previous holder died holding it (`EOWNERDEAD`). The lock is held.
///
/// Inspect and repair the data through [`OwnerDied::get_mut`] (or [`OwnerDied::get_ref`]),
/// then call [`OwnerDied::make_consistent`] to get the plain guard back. Dropping it (or the
/// guard from [`OwnerDied::into_inner`]) without that leaves the mutex not recoverable for
/// every process: each later lock call fails with [`Error::NotRecoverable`].
#[must_use = "dropping it unrepaired makes the mutex not recoverable for every process"]
pub struct OwnerDied<G> {
    guard: G,
}

impl<G> OwnerDied<G> {
    pub(crate) fn new(guard: G) -> OwnerDied<G> {
        OwnerDied { guard }
    }

    /// The guard, to read the data.
    pub fn get_ref(&self) -> &G {
        &self.guard
    }

    /// The guard, to repair the data.
    pub fn get_mut(&mut self) -> &mut G {
        &mut self.guard
    }

    /// The guard, with the mutex still inconsistent (dropping it makes it not recoverable).
    pub fn into_inner(self) -> G {
        self.guard
    }

    /// Maps what it carries, keeping the owner-died state: e.g. a timed condvar wait's
    /// `(guard, WaitTimeoutResult)` to the guard, to make it consistent.
    pub fn map<U>(self, f: impl FnOnce(G) -> U) -> OwnerDied<U> {
        OwnerDied {
            guard: f(self.guard),
        }
    }
}

impl<'a, K: SharedKind, T: ?Sized> OwnerDied<Guard<'a, Shared<K>, T>> {
    /// Marks the mutex consistent again (`pthread_mutex_consistent`), for a caller that has
    /// repaired the data, and gives the plain guard back.
    ///
    /// # Errors
    /// What `pthread_mutex_consistent` reports; the guard is then dropped (the mutex becomes
    /// not recoverable).
    #[doc(alias = "pthread_mutex_consistent")]
    pub fn make_consistent(self) -> Result<Guard<'a, Shared<K>, T>, Error> {
        // SAFETY: the guard proves this thread holds the mutex.
        unsafe { Guard::raw_mutex(&self.guard).consistent() }?;
        Ok(self.guard)
    }
}

impl<G> fmt::Debug for OwnerDied<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OwnerDied { .. }")
    }
}

impl<T: ?Sized> Lock<Shared<kind::ErrorCheck>, T> {
    /// Unlocks the mutex without a guard, as [`ErrorCheckLocker::force_unlock`]: for a guard
    /// given up with [`std::mem::forget`].
    ///
    /// # Errors
    /// [`Error::NotOwner`] if the calling thread does not hold the mutex (nothing changes);
    /// [`Error::NotInRegion`] outside a region.
    ///
    /// # Safety
    /// If the calling thread holds the mutex, no guard of it may still be alive: after this
    /// call another thread or process can lock it and reach the data while that guard still
    /// could.
    ///
    /// [`ErrorCheckLocker::force_unlock`]: crate::ErrorCheckLocker::force_unlock
    #[doc(alias = "pthread_mutex_unlock")]
    pub unsafe fn force_unlock(&self) -> Result<(), Error> {
        // SAFETY: an errorcheck mutex checks ownership itself (EPERM for a non-owner); the
        // caller guarantees no live guard when this thread is the owner.
        unsafe { self.raw.armed()?.unlock() }?;
        // It was held by this thread (through a forgotten guard): one hold fewer.
        regions::released(
            &self.raw as *const Robust<kind::ErrorCheck> as usize,
            size_of::<Robust<kind::ErrorCheck>>(),
            false,
        );
        Ok(())
    }
}

impl<K: SharedKind, T> Lock<Shared<K>, T> {
    const_fn! {
        /// A new, unarmed shared lock holding `t`: plain bytes, to be placed in a
        /// [`ShmBox`](crate::ShmBox) (its first use there initialises the pthread mutex in
        /// place; used anywhere else, it is refused with [`Error::NotInRegion`]).
        #[inline]
        pub const fn new(t: T) -> Lock<Shared<K>, T> {
            Lock::from_parts(Robust::new_const(), (), Flag::new_const(), t)
        }
    }
}

impl<K: SharedKind, T: ?Sized> Lock<Shared<K>, T> {
    /// Acquires with `acquire` (through the lock-order checker, as a `wait`), and makes the
    /// [`SharedLockResult`] directly (no intermediate enum on the lock path). The poison token
    /// is read before the acquisition ([`Lock::guard`]).
    #[inline(always)]
    #[track_caller]
    fn shared(
        &self,
        wait: crate::lock_order::Wait,
        acquire: impl FnOnce(&Robust<K>) -> Result<(), Error>,
    ) -> SharedLockResult<Guard<'_, Shared<K>, T>> {
        let entered = self.poison.enter();
        let acquired = crate::lock_order::acquire(
            self.order_addr(),
            &(), // no creation site in a shared lock
            wait,
            || acquire(&self.raw),
        );
        match acquired {
            Ok(()) => {
                // SAFETY: this thread has just acquired the mutex, and `entered` is its token.
                let guard = unsafe { self.guard(entered) };
                if self.poison.is_poisoned() {
                    Err(SharedLockError::Poisoned(PoisonError::new(guard)))
                } else {
                    Ok(guard)
                }
            }
            // SAFETY: a robust mutex is acquired when it reports its owner's death.
            Err(Error::OwnerDied) => Err(SharedLockError::OwnerDied(OwnerDied {
                guard: unsafe { self.guard(entered) },
            })),
            Err(e) => Err(SharedLockError::Failed(e)),
        }
    }

    /// Blocks until the lock is acquired (`pthread_mutex_lock`).
    ///
    /// # Errors
    /// [`SharedLockError::OwnerDied`] (acquired; repair, then make consistent) or
    /// [`SharedLockError::Poisoned`] (acquired) with the guard inside;
    /// [`SharedLockError::Failed`] when not acquired ([`Error::NotRecoverable`],
    /// [`Error::Deadlock`] for an errorcheck relock, [`Error::NotInRegion`], ...).
    #[doc(alias = "pthread_mutex_lock")]
    #[inline]
    #[track_caller]
    pub fn lock(&self) -> SharedLockResult<Guard<'_, Shared<K>, T>> {
        self.shared(crate::lock_order::Wait::Block, RawLock::lock)
    }

    /// Acquires the lock if it is free (or, for the recursive kind, held by this thread),
    /// without blocking (`pthread_mutex_trylock`).
    ///
    /// # Errors
    /// As [`lock`](Self::lock), and `Failed(Error::WouldBlock)` if it is held.
    #[doc(alias = "pthread_mutex_trylock")]
    #[inline]
    #[track_caller]
    pub fn try_lock(&self) -> SharedLockResult<Guard<'_, Shared<K>, T>> {
        self.shared(crate::lock_order::Wait::Try, RawLock::try_lock)
    }

    /// Blocks until the lock is acquired or `dur` has passed (`pthread_mutex_clocklock` on
    /// `CLOCK_MONOTONIC`).
    ///
    /// # Errors
    /// As [`lock`](Self::lock), and `Failed(Error::TimedOut)` when `dur` passes first.
    #[doc(alias = "pthread_mutex_clocklock")]
    #[track_caller]
    pub fn lock_timeout(&self, dur: Duration) -> SharedLockResult<Guard<'_, Shared<K>, T>> {
        self.shared(crate::lock_order::Wait::Block, |m| {
            RawLock::lock_for(m, dur)
        })
    }

    /// Whether the lock is poisoned: a thread of some process panicked while holding it.
    pub fn is_poisoned(&self) -> bool {
        self.poison.is_poisoned()
    }

    /// Clears the poisoned state (for every process), for a caller that has repaired the
    /// data.
    pub fn clear_poison(&self) {
        self.poison.clear();
    }
}
