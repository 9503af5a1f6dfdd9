//! The normal kind: [`Locker`], a drop-in for `std::sync::Mutex`.

use std::fmt;
use std::sync::{LockResult, PoisonError, TryLockError, TryLockResult};
use std::time::Duration;

use super::raw::Plain;
use super::raw::RawLock;
use super::{kind, Acquired, Lock, Locker, LockerGuard};
use crate::error::{fatal, Error};
use crate::lock_order::{self, Created, Wait};
use crate::poison::{Flag, Policy};
use crate::shim::const_fn;

/// The kind of [`Locker`]: a mutual exclusion lock over a `PTHREAD_MUTEX_NORMAL` mutex, with the API of
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
/// A `static` works, since `Locker::new` is a `const fn`:
///
/// ```
/// use pthread_sync::Locker;
///
/// static LOG: Locker<Vec<&str>> = Locker::new(Vec::new());
/// LOG.lock().unwrap().push("hello");
/// assert_eq!(LOG.lock().unwrap().len(), 1);
/// ```
#[doc(alias = "PTHREAD_MUTEX_NORMAL")]
#[doc(alias = "Mutex")]
pub enum Normal {}

impl kind::sealed::Kind for Normal {
    type Raw = Plain<false>;
    type Poison = Flag;
    type Created = crate::lock_order::Created;
    // std's name, so that output is unchanged for code that moved from std.
    const NAME: &'static str = "Mutex";
}
impl kind::Kind for Normal {}
impl kind::InProcess for Normal {}
impl kind::Exclusive for Normal {}

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

/// std's `LockResult` for a guard just made: `Err` (holding it) if the lock is poisoned.
#[inline(always)]
fn poisoned<T: ?Sized>(guard: LockerGuard<'_, T>) -> LockResult<LockerGuard<'_, T>> {
    crate::poison::lock_result(guard.lock.poison.is_poisoned(), guard)
}

/// The std-shaped API of [`Locker`] (= [`Mutex`](crate::Mutex)): the same methods, with the
/// same signatures and poisoning, as `std::sync::Mutex`, plus [`Locker::lock_timeout`].
impl<T> Locker<T> {
    const_fn! {
        /// A new unlocked mutex holding `t` (a `const fn`: the pthread mutex is stored inline,
        /// built from glibc's initialiser; nothing is allocated).
        ///
        /// ```
        /// use pthread_sync::Locker;
        /// let m = Locker::new(5);
        /// assert_eq!(*m.lock().unwrap(), 5);
        /// ```
        #[inline]
        #[cfg_attr(feature = "lock-order", track_caller)]
        pub const fn new(t: T) -> Locker<T> {
            Lock::from_parts(Plain::new_const(), Created::here(), Flag::new_const(), t)
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
        let poisoned = self.poison.is_poisoned();
        crate::poison::lock_result(poisoned, self.data.into_inner())
    }
}

impl<T: ?Sized> Locker<T> {
    /// Blocks until the lock is acquired (`pthread_mutex_lock`).
    ///
    /// # Errors
    /// `Err(PoisonError)` if a thread panicked while holding the lock; the guard is inside.
    ///
    /// Locking a mutex this thread already holds deadlocks, as with std.
    #[doc(alias = "pthread_mutex_lock")]
    #[inline(always)]
    #[track_caller]
    pub fn lock(&self) -> LockResult<LockerGuard<'_, T>> {
        // Straight from the raw result to std's (no intermediate `Acquired`: on this hot path
        // the compiler spilled that enum to the stack, about 20 instructions per lock).
        let acquired =
            lock_order::acquire(self.order_addr(), self.order_site(), Wait::Block, || {
                RawLock::lock(&self.raw)
            });
        if let Err(e) = acquired {
            fatal("pthread_mutex_lock", e);
        }
        // SAFETY: this thread has just acquired the mutex; the token is read now.
        poisoned(unsafe { self.guard(self.poison.enter()) })
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
    #[track_caller]
    pub fn try_lock(&self) -> TryLockResult<LockerGuard<'_, T>> {
        match lock_order::acquire(self.order_addr(), self.order_site(), Wait::Try, || {
            RawLock::try_lock(&self.raw)
        }) {
            // SAFETY: this thread has just acquired the mutex; the token is read now.
            Ok(()) => Ok(poisoned(unsafe { self.guard(self.poison.enter()) })?),
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
    #[track_caller]
    pub fn lock_timeout(&self, dur: Duration) -> LockTimeoutResult<LockerGuard<'_, T>> {
        match self.acquire_for(dur) {
            Acquired::Ok(guard) => Ok(guard),
            Acquired::Poisoned(guard) => Err(LockTimeoutError::Poisoned(PoisonError::new(guard))),
            Acquired::Failed(Error::TimedOut) => Err(LockTimeoutError::TimedOut),
            Acquired::OwnerDied(_) => fatal("pthread_mutex_clocklock", Error::OwnerDied),
            Acquired::Failed(e) => fatal("pthread_mutex_clocklock", e),
        }
    }

    /// Whether the lock is poisoned: a thread panicked while holding it.
    #[inline]
    pub fn is_poisoned(&self) -> bool {
        self.poison.is_poisoned()
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
        let poisoned = self.poison.is_poisoned();
        crate::poison::lock_result(poisoned, self.data.get_mut())
    }
}
