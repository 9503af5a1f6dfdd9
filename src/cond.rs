//! [`Cond`] (a drop-in for `std::sync::Condvar`) and [`SharedCond`] (in shared memory): one
//! condition variable protocol of the crate's own, on a futex word, private to the process or
//! shared by placement.
//!
//! Why not `pthread_cond_t`: glibc's condvar (2.25 until 2.41) can lose a wake-up in-process
//! under a rare interleaving of waiters "stealing" signals across its two waiter groups
//! (sourceware bug 25847: the OCaml runtime, .NET and Azure Linux met it in production and
//! replaced or patched it; glibc 2.36 as shipped here has no fix), and its process-shared
//! form lets a waiter killed while blocked wedge every later notification (bug 21422).
//! std's `Condvar` on Linux is a sequence-counter futex protocol with neither problem; so is
//! this one (below), measured against the raw `pthread_cond_t` in the README.

use std::fmt;
use std::ops::DerefMut;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release, SeqCst};
use std::sync::{LockResult, PoisonError};
use std::time::Duration;

use crate::error::fatal;
use crate::error::Error;
use crate::locker::kind::{Exclusive, InProcess, Shared, SharedKind};
use crate::locker::raw::RawLock;
use crate::locker::{Guard, OwnerDied, SharedLockError, SharedLockResult};
use crate::shim::{const_fn, AtomicU32, AtomicUsize};
use crate::switches::{self, Mutation};
use crate::sys::{Deadline, Futex, RawMutex, Scope};

mod sealed {
    use crate::error::Error;
    use crate::sys::RawMutex;

    /// What [`Cond`](super::Cond) needs of a guard. Not implementable outside the crate.
    pub trait Sealed {
        /// The pthread mutex the guard holds.
        fn __raw_mutex(&self) -> &RawMutex;
        /// Whether the guarded lock is poisoned now.
        fn __poisoned(&self) -> bool;
        /// Releases the lock the guard holds, leaving the guard (a wait retakes it).
        ///
        /// # Safety
        /// The guard holds its lock; until `__relock` returns `Ok`, the guard is neither used
        /// nor dropped.
        unsafe fn __unlock(&self);
        /// Takes the lock again after `__unlock`, as the guard's kind locks.
        #[track_caller]
        fn __relock(&self) -> Result<(), Error>;
    }
}

/// A guard a [`Cond`] can wait with: the guards of the exclusive kinds,
/// [`Locker`](crate::Locker) and [`ErrorCheckLocker`](crate::ErrorCheckLocker).
///
/// Sealed. A [`RecursiveGuard`](crate::RecursiveGuard) is deliberately not one: a wait
/// releases a recursive mutex only if it is held once (POSIX advises against the pairing;
/// held twice, the waiter would sleep holding it and deadlock), so here it does not compile:
///
/// ```compile_fail
/// use pthread_sync::{Cond, RecursiveLocker};
/// let m = RecursiveLocker::new(0);
/// let c = Cond::new();
/// let _ = c.wait(m.lock());
/// ```
pub trait CondGuard: sealed::Sealed + DerefMut {}

impl<K: Exclusive + InProcess, T: ?Sized> sealed::Sealed for Guard<'_, K, T> {
    #[inline(always)]
    fn __raw_mutex(&self) -> &RawMutex {
        Guard::raw_mutex(self)
    }
    #[inline(always)]
    fn __poisoned(&self) -> bool {
        Guard::lock_is_poisoned(self)
    }
    #[inline(always)]
    unsafe fn __unlock(&self) {
        let raw = Guard::raw_lock(self);
        // The wait releases the mutex in the lock-order record too...
        crate::lock_order::release(raw as *const _ as usize);
        // SAFETY: the caller guarantees the guard holds its lock (once: an exclusive kind).
        unsafe { RawLock::unlock(raw) }
    }
    #[inline(always)]
    #[track_caller]
    fn __relock(&self) -> Result<(), Error> {
        let raw = Guard::raw_lock(self);
        // ...and retakes it as a blocking acquisition, checked before it blocks.
        let addr = raw as *const _ as usize;
        let created = Guard::order_site(self);
        crate::lock_order::acquire(addr, created, crate::lock_order::Wait::Block, || {
            RawLock::lock(raw)
        })
    }
}
impl<K: Exclusive + InProcess, T: ?Sized> CondGuard for Guard<'_, K, T> {}

/// The crate's condition variable protocol, shared by [`Cond`] (private futex) and
/// [`SharedCond`] (process-shared futex); its steps are documented on [`SharedCond`] (for C
/// programs too). Two words: `seq`, the futex, moved by every notification that finds a
/// waiter, and `waiters`, how many threads may be inside a wait.
#[repr(C)]
struct Protocol {
    seq: Futex,
    waiters: AtomicU32,
}

impl Protocol {
    const_fn! {
        const fn new() -> Protocol {
            Protocol { seq: Futex::new(0), waiters: AtomicU32::new(0) }
        }
    }

    /// With the mutex at `mutex` held: counts this waiter in and reads the sequence word
    /// (`None` under the mutation that reads it after the release instead).
    #[inline]
    fn enter(&self, mutex: usize) -> Option<u32> {
        self.seq.enter_wait(mutex);
        self.waiters.fetch_add(1, SeqCst);
        if switches::active(Mutation::CondSeqAfterUnlock) {
            return None;
        }
        Some(self.seq.load(SeqCst))
    }

    /// With the mutex released: sleeps while the sequence word holds what `enter` read, until
    /// a notification, a spurious wake-up or `deadline`; counts this waiter out. Whether the
    /// deadline passed.
    #[inline]
    fn sleep(&self, seen: Option<u32>, deadline: Option<&Deadline>, scope: Scope) -> bool {
        // `None`: deliberately broken (model checks only): read after the release, so a
        // notification made in between is missed.
        let seen = seen.unwrap_or_else(|| self.seq.load(SeqCst));
        let timed_out = match (scope, crate::sys::recheck()) {
            (Scope::Shared, Some(slice)) => self.sleep_rechecked(seen, deadline, slice),
            _ => self.seq.wait(seen, deadline, scope),
        };
        self.waiters.fetch_sub(1, SeqCst);
        timed_out
    }

    /// A process-shared sleep in slices of at most `slice`: at the end of each, a sequence
    /// word that moved means a notification came whose wake-up reached no live sleeper (it
    /// went to a waiter killed before it ran, or its notifier was killed between the bump and
    /// the wake), and the waiter returns as woken (a spurious wake-up, if the wake-up was
    /// another's: the caller re-checks its condition), also at the end of the last slice.
    /// Unmoved, it sleeps on, unless the slice was the one that ended at `deadline`. Whether
    /// `deadline` passed.
    fn sleep_rechecked(&self, seen: u32, deadline: Option<&Deadline>, slice: Duration) -> bool {
        loop {
            let soon = Deadline::after(slice);
            let until = deadline.map_or(soon, |d| soon.min(*d));
            if !self.seq.wait(seen, Some(&until), Scope::Shared) {
                return false;
            }
            if self.seq.load(SeqCst) != seen {
                return false;
            }
            // Which of the two bounds the sleep had (no clock read: the earlier one).
            if deadline.is_some_and(|d| d.same(&until)) {
                return true;
            }
        }
    }

    /// With the mutex held again after a wait (the model's one-mutex check).
    #[inline(always)]
    fn left(&self) {
        self.seq.leave_wait();
    }

    /// Wakes `n` waiters: nothing without waiters (no system call), else a bump of the
    /// sequence word and a wake.
    #[inline]
    fn notify(&self, n: i32, scope: Scope) {
        if self.waiters.load(SeqCst) == 0 {
            return;
        }
        self.seq.fetch_add(1, SeqCst);
        self.seq.wake(n, scope);
    }
}

/// Whether a timed wait returned because its time ran out (as std's `WaitTimeoutResult`).
#[derive(Debug, PartialEq, Eq, Copy, Clone)]
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    /// `true` if the wait ended because the duration passed.
    #[must_use]
    pub fn timed_out(&self) -> bool {
        self.0
    }
}

/// A condition variable on the crate's own futex protocol (private to the process; see the
/// module docs for why not `pthread_cond_t`), with the API of [`std::sync::Condvar`].
///
/// `use pthread_sync::{Condvar, Mutex};` in place of `use std::sync::{Condvar, Mutex};`
/// compiles and behaves the same. Differences worth knowing:
///
/// - timed waits run on `CLOCK_MONOTONIC` (`FUTEX_WAIT_BITSET` with an absolute deadline),
///   so setting the wall clock neither shortens nor lengthens them;
/// - it also works with [`ErrorCheckLocker`](crate::ErrorCheckLocker) guards; a
///   [`RecursiveLocker`](crate::RecursiveLocker) guard does not compile (see [`CondGuard`]);
/// - while threads wait on a `Cond` with one mutex, waiting on it with another mutex panics
///   before any pthread call, since POSIX leaves that undefined; once the last waiter has
///   returned, the `Cond` may be used with any mutex (POSIX's dynamic binding). std's
///   futex-based `Condvar` does not check; its documentation reserves the right to panic.
///
/// Spurious wake-ups can happen: wait in a loop, or use [`Cond::wait_while`].
///
/// # Differences from `std::sync::Condvar`
///
/// Code that calls the methods compiles unchanged (closures' argument types are inferred as
/// with std). The methods are generic over the guard type ([`CondGuard`]), so two rarer
/// spellings differ: a turbofish names the guard (`wait::<MutexGuard<'_, T>>`, not
/// `wait::<T>`), and coercing a method to a `fn` pointer needs the guard type spelled out.
/// [`WaitTimeoutResult`] is this crate's own type with std's method, `timed_out()`.
/// `Debug` prints `Condvar { .. }`, as std's does.
///
/// ```
/// use pthread_sync::{Condvar, Mutex};
/// use std::sync::Arc;
/// use std::thread;
///
/// let pair = Arc::new((Mutex::new(false), Condvar::new()));
/// let pair2 = Arc::clone(&pair);
/// thread::spawn(move || {
///     let (lock, cvar) = &*pair2;
///     *lock.lock().unwrap() = true;
///     cvar.notify_one();
/// });
/// let (lock, cvar) = &*pair;
/// let started = cvar.wait_while(lock.lock().unwrap(), |started| !*started).unwrap();
/// assert!(*started);
/// ```
#[doc(alias = "pthread_cond_t")]
pub struct Cond {
    protocol: Protocol,
    /// Address of the pthread mutex the current waiters use (0: no waiter, unbound).
    mutex: AtomicUsize,
    /// How many threads are inside a wait. Only threads holding the bound mutex touch it, so
    /// plain loads and stores suffice; a new binding takes over through `mutex`
    /// (`Release` when the last waiter unbinds, `Acquire` when the next one binds).
    waiters: AtomicUsize,
}

impl Cond {
    const_fn! {
        /// A new condition variable (two zero words): a `const fn`, so `static` condvars
        /// work, and nothing is allocated.
        #[inline]
        pub const fn new() -> Cond {
            Cond {
                protocol: Protocol::new(),
                mutex: AtomicUsize::new(0),
                waiters: AtomicUsize::new(0),
            }
        }
    }

    /// Enters a wait with `mutex` held: binds this condvar to `mutex` if it has no waiters,
    /// panics if its waiters use another mutex, and counts this thread as a waiter.
    #[inline]
    #[track_caller]
    fn enter(&self, mutex: &RawMutex) {
        let addr = mutex as *const RawMutex as usize;
        if self.mutex.load(Acquire) != addr
            && self
                .mutex
                .compare_exchange(0, addr, Acquire, Relaxed)
                .is_err()
            && !switches::active(Mutation::BindNeverRefuses)
        {
            two_mutexes();
        }
        // This thread holds the bound mutex, which guards the count.
        self.waiters.store(self.waiters.load(Relaxed) + 1, Relaxed);
    }

    /// Leaves a wait, with the bound mutex held again: the last waiter out unbinds.
    #[inline]
    fn leave(&self) {
        let left = self.waiters.load(Relaxed).wrapping_sub(1);
        self.waiters.store(left, Relaxed);
        if left == 0 {
            self.mutex.store(0, Release);
        }
    }

    /// The protocol's wait with `guard`'s lock (see [`SharedCond`]): releases it, sleeps
    /// until notified (or `deadline`), retakes it. Whether the deadline passed.
    #[inline]
    #[track_caller]
    fn wait_raw<G: CondGuard>(&self, guard: &G, deadline: Option<&Deadline>) -> bool {
        let mutex = guard.__raw_mutex();
        self.enter(mutex);
        let seen = self.protocol.enter(mutex as *const RawMutex as usize);
        // SAFETY: `guard` proves this thread holds its lock, once (an exclusive kind); the
        // guard is not used until the lock is retaken just below.
        unsafe { guard.__unlock() };
        let timed_out = self.protocol.sleep(seen, deadline, Scope::Private);
        if let Err(e) = guard.__relock() {
            fatal("pthread_mutex_lock (in a condition variable wait)", e);
        }
        self.protocol.left();
        self.leave();
        timed_out
    }

    /// Waits on `guard`'s mutex: releases it, sleeps until notified (or woken spuriously),
    /// and reacquires it before returning.
    ///
    /// # Errors
    /// `Err(PoisonError)` (holding the guard) if the mutex is poisoned when reacquired.
    ///
    /// # Panics
    /// If other threads are waiting on this condvar with a different mutex.
    #[doc(alias = "pthread_cond_wait")]
    #[track_caller]
    pub fn wait<G: CondGuard>(&self, guard: G) -> LockResult<G> {
        self.wait_raw(&guard, None);
        crate::poison::lock_result(guard.__poisoned(), guard)
    }

    /// Waits while `condition` returns `true`, checking it before the first wait and after
    /// every wake-up; returns with the lock held and `condition` false.
    ///
    /// # Errors
    /// As [`Cond::wait`].
    ///
    /// ```
    /// use pthread_sync::{Cond, Locker};
    /// use std::sync::Arc;
    ///
    /// let state = Arc::new((Locker::new(0u32), Cond::new()));
    /// let s2 = Arc::clone(&state);
    /// let t = std::thread::spawn(move || {
    ///     for _ in 0..3 {
    ///         *s2.0.lock().unwrap() += 1;
    ///         s2.1.notify_all();
    ///     }
    /// });
    /// let g = state.1.wait_while(state.0.lock().unwrap(), |n| *n < 3).unwrap();
    /// assert_eq!(*g, 3);
    /// # drop(g); t.join().unwrap();
    /// ```
    #[track_caller]
    pub fn wait_while<G, F>(&self, guard: G, condition: F) -> LockResult<G>
    where
        G: CondGuard,
        F: FnMut(&mut G::Target) -> bool,
    {
        wait_while_loop(guard, condition, |g| self.wait(g))
    }

    /// Waits at most `dur` (on `CLOCK_MONOTONIC`). Spurious wake-ups can end it early:
    /// check your condition, or use [`Cond::wait_timeout_while`].
    ///
    /// # Errors
    /// As [`Cond::wait`]; the error holds the guard and the timeout result.
    ///
    /// # Panics
    /// If other threads are waiting on this condvar with a different mutex.
    #[doc(alias = "pthread_cond_timedwait")]
    #[track_caller]
    pub fn wait_timeout<G: CondGuard>(
        &self,
        guard: G,
        dur: Duration,
    ) -> LockResult<(G, WaitTimeoutResult)> {
        self.wait_until(guard, &Deadline::after(dur))
    }

    #[track_caller]
    fn wait_until<G: CondGuard>(
        &self,
        guard: G,
        deadline: &Deadline,
    ) -> LockResult<(G, WaitTimeoutResult)> {
        let timed_out = self.wait_raw(&guard, Some(deadline));
        let poisoned = guard.__poisoned();
        crate::poison::lock_result(poisoned, (guard, WaitTimeoutResult(timed_out)))
    }

    /// Waits while `condition` returns `true`, for at most `dur` in total (one deadline on
    /// `CLOCK_MONOTONIC` for all the wake-ups). [`WaitTimeoutResult::timed_out`] is `true`
    /// only if the time ran out with `condition` still true.
    ///
    /// # Errors
    /// As [`Cond::wait_timeout`].
    ///
    /// ```
    /// use pthread_sync::{Cond, Locker};
    /// use std::time::Duration;
    ///
    /// let (m, c) = (Locker::new(false), Cond::new());
    /// let (g, res) = c
    ///     .wait_timeout_while(m.lock().unwrap(), Duration::from_millis(10), |ready| !*ready)
    ///     .unwrap();
    /// assert!(res.timed_out());
    /// assert!(!*g);
    /// ```
    #[track_caller]
    pub fn wait_timeout_while<G, F>(
        &self,
        guard: G,
        dur: Duration,
        condition: F,
    ) -> LockResult<(G, WaitTimeoutResult)>
    where
        G: CondGuard,
        F: FnMut(&mut G::Target) -> bool,
    {
        let deadline = Deadline::after(dur);
        wait_timeout_while_loop(guard, condition, &deadline, |g| {
            self.wait_until(g, &deadline)
        })
    }

    /// Waits at most `ms` milliseconds. As std's: the boolean is `false` only if the timeout
    /// is known to have elapsed (`true`: woken before it, by a notification or spuriously).
    ///
    /// # Errors
    /// As [`Cond::wait_timeout`].
    #[deprecated(note = "replaced by `wait_timeout`, as in std")]
    #[track_caller]
    pub fn wait_timeout_ms<G: CondGuard>(&self, guard: G, ms: u32) -> LockResult<(G, bool)> {
        match self.wait_timeout(guard, Duration::from_millis(u64::from(ms))) {
            Ok((guard, result)) => Ok((guard, !result.timed_out())),
            Err(err) => {
                let (guard, result) = err.into_inner();
                Err(PoisonError::new((guard, !result.timed_out())))
            }
        }
    }

    /// Wakes one thread waiting on this condvar, if any (`pthread_cond_signal`'s role; no
    /// system call when nobody waits).
    #[doc(alias = "pthread_cond_signal")]
    #[inline]
    pub fn notify_one(&self) {
        self.protocol.notify(1, Scope::Private);
    }

    /// Wakes every thread waiting on this condvar (`pthread_cond_broadcast`'s role).
    #[doc(alias = "pthread_cond_broadcast")]
    #[inline]
    pub fn notify_all(&self) {
        self.protocol.notify(i32::MAX, Scope::Private);
    }
}

/// The loop of `wait_while` (both condvars): waits with `wait` while `condition` holds,
/// checking it before the first wait and after every wake-up.
#[track_caller]
fn wait_while_loop<G: DerefMut, E>(
    mut guard: G,
    mut condition: impl FnMut(&mut G::Target) -> bool,
    mut wait: impl FnMut(G) -> Result<G, E>,
) -> Result<G, E> {
    if switches::active(Mutation::WaitWhileOnce) {
        // Deliberately broken (model checks only): the condition is not re-checked.
        if condition(&mut *guard) {
            guard = wait(guard)?;
        }
        return Ok(guard);
    }
    while condition(&mut *guard) {
        guard = wait(guard)?;
    }
    Ok(guard)
}

/// The loop of `wait_timeout_while` (both condvars): `wait_until` waits against `deadline`
/// and says whether it passed; the result is "timed out" only if it passed with `condition`
/// still true. After a wake-up that left the condition true, the clock is read, as std's loop
/// does: a waiter woken again and again (by notifications for others, or at the end of a
/// shared wait's 20 ms look that found the sequence word moved) still returns at the deadline.
#[track_caller]
fn wait_timeout_while_loop<G: DerefMut, E>(
    mut guard: G,
    mut condition: impl FnMut(&mut G::Target) -> bool,
    deadline: &Deadline,
    mut wait_until: impl FnMut(G) -> Result<(G, WaitTimeoutResult), E>,
) -> Result<(G, WaitTimeoutResult), E> {
    let mut timed_out = false;
    let mut woken = false;
    loop {
        if !condition(&mut *guard) {
            return Ok((guard, WaitTimeoutResult(false)));
        }
        if timed_out || (woken && deadline.passed()) {
            return Ok((guard, WaitTimeoutResult(true)));
        }
        let (g, result) = wait_until(guard)?;
        guard = g;
        timed_out = result.timed_out();
        woken = true;
    }
}

#[cold]
#[inline(never)]
#[track_caller]
fn two_mutexes() -> ! {
    panic!(
        "pthread-sync: a Cond was used with two different mutexes at once \
         (undefined in POSIX): threads are waiting on it with another mutex"
    )
}

impl Default for Cond {
    fn default() -> Cond {
        Cond::new()
    }
}

impl fmt::Debug for Cond {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condvar").finish_non_exhaustive()
    }
}

/// A condition variable for a shared-memory region ([`ShmBox`](crate::ShmBox)), with the
/// std-shaped API of [`Cond`], waiting with the guards of the shared exclusive locks
/// ([`SharedLocker`](crate::SharedLocker), [`SharedErrorCheckLocker`](crate::SharedErrorCheckLocker)),
/// on a protocol of the crate's own over a process-shared futex word, so that **a process
/// killed at any instant of a wait or a notification leaves nothing behind**: no later notify
/// hangs, no live waiter misses a wake-up.
///
/// It is not a `pthread_cond_t`: glibc's process-shared condvar (2.25 to 2.36 at least) lets a
/// waiter that is killed while blocked keep a group reference (`__g_refs`) that nobody
/// releases, and the next notification that must switch glibc's waiter groups then waits for
/// it forever (sourceware bug 21422); a notifier killed inside `pthread_cond_broadcast` can
/// die holding the condvar's internal lock. The protocol here keeps no per-waiter state in
/// shared memory:
///
/// - **wait**: with the mutex held, add one to `waiters`, read `seq`; release the mutex; sleep
///   on `seq` while it still holds the value read (`FUTEX_WAIT_BITSET` without
///   `FUTEX_PRIVATE_FLAG`, with an absolute `CLOCK_MONOTONIC` deadline for the timed forms),
///   20 ms at most at a time: at the end of such a slice, if `seq` has moved, return as
///   woken, else sleep on; subtract one from `waiters`; take the mutex again (a holder that
///   died meanwhile reaches the waiter as [`SharedLockError::OwnerDied`], exactly as a lock
///   does).
/// - **notify**: if `waiters` is 0, nothing (no system call); else add one to `seq` and wake
///   one (`notify_one`) or every (`notify_all`) sleeper on it (`FUTEX_WAKE`).
///
/// A waiter reads `seq` before it releases the mutex, so a notification made after that
/// (by a notifier that changed the waited-for state under the mutex) changes `seq` before the
/// waiter can sleep on the old value, or wakes it from that sleep: no wake-up is lost. A
/// waiter killed while asleep is removed from the futex queue by the kernel; one killed
/// anywhere in a wait leaves `waiters` one too high, which only makes later notifications
/// make a (harmless) wake-up system call. Two deaths spend a notification on nobody alive: a
/// waiter woken by `notify_one` and killed before it runs (the kernel woke it, not another),
/// and a notifier killed between its bump of `seq` and its wake. Both leave `seq` moved under
/// sleepers that were not woken, and the 20 ms slices are for them. A sleeper cannot tell a
/// spent wake-up from one that reached another waiter, so every waiter asleep at a
/// `notify_one` returns within one slice of it (all but the woken one as a spurious wake-up:
/// they re-check their condition and wait again). So a notification reaches a live waiter
/// within 20 ms whoever dies. The cost: a clock read and a kernel timer per slice (about
/// 0.3 µs here), a wake-up every 20 ms for a sleeper, and after a `notify_one`, at most one
/// relock per other sleeper and slice (the in-process [`Cond`] has none of this). Every word
/// is valid at any value, so there is nothing to arm and nothing a dead process can leave
/// half-made: the condvar is two `u32`s, usable at once (also outside a region: its futex
/// words work in any memory).
///
/// Wake-ups may be spurious (wait in a loop, or use [`SharedCond::wait_while`]). Unlike
/// [`Cond`], it does not check that all its waiters use one mutex: the waiters may be in
/// other processes, where addresses mean nothing here. Using two mutexes with it at once is
/// undefined in POSIX; keep each `SharedCond` beside the one lock it is used with.
///
/// Layout (for C programs, which may wait and notify on the same object by the same steps):
/// `#[repr(C)] { seq: u32, waiters: u32 }`, 8 bytes, aligned to 4, both native-endian and
/// accessed atomically; see [`shm`](crate::shm).
#[doc(alias = "pthread_cond_t")]
#[doc(alias = "PTHREAD_PROCESS_SHARED")]
#[repr(C)]
pub struct SharedCond {
    /// The sequence word and the waiter count (one too many per waiter that died inside a
    /// wait), shared with every process that maps it.
    protocol: Protocol,
    /// A waiter sleeps on `seq`'s address: moving it (with waiters in other processes) would
    /// strand them, so no safe `&mut` to it is handed out, as for the other shared primitives.
    _pinned: std::marker::PhantomPinned,
}

/// A guard a [`SharedCond`] waits with.
type SharedGuard<'a, K, T> = Guard<'a, Shared<K>, T>;

impl SharedCond {
    const_fn! {
        /// A new shared condition variable (two zero words), to be placed in a region.
        pub const fn new() -> SharedCond {
            SharedCond { protocol: Protocol::new(), _pinned: std::marker::PhantomPinned }
        }
    }

    /// The protocol's wait (see the type's docs): releases the guard's lock, sleeps until
    /// notified (or `deadline`), retakes the lock. Returns the guard, the retake's result and
    /// whether the deadline passed.
    #[track_caller]
    fn wait_raw<'a, K, T>(
        &self,
        guard: SharedGuard<'a, K, T>,
        deadline: Option<&Deadline>,
    ) -> (SharedGuard<'a, K, T>, Result<(), Error>, bool)
    where
        K: SharedKind + Exclusive,
        T: ?Sized,
    {
        // Not dropped while the lock is released: an unwinding in between (a model run torn
        // down) must not unlock a mutex this thread does not hold.
        let guard = std::mem::ManuallyDrop::new(guard);
        let raw = Guard::raw_lock(&guard);
        let seen = self.protocol.enter(raw as *const _ as usize);
        let addr = raw as *const _ as usize;
        crate::lock_order::release(addr);
        // SAFETY: the guard proves this thread holds the lock, once (an exclusive kind); the
        // guard is not used or dropped until the lock is retaken below (the caller forgets
        // it if the retake fails).
        unsafe { RawLock::unlock(raw) };
        let timed_out = self.protocol.sleep(seen, deadline, Scope::Shared);
        let relocked =
            crate::lock_order::acquire(addr, &(), crate::lock_order::Wait::Block, || {
                RawLock::lock(raw)
            });
        self.protocol.left();
        (
            std::mem::ManuallyDrop::into_inner(guard),
            relocked,
            timed_out,
        )
    }

    /// What a wait whose retake of the mutex of `guard` returned `relocked` gives back.
    fn after_wait<G>(
        guard: G,
        relocked: Result<(), Error>,
        poisoned: impl FnOnce(&G) -> bool,
    ) -> SharedLockResult<G> {
        match relocked {
            Ok(()) if poisoned(&guard) => Err(SharedLockError::Poisoned(
                std::sync::PoisonError::new(guard),
            )),
            Ok(()) => Ok(guard),
            // The mutex was reacquired: its previous holder died.
            Err(Error::OwnerDied) => Err(SharedLockError::OwnerDied(OwnerDied::new(guard))),
            Err(e) => {
                // Not reacquired (`ENOTRECOVERABLE`): the guard must not unlock it.
                std::mem::forget(guard);
                Err(SharedLockError::Failed(e))
            }
        }
    }

    /// Waits on `guard`'s mutex: releases it, sleeps until notified (or woken spuriously),
    /// and reacquires it (`pthread_cond_wait`'s role).
    ///
    /// # Errors
    /// [`SharedLockError::OwnerDied`] or [`SharedLockError::Poisoned`] with the guard when
    /// the mutex was reacquired in that state; [`SharedLockError::Failed`] with
    /// [`Error::NotRecoverable`] when it could not be reacquired (the guard is gone, the
    /// lock not held).
    #[doc(alias = "pthread_cond_wait")]
    #[track_caller]
    pub fn wait<'a, K, T>(
        &self,
        guard: SharedGuard<'a, K, T>,
    ) -> SharedLockResult<SharedGuard<'a, K, T>>
    where
        K: SharedKind + Exclusive,
        T: ?Sized,
    {
        let (guard, relocked, _) = self.wait_raw(guard, None);
        Self::after_wait(guard, relocked, |g| Guard::lock_is_poisoned(g))
    }

    /// Waits while `condition` returns `true`, checking it before the first wait and after
    /// every wake-up. (For plain data, `T: Unpin`, as the condition gets `&mut T`; see
    /// [`Shared`](crate::kind::Shared).)
    ///
    /// # Errors
    /// As [`SharedCond::wait`], from the wait where it happened.
    pub fn wait_while<'a, K, T, F>(
        &self,
        guard: SharedGuard<'a, K, T>,
        condition: F,
    ) -> SharedLockResult<SharedGuard<'a, K, T>>
    where
        K: SharedKind + Exclusive,
        T: ?Sized + Unpin,
        F: FnMut(&mut T) -> bool,
    {
        wait_while_loop(guard, condition, |g| self.wait(g))
    }

    /// Waits at most `dur`, on `CLOCK_MONOTONIC` (`pthread_cond_clockwait`'s role).
    ///
    /// # Errors
    /// As [`SharedCond::wait`].
    #[doc(alias = "pthread_cond_clockwait")]
    #[track_caller]
    pub fn wait_timeout<'a, K, T>(
        &self,
        guard: SharedGuard<'a, K, T>,
        dur: Duration,
    ) -> SharedLockResult<(SharedGuard<'a, K, T>, WaitTimeoutResult)>
    where
        K: SharedKind + Exclusive,
        T: ?Sized,
    {
        self.wait_until(guard, &Deadline::after(dur))
    }

    #[track_caller]
    fn wait_until<'a, K, T>(
        &self,
        guard: SharedGuard<'a, K, T>,
        deadline: &Deadline,
    ) -> SharedLockResult<(SharedGuard<'a, K, T>, WaitTimeoutResult)>
    where
        K: SharedKind + Exclusive,
        T: ?Sized,
    {
        let (guard, relocked, timed_out) = self.wait_raw(guard, Some(deadline));
        let out = Self::after_wait(guard, relocked, |g| Guard::lock_is_poisoned(g));
        map_shared(out, |g| (g, WaitTimeoutResult(timed_out)))
    }

    /// Waits while `condition` returns `true`, for at most `dur` in total (one deadline on
    /// `CLOCK_MONOTONIC`). [`WaitTimeoutResult::timed_out`] is `true` only if the time ran out
    /// with `condition` still true.
    ///
    /// # Errors
    /// As [`SharedCond::wait`].
    pub fn wait_timeout_while<'a, K, T, F>(
        &self,
        guard: SharedGuard<'a, K, T>,
        dur: Duration,
        condition: F,
    ) -> SharedLockResult<(SharedGuard<'a, K, T>, WaitTimeoutResult)>
    where
        K: SharedKind + Exclusive,
        T: ?Sized + Unpin,
        F: FnMut(&mut T) -> bool,
    {
        let deadline = Deadline::after(dur);
        wait_timeout_while_loop(guard, condition, &deadline, |g| {
            self.wait_until(g, &deadline)
        })
    }

    /// Wakes one waiter, in any process (`pthread_cond_signal`'s role). Never blocks.
    #[doc(alias = "pthread_cond_signal")]
    #[inline]
    pub fn notify_one(&self) {
        self.notify(1);
    }

    /// Wakes every waiter, in every process (`pthread_cond_broadcast`'s role). Never blocks.
    #[doc(alias = "pthread_cond_broadcast")]
    #[inline]
    pub fn notify_all(&self) {
        self.notify(i32::MAX);
    }

    #[inline]
    fn notify(&self, n: i32) {
        self.protocol.notify(n, Scope::Shared);
    }
}

/// Maps the guard inside a [`SharedLockResult`], keeping its state.
fn map_shared<G, U>(result: SharedLockResult<G>, f: impl FnOnce(G) -> U) -> SharedLockResult<U> {
    match result {
        Ok(g) => Ok(f(g)),
        Err(SharedLockError::Poisoned(p)) => Err(SharedLockError::Poisoned(
            std::sync::PoisonError::new(f(p.into_inner())),
        )),
        Err(SharedLockError::OwnerDied(o)) => Err(SharedLockError::OwnerDied(o.map(f))),
        Err(SharedLockError::Failed(e)) => Err(SharedLockError::Failed(e)),
    }
}

impl Default for SharedCond {
    fn default() -> SharedCond {
        SharedCond::new()
    }
}

impl fmt::Debug for SharedCond {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedCond").finish_non_exhaustive()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// A waiter whose every wait returns woken (never "timed out": woken again and again by
    /// notifications for others, or by looks that find the sequence word moved), with its
    /// condition never met, still returns at its deadline, timed out: the loop reads the
    /// clock itself, as std's does. (A loop that trusted the waits alone would run until the
    /// fake wait gives up, 2 000 calls later.)
    #[test]
    fn wait_timeout_while_ends_at_the_deadline_though_every_wait_says_woken() {
        let deadline = Deadline::after(Duration::from_millis(10));
        let mut calls = 0u32;
        let mut value = 0u32;
        let result = wait_timeout_while_loop(
            &mut value,
            |_| true,
            &deadline,
            |g| {
                calls += 1;
                if calls > 2_000 {
                    return Err("the loop never ended at its deadline");
                }
                std::thread::sleep(Duration::from_millis(1));
                Ok((g, WaitTimeoutResult(false)))
            },
        );
        let (_, r) = result.unwrap();
        assert!(r.timed_out());
        assert!(deadline.passed());
    }
}
