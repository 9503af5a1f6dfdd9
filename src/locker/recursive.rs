//! [`RecursiveLocker`]: re-entrant on the owning thread, over `PTHREAD_MUTEX_RECURSIVE`.

use std::cell::UnsafeCell;
use std::fmt;
use std::ops::Deref;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use super::{LazyMutex, NotSend};
use crate::error::{fatal, Error};
use crate::shim::{const_fn, thread_token, AtomicUsize};
use crate::sys::{MutexKind, RawMutex};

/// A re-entrant mutex: the thread that holds it may lock it again; other threads get it only
/// when the last guard of the owner is dropped.
///
/// The pthread object is a `PTHREAD_MUTEX_RECURSIVE` mutex, taken once by the outermost lock
/// of a thread. Re-entry is counted in Rust (an owner word and a count, as `parking_lot`'s
/// `ReentrantMutex` does), so a nested lock is a compare and an increment instead of a second
/// trip into glibc (`benches/uncontended.rs`: a nested pair costs 0.9x the raw
/// `pthread_mutex_lock` pair on a recursive mutex).
///
/// Guards give `&T` only, since two nested guards on one thread would otherwise alias
/// `&mut T`; put a `Cell` or `RefCell` inside for mutation. It does not poison.
///
/// ```
/// use pthread_sync::RecursiveLocker;
/// use std::cell::Cell;
///
/// let m = RecursiveLocker::new(Cell::new(0));
/// let outer = m.lock();
/// let inner = m.lock(); // the same thread: no deadlock
/// inner.set(inner.get() + 1);
/// drop(inner);
/// assert_eq!(outer.get(), 1);
/// ```
#[doc(alias = "PTHREAD_MUTEX_RECURSIVE")]
#[doc(alias = "ReentrantMutex")]
// `repr(C)` keeps `count` away from `data`: next to each other, LLVM may fuse a nested lock's
// count update with the caller's update of the data into one 16-byte access, which then waits
// on the store of the count (a store-forwarding stall that cost 30% in the benchmark).
#[repr(C)]
pub struct RecursiveLocker<T: ?Sized> {
    /// How many guards the owner holds; touched only by the owner.
    count: UnsafeCell<usize>,
    raw: LazyMutex,
    /// `thread_token()` of the owner, 0 when free. Written only by the thread holding `raw`;
    /// `Relaxed` suffices: a thread only ever compares it with its own token, which only it
    /// stores (and clears before releasing `raw`).
    owner: AtomicUsize,
    data: UnsafeCell<T>,
}

// SAFETY: one thread at a time holds the lock and sees `&T`; `T: Send` is enough to hand the
// data from thread to thread (as for parking_lot's ReentrantMutex). `count` is only touched
// by the thread holding the lock.
unsafe impl<T: ?Sized + Send> Send for RecursiveLocker<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send> Sync for RecursiveLocker<T> {}

/// An RAII guard of a [`RecursiveLocker`]; gives `&T` only. `!Send`:
///
/// ```compile_fail
/// fn assert_send<T: Send>(_: T) {}
/// let m = pthread_sync::RecursiveLocker::new(0);
/// assert_send(m.lock());
/// ```
#[must_use = "if unused the RecursiveLocker will immediately unlock"]
pub struct RecursiveGuard<'a, T: ?Sized + 'a> {
    lock: &'a RecursiveLocker<T>,
    raw: &'a RawMutex,
    _not_send: NotSend,
}

// SAFETY: `&RecursiveGuard` gives `&T`, shareable between threads when `T: Sync`.
unsafe impl<T: ?Sized + Sync> Sync for RecursiveGuard<'_, T> {}

impl<T> RecursiveLocker<T> {
    const_fn! {
        /// A new unlocked recursive mutex holding `t`; the pthread mutex is created on first
        /// use.
        #[inline]
        pub const fn new(t: T) -> RecursiveLocker<T> {
            RecursiveLocker {
                raw: LazyMutex::new(),
                owner: AtomicUsize::new(0),
                count: UnsafeCell::new(0),
                data: UnsafeCell::new(t),
            }
        }
    }

    /// Consumes the mutex and returns the data.
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> RecursiveLocker<T> {
    #[inline(always)]
    fn raw(&self) -> &RawMutex {
        self.raw.get(MutexKind::Recursive)
    }

    /// One more level for the thread that already owns the lock, if this thread does.
    #[inline(always)]
    fn reenter(&self, me: usize) -> Option<Result<RecursiveGuard<'_, T>, Error>> {
        if self.owner.load(Relaxed) != me {
            return None;
        }
        // SAFETY: this thread owns the lock, so it alone touches `count`.
        let count = unsafe { &mut *self.count.get() };
        Some(match count.checked_add(1) {
            Some(c) => {
                *count = c;
                Ok(self.guard(self.raw()))
            }
            None => Err(Error::Overflow),
        })
    }

    /// Makes the first guard of a thread that has just acquired `raw`.
    ///
    /// # Safety
    /// The calling thread has just acquired `raw`, the pthread mutex of `self`.
    #[inline(always)]
    unsafe fn first_guard<'a>(&'a self, raw: &'a RawMutex, me: usize) -> RecursiveGuard<'a, T> {
        self.owner.store(me, Relaxed);
        // SAFETY: this thread holds `raw`, so it alone touches `count`.
        unsafe { *self.count.get() = 1 };
        self.guard(raw)
    }

    #[inline(always)]
    fn guard<'a>(&'a self, raw: &'a RawMutex) -> RecursiveGuard<'a, T> {
        RecursiveGuard {
            lock: self,
            raw,
            _not_send: NotSend::default(),
        }
    }

    /// Blocks until the lock is acquired; succeeds at once if this thread already holds it.
    ///
    /// # Panics
    /// If this thread already holds the lock `usize::MAX` times, which takes that many live
    /// (or leaked) guards.
    #[doc(alias = "pthread_mutex_lock")]
    #[inline]
    pub fn lock(&self) -> RecursiveGuard<'_, T> {
        let me = thread_token();
        if let Some(again) = self.reenter(me) {
            return again.unwrap_or_else(|e| fatal("RecursiveLocker::lock (count)", e));
        }
        let raw = self.raw();
        if let Err(e) = raw.lock() {
            fatal("pthread_mutex_lock (recursive)", e);
        }
        // SAFETY: this thread has just acquired `raw`.
        unsafe { self.first_guard(raw, me) }
    }

    /// Acquires the lock without blocking: at once if it is free or held by this thread.
    ///
    /// # Errors
    /// [`Error::WouldBlock`] if another thread holds it; [`Error::Overflow`] at the count
    /// limit.
    #[doc(alias = "pthread_mutex_trylock")]
    #[inline]
    pub fn try_lock(&self) -> Result<RecursiveGuard<'_, T>, Error> {
        let me = thread_token();
        if let Some(again) = self.reenter(me) {
            return again;
        }
        let raw = self.raw();
        raw.try_lock()?;
        // SAFETY: this thread has just acquired `raw`.
        Ok(unsafe { self.first_guard(raw, me) })
    }

    /// Blocks until the lock is acquired or `dur` has passed (`CLOCK_MONOTONIC`); at once if
    /// this thread already holds it.
    ///
    /// # Errors
    /// [`Error::TimedOut`] when `dur` passes first; [`Error::Overflow`] at the count limit.
    #[doc(alias = "pthread_mutex_clocklock")]
    pub fn lock_timeout(&self, dur: Duration) -> Result<RecursiveGuard<'_, T>, Error> {
        let me = thread_token();
        if let Some(again) = self.reenter(me) {
            return again;
        }
        let raw = self.raw();
        raw.lock_for(dur)?;
        // SAFETY: this thread has just acquired `raw`.
        Ok(unsafe { self.first_guard(raw, me) })
    }

    /// A mutable reference to the data, with no locking: `&mut self` proves exclusive access.
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }
}

impl<T: Default> Default for RecursiveLocker<T> {
    fn default() -> Self {
        RecursiveLocker::new(T::default())
    }
}

impl<T> From<T> for RecursiveLocker<T> {
    fn from(t: T) -> Self {
        RecursiveLocker::new(t)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RecursiveLocker<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RecursiveLocker");
        match self.try_lock() {
            Ok(guard) => d.field("data", &&*guard),
            Err(_) => d.field("data", &format_args!("<locked>")),
        };
        d.finish_non_exhaustive()
    }
}

impl<T: ?Sized> Deref for RecursiveGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock, so only this thread can reach the data, and only
        // through shared references (no guard gives `&mut T`).
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for RecursiveGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        let lock = self.lock;
        // SAFETY: the guard is `!Send` and holds one level: this thread owns the lock, so it
        // alone touches `count`.
        let count = unsafe { &mut *lock.count.get() };
        *count -= 1;
        if *count == 0 {
            lock.owner.store(0, Relaxed);
            // SAFETY: this thread acquired `raw` once, for its first guard, and releases it
            // with its last.
            unsafe { self.raw.unlock_held() };
        }
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RecursiveGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for RecursiveGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}
