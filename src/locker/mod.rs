//! Mutexes over `pthread_mutex_t`: one generic lock, [`Lock<K, T>`](Lock), whose kind `K` is a
//! type parameter, and a thin facade per kind where the API differs.
//!
//! | type (alias of `Lock<K, T>`) | kind `K` | relock by the owner | `lock()` returns | guard gives | poisons |
//! |---|---|---|---|---|---|
//! | [`Locker`] (= [`Mutex`](crate::Mutex)) | [`Normal`](crate::kind::Normal) | deadlocks (like std) | `LockResult<guard>` | `&mut T` | yes, like std |
//! | [`ErrorCheckLocker`] | [`ErrorCheck`](crate::kind::ErrorCheck) | `Err(Error::Deadlock)` | `Result<guard, Error>` | `&mut T` | no |
//! | [`RecursiveLocker`] | [`Recursive`](crate::kind::Recursive) | succeeds, counted | guard | `&T` only | no |
//! | [`PiLocker`], [`PiErrorCheckLocker`], [`PiRecursiveLocker`] | [`Inherit<K>`](crate::kind::Inherit) | as `K` | `Result<guard, Error>` | as `K` | no |
//! | [`CeilingLocker`], [`CeilingErrorCheckLocker`], [`CeilingRecursiveLocker`] | [`Protect<K>`](crate::kind::Protect) | as `K` | `Result<guard, Error>` | as `K` | no |
//!
//! Every kind has `try_lock` and `lock_timeout` (`pthread_mutex_clocklock` on
//! `CLOCK_MONOTONIC`, so a change of the wall clock does not shorten or lengthen the wait).
//! Every constructor but the ceiling kinds' is a `const fn`: the pthread mutex is stored inline, built from glibc's
//! static initialiser, so `static` lockers work, the first lock allocates nothing (a `static`
//! locker may guard a `#[global_allocator]`), and moving an unlocked locker is harmless (see
//! the crate docs, "Where the pthread objects live").
//!
//! Guards are `!Send`: a pthread mutex must be unlocked by the thread that locked it.
//!
//! # Priority protocols
//!
//! The protocol is part of the kind: [`Inherit<K>`](crate::kind::Inherit)
//! (`PTHREAD_PRIO_INHERIT`: a holder runs at the priority of its highest waiter) and
//! [`Protect<K>`](crate::kind::Protect) (`PTHREAD_PRIO_PROTECT`: a holder runs at least at
//! the mutex's priority ceiling) wrap each base kind, and `Shared<Inherit<K>>` places an
//! inheriting lock in shared memory ([`SharedPiLocker`], [`SharedPiErrorCheckLocker`],
//! [`SharedPiRecursiveLocker`]). The raw lock is the base kind's, with the protocol as a type
//! parameter whose constants fold away: the plain kinds' lock paths are unchanged.
//!
//! What glibc 2.36 accepts (probed with `pthread_mutex_init` by `tests/protocols.rs`,
//! `acceptance_table`), for each of the three types alike, and what the crate does:
//!
//! | placement | `PTHREAD_PRIO_NONE` | `PTHREAD_PRIO_INHERIT` | `PTHREAD_PRIO_PROTECT` |
//! |---|---|---|---|
//! | private, not robust (in-process) | 0: [`Locker`] & co. | 0: [`PiLocker`] & co. | 0: [`CeilingLocker`] & co. |
//! | private, robust | 0 (no such kind here) | 0 (no such kind here) | `ENOTSUP` |
//! | pshared, not robust | 0 (no such kind here: every shared lock is robust) | 0 (idem) | 0 (idem) |
//! | pshared, robust (`Shared<K>`) | 0: [`SharedLocker`] & co. | 0: [`SharedPiLocker`] & co., `OwnerDied` recovery included | `ENOTSUP`: **does not compile** (`Shared<Protect<K>>`: [`SharedKind`](crate::kind::SharedKind)) |
//!
//! Refusals at run time, each a typed [`Error`], never hidden:
//!
//! - a ceiling outside `sched_get_priority_min/max(SCHED_FIFO)` (1..=99 on Linux):
//!   [`Error::BadCeiling`], from the constructor and `set_priority_ceiling`;
//! - a ceiling lock by a thread that is not `SCHED_FIFO`/`SCHED_RR`: [`Error::NotRealTime`] on
//!   every attempt (checked by the crate first: glibc alone refuses the first with `EINVAL`
//!   and lets later ones through without a boost, its bookkeeping left raised; see the README,
//!   "Priority protocols");
//! - a ceiling lock by a thread above the ceiling: [`Error::AboveCeiling`] (glibc's `EINVAL`,
//!   as POSIX specifies); a boost the system refuses: [`Error::BoostRefused`] (`EPERM`);
//! - `set_priority_ceiling` on a normal or errorcheck ceiling lock this thread holds:
//!   [`Error::Deadlock`] (glibc: `EDEADLK` for errorcheck, a wait for itself for normal);
//! - an errorcheck PI lock's `try_lock` by its owner: [`Error::Deadlock`] (glibc's PI trylock
//!   gives `EDEADLK` where its plain one gives `EBUSY`).
//!
//! What each costs, behind one call, against the raw call with the same attributes
//! (`benches/calls.rs`, `benches/contended_calls.rs`; figures and commands in
//! `benches/RESULTS.md`, "Priority protocols"): an uncontended PI lock+unlock is glibc's PI
//! path (a compare-exchange with the thread id, no system call; about twice a plain mutex's
//! cost), the crate's wrapper within noise of the raw call; contended, every PI lock and
//! unlock that meets another thread is a system call (`FUTEX_LOCK_PI`/`FUTEX_UNLOCK_PI`,
//! the kernel handing the lock over), microseconds instead of nanoseconds. A ceiling lock by
//! a thread below the ceiling costs two `sched_setscheduler` calls (raise, lower: microseconds)
//! in glibc itself; at the ceiling no call, and the crate adds its policy check
//! (`pthread_getschedparam`, ~15 ns).
//!
//! # How it is built
//!
//! - `sys::RawMutex`: the pthread object and the calls on it (the FFI layer).
//! - [`RawLock`](raw::RawLock) (private): how a kind takes and releases its mutex: the
//!   normal kind spins briefly when the mutex is held, errorcheck and recursive check for an
//!   owner that is gone, recursive counts re-entry in Rust.
//! - [`Lock<K, T>`](Lock) and [`Guard<'_, K, T>`](Guard): the data, the guard, `Deref`,
//!   `Drop`, `Debug`, poisoning (where `K` poisons) and everything else written once; the
//!   methods whose signatures differ by kind live in `normal.rs`, `errorcheck.rs` and
//!   `recursive.rs`.
//!
//! A new kind or placement is a new `Kind` (and, if it locks differently, a new `RawLock`),
//! not a copy of this file.
//!
//! [`Error`]: crate::Error

mod errorcheck;
mod normal;
mod protocol;
pub(crate) mod raw;
mod recursive;
mod shared;

pub use normal::{LockTimeoutError, LockTimeoutResult};
pub(crate) use shared::Robust;
pub use shared::{OwnerDied, SharedLockError, SharedLockResult};

use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::panic::{RefUnwindSafe, UnwindSafe};
use std::time::Duration;

use crate::error::Error;
use crate::lock_order;
use crate::poison::Policy;
use crate::shim::const_fn;
use raw::RawLock;

/// The kinds of lock, as types: the `K` of [`Lock<K, T>`](Lock).
pub mod kind {
    pub use super::errorcheck::ErrorCheck;
    pub use super::normal::Normal;
    pub use super::protocol::{BaseKind, Inherit, Protect};
    pub use super::recursive::Recursive;
    pub use super::shared::{Shared, SharedKind};

    pub(crate) mod sealed {
        /// What a kind decides. Sealed: only the crate's kinds implement it.
        pub trait Kind: 'static {
            /// The pthread mutex and whatever else the kind keeps beside it.
            type Raw: crate::locker::raw::RawLock;
            /// Whether a panic while the lock is held poisons it.
            type Poison: crate::poison::Policy;
            /// What the lock keeps of its creation site: `lock_order::Created` for the
            /// in-process kinds (zero-sized without the `lock-order` feature), `()` for the
            /// shared ones (their layout is documented for C, in every build).
            type Created: crate::lock_order::CreatedSite;
            /// The name `Debug` prints.
            const NAME: &'static str;
            /// Whether `Debug` may try the lock to show the data (never for a robust lock:
            /// taking it could be the acquisition that finds its owner dead, and dropping that
            /// guard unrepaired would make it not recoverable for every process).
            const DEBUG_TRIES_LOCK: bool = true;
        }
    }

    /// A kind of lock: [`Normal`], [`ErrorCheck`] or [`Recursive`]. Sealed.
    pub trait Kind: sealed::Kind {}

    /// A kind whose guards give `&mut T` (not re-entrant), so a condition variable can wait
    /// with them: [`Normal`], [`ErrorCheck`], and their [`Shared`] placements. Sealed.
    pub trait Exclusive: Kind {}

    /// A kind placed in this process only (not [`Shared`]): what a [`Cond`](crate::Cond)
    /// waits with. Sealed.
    pub trait InProcess: Kind {}
}

use kind::{Exclusive, InProcess, Kind, SharedKind};

/// A mutex of kind `K` protecting a `T`. Use it through its aliases: [`Locker`] (=
/// [`Mutex`](crate::Mutex)), [`ErrorCheckLocker`], [`RecursiveLocker`].
#[doc(alias = "pthread_mutex_t")]
// `repr(C)`: the kind's state first, the data last, in this order (see `RecursiveLocker`);
// `raw` first, at the lock's address (`order_addr`), whose drop tells the lock-order checker.
#[repr(C)]
pub struct Lock<K: Kind, T: ?Sized> {
    raw: K::Raw,
    /// The creation site, for lock-order reports: a pointer for the in-process kinds with
    /// the `lock-order` feature, else zero-sized (no field in the layout).
    created: K::Created,
    poison: K::Poison,
    data: UnsafeCell<T>,
}

/// A [`Locker`]: a normal mutex, the drop-in for `std::sync::Mutex`.
pub type Locker<T> = Lock<kind::Normal, T>;
/// An [`ErrorCheckLocker`]: misuse is an error, not a hang.
pub type ErrorCheckLocker<T> = Lock<kind::ErrorCheck, T>;
/// A [`RecursiveLocker`]: re-entrant on the owning thread.
pub type RecursiveLocker<T> = Lock<kind::Recursive, T>;
/// A process-shared, robust normal mutex, in a shared-memory region: see
/// [`Shared`](kind::Shared).
pub type SharedLocker<T> = Lock<kind::Shared<kind::Normal>, T>;
/// A process-shared, robust errorcheck mutex: see [`Shared`](kind::Shared).
pub type SharedErrorCheckLocker<T> = Lock<kind::Shared<kind::ErrorCheck>, T>;
/// A process-shared, robust recursive mutex (glibc's count): see [`Shared`](kind::Shared).
pub type SharedRecursiveLocker<T> = Lock<kind::Shared<kind::Recursive>, T>;
/// A normal mutex with priority inheritance: see [`Inherit`](kind::Inherit).
pub type PiLocker<T> = Lock<kind::Inherit<kind::Normal>, T>;
/// An errorcheck mutex with priority inheritance: see [`Inherit`](kind::Inherit).
pub type PiErrorCheckLocker<T> = Lock<kind::Inherit<kind::ErrorCheck>, T>;
/// A recursive mutex with priority inheritance: see [`Inherit`](kind::Inherit).
pub type PiRecursiveLocker<T> = Lock<kind::Inherit<kind::Recursive>, T>;
/// A normal mutex with a priority ceiling: see [`Protect`](kind::Protect).
pub type CeilingLocker<T> = Lock<kind::Protect<kind::Normal>, T>;
/// An errorcheck mutex with a priority ceiling: see [`Protect`](kind::Protect).
pub type CeilingErrorCheckLocker<T> = Lock<kind::Protect<kind::ErrorCheck>, T>;
/// A recursive mutex with a priority ceiling: see [`Protect`](kind::Protect).
pub type CeilingRecursiveLocker<T> = Lock<kind::Protect<kind::Recursive>, T>;
/// A process-shared, robust normal mutex with priority inheritance: see
/// [`Shared`](kind::Shared) and [`Inherit`](kind::Inherit).
pub type SharedPiLocker<T> = Lock<kind::Shared<kind::Inherit<kind::Normal>>, T>;
/// A process-shared, robust errorcheck mutex with priority inheritance.
pub type SharedPiErrorCheckLocker<T> = Lock<kind::Shared<kind::Inherit<kind::ErrorCheck>>, T>;
/// A process-shared, robust recursive mutex with priority inheritance (glibc's count).
pub type SharedPiRecursiveLocker<T> = Lock<kind::Shared<kind::Inherit<kind::Recursive>>, T>;

// SAFETY: the mutex hands the data to one thread at a time, so sending the whole lock or
// sharing it between threads needs only `T: Send`, as for `std::sync::Mutex`. The kind's
// state is `Send + Sync` (bounds of `RawLock` and `Policy`).
unsafe impl<K: Kind, T: ?Sized + Send> Send for Lock<K, T> {}
// SAFETY: as above.
unsafe impl<K: Kind, T: ?Sized + Send> Sync for Lock<K, T> {}
// Like std's Mutex: a panic while locked poisons it, so unwinding cannot expose broken state
// unnoticed.
impl<T: ?Sized> UnwindSafe for Locker<T> {}
impl<T: ?Sized> RefUnwindSafe for Locker<T> {}

/// An RAII guard of a [`Lock`]: the lock is held until it is dropped. Use it through its
/// aliases: [`LockerGuard`] (= [`MutexGuard`](crate::MutexGuard)), [`ErrorCheckGuard`],
/// [`RecursiveGuard`].
///
/// It dereferences to the protected data (`&mut T` too, except for the recursive kind). It
/// is `!Send`: a pthread mutex must be unlocked by the thread that locked it.
///
/// ```compile_fail
/// fn assert_send<T: Send>(_: T) {}
/// let m = pthread_sync::Locker::new(0);
/// assert_send(m.lock().unwrap());
/// ```
///
/// ```compile_fail
/// fn assert_send<T: Send>(_: T) {}
/// let m = pthread_sync::ErrorCheckLocker::new(0);
/// assert_send(m.lock().unwrap());
/// ```
///
/// ```compile_fail
/// fn assert_send<T: Send>(_: T) {}
/// let m = pthread_sync::RecursiveLocker::new(0);
/// assert_send(m.lock());
/// ```
#[must_use = "if unused the lock will immediately unlock"]
pub struct Guard<'a, K: Kind, T: ?Sized + 'a> {
    lock: &'a Lock<K, T>,
    poison: <K::Poison as Policy>::Token,
    _not_send: NotSend,
}

/// The guard of a [`Locker`].
pub type LockerGuard<'a, T> = Guard<'a, kind::Normal, T>;
/// The guard of an [`ErrorCheckLocker`].
pub type ErrorCheckGuard<'a, T> = Guard<'a, kind::ErrorCheck, T>;
/// The guard of a [`RecursiveLocker`]; gives `&T` only.
pub type RecursiveGuard<'a, T> = Guard<'a, kind::Recursive, T>;
/// The guard of a [`SharedLocker`].
pub type SharedLockerGuard<'a, T> = Guard<'a, kind::Shared<kind::Normal>, T>;

// SAFETY: `&Guard` only gives `&T`, which may be shared between threads when `T: Sync`.
unsafe impl<K: Kind, T: ?Sized + Sync> Sync for Guard<'_, K, T> {}

/// Makes a guard neither `Send` nor `Sync` by itself: a pthread mutex must be unlocked by the
/// thread that locked it. [`Guard`] then implements `Sync` for `T: Sync`, as std's does.
#[derive(Clone, Copy, Default)]
struct NotSend(PhantomData<*const ()>);

impl<K: Kind, T> Lock<K, T> {
    const_fn! {
        /// The lock from its parts (the kind facades' `new`).
        #[inline(always)]
        const fn from_parts(
            raw: K::Raw,
            created: K::Created,
            poison: K::Poison,
            t: T,
        ) -> Lock<K, T> {
            Lock { raw, created, poison, data: UnsafeCell::new(t) }
        }
    }
}

impl<K: Kind, T: ?Sized> Lock<K, T> {
    /// Makes the guard for a lock this thread has just acquired, with its poison token
    /// (`self.poison.enter()`). The token is the same read before acquiring or after (whether
    /// this thread is panicking does not change while it locks). The shared kinds read it
    /// before, so that its loads do not run after the lock's atomic instruction, where they
    /// delay the unlock's: `SharedLocker` 1.069 -> 1.036 of the raw call. The in-process
    /// kinds read it after: before, `Locker::try_lock` measured 4.6% slower and `lock` the
    /// same (benches/RESULTS.md, session 8).
    ///
    /// # Safety
    /// The calling thread has just acquired `self.raw`, once more than it held it before;
    /// `poison` is its `enter()` of `self.poison`, read since it began this acquisition.
    #[inline(always)]
    pub(crate) unsafe fn guard(&self, poison: <K::Poison as Policy>::Token) -> Guard<'_, K, T> {
        Guard {
            lock: self,
            poison,
            _not_send: NotSend(PhantomData),
        }
    }

    /// The lock's address, as the lock-order checker names it (that of `raw`, its first
    /// field, whose `Drop` tells the checker for the in-process kinds).
    #[inline(always)]
    pub(crate) fn order_addr(&self) -> usize {
        self as *const Self as *const () as usize
    }

    /// Where the lock was created, for the lock-order checker (`None` for the shared kinds,
    /// and without the `lock-order` feature).
    #[inline(always)]
    pub(crate) fn order_created(&self) -> crate::lock_order::graph::Site {
        crate::lock_order::CreatedSite::site(self.created)
    }

    /// The creation site as the lock paths pass it (read only when checking).
    #[inline(always)]
    pub(crate) fn order_site(&self) -> &K::Created {
        &self.created
    }

    /// Takes the mutex with `acquire`, then makes the guard, with what the acquisition found.
    #[inline(always)]
    #[track_caller]
    fn acquire_with(
        &self,
        wait: lock_order::Wait,
        acquire: impl FnOnce(&K::Raw) -> Result<(), Error>,
    ) -> Acquired<Guard<'_, K, T>> {
        match lock_order::acquire(self.order_addr(), self.order_site(), wait, || {
            acquire(&self.raw)
        }) {
            Ok(()) if self.poison.is_poisoned() => {
                // SAFETY: this thread has just acquired the mutex; the token is read now.
                Acquired::Poisoned(unsafe { self.guard(self.poison.enter()) })
            }
            // SAFETY: as above.
            Ok(()) => Acquired::Ok(unsafe { self.guard(self.poison.enter()) }),
            // SAFETY: a robust mutex is acquired when it reports its owner's death.
            Err(Error::OwnerDied) => {
                Acquired::OwnerDied(unsafe { self.guard(self.poison.enter()) })
            }
            Err(e) => Acquired::Failed(e),
        }
    }

    /// `RawLock::lock`, then the guard (see [`Lock::acquire_with`]).
    #[inline(always)]
    #[track_caller]
    fn acquire(&self) -> Acquired<Guard<'_, K, T>> {
        self.acquire_with(lock_order::Wait::Block, RawLock::lock)
    }

    /// `RawLock::try_lock`, then the guard.
    #[inline(always)]
    #[track_caller]
    fn try_acquire(&self) -> Acquired<Guard<'_, K, T>> {
        self.acquire_with(lock_order::Wait::Try, RawLock::try_lock)
    }

    /// `RawLock::lock_for`, then the guard.
    #[inline(always)]
    #[track_caller]
    fn acquire_for(&self, dur: Duration) -> Acquired<Guard<'_, K, T>> {
        self.acquire_with(lock_order::Wait::Block, |raw| raw.lock_for(dur))
    }
}

/// What an acquisition found. The facades turn it into each kind's result type.
pub(crate) enum Acquired<G> {
    /// Acquired.
    Ok(G),
    /// Acquired; a panic poisoned the lock (kinds that poison).
    Poisoned(G),
    /// Acquired; the previous holder died holding it (robust kinds).
    OwnerDied(G),
    /// Not acquired.
    Failed(Error),
}

/// For the kinds that neither poison nor are robust: `Result<guard, Error>`.
#[inline(always)]
fn unpoisoned<G>(acquired: Acquired<G>) -> Result<G, Error> {
    match acquired {
        Acquired::Ok(guard) | Acquired::Poisoned(guard) => Ok(guard),
        // Not robust: glibc never reports it. Released at once if it ever did.
        Acquired::OwnerDied(_) => Err(Error::OwnerDied),
        Acquired::Failed(e) => Err(e),
    }
}

/// The methods of the kinds that do not poison ([`ErrorCheckLocker`], [`RecursiveLocker`]).
impl<K: kind::sealed::Kind<Poison = crate::poison::Never> + Kind, T: ?Sized> Lock<K, T> {
    /// Acquires the lock if it is free (for the recursive kind: or held by this thread),
    /// without blocking (`pthread_mutex_trylock`).
    ///
    /// # Errors
    /// [`Error::WouldBlock`] if another thread holds it (the errorcheck kind: or this one;
    /// glibc's `pthread_mutex_trylock` reports `EBUSY` in both cases); [`Error::OwnerGone`] if
    /// its holder is gone from this process; [`Error::Overflow`] at the recursion limit.
    ///
    /// ```
    /// use pthread_sync::{Error, ErrorCheckLocker};
    ///
    /// let m = ErrorCheckLocker::new(0);
    /// let held = m.try_lock().unwrap();
    /// assert_eq!(m.try_lock().unwrap_err(), Error::WouldBlock);
    /// drop(held);
    /// ```
    #[doc(alias = "pthread_mutex_trylock")]
    #[inline]
    #[track_caller]
    pub fn try_lock(&self) -> Result<Guard<'_, K, T>, Error> {
        unpoisoned(self.try_acquire())
    }

    /// Blocks until the lock is acquired or `dur` has passed (`pthread_mutex_clocklock` on
    /// `CLOCK_MONOTONIC`); for the recursive kind, at once if this thread holds it.
    ///
    /// # Errors
    /// [`Error::TimedOut`] when `dur` passes first; for the errorcheck kind
    /// [`Error::Deadlock`] at once if this thread holds it; [`Error::OwnerGone`] at once if
    /// its holder is gone from this process; [`Error::Overflow`] at the recursion limit.
    ///
    /// ```
    /// use pthread_sync::{Error, ErrorCheckLocker};
    /// use std::time::Duration;
    ///
    /// let m = ErrorCheckLocker::new(0);
    /// let _held = m.lock().unwrap();
    /// let other = std::thread::scope(|s| {
    ///     s.spawn(|| m.lock_timeout(Duration::from_millis(5)).map(|_| ())).join().unwrap()
    /// });
    /// assert_eq!(other, Err(Error::TimedOut));
    /// ```
    #[doc(alias = "pthread_mutex_clocklock")]
    #[doc(alias = "pthread_mutex_timedlock")]
    #[track_caller]
    pub fn lock_timeout(&self, dur: Duration) -> Result<Guard<'_, K, T>, Error> {
        unpoisoned(self.acquire_for(dur))
    }

    /// Consumes the mutex and returns the data.
    pub fn into_inner(self) -> T
    where
        T: Sized,
    {
        self.data.into_inner()
    }

    /// A mutable reference to the data, with no locking: `&mut self` proves exclusive access.
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }
}

impl<K: Kind, T: Default> Default for Lock<K, T> {
    #[cfg_attr(feature = "lock-order", track_caller)]
    fn default() -> Lock<K, T> {
        Lock::from(T::default())
    }
}

impl<K: Kind, T> From<T> for Lock<K, T> {
    #[cfg_attr(feature = "lock-order", track_caller)]
    fn from(t: T) -> Lock<K, T> {
        Lock::from_parts(
            raw::RawLock::new(),
            crate::lock_order::CreatedSite::here(),
            Policy::new(),
            t,
        )
    }
}

impl<K: Kind, T: ?Sized + fmt::Debug> fmt::Debug for Lock<K, T> {
    /// As std's `Mutex` prints: `Mutex { data: .., poisoned: .., .. }` (the other kinds under
    /// their own names, without `poisoned`); a lock held elsewhere prints its data as std
    /// prints a locked `Mutex`'s.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct(K::NAME);
        if !K::DEBUG_TRIES_LOCK {
            d.field("poisoned", &self.poison.is_poisoned());
            return d.finish_non_exhaustive();
        }
        match self.try_acquire() {
            Acquired::Ok(guard) | Acquired::Poisoned(guard) | Acquired::OwnerDied(guard) => {
                d.field("data", &&*guard)
            }
            Acquired::Failed(_) => d.field("data", &crate::poison::LockedMarker),
        };
        if self.poison.poisons() {
            d.field("poisoned", &self.poison.is_poisoned());
        }
        d.finish_non_exhaustive()
    }
}

impl<K: Kind, T: ?Sized> Deref for Guard<'_, K, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock, so no other thread can reach the data; on this
        // thread, other references to it come only from guards, and only a guard of an
        // `Exclusive` kind (never re-entered) gives `&mut T`, through `&mut self`.
        unsafe { &*self.lock.data.get() }
    }
}

impl<K: Exclusive + InProcess, T: ?Sized> DerefMut for Guard<'_, K, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock of an exclusive (non-reentrant) kind, so it is the
        // only guard, and `&mut self` makes this the only reference.
        unsafe { &mut *self.lock.data.get() }
    }
}

/// A shared lock's guard gives `&mut T` for plain data only (`T: Unpin`): data holding shared
/// primitives (`!Unpin`) could otherwise have an armed one moved out of its place.
impl<K: SharedKind + Exclusive, T: ?Sized + Unpin> DerefMut for Guard<'_, kind::Shared<K>, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as for the in-process kinds: the only guard of an exclusive kind, and
        // `&mut self` makes this the only reference.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<'a, K: SharedKind + Exclusive, T: ?Sized> Guard<'a, kind::Shared<K>, T> {
    /// The data, pinned: mutable access to data that holds shared primitives (`!Unpin`),
    /// without the means to move them. An associated function, so it never shadows `T`'s.
    pub fn as_pin_mut(this: &mut Self) -> std::pin::Pin<&mut T> {
        // SAFETY: the only guard of an exclusive kind (as in `deref_mut`); the data lives in
        // a shared-memory region and is never moved by the crate, and `Pin` keeps the caller
        // from moving it.
        unsafe { std::pin::Pin::new_unchecked(&mut *this.lock.data.get()) }
    }
}

impl<K: Kind, T: ?Sized> Drop for Guard<'_, K, T> {
    #[inline(always)]
    fn drop(&mut self) {
        self.lock.poison.leave(&self.poison);
        lock_order::release(self.lock.order_addr());
        // SAFETY: the guard holds the lock and is `!Send`, so this is the thread that took it.
        unsafe { self.lock.raw.unlock() };
    }
}

crate::shim::fmt_through_deref!(['a, K: Kind, T: ?Sized] Guard<'a, K, T>);

impl<K: Kind, T: ?Sized> Lock<K, T> {
    /// The kind's raw lock (for the atfork registry).
    #[inline(always)]
    pub(crate) fn raw_lock(&self) -> &K::Raw {
        &self.raw
    }

    /// The data, without locking (for the atfork registry, which holds the lock across a
    /// fork without a guard).
    #[inline(always)]
    pub(crate) fn data_ptr(&self) -> *mut T {
        self.data.get()
    }
}

/// Crate-internal access for `Cond`: the pthread mutex a guard holds and whether its lock is
/// poisoned. Associated functions, not methods, so they never shadow methods of `T`.
impl<'a, K: Kind, T: ?Sized> Guard<'a, K, T> {
    #[inline(always)]
    pub(crate) fn raw_mutex(this: &Self) -> &'a crate::sys::RawMutex {
        // SAFETY: the guard proves the lock was acquired.
        unsafe { this.lock.raw.mutex() }
    }

    /// The kind's raw lock (for `SharedCond`, which releases and retakes it around a wait).
    #[inline(always)]
    pub(crate) fn raw_lock(this: &Self) -> &'a K::Raw {
        &this.lock.raw
    }

    /// Where the guard's lock was created (for the relock of a condvar wait).
    #[inline(always)]
    pub(crate) fn order_site(this: &Self) -> &'a K::Created {
        &this.lock.created
    }

    #[inline(always)]
    pub(crate) fn lock_is_poisoned(this: &Self) -> bool {
        this.lock.poison.is_poisoned()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::raw::Plain;
    use super::{Lock, Locker, Robust, SharedLocker};
    use crate::kind;
    use crate::poison::{Flag, Never};
    use std::mem::{align_of, size_of};

    /// `Lock` as it is without a creation site.
    #[repr(C)]
    struct NoSite<R, P, T> {
        raw: R,
        poison: P,
        data: T,
    }

    /// The creation site costs a pointer in an in-process lock with the `lock-order`
    /// feature, nothing without it; a shared lock's layout never changes.
    #[test]
    fn a_creation_site_is_a_pointer_with_the_feature_only() {
        let site = if cfg!(feature = "lock-order") {
            size_of::<usize>()
        } else {
            0
        };
        assert_eq!(size_of::<crate::lock_order::Created>(), site);
        // 40 + 1 (poison, padded to 8) + 8 (+ 8 with the feature).
        assert_eq!(
            size_of::<Locker<u64>>(),
            size_of::<NoSite<Plain<false>, Flag, u64>>() + site
        );
        assert_eq!(
            size_of::<Locker<()>>(),
            size_of::<NoSite<Plain<false>, Flag, ()>>() + site
        );
        assert_eq!(
            size_of::<Lock<kind::ErrorCheck, u8>>(),
            size_of::<NoSite<Plain<true>, Never, u8>>() + site
        );
        assert_eq!(
            size_of::<SharedLocker<u64>>(),
            size_of::<NoSite<Robust<kind::Normal>, Flag, u64>>()
        );
        assert_eq!(
            align_of::<SharedLocker<u64>>(),
            align_of::<NoSite<Robust<kind::Normal>, Flag, u64>>()
        );
        // The data's offset in a shared lock (documented for C) is unchanged.
        let l = SharedLocker::new(0u64);
        let n = NoSite {
            raw: Robust::<kind::Normal>::new_const(),
            poison: Flag::new_const(),
            data: 0u64,
        };
        assert_eq!(
            l.data_ptr() as usize - &l as *const _ as usize,
            &n.data as *const u64 as usize - &n as *const _ as usize
        );
        eprintln!(
            "Locker<u64>: {} bytes (lock-order feature {})",
            size_of::<Locker<u64>>(),
            if site > 0 { "on" } else { "off" }
        );
    }
}

// The lock-order checker's view of every locker (`lock_order::name` takes any of them).
impl<K: Kind, T: ?Sized> crate::lock_order::sealed::Sealed for Lock<K, T> {
    fn lock_order_addr(&self) -> usize {
        self.order_addr()
    }
    fn lock_order_created(&self) -> crate::lock_order::graph::Site {
        self.order_created()
    }
}
impl<K: Kind, T: ?Sized> crate::lock_order::Ordered for Lock<K, T> {}
