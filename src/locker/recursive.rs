//! The recursive kind: [`RecursiveLocker`], re-entrant on the owning thread, over
//! `PTHREAD_MUTEX_RECURSIVE`.

use std::cell::{Cell, UnsafeCell};
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use super::raw::{protect, Forkable, NoProtocol, Proto, RawLock, WithProtocol};
use super::{kind, RecursiveGuard, RecursiveLocker};
use crate::error::{fatal, Error};
use crate::lock_order::Created;
use crate::poison::Never;
use crate::shim::{const_fn, thread_local_const, AtomicUsize};
use crate::sys::{MutexType, Protocol, RawMutex};
use std::marker::PhantomData;

/// The kind of [`RecursiveLocker`]: a re-entrant mutex. The thread that holds it may lock it
/// again; other threads get it only when the last guard of the owner is dropped.
///
/// The pthread object is a `PTHREAD_MUTEX_RECURSIVE` mutex, taken once by the outermost lock
/// of a thread. Re-entry is counted in Rust (an owner word and a count, as `parking_lot`'s
/// `ReentrantMutex` does), so a nested lock is a compare and an increment instead of a second
/// trip into glibc.
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
///
/// A `Cond` cannot wait with its guard (a wait releases a recursive mutex only if it is held
/// once): see [`CondGuard`](crate::CondGuard).
#[doc(alias = "PTHREAD_MUTEX_RECURSIVE")]
#[doc(alias = "ReentrantMutex")]
pub enum Recursive {}

impl kind::sealed::Kind for Recursive {
    type Raw = Reentrant;
    type Poison = Never;
    type Created = crate::lock_order::Created;
    const NAME: &'static str = "RecursiveLocker";
}
impl kind::Kind for Recursive {}
impl kind::InProcess for Recursive {}

thread_local_const! {
    static TOKEN: Cell<usize> = Cell::new(0);
}

/// The next thread token to hand out (a plain std atomic: not part of any model).
static NEXT_TOKEN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);

/// A number that identifies the calling thread (never 0), taken from a global counter on the
/// thread's first call, so it is never reused, even after the thread exits (unlike a TID or a
/// thread-local's address, which glibc reuses at once for the next thread: a lock leaked by a
/// dead thread would then pass to a new one).
#[inline(always)]
fn thread_token() -> usize {
    TOKEN.with(|token| match token.get() {
        0 => {
            let fresh = NEXT_TOKEN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            token.set(fresh);
            fresh
        }
        known => known,
    })
}

/// A recursive pthread mutex with re-entry counted in Rust.
// `repr(C)` keeps `count` away from the data that follows the lock: next to each other, LLVM
// may fuse a nested lock's count update with the caller's update of the data into one
// 16-byte access, which then waits on the store of the count (a store-forwarding stall that
// cost 30% in the benchmark).
#[repr(C)]
pub struct Reentrant<P: Proto = NoProtocol> {
    /// How many guards the owner holds; touched only by the owner.
    count: UnsafeCell<usize>,
    mutex: RawMutex,
    /// `thread_token()` of the owner, 0 when free. Written only by the thread holding
    /// `mutex`; `Relaxed` suffices: a thread only ever compares it with its own token, which
    /// only it stores (and clears before releasing `mutex`).
    owner: AtomicUsize,
    /// The priority protocol of `mutex`.
    _protocol: PhantomData<fn() -> P>,
}

// SAFETY: `count` is only touched by the thread holding `mutex`; the rest is thread-safe.
unsafe impl<P: Proto> Send for Reentrant<P> {}
// SAFETY: as above.
unsafe impl<P: Proto> Sync for Reentrant<P> {}

impl<P: Proto> Reentrant<P> {
    const_fn! {
        #[inline(always)]
        pub(crate) const fn new_const() -> Reentrant<P> {
            Reentrant::with_protocol_const(P::PROTOCOL)
        }
    }

    const_fn! {
        /// A new unlocked lock whose mutex has `protocol` (a ceiling already checked).
        #[inline(always)]
        const fn with_protocol_const(protocol: Protocol) -> Reentrant<P> {
            Reentrant {
                count: UnsafeCell::new(0),
                mutex: RawMutex::with_protocol(MutexType::Recursive, protocol),
                owner: AtomicUsize::new(0),
                _protocol: PhantomData,
            }
        }
    }

    /// One more level for the thread that already owns the lock, if this thread does.
    #[inline(always)]
    fn reenter(&self, me: usize) -> Option<Result<(), Error>> {
        if self.owner.load(Relaxed) != me {
            return None;
        }
        // SAFETY: this thread owns the lock, so it alone touches `count`.
        let count = unsafe { &mut *self.count.get() };
        Some(match count.checked_add(1) {
            Some(c) => {
                *count = c;
                Ok(())
            }
            None => Err(Error::Overflow),
        })
    }

    /// Re-entry if this thread owns the lock, else `acquire` of the pthread mutex and the
    /// first level.
    #[inline(always)]
    fn enter(&self, acquire: impl FnOnce(&RawMutex) -> Result<(), Error>) -> Result<(), Error> {
        let me = thread_token();
        if let Some(again) = self.reenter(me) {
            return again;
        }
        protect::<P>(|| acquire(&self.mutex))?;
        self.owner.store(me, Relaxed);
        // SAFETY: this thread holds `mutex`, so it alone touches `count`.
        unsafe { *self.count.get() = 1 };
        Ok(())
    }
}

// SAFETY: the pthread mutex excludes other threads; re-entry is granted only to the thread
// whose token is the owner, which only that thread stores while holding the mutex.
unsafe impl<P: Proto> RawLock for Reentrant<P> {
    fn new() -> Reentrant<P> {
        Reentrant::new_const()
    }

    #[inline(always)]
    fn lock(&self) -> Result<(), Error> {
        self.enter(RawMutex::lock_checked)
    }

    #[inline(always)]
    fn try_lock(&self) -> Result<(), Error> {
        self.enter(|m| m.try_lock(true))
    }

    #[inline]
    fn lock_for(&self, dur: Duration) -> Result<(), Error> {
        self.enter(|m| m.lock_for(dur, true))
    }

    #[inline(always)]
    unsafe fn unlock(&self) {
        // SAFETY: the caller holds one level, so this thread owns the lock and alone touches
        // `count`.
        let count = unsafe { &mut *self.count.get() };
        *count -= 1;
        if *count == 0 {
            self.owner.store(0, Relaxed);
            // SAFETY: this thread acquired `mutex` once, for its first level, and releases it
            // with its last.
            unsafe { self.mutex.unlock_held() };
        }
    }

    #[inline(always)]
    unsafe fn mutex(&self) -> &RawMutex {
        &self.mutex
    }
}

impl<P: Proto> WithProtocol for Reentrant<P> {
    fn with_protocol(protocol: Protocol) -> Self {
        Reentrant::with_protocol_const(protocol)
    }
}

/// A dropped lock leaves the lock-order graph (see `Plain`'s `Drop`).
impl<P: Proto> Drop for Reentrant<P> {
    #[inline(always)]
    fn drop(&mut self) {
        crate::lock_order::dropped(self as *const Self as usize);
    }
}

impl<P: Forkable> super::raw::ForkRaw for Reentrant<P> {
    fn fork_prepare(&self) -> super::raw::ForkHold {
        // The Rust owner, not glibc's: a re-entered lock is held through the count.
        let mine = self.owner.load(Relaxed) == thread_token();
        super::raw::fork_prepare(&self.mutex, mine)
    }

    unsafe fn fork_parent(&self, hold: super::raw::ForkHold) {
        // SAFETY: forwarded from the caller.
        unsafe { super::raw::fork_parent(&self.mutex, hold) }
    }

    unsafe fn fork_child(&self, hold: super::raw::ForkHold) {
        // The owner token and count are the forking thread's own (its thread-local token is
        // copied into the child), so its inherited guards stay valid.
        // SAFETY: forwarded from the caller.
        unsafe { super::raw::fork_child::<P>(&self.mutex, MutexType::Recursive, hold) }
    }
}

impl<T> RecursiveLocker<T> {
    const_fn! {
        /// A new unlocked recursive mutex holding `t`.
        #[inline]
        #[cfg_attr(feature = "lock-order", track_caller)]
        pub const fn new(t: T) -> RecursiveLocker<T> {
            super::Lock::from_parts(Reentrant::new_const(), Created::here(), Never, t)
        }
    }
}

impl<T: ?Sized> RecursiveLocker<T> {
    /// Blocks until the lock is acquired; succeeds at once if this thread already holds it.
    ///
    /// # Panics
    /// If this thread already holds the lock `usize::MAX` times (that many live or leaked
    /// guards), or if its holder is gone from this process ([`Error::OwnerGone`]: a thread
    /// that exited holding it, or the parent's thread in a `fork`ed child), where waiting
    /// would hang forever. [`RecursiveLocker::try_lock`] and
    /// [`RecursiveLocker::lock_timeout`] return these as errors.
    #[doc(alias = "pthread_mutex_lock")]
    #[inline]
    #[track_caller]
    pub fn lock(&self) -> RecursiveGuard<'_, T> {
        match super::unpoisoned(self.acquire()) {
            Ok(guard) => guard,
            Err(e) => fatal("RecursiveLocker::lock", e),
        }
    }
}
