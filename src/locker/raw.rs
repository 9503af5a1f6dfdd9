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
/// condvar accepts).
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
    ///
    /// # Safety
    /// For a process-shared lock: it was acquired at least once (its mutex exists only once
    /// armed, which its first acquisition does); a guard proves it. An in-process lock's
    /// mutex always exists: no condition.
    unsafe fn mutex(&self) -> &RawMutex;
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
    unsafe fn mutex(&self) -> &RawMutex {
        &self.0
    }
}

/// A dropped in-process lock leaves the lock-order graph (its address is the lock's: `raw`
/// is the first field of the `repr(C)` [`Lock`](super::Lock)).
impl<const CHECKED: bool> Drop for Plain<CHECKED> {
    #[inline(always)]
    fn drop(&mut self) {
        crate::lock_order::dropped(self as *const Self as usize);
    }
}

/// What `fork_prepare` did with a protected lock.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum ForkHold {
    /// Took it (no guard holds it): released in the parent, re-initialised in the child.
    Took = 0,
    /// The forking thread already held it through a guard: re-initialised and taken again by
    /// the child's thread in the child, so that guard releases it there.
    Mine = 1,
    /// Held by a thread gone from the process (it can never be taken): left as it is.
    Left = 2,
}

impl ForkHold {
    /// Back from its `u8`.
    pub fn from_u8(v: u8) -> ForkHold {
        match v {
            0 => ForkHold::Took,
            1 => ForkHold::Mine,
            _ => ForkHold::Left,
        }
    }
}

/// How an in-process lock is kept consistent across `fork` (the atfork registry's
/// `atfork::protect`). The three calls run on the forking thread: `prepare`
/// before the fork, then `parent` in the parent or `child` in the child, with what `prepare`
/// returned.
pub trait ForkRaw: RawLock {
    /// Takes the pthread mutex unless the calling (forking) thread already holds it, or its
    /// holder is gone from the process.
    fn fork_prepare(&self) -> ForkHold;

    /// Releases what `fork_prepare` took.
    ///
    /// # Safety
    /// Called once on the thread that called `fork_prepare`, with its result.
    unsafe fn fork_parent(&self, hold: ForkHold);

    /// In the child: re-initialises the mutex (its owner may be a thread of the parent);
    /// if the forking thread held it through a guard, takes it again as the child's thread,
    /// so that guard releases it.
    ///
    /// # Safety
    /// Called once, in the child of a fork, on its only thread, with `fork_prepare`'s result.
    unsafe fn fork_child(&self, hold: ForkHold);
}

/// The shared body of the fork protocol for a lock over `mutex`; `mine` says whether the
/// forking thread holds the lock.
pub(crate) fn fork_prepare(mutex: &RawMutex, mine: bool) -> ForkHold {
    if mine {
        return ForkHold::Mine;
    }
    match mutex.lock_checked() {
        Ok(()) => ForkHold::Took,
        Err(Error::OwnerGone) => ForkHold::Left,
        Err(e) => crate::error::fatal("pthread_mutex_lock (fork prepare)", e),
    }
}

/// See [`ForkRaw::fork_parent`].
///
/// # Safety
/// As [`ForkRaw::fork_parent`].
pub(crate) unsafe fn fork_parent(mutex: &RawMutex, hold: ForkHold) {
    if hold == ForkHold::Took {
        // SAFETY: `fork_prepare` took it on this thread.
        unsafe { mutex.unlock_held() };
    }
}

/// See [`ForkRaw::fork_child`].
///
/// # Safety
/// As [`ForkRaw::fork_child`].
pub(crate) unsafe fn fork_child(mutex: &RawMutex, ty: MutexType, hold: ForkHold) {
    if hold == ForkHold::Left {
        return;
    }
    // SAFETY: the child has one thread, this one; no other can use the mutex.
    unsafe { mutex.reinit(ty) };
    if hold == ForkHold::Mine {
        if let Err(e) = mutex.lock_direct() {
            crate::error::fatal("pthread_mutex_lock (fork child)", e);
        }
    }
}

impl<const CHECKED: bool> ForkRaw for Plain<CHECKED> {
    fn fork_prepare(&self) -> ForkHold {
        fork_prepare(&self.0, self.0.held_by_me())
    }

    unsafe fn fork_parent(&self, hold: ForkHold) {
        // SAFETY: forwarded from the caller.
        unsafe { fork_parent(&self.0, hold) }
    }

    unsafe fn fork_child(&self, hold: ForkHold) {
        let ty = if CHECKED {
            MutexType::ErrorCheck
        } else {
            MutexType::Normal
        };
        // SAFETY: forwarded from the caller.
        unsafe { fork_child(&self.0, ty, hold) }
    }
}
