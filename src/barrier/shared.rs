//! [`SharedBarrier`]: the barrier protocol placed in a shared-memory region, with member
//! seats whose robust mutexes let the kernel vouch for each member's life.

use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

use super::protocol::{Core, Stop, Watch, PARTIES_MAX};
use super::BarrierWaitResult;
use crate::error::{BreakCause, Error};
use crate::locker::kind::Normal;
use crate::locker::raw::RawLock;
use crate::locker::Robust;
use crate::shim::{self, array_of, const_fn, AtomicU32, AtomicU64};
use crate::sys::{Deadline, Scope};

/// How long a waiter sleeps before it looks at the other members' seats again: the bound on
/// how late a death is noticed (plus one look at every seat).
pub const POLL: Duration = Duration::from_millis(20);

/// A barrier for `N` members in a shared-memory region ([`ShmBox`](crate::ShmBox)):
/// processes, or threads of processes, stepping through rounds together, where **a member
/// that dies breaks the round for every waiter** with [`Error::BarrierBroken`] instead of
/// leaving them waiting forever (Python's `BrokenBarrierError`).
///
/// # Members
///
/// The barrier has `N` seats, and a round completes when `N` arrivals have been counted:
/// one from each member. A thread becomes a member with [`join`](SharedBarrier::join), which
/// takes a free seat and returns its [`Member`] handle; it arrives with [`Member::wait`] (or
/// [`Member::wait_timeout`]); it stays a member until the handle is dropped, which frees
/// the seat for another `join`. The `N` members may join in any order, from any processes
/// that map the region; until a seat is taken, rounds wait for its member, as std's barrier
/// waits for a thread that has not called `wait` yet.
///
/// Each seat holds a robust, process-shared `pthread_mutex_t`, which its member holds for as
/// long as it is a member. That is how the kernel vouches for the member: when its thread
/// ends (its process killed, say), the kernel releases the mutex and marks its holder dead,
/// so the next `pthread_mutex_trylock` of it returns `EOWNERDEAD`. A waiter that has slept
/// [`POLL`] (20 ms) without its round completing tries the mutex of every taken seat: busy,
/// the member is alive; acquired (with `EOWNERDEAD`, or free while the seat still names a
/// member), the member is dead.
///
/// # A member dies: the round breaks, for everyone, until a reset
///
/// A death, once noticed (within [`POLL`] plus one look at the seats, by any waiter, or by
/// a `join`), **breaks the round open at that moment**: every waiter of it returns
/// `Err(Error::BarrierBroken(BreakCause::MemberDied { seat, pid }))`, and every later wait
/// fails the same way at once, until a survivor calls [`reset`](SharedBarrier::reset). It
/// does not matter whether the dead member had arrived in that round (its arrival could
/// complete this round, but never the next one): no round after a death completes until the
/// survivors have decided what to do. A round that completed before the death was noticed
/// stays completed: every waiter of a round gets the same outcome, completed or broken,
/// since both are one compare-exchange of the same word.
///
/// After a break, as with Python's `Barrier.reset()`: one survivor calls
/// [`reset`](SharedBarrier::reset), which frees the seats of dead members and starts a fresh
/// round (the barrier still has `N` parties); a replacement member `join`s the freed seat
/// (a supervisor forks a new worker, say), and the rounds go on. `examples/phases.rs` does
/// exactly that.
///
/// The barrier also breaks when a member is dropped while its thread panics
/// ([`BreakCause::MemberPanicked`]; the round would otherwise wait for it), when anyone calls
/// [`abort`](SharedBarrier::abort), and for the waiters of an unbroken round that a
/// [`reset`](SharedBarrier::reset) interrupts ([`BreakCause::Reset`]).
///
/// A member that times out ([`Member::wait_timeout`]) withdraws its arrival: the round goes
/// on without it, unbroken (see the [module docs](crate::barrier) for why); add
/// [`abort`](SharedBarrier::abort) after the timeout for Python's behaviour. A member that
/// leaves (drops its `Member`) while alive frees its seat: the rounds then wait for whoever
/// joins it next. Leaving is not a death and breaks nothing.
///
/// # Caveats
///
/// - Membership belongs to a thread (a robust mutex is owned by the thread that locked it):
///   `Member` is neither `Send` nor `Sync`, and a forked child does not inherit its parent's
///   seats. A child must not use a `Member` it inherited (dropping one is a no-op there).
/// - Another program that writes the region can break any of this (see the trust model in
///   [`shm`](crate::shm)); a C program takes part by the steps documented there.
///
/// ```
/// use pthread_sync::{Error, ShmBox, SharedBarrier};
///
/// let region = ShmBox::anonymous(SharedBarrier::<2>::new())?;
/// std::thread::scope(|s| {
///     let other = s.spawn(|| {
///         let me = region.join().unwrap();
///         me.wait().unwrap().is_leader()
///     });
///     let me = region.join()?;
///     let leader = me.wait()?.is_leader();
///     assert!(leader != other.join().unwrap(), "exactly one leader");
///     Ok::<(), Error>(())
/// })?;
/// # Ok::<(), Error>(())
/// ```
///
/// Layout (for C programs, see [`shm`](crate::shm)): `#[repr(C)]`, 24 + 56 `N` bytes,
/// aligned to 8.
#[doc(alias = "pthread_barrier_t")]
#[doc(alias = "PTHREAD_PROCESS_SHARED")]
#[repr(C)]
pub struct SharedBarrier<const N: usize> {
    core: Core,
    /// Why the round of some epoch was broken (see `Cause`).
    cause: AtomicU64,
    seats: [Seat; N],
}

/// A member seat: a robust mutex its member holds, and the member's process id (0: vacant),
/// written only by the mutex's holder.
#[repr(C)]
struct Seat {
    lock: Robust<Normal>,
    pid: AtomicU32,
}

impl Seat {
    const_fn! {
        /// A vacant seat, its mutex unarmed.
        const fn new() -> Seat {
            Seat { lock: Robust::new_const(), pid: AtomicU32::new(0) }
        }
    }

    /// Tries the seat's mutex; if the seat names a member whose thread is gone (the mutex
    /// acquired: `EOWNERDEAD`, or free while `pid` is set, its death already handled by
    /// someone), calls `dead(pid)` while still holding it, and vacates the seat if that
    /// returns `true`. A busy mutex is a live member (or one joining or leaving).
    fn probe(&self, dead: impl FnOnce(u32) -> bool) {
        let died = match self.lock.try_lock() {
            Ok(()) => false,
            Err(Error::OwnerDied) => true,
            // Released unrepaired after a death (by a program that skipped
            // `pthread_mutex_consistent`): nobody holds it, nobody ever will.
            Err(Error::NotRecoverable) => {
                let pid = self.pid.load(SeqCst);
                if pid != 0 {
                    dead(pid);
                }
                return;
            }
            Err(_) => return,
        };
        let pid = self.pid.load(SeqCst);
        // Before the mutex is made consistent and released: a prober killed in between
        // leaves it owner-died again, for the next one to find.
        if pid != 0 && dead(pid) {
            self.pid.store(0, SeqCst);
        }
        if died {
            // SAFETY: `try_lock` acquired the mutex (OwnerDied: held, inconsistent). If it
            // fails, the release below leaves it not recoverable, which the next probe reads
            // as a dead member: the conservative outcome.
            let _ = unsafe { RawLock::mutex(&self.lock).consistent() };
        }
        // SAFETY: acquired by `try_lock` above, on this thread.
        unsafe { RawLock::unlock(&self.lock) };
    }
}

/// The cause word: which epoch's break it tells (`epoch + 1`, bits 0-9; 0: none), the kind
/// (bits 10-12: 1 a member died, 2 a member panicked, 3 aborted, 4 reset), the seat (bits
/// 13-34) and the member's pid (bits 35-56). The first cause recorded for an epoch wins.
mod cause {
    use super::BreakCause;

    const TAG: u64 = (1 << 10) - 1;
    const KIND_SHIFT: u32 = 10;
    const SEAT_SHIFT: u32 = 13;
    const PID_SHIFT: u32 = 35;
    const FIELD: u64 = (1 << 22) - 1;

    pub(super) fn tag(epoch: u32) -> u64 {
        u64::from(epoch) + 1
    }

    pub(super) fn is_for(word: u64, epoch: u32) -> bool {
        word & TAG == tag(epoch)
    }

    pub(super) fn encode(epoch: u32, cause: BreakCause) -> u64 {
        let (kind, seat, pid) = match cause {
            BreakCause::MemberDied { seat, pid } => (1, seat, pid),
            BreakCause::MemberPanicked { seat, pid } => (2, seat, pid),
            BreakCause::Aborted => (3, 0, 0),
            BreakCause::Reset => (4, 0, 0),
            _ => (0, 0, 0),
        };
        tag(epoch)
            | (kind << KIND_SHIFT)
            | ((seat as u64 & FIELD) << SEAT_SHIFT)
            | ((u64::from(pid) & FIELD) << PID_SHIFT)
    }

    pub(super) fn decode(word: u64, epoch: u32) -> BreakCause {
        if !is_for(word, epoch) {
            return BreakCause::Unknown;
        }
        let seat = ((word >> SEAT_SHIFT) & FIELD) as usize;
        let pid = ((word >> PID_SHIFT) & FIELD) as u32;
        match (word >> KIND_SHIFT) & 7 {
            1 => BreakCause::MemberDied { seat, pid },
            2 => BreakCause::MemberPanicked { seat, pid },
            3 => BreakCause::Aborted,
            4 => BreakCause::Reset,
            _ => BreakCause::Unknown,
        }
    }
}

impl<const N: usize> SharedBarrier<N> {
    const_fn! {
        /// A barrier of `N` parties, no seat taken, to be placed in a region: plain bytes (its
        /// seats' mutexes are initialised in place by their first use there), so a `const`
        /// or a `static` can hold one (only a copy placed in a region can be joined). `N`
        /// must be at least 1 and at most 2^22 (checked at compile time).
        ///
        /// ```
        /// use pthread_sync::{Error, ShmBox, SharedBarrier};
        ///
        /// const FRESH: SharedBarrier<2> = SharedBarrier::new();
        /// static OUTSIDE: SharedBarrier<2> = SharedBarrier::new();
        /// assert_eq!(OUTSIDE.join().unwrap_err(), Error::NotInRegion);
        /// let region = ShmBox::anonymous(FRESH)?;
        /// assert_eq!(region.join()?.seat(), 0);
        /// # Ok::<(), Error>(())
        /// ```
        ///
        /// ```compile_fail
        /// let _ = pthread_sync::SharedBarrier::<0>::new();
        /// ```
        #[must_use]
        pub const fn new() -> SharedBarrier<N> {
            const {
                assert!(
                    N >= 1 && N <= PARTIES_MAX as usize,
                    "a SharedBarrier has 1 to 2^22 parties"
                )
            };
            SharedBarrier {
                core: Core::new(N as u32),
                cause: AtomicU64::new(0),
                seats: array_of![Seat::new(); N],
            }
        }
    }

    /// The number of parties: `N`, the arrivals each round needs.
    pub fn parties(&self) -> usize {
        N
    }

    /// Takes a free seat for the calling thread: its [`Member`] handle, with which it arrives
    /// in each round. The seat is held until the handle is dropped (or the thread ends).
    ///
    /// A seat whose member is found dead is taken over (and, if nobody had noticed the death
    /// yet, the barrier is broken for it first, as a waiter would). Joining works while the
    /// barrier is broken; the new member's waits fail until a [`reset`](Self::reset).
    ///
    /// # Errors
    /// [`Error::BarrierFull`] when all `N` seats are held by live members;
    /// [`Error::NotInRegion`] outside a region this process mapped.
    ///
    /// ```
    /// use pthread_sync::{Error, ShmBox, SharedBarrier};
    ///
    /// let region = ShmBox::anonymous(SharedBarrier::<2>::new())?;
    /// let a = region.join()?;
    /// let b = region.join()?;
    /// assert_eq!((a.seat(), b.seat()), (0, 1));
    /// assert_eq!(region.join().unwrap_err(), Error::BarrierFull { seats: 2 });
    /// drop(b); // leaves: the seat is free again
    /// assert_eq!(region.join()?.seat(), 1);
    /// // Outside a region, refused:
    /// assert_eq!(SharedBarrier::<2>::new().join().unwrap_err(), Error::NotInRegion);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn join(&self) -> Result<Member<'_, N>, Error> {
        let me = shim::process_id();
        for (i, seat) in self.seats.iter().enumerate() {
            match seat.lock.try_lock() {
                Ok(()) => {}
                Err(Error::OwnerDied) => {
                    let pid = seat.pid.load(SeqCst);
                    if pid != 0 {
                        self.break_for(BreakCause::MemberDied { seat: i, pid });
                    }
                    // SAFETY: `try_lock` acquired it (held, inconsistent).
                    if let Err(e) = unsafe { RawLock::mutex(&seat.lock).consistent() } {
                        // SAFETY: acquired above, on this thread.
                        unsafe { RawLock::unlock(&seat.lock) };
                        return Err(e);
                    }
                }
                // Held by a live member, or lost for good (see `Seat::probe`).
                Err(Error::WouldBlock | Error::NotRecoverable) => continue,
                Err(e) => return Err(e),
            }
            seat.pid.store(me, SeqCst);
            return Ok(Member {
                barrier: self,
                seat: i,
                _thread: PhantomData,
            });
        }
        Err(Error::BarrierFull { seats: N })
    }

    /// Breaks the barrier for everyone (Python's `Barrier.abort()`): every waiter of the open
    /// round, and every later wait until a [`reset`](Self::reset), returns
    /// `Err(Error::BarrierBroken(BreakCause::Aborted))`. Nothing changes if it is broken
    /// already.
    ///
    /// ```
    /// use pthread_sync::{BreakCause, Error, ShmBox, SharedBarrier};
    ///
    /// let region = ShmBox::anonymous(SharedBarrier::<1>::new())?;
    /// let me = region.join()?;
    /// region.abort();
    /// assert_eq!(me.wait(), Err(Error::BarrierBroken(BreakCause::Aborted)));
    /// region.reset();
    /// assert!(me.wait()?.is_leader());
    /// # Ok::<(), Error>(())
    /// ```
    pub fn abort(&self) {
        self.break_for(BreakCause::Aborted);
    }

    /// Starts afresh (Python's `Barrier.reset()`): frees the seats of members found dead,
    /// counts no arrival, and clears the broken state, so the next `N` arrivals make a round.
    /// The waiters of a round that was open and not broken are released with
    /// `Err(Error::BarrierBroken(BreakCause::Reset))`. Live members keep their seats.
    ///
    /// Call it from one survivor, once the others have seen the break (each of them returns
    /// from its wait with the error): a member that arrives after the reset, in the fresh
    /// round, is counted there.
    ///
    /// ```
    /// use pthread_sync::{BreakCause, Error, ShmBox, SharedBarrier};
    ///
    /// let region = ShmBox::anonymous(SharedBarrier::<2>::new())?;
    /// let me = region.join()?;
    /// // A member that ends holding its seat (here a thread that leaks its `Member`) is
    /// // dead to the kernel; the next join finds it and breaks the barrier.
    /// std::thread::scope(|s| {
    ///     s.spawn(|| std::mem::forget(region.join().unwrap()))
    ///         .join()
    ///         .unwrap()
    /// });
    /// let replacement = region.join()?;
    /// assert_eq!(replacement.seat(), 1, "the dead member's seat");
    /// assert!(region.is_broken());
    /// drop(replacement);
    /// assert!(matches!(
    ///     me.wait(),
    ///     Err(Error::BarrierBroken(BreakCause::MemberDied { seat: 1, .. }))
    /// ));
    /// region.reset();
    /// assert!(!region.is_broken());
    /// # Ok::<(), Error>(())
    /// ```
    pub fn reset(&self) {
        for seat in &self.seats {
            if seat.pid.load(SeqCst) != 0 {
                seat.probe(|_| true);
            }
        }
        self.core
            .reset(Scope::Shared, |epoch| self.record(epoch, BreakCause::Reset));
    }

    /// Whether the barrier is broken now (until a [`reset`](Self::reset)).
    pub fn is_broken(&self) -> bool {
        self.core.is_broken()
    }

    /// Breaks the open round for `cause` (recorded first), unless broken already.
    fn break_for(&self, cause: BreakCause) {
        self.core
            .break_round(Scope::Shared, |epoch| self.record(epoch, cause));
    }

    /// Records `cause` as the cause of epoch `epoch`'s break, unless one is recorded already.
    fn record(&self, epoch: u32, why: BreakCause) {
        let mut word = self.cause.load(SeqCst);
        while !cause::is_for(word, epoch) {
            match self
                .cause
                .compare_exchange(word, cause::encode(epoch, why), SeqCst, SeqCst)
            {
                Ok(_) => return,
                Err(now) => word = now,
            }
        }
    }

    fn cause_of(&self, epoch: u32) -> BreakCause {
        cause::decode(self.cause.load(SeqCst), epoch)
    }
}

impl<const N: usize> Default for SharedBarrier<N> {
    fn default() -> Self {
        SharedBarrier::new()
    }
}

impl<const N: usize> fmt::Debug for SharedBarrier<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedBarrier")
            .field("parties", &N)
            .field("broken", &self.is_broken())
            .finish_non_exhaustive()
    }
}

/// A thread's seat in a [`SharedBarrier`], from [`SharedBarrier::join`]: it arrives in each
/// round with [`wait`](Member::wait). Dropping it frees the seat (and, if the thread is
/// panicking, breaks the barrier first: [`BreakCause::MemberPanicked`]).
///
/// Neither `Send` nor `Sync`: the seat's robust mutex belongs to the thread that joined.
#[must_use = "dropping the member frees its seat at once"]
pub struct Member<'a, const N: usize> {
    barrier: &'a SharedBarrier<N>,
    seat: usize,
    _thread: PhantomData<*const ()>,
}

/// What a member's waiter watches: every other taken seat, each [`POLL`].
struct Seats<'a, const N: usize> {
    barrier: &'a SharedBarrier<N>,
    me: usize,
}

impl<const N: usize> Watch for Seats<'_, N> {
    const SCOPE: Scope = Scope::Shared;
    const POLL: Option<Duration> = Some(POLL);

    fn check(&self, _core: &Core) {
        for (i, seat) in self.barrier.seats.iter().enumerate() {
            if i == self.me || seat.pid.load(SeqCst) == 0 {
                continue;
            }
            let mut found = false;
            seat.probe(|pid| {
                self.barrier
                    .break_for(BreakCause::MemberDied { seat: i, pid });
                found = true;
                false
            });
            if found {
                return;
            }
        }
    }
}

impl<const N: usize> Member<'_, N> {
    /// Arrives in the open round and blocks until it completes: `N` members have arrived
    /// (the last to arrive is the leader). A waiter looks at the barrier a few times (a
    /// `pause`, then a `sched_yield`, between looks), then sleeps on a process-shared futex,
    /// waking every [`POLL`] to look at the other seats for a dead member.
    ///
    /// # Errors
    /// [`Error::BarrierBroken`] when the round was broken (a member died, `abort`, `reset`),
    /// or the barrier was broken already; it stays so until a `reset`.
    ///
    /// ```
    /// use pthread_sync::{Error, ShmBox, SharedBarrier};
    ///
    /// let region = ShmBox::anonymous(SharedBarrier::<1>::new())?;
    /// let me = region.join()?;
    /// for _ in 0..3 {
    ///     assert!(me.wait()?.is_leader()); // alone: every round is this member's
    /// }
    /// # Ok::<(), Error>(())
    /// ```
    #[doc(alias = "pthread_barrier_wait")]
    pub fn wait(&self) -> Result<BarrierWaitResult, Error> {
        self.wait_until(None)
    }

    /// As [`wait`](Member::wait), for at most `dur` (on `CLOCK_MONOTONIC`).
    ///
    /// # Errors
    /// [`Error::TimedOut`] when `dur` passed first: the arrival is withdrawn and the round
    /// goes on, unbroken (a round that completes as the time runs out is returned as
    /// completed); [`Error::BarrierBroken`] as for `wait`.
    ///
    /// ```
    /// use pthread_sync::{Error, ShmBox, SharedBarrier};
    /// use std::time::Duration;
    ///
    /// let region = ShmBox::anonymous(SharedBarrier::<2>::new())?;
    /// let me = region.join()?;
    /// // The other seat is empty: the round cannot complete.
    /// assert_eq!(me.wait_timeout(Duration::from_millis(5)), Err(Error::TimedOut));
    /// assert!(!region.is_broken());
    /// # Ok::<(), Error>(())
    /// ```
    pub fn wait_timeout(&self, dur: Duration) -> Result<BarrierWaitResult, Error> {
        self.wait_until(Some(&Deadline::after(dur)))
    }

    fn wait_until(&self, deadline: Option<&Deadline>) -> Result<BarrierWaitResult, Error> {
        let seats = Seats {
            barrier: self.barrier,
            me: self.seat,
        };
        match self.barrier.core.wait(deadline, &seats) {
            Ok(leader) => Ok(BarrierWaitResult(leader)),
            Err(Stop::TimedOut) => Err(Error::TimedOut),
            Err(Stop::Broken { epoch }) => Err(Error::BarrierBroken(self.barrier.cause_of(epoch))),
        }
    }

    /// The seat this member holds (`0..N`): what [`BreakCause::MemberDied`] names.
    pub fn seat(&self) -> usize {
        self.seat
    }

    /// The member's death, in the model: what the kernel does when the member's thread ends
    /// holding the seat (the mutex released, owner-died). Model build only.
    #[cfg(loom)]
    pub(crate) fn die(self) {
        let seat = &self.barrier.seats[self.seat];
        // SAFETY: held by this thread since `join`; forgotten below, so never unlocked.
        unsafe { RawLock::mutex(&seat.lock).abandon() };
        std::mem::forget(self);
    }
}

impl<const N: usize> Drop for Member<'_, N> {
    fn drop(&mut self) {
        let seat = &self.barrier.seats[self.seat];
        // SAFETY: the seat's mutex was acquired by `join`, so it is armed.
        let mutex = unsafe { RawLock::mutex(&seat.lock) };
        if !mutex.held_by_me() {
            // A copy inherited by a forked child: the seat is its parent's thread's.
            return;
        }
        if std::thread::panicking() {
            let pid = seat.pid.load(SeqCst);
            self.barrier.break_for(BreakCause::MemberPanicked {
                seat: self.seat,
                pid,
            });
        }
        seat.pid.store(0, SeqCst);
        // SAFETY: held by this thread (checked above), since `join`.
        unsafe { RawLock::unlock(&seat.lock) };
    }
}

impl<const N: usize> fmt::Debug for Member<'_, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Member")
            .field("seat", &self.seat)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_round_trip_for_their_epoch_only() {
        let causes = [
            BreakCause::MemberDied {
                seat: 3,
                pid: 4_194_303,
            },
            BreakCause::MemberPanicked { seat: 0, pid: 1 },
            BreakCause::Aborted,
            BreakCause::Reset,
        ];
        for epoch in [0, 1, 511] {
            for why in causes {
                let word = cause::encode(epoch, why);
                assert_eq!(cause::decode(word, epoch), why);
                assert_eq!(cause::decode(word, (epoch + 1) % 512), BreakCause::Unknown);
            }
        }
        assert_eq!(cause::decode(0, 0), BreakCause::Unknown, "none recorded");
    }

    #[test]
    fn the_first_cause_of_an_epoch_wins() {
        let b = SharedBarrier::<2>::new();
        b.record(0, BreakCause::Aborted);
        b.record(0, BreakCause::Reset);
        assert_eq!(b.cause_of(0), BreakCause::Aborted);
        b.record(1, BreakCause::Reset);
        assert_eq!(b.cause_of(1), BreakCause::Reset);
        assert_eq!(
            b.cause_of(0),
            BreakCause::Unknown,
            "overwritten by a later epoch"
        );
    }
}
