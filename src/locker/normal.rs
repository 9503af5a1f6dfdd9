//! [`Locker`]: the normal pthread mutex, a drop-in for `std::sync::Mutex`.

use std::cell::UnsafeCell;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::panic::{RefUnwindSafe, UnwindSafe};
use std::sync::{LockResult, PoisonError, TryLockError, TryLockResult};
use std::time::Duration;

use super::{LazyMutex, NotSend};
use crate::error::{fatal, Error};
use crate::poison;
use crate::shim::const_fn;
use crate::sys::{MutexKind, RawMutex};

/// A mutual exclusion lock over a `PTHREAD_MUTEX_NORMAL` mutex, with the API of
/// [`std::sync::Mutex`]: same methods, same signatures, same poisoning.
///
/// `use pthread_sync::Mutex;` (an alias of this type) in place of `use std::sync::Mutex;`
/// compiles and behaves the same. On top of std it adds [`Locker::lock_timeout`].
///
/// Relocking from the thread that holds it deadlocks, as with std. Use
/// [`ErrorCheckLocker`](crate::ErrorCheckLocker) to get an error instead.
///
/// # Examples
///
/// ```
/// use pthread_sync::Mutex;
/// use std::sync::Arc;
/// use std::thread;
///
/// let counter = Arc::new(Mutex::new(0));
/// let handles: Vec<_> = (0..4)
///     .map(|_| {
///         let counter = Arc::clone(&counter);
///         thread::spawn(move || *counter.lock().unwrap() += 1)
///     })
///     .collect();
/// for h in handles {
///     h.join().unwrap();
/// }
/// assert_eq!(*counter.lock().unwrap(), 4);
/// ```
///
/// A `static` works, since [`Locker::new`] is a `const fn`:
///
/// ```
/// use pthread_sync::Locker;
///
/// static LOG: Locker<Vec<&str>> = Locker::new(Vec::new());
/// LOG.lock().unwrap().push("hello");
/// assert_eq!(LOG.lock().unwrap().len(), 1);
/// ```
#[doc(alias = "pthread_mutex_t")]
#[doc(alias = "PTHREAD_MUTEX_NORMAL")]
pub struct Locker<T: ?Sized> {
    raw: LazyMutex,
    poison: poison::Flag,
    data: UnsafeCell<T>,
}

// SAFETY: the mutex hands the data to one thread at a time, so sending the whole locker or
// sharing it between threads needs only `T: Send`, as for `std::sync::Mutex`.
unsafe impl<T: ?Sized + Send> Send for Locker<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send> Sync for Locker<T> {}
// Like std's Mutex: a panic while locked poisons it, so unwinding cannot expose broken state
// unnoticed.
impl<T: ?Sized> UnwindSafe for Locker<T> {}
impl<T: ?Sized> RefUnwindSafe for Locker<T> {}

/// An RAII guard of a [`Locker`]: the lock is held until it is dropped.
///
/// It dereferences to the protected data. It is `!Send`: a pthread mutex must be unlocked by
/// the thread that locked it:
///
/// ```compile_fail
/// fn assert_send<T: Send>(_: T) {}
/// let m = pthread_sync::Locker::new(0);
/// assert_send(m.lock().unwrap());
/// ```
#[must_use = "if unused the Locker will immediately unlock"]
pub struct LockerGuard<'a, T: ?Sized + 'a> {
    lock: &'a Locker<T>,
    raw: &'a RawMutex,
    poison: poison::Guard,
    _not_send: NotSend,
}

// SAFETY: `&LockerGuard` only gives `&T`, which may be shared between threads when `T: Sync`.
unsafe impl<T: ?Sized + Sync> Sync for LockerGuard<'_, T> {}

/// Why [`Locker::lock_timeout`] returned without the lock.
pub enum LockTimeoutError<G> {
    /// The lock was acquired, but it is poisoned; the guard is inside, as with
    /// [`TryLockError::Poisoned`].
    Poisoned(PoisonError<G>),
    /// The duration passed and the lock was still held (by another thread, or by this one: a
    /// normal mutex relocked by its owner waits the whole duration).
    TimedOut,
}

/// The result of [`Locker::lock_timeout`].
pub type LockTimeoutResult<G> = Result<G, LockTimeoutError<G>>;

impl<G> From<PoisonError<G>> for LockTimeoutError<G> {
    fn from(err: PoisonError<G>) -> Self {
        LockTimeoutError::Poisoned(err)
    }
}

impl<G> fmt::Debug for LockTimeoutError<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LockTimeoutError::Poisoned(..) => f.write_str("Poisoned(..)"),
            LockTimeoutError::TimedOut => f.write_str("TimedOut"),
        }
    }
}

impl<G> fmt::Display for LockTimeoutError<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LockTimeoutError::Poisoned(..) => {
                f.write_str("poisoned lock: another task failed inside")
            }
            LockTimeoutError::TimedOut => f.write_str("timed out waiting for the lock"),
        }
    }
}

impl<G> std::error::Error for LockTimeoutError<G> {}

impl<T> Locker<T> {
    const_fn! {
        /// A new unlocked mutex holding `t`. The pthread mutex itself is created on first use.
        ///
        /// ```
        /// use pthread_sync::Locker;
        /// let m = Locker::new(5);
        /// assert_eq!(*m.lock().unwrap(), 5);
        /// ```
        #[inline]
        pub const fn new(t: T) -> Locker<T> {
            Locker {
                raw: LazyMutex::new(),
                poison: poison::Flag::new(),
                data: UnsafeCell::new(t),
            }
        }
    }

    /// Consumes the mutex and returns the data; `Err` (still holding the data) if poisoned.
    ///
    /// ```
    /// use pthread_sync::Locker;
    /// let m = Locker::new(String::from("x"));
    /// assert_eq!(m.into_inner().unwrap(), "x");
    /// ```
    pub fn into_inner(self) -> LockResult<T> {
        let poisoned = self.poison.get();
        let data = self.data.into_inner();
        if poisoned {
            Err(PoisonError::new(data))
        } else {
            Ok(data)
        }
    }
}

impl<T: ?Sized> Locker<T> {
    #[inline(always)]
    fn raw(&self) -> &RawMutex {
        self.raw.get(MutexKind::Normal)
    }

    /// Makes the guard for a lock this thread has just acquired.
    ///
    /// # Safety
    /// The calling thread must hold `raw`, the mutex of `self`.
    #[inline(always)]
    unsafe fn guard<'a>(&'a self, raw: &'a RawMutex) -> LockResult<LockerGuard<'a, T>> {
        poison::map_result(self.poison.guard(), |poison| LockerGuard {
            lock: self,
            raw,
            poison,
            _not_send: NotSend::default(),
        })
    }

    /// Blocks until the lock is acquired (`pthread_mutex_lock`).
    ///
    /// # Errors
    /// `Err(PoisonError)` if a thread panicked while holding the lock; the guard is inside.
    ///
    /// Locking a mutex this thread already holds deadlocks, as with std.
    #[doc(alias = "pthread_mutex_lock")]
    #[inline(always)]
    pub fn lock(&self) -> LockResult<LockerGuard<'_, T>> {
        let raw = self.raw();
        if let Err(e) = raw.lock() {
            fatal("pthread_mutex_lock", e);
        }
        // SAFETY: this thread has just acquired `raw`.
        unsafe { self.guard(raw) }
    }

    /// Acquires the lock if it is free, without blocking (`pthread_mutex_trylock`).
    ///
    /// # Errors
    /// [`TryLockError::WouldBlock`] if the lock is held (by any thread, this one included),
    /// [`TryLockError::Poisoned`] if it is poisoned.
    ///
    /// ```
    /// use pthread_sync::Locker;
    /// use std::sync::TryLockError;
    ///
    /// let m = Locker::new(0);
    /// let held = m.lock().unwrap();
    /// assert!(matches!(m.try_lock(), Err(TryLockError::WouldBlock)));
    /// drop(held);
    /// assert!(m.try_lock().is_ok());
    /// ```
    #[doc(alias = "pthread_mutex_trylock")]
    #[inline]
    pub fn try_lock(&self) -> TryLockResult<LockerGuard<'_, T>> {
        let raw = self.raw();
        match raw.try_lock() {
            // SAFETY: this thread has just acquired `raw`.
            Ok(()) => Ok(unsafe { self.guard(raw) }?),
            Err(Error::WouldBlock) => Err(TryLockError::WouldBlock),
            Err(e) => fatal("pthread_mutex_trylock", e),
        }
    }

    /// Blocks until the lock is acquired or `dur` has passed (`pthread_mutex_clocklock` on
    /// `CLOCK_MONOTONIC`).
    ///
    /// Locking a mutex this thread already holds waits the whole duration, then times out.
    ///
    /// # Errors
    /// [`LockTimeoutError::TimedOut`] when `dur` passes first; [`LockTimeoutError::Poisoned`]
    /// (with the guard) if the lock is poisoned.
    ///
    /// ```
    /// use pthread_sync::{Locker, LockTimeoutError};
    /// use std::time::Duration;
    ///
    /// let m = Locker::new(0);
    /// let _held = m.lock().unwrap();
    /// let again = m.lock_timeout(Duration::from_millis(10));
    /// assert!(matches!(again, Err(LockTimeoutError::TimedOut)));
    /// ```
    #[doc(alias = "pthread_mutex_clocklock")]
    #[doc(alias = "pthread_mutex_timedlock")]
    pub fn lock_timeout(&self, dur: Duration) -> LockTimeoutResult<LockerGuard<'_, T>> {
        let raw = self.raw();
        match raw.lock_for(dur) {
            // SAFETY: this thread has just acquired `raw`.
            Ok(()) => Ok(unsafe { self.guard(raw) }?),
            Err(Error::TimedOut) => Err(LockTimeoutError::TimedOut),
            Err(e) => fatal("pthread_mutex_clocklock", e),
        }
    }

    /// Whether the lock is poisoned: a thread panicked while holding it.
    #[inline]
    pub fn is_poisoned(&self) -> bool {
        self.poison.get()
    }

    /// Clears the poisoned state, for a caller that has repaired the data.
    ///
    /// ```
    /// use pthread_sync::Locker;
    /// use std::sync::Arc;
    ///
    /// let m = Arc::new(Locker::new(0));
    /// let m2 = Arc::clone(&m);
    /// let _ = std::thread::spawn(move || {
    ///     let _g = m2.lock().unwrap();
    ///     panic!("poison it");
    /// })
    /// .join();
    /// assert!(m.is_poisoned());
    /// let mut g = m.lock().unwrap_or_else(|e| e.into_inner());
    /// *g = 0; // repair
    /// drop(g);
    /// m.clear_poison();
    /// assert!(!m.is_poisoned());
    /// ```
    #[inline]
    pub fn clear_poison(&self) {
        self.poison.clear();
    }

    /// A mutable reference to the data, with no locking: `&mut self` proves exclusive access.
    ///
    /// # Errors
    /// `Err` (holding the reference) if the lock is poisoned.
    pub fn get_mut(&mut self) -> LockResult<&mut T> {
        let poisoned = self.poison.get();
        let data = self.data.get_mut();
        if poisoned {
            Err(PoisonError::new(data))
        } else {
            Ok(data)
        }
    }
}

impl<T: Default> Default for Locker<T> {
    fn default() -> Locker<T> {
        Locker::new(T::default())
    }
}

impl<T> From<T> for Locker<T> {
    fn from(t: T) -> Locker<T> {
        Locker::new(t)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Locker<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // std's name, so that output is unchanged for code that moved from std.
        let mut d = f.debug_struct("Mutex");
        match self.try_lock() {
            Ok(guard) => d.field("data", &&*guard),
            Err(TryLockError::Poisoned(err)) => d.field("data", &&**err.get_ref()),
            Err(TryLockError::WouldBlock) => d.field("data", &format_args!("<locked>")),
        };
        d.field("poisoned", &self.poison.get());
        d.finish_non_exhaustive()
    }
}

impl<T: ?Sized> Deref for LockerGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock, so no other reference to the data is live except
        // through this guard.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for LockerGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and `&mut self` makes this the only reference.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for LockerGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.poison.done(&self.poison);
        // SAFETY: the guard holds `raw` and is `!Send`, so this is the thread that locked it.
        // Unlocking a normal mutex held by the caller cannot fail.
        unsafe { self.raw.unlock_held() };
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for LockerGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for LockerGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

/// Crate-internal access for `Cond`: the raw mutex a guard holds and the poison state.
/// Associated functions, not methods, so they never shadow methods of `T`.
impl<'a, T: ?Sized> LockerGuard<'a, T> {
    #[inline(always)]
    pub(crate) fn raw_mutex(this: &Self) -> &'a RawMutex {
        this.raw
    }

    #[inline(always)]
    pub(crate) fn lock_is_poisoned(this: &Self) -> bool {
        this.lock.poison.get()
    }
}
