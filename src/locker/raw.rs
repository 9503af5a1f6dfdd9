//! How a kind takes and releases its pthread mutex: the raw half of the lock, below the typed
//! [`Lock`](super::Lock) (as `lock_api` splits `RawMutex` from `Mutex`).

use std::time::Duration;

use crate::error::Error;
use crate::shim::const_fn;
use crate::sys::{MutexType, RawMutex};

/// The raw operations of one kind of lock.
///
/// # Safety
/// An implementation must provide mutual exclusion: after `lock`, `try_lock` or `lock_for`
/// returns `Ok` on a thread, no other thread's call returns `Ok` until that thread has called
/// `unlock` as many times as it acquired. `mutex` must return the pthread mutex the lock is
/// held through, released and reacquired by a condition variable wait (for the kinds a
/// `Cond` accepts).
pub unsafe trait RawLock: Send + Sync + Sized {
    /// A new, unlocked lock (what `Default` and `From` use; each kind's `new` builds the same
    /// value in a `const fn`).
    fn new() -> Self;
    /// Blocks until acquired.
    fn lock(&self) -> Result<(), Error>;
    /// Acquires if possible without blocking.
    fn try_lock(&self) -> Result<(), Error>;
    /// Blocks until acquired or `dur` has passed (`Err(TimedOut)`).
    fn lock_for(&self, dur: Duration) -> Result<(), Error>;
    /// Releases one acquisition.
    ///
    /// # Safety
    /// The calling thread holds the lock.
    unsafe fn unlock(&self);
    /// The pthread mutex underneath.
    fn mutex(&self) -> &RawMutex;
}

/// A pthread mutex taken and released directly, once per guard: the normal kind
/// (`CHECKED = false`: a bounded spin when held) and the errorcheck kind (`CHECKED = true`: no
/// spin, so a relock reports `Deadlock` at once, and a holder gone from the process is
/// `OwnerGone`, not a hang).
#[repr(transparent)]
pub struct Plain<const CHECKED: bool>(RawMutex);

impl<const CHECKED: bool> Plain<CHECKED> {
    const_fn! {
        /// A new unlocked mutex (glibc's static initialiser of the flavour's type).
        #[inline(always)]
        pub(crate) const fn new_const() -> Self {
            Plain(RawMutex::new(if CHECKED { MutexType::ErrorCheck } else { MutexType::Normal }))
        }
    }
}

// SAFETY: every operation is the pthread call on the one mutex, which excludes; `mutex` is it.
unsafe impl<const CHECKED: bool> RawLock for Plain<CHECKED> {
    fn new() -> Self {
        Plain::new_const()
    }

    #[inline(always)]
    fn lock(&self) -> Result<(), Error> {
        if CHECKED {
            self.0.lock_checked()
        } else {
            self.0.lock()
        }
    }

    #[inline(always)]
    fn try_lock(&self) -> Result<(), Error> {
        self.0.try_lock(CHECKED)
    }

    #[inline]
    fn lock_for(&self, dur: Duration) -> Result<(), Error> {
        self.0.lock_for(dur, CHECKED)
    }

    #[inline(always)]
    unsafe fn unlock(&self) {
        // SAFETY: the caller holds the mutex.
        unsafe { self.0.unlock_held() }
    }

    #[inline(always)]
    fn mutex(&self) -> &RawMutex {
        &self.0
    }
}
