//! The errorcheck kind: [`ErrorCheckLocker`], where misuse is an error, not a hang.

use super::raw::Plain;
use super::{kind, unpoisoned, ErrorCheckGuard, ErrorCheckLocker, Lock};
use crate::error::Error;
use crate::lock_order::Created;
use crate::poison::Never;
use crate::shim::const_fn;

/// The kind of [`ErrorCheckLocker`]: a mutex over `PTHREAD_MUTEX_ERRORCHECK`. Relocking by
/// the owner returns [`Error::Deadlock`] instead of hanging, and unlocking by a thread that
/// does not own it returns [`Error::NotOwner`] (see [`ErrorCheckLocker::force_unlock`]). A
/// lock whose holder is gone from the process (a thread that exited holding it, or the
/// parent's thread in a `fork`ed child) is [`Error::OwnerGone`], not a hang.
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
pub enum ErrorCheck {}

impl kind::sealed::Kind for ErrorCheck {
    type Raw = Plain<true>;
    type Poison = Never;
    type Created = crate::lock_order::Created;
    const NAME: &'static str = "ErrorCheckLocker";
}
impl kind::Kind for ErrorCheck {}
impl kind::InProcess for ErrorCheck {}
impl kind::Exclusive for ErrorCheck {}

impl<T> ErrorCheckLocker<T> {
    const_fn! {
        /// A new unlocked errorcheck mutex holding `t`.
        #[inline]
        #[cfg_attr(feature = "lock-order", track_caller)]
        pub const fn new(t: T) -> ErrorCheckLocker<T> {
            Lock::from_parts(Plain::new_const(), Created::here(), Never, t)
        }
    }
}

impl<T: ?Sized> ErrorCheckLocker<T> {
    /// Blocks until the lock is acquired.
    ///
    /// # Errors
    /// [`Error::Deadlock`] if this thread already holds it; [`Error::OwnerGone`] if its
    /// holder is gone from this process (it would never be released).
    #[doc(alias = "pthread_mutex_lock")]
    #[inline]
    #[track_caller]
    pub fn lock(&self) -> Result<ErrorCheckGuard<'_, T>, Error> {
        unpoisoned(self.acquire())
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
        // SAFETY: an in-process lock's mutex always exists; an errorcheck mutex checks
        // ownership itself (EPERM for a non-owner); the caller guarantees no live guard when
        // this thread is the owner.
        unsafe { super::raw::RawLock::mutex(&self.raw).unlock() }
    }
}
