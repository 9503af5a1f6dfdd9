//! [`ErrorCheckLocker`]: `PTHREAD_MUTEX_ERRORCHECK`, where misuse is an error, not a hang.

use std::cell::UnsafeCell;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::time::Duration;

use super::{LazyMutex, NotSend};
use crate::error::Error;
use crate::shim::const_fn;
use crate::sys::{MutexKind, RawMutex};

/// A mutex over `PTHREAD_MUTEX_ERRORCHECK`: relocking by the owner returns
/// [`Error::Deadlock`] instead of hanging, and unlocking by a thread that does not own it
/// returns [`Error::NotOwner`] (see [`ErrorCheckLocker::force_unlock`]).
///
/// It does not poison (like `parking_lot`): its `Result`s carry the kind's own errors.
///
/// ```
/// use pthread_sync::{Error, ErrorCheckLocker};
///
/// let m = ErrorCheckLocker::new(vec![1, 2]);
/// let mut g = m.lock().unwrap();
/// g.push(3);
/// // A self-deadlock, caught:
/// assert_eq!(m.lock().unwrap_err(), Error::Deadlock);
/// drop(g);
/// assert_eq!(*m.lock().unwrap(), [1, 2, 3]);
/// ```
#[doc(alias = "PTHREAD_MUTEX_ERRORCHECK")]
pub struct ErrorCheckLocker<T: ?Sized> {
    raw: LazyMutex,
    data: UnsafeCell<T>,
}

// SAFETY: the mutex hands the data to one thread at a time: `T: Send` is enough.
unsafe impl<T: ?Sized + Send> Send for ErrorCheckLocker<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send> Sync for ErrorCheckLocker<T> {}

/// An RAII guard of an [`ErrorCheckLocker`]: the lock is held until it is dropped. `!Send`.
///
/// ```compile_fail
/// fn assert_send<T: Send>(_: T) {}
/// let m = pthread_sync::ErrorCheckLocker::new(0);
/// assert_send(m.lock().unwrap());
/// ```
#[must_use = "if unused the ErrorCheckLocker will immediately unlock"]
pub struct ErrorCheckGuard<'a, T: ?Sized + 'a> {
    lock: &'a ErrorCheckLocker<T>,
    raw: &'a RawMutex,
    _not_send: NotSend,
}

// SAFETY: `&ErrorCheckGuard` only gives `&T`, shareable between threads when `T: Sync`.
unsafe impl<T: ?Sized + Sync> Sync for ErrorCheckGuard<'_, T> {}

impl<T> ErrorCheckLocker<T> {
    const_fn! {
        /// A new unlocked errorcheck mutex holding `t`; the pthread mutex is created on first
        /// use.
        #[inline]
        pub const fn new(t: T) -> ErrorCheckLocker<T> {
            ErrorCheckLocker { raw: LazyMutex::new(), data: UnsafeCell::new(t) }
        }
    }

    /// Consumes the mutex and returns the data.
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> ErrorCheckLocker<T> {
    #[inline(always)]
    fn raw(&self) -> &RawMutex {
        self.raw.get(MutexKind::ErrorCheck)
    }

    #[inline(always)]
    fn guard<'a>(&'a self, raw: &'a RawMutex) -> ErrorCheckGuard<'a, T> {
        ErrorCheckGuard {
            lock: self,
            raw,
            _not_send: NotSend::default(),
        }
    }

    /// Blocks until the lock is acquired.
    ///
    /// # Errors
    /// [`Error::Deadlock`] if this thread already holds it.
    #[doc(alias = "pthread_mutex_lock")]
    #[inline]
    pub fn lock(&self) -> Result<ErrorCheckGuard<'_, T>, Error> {
        let raw = self.raw();
        raw.lock_no_spin().map(|()| self.guard(raw))
    }

    /// Acquires the lock if it is free, without blocking.
    ///
    /// # Errors
    /// [`Error::WouldBlock`] if it is held, by another thread or by this one (glibc's
    /// `pthread_mutex_trylock` reports `EBUSY` in both cases).
    #[doc(alias = "pthread_mutex_trylock")]
    #[inline]
    pub fn try_lock(&self) -> Result<ErrorCheckGuard<'_, T>, Error> {
        let raw = self.raw();
        raw.try_lock().map(|()| self.guard(raw))
    }

    /// Blocks until the lock is acquired or `dur` has passed (`CLOCK_MONOTONIC`).
    ///
    /// # Errors
    /// [`Error::TimedOut`] when `dur` passes first; [`Error::Deadlock`] at once if this
    /// thread already holds it.
    #[doc(alias = "pthread_mutex_clocklock")]
    pub fn lock_timeout(&self, dur: Duration) -> Result<ErrorCheckGuard<'_, T>, Error> {
        let raw = self.raw();
        raw.lock_for(dur).map(|()| self.guard(raw))
    }

    /// Unlocks the mutex without a guard, as `lock_api`'s `force_unlock`: for a guard given up
    /// with [`std::mem::forget`].
    ///
    /// # Errors
    /// [`Error::NotOwner`] if the calling thread does not hold the mutex; nothing changes.
    ///
    /// # Safety
    /// If the calling thread holds the mutex, no guard of it may still be alive: after this
    /// call another thread can lock it and reach the data while that guard still could.
    ///
    /// ```
    /// use pthread_sync::{Error, ErrorCheckLocker};
    ///
    /// let m = ErrorCheckLocker::new(0);
    /// // Not held by this thread: refused, nothing changes.
    /// // SAFETY: no guard of `m` exists.
    /// assert_eq!(unsafe { m.force_unlock() }, Err(Error::NotOwner));
    /// std::mem::forget(m.lock().unwrap());
    /// // SAFETY: the only guard was forgotten.
    /// assert_eq!(unsafe { m.force_unlock() }, Ok(()));
    /// assert!(m.try_lock().is_ok());
    /// ```
    #[doc(alias = "pthread_mutex_unlock")]
    pub unsafe fn force_unlock(&self) -> Result<(), Error> {
        // SAFETY: an errorcheck mutex checks ownership itself (EPERM for a non-owner); the
        // caller guarantees no live guard when this thread is the owner.
        unsafe { self.raw().unlock() }
    }

    /// A mutable reference to the data, with no locking: `&mut self` proves exclusive access.
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }
}

impl<T: Default> Default for ErrorCheckLocker<T> {
    fn default() -> Self {
        ErrorCheckLocker::new(T::default())
    }
}

impl<T> From<T> for ErrorCheckLocker<T> {
    fn from(t: T) -> Self {
        ErrorCheckLocker::new(t)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for ErrorCheckLocker<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("ErrorCheckLocker");
        match self.try_lock() {
            Ok(guard) => d.field("data", &&*guard),
            Err(_) => d.field("data", &format_args!("<locked>")),
        };
        d.finish_non_exhaustive()
    }
}

impl<T: ?Sized> Deref for ErrorCheckGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock: no other thread can reach the data.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for ErrorCheckGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and `&mut self` makes this the only reference.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for ErrorCheckGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the guard holds `raw` and is `!Send`: this thread locked it. (An errorcheck
        // mutex would refuse a foreign unlock with EPERM anyway.)
        unsafe { self.raw.unlock_held() };
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for ErrorCheckGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for ErrorCheckGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

/// Crate-internal access for `Cond` (an associated function, so it never shadows `T`'s).
impl<'a, T: ?Sized> ErrorCheckGuard<'a, T> {
    #[inline(always)]
    pub(crate) fn raw_mutex(this: &Self) -> &'a RawMutex {
        this.raw
    }
}
