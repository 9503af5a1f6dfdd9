//! Barriers: [`Barrier`], a drop-in for `std::sync::Barrier` (with a timed wait), and
//! [`SharedBarrier`], for processes (or threads of processes) stepping through rounds in a
//! shared-memory region, where a member that dies breaks the round for everyone instead of
//! hanging them.
//!
//! | type | where | members | a missing arrival | timed wait |
//! |---|---|---|---|---|
//! | [`Barrier`] | one process | any threads; `n` arrivals make a round | waits (as std's) | [`Barrier::wait_timeout`]: the timed-out arrival is withdrawn |
//! | [`SharedBarrier<N>`](SharedBarrier) | a [`ShmBox`](crate::ShmBox) region | `N` seats, taken by [`join`](SharedBarrier::join) | a **dead** member breaks the round: [`Error::BarrierBroken`] for every waiter within ~20 ms | [`Member::wait_timeout`] |
//!
//! # Why not `pthread_barrier_t`
//!
//! Both are built on one protocol of the crate's own (`protocol.rs`: a 64-bit state word changed
//! only by compare-exchange, and a futex word the waiters sleep on), in-process with
//! `FUTEX_PRIVATE_FLAG` and shared without it: one core, two placements. glibc's barrier
//! (2.36) cannot give what these promise:
//!
//! - `pthread_barrier_wait` has no timed form, and a waiter cannot withdraw its arrival; a
//!   timed wait over it would need a second mechanism beside it.
//! - `pthread_barrier_init` refuses a count of 0 (`EINVAL`), where std's `Barrier::new(0)`
//!   never blocks; and `pthread_barrier_t` has no `const` initialiser, so `Barrier::new`
//!   could not be a `const fn` (std's is) without copying glibc's private layout.
//! - Across processes, a waiter killed in `pthread_barrier_wait` still counts as arrived, a
//!   member that never arrives hangs all the others with no way to tell them, and
//!   `pthread_barrier_destroy` waits for waiters to leave: nothing in it can report a death.
//!
//! The protocol has neither problem: every change of the state is one compare-exchange, so a
//! process killed at any instant leaves the barrier whole, and a waiter can take its arrival
//! back. What it costs is measured against `pthread_barrier_t` and std's `Barrier` in
//! `benches/barrier.rs` (figures in the README).
//!
//! # Timeouts: the arrival is withdrawn, the round goes on
//!
//! A waiter whose timed wait runs out takes its arrival back and returns
//! [`Error::TimedOut`]; the round is unchanged for everyone else and still needs its `n`
//! arrivals (the same thread may arrive again). A timeout that races with the round's
//! completion returns the completion. Python's `threading.Barrier` instead breaks the barrier
//! for every waiter on any timeout; that is not done here because:
//!
//! - [`Barrier::wait`] has std's signature, which has no error to report a break with: a
//!   timeout of one thread must not change what another thread's `wait` does;
//! - a deadline is one caller's decision, not evidence that the round is lost (the others may
//!   well be on their way);
//! - a caller that does want Python's behaviour has it in one more call on the shared
//!   barrier: [`SharedBarrier::abort`] after the timeout breaks the round for everyone.
//!
//! A [`SharedBarrier`] breaks on its own only when a round can never complete: a member died.

pub(crate) mod protocol;
mod shared;

pub use shared::{Member, SharedBarrier, POLL};

use std::fmt;
use std::time::Duration;

use crate::error::Error;
use crate::shim::const_fn;
use crate::sys::{Deadline, Scope};
use protocol::{Core, Stop, Watch, PARTIES_MAX};

/// A barrier for the threads of one process, with the API of [`std::sync::Barrier`]: `n`
/// threads calling [`wait`](Barrier::wait) make a round; the `n`-th to arrive is the round's
/// leader and releases the others.
///
/// `use pthread_sync::Barrier;` in place of `use std::sync::Barrier;` compiles and behaves
/// the same: [`Barrier::new`] is a `const fn` (so `static` barriers work), `Barrier::new(0)`
/// behaves as `Barrier::new(1)` (every `wait` returns at once, as the leader), exactly one
/// waiter of each round is the leader (the last to arrive), and `Debug` prints
/// `Barrier { .. }`, as std's does. It is reusable: rounds follow one another, and any
/// number of threads may use it (each round is made of the first `n` arrivals).
///
/// Beyond std: [`Barrier::wait_timeout`]. It does not allocate, and is not a
/// `pthread_barrier_t` (see the [module docs](self) for why).
///
/// ```
/// use pthread_sync::Barrier;
/// use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
/// use std::thread;
///
/// let n = 4;
/// let barrier = Barrier::new(n);
/// let (arrived, leaders) = (AtomicUsize::new(0), AtomicUsize::new(0));
/// thread::scope(|s| {
///     for _ in 0..n {
///         s.spawn(|| {
///             arrived.fetch_add(1, Relaxed);
///             if barrier.wait().is_leader() {
///                 leaders.fetch_add(1, Relaxed);
///             }
///             // Every thread has arrived before any returns.
///             assert_eq!(arrived.load(Relaxed), n);
///         });
///     }
/// });
/// assert_eq!(leaders.into_inner(), 1);
/// ```
#[doc(alias = "pthread_barrier_t")]
pub struct Barrier {
    core: Core,
}

/// What a thread learns from a completed barrier round, as std's `BarrierWaitResult`:
/// whether it was the round's leader. `Debug` prints
/// `BarrierWaitResult { is_leader: true }` (or `false`), as std's does.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct BarrierWaitResult(bool);

impl BarrierWaitResult {
    /// `true` for exactly one waiter of each round: the one whose arrival completed it.
    ///
    /// ```
    /// let barrier = pthread_sync::Barrier::new(1);
    /// assert!(barrier.wait().is_leader());
    /// ```
    #[must_use]
    pub fn is_leader(&self) -> bool {
        self.0
    }
}

impl fmt::Debug for BarrierWaitResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BarrierWaitResult")
            .field("is_leader", &self.is_leader())
            .finish()
    }
}

/// The in-process placement: private futex, nothing to watch (a thread of this process
/// cannot vanish inside a wait while the process lives).
struct InProcess;

impl Watch for InProcess {
    const SCOPE: Scope = Scope::Private;
    const POLL: Option<Duration> = None;
    fn check(&self, _core: &Core) {}
}

impl Barrier {
    const_fn! {
        /// A barrier that releases its waiters each time `n` threads have called
        /// [`wait`](Barrier::wait). `n = 0` behaves as `n = 1`, as std's: every wait returns at
        /// once, as the leader. A `const fn`, as std's.
        ///
        /// (An `n` above 2^22, Linux's `PID_MAX_LIMIT` and so more threads than can exist at
        /// once, is taken as 2^22: its rounds can never complete, with either.)
        ///
        /// ```
        /// use pthread_sync::Barrier;
        /// static START: Barrier = Barrier::new(1);
        /// assert!(START.wait().is_leader());
        /// assert!(Barrier::new(0).wait().is_leader());
        /// ```
        #[must_use]
        #[inline]
        pub const fn new(n: usize) -> Barrier {
            let parties = if n == 0 {
                1
            } else if n > PARTIES_MAX as usize {
                PARTIES_MAX
            } else {
                n as u32
            };
            Barrier { core: Core::new(parties) }
        }
    }

    /// Blocks until `n` threads (this one included) have arrived in this round; the last
    /// to arrive is the leader and wakes the others.
    ///
    /// A waiter looks at the barrier a few times (a `pause`, then a `sched_yield`, between
    /// looks) before it sleeps on a private futex, so rounds that complete quickly cost no
    /// sleep, and a thread it waits for that shares its CPU gets to run at once.
    ///
    /// ```
    /// use pthread_sync::Barrier;
    /// use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
    ///
    /// // Two phases: nobody starts the second before both finished the first.
    /// let (barrier, done) = (Barrier::new(2), AtomicU32::new(0));
    /// std::thread::scope(|s| {
    ///     for _ in 0..2 {
    ///         s.spawn(|| {
    ///             done.fetch_add(1, Relaxed); // phase 1
    ///             barrier.wait();
    ///             assert_eq!(done.load(Relaxed), 2); // phase 2 sees all of phase 1
    ///         });
    ///     }
    /// });
    /// ```
    #[doc(alias = "pthread_barrier_wait")]
    pub fn wait(&self) -> BarrierWaitResult {
        match self.core.wait(None, &InProcess) {
            Ok(leader) => BarrierWaitResult(leader),
            // Nothing breaks an in-process barrier, and there is no deadline.
            Err(stop) => unreachable!("pthread-sync: an in-process barrier wait ended: {stop:?}"),
        }
    }

    /// As [`wait`](Barrier::wait), for at most `dur` (on `CLOCK_MONOTONIC`).
    ///
    /// # Errors
    /// [`Error::TimedOut`] when `dur` passed before the round completed: this thread's
    /// arrival is then **withdrawn**, and the round goes on waiting for `n` arrivals (see the
    /// [module docs](self#timeouts-the-arrival-is-withdrawn-the-round-goes-on) for why it
    /// does not break the round). If the round completes as the time runs out, the result is
    /// the completion.
    ///
    /// ```
    /// use pthread_sync::{Barrier, Error};
    /// use std::time::Duration;
    ///
    /// let barrier = Barrier::new(2);
    /// // Alone: times out, and the arrival is taken back...
    /// assert_eq!(barrier.wait_timeout(Duration::from_millis(5)), Err(Error::TimedOut));
    /// // ...so two new arrivals make the next round.
    /// std::thread::scope(|s| {
    ///     let other = s.spawn(|| barrier.wait().is_leader());
    ///     let me = barrier.wait_timeout(Duration::from_secs(10)).unwrap().is_leader();
    ///     assert!(me != other.join().unwrap());
    /// });
    /// ```
    pub fn wait_timeout(&self, dur: Duration) -> Result<BarrierWaitResult, Error> {
        let deadline = Deadline::after(dur);
        match self.core.wait(Some(&deadline), &InProcess) {
            Ok(leader) => Ok(BarrierWaitResult(leader)),
            Err(Stop::TimedOut) => Err(Error::TimedOut),
            Err(stop) => unreachable!("pthread-sync: an in-process barrier wait ended: {stop:?}"),
        }
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier").finish_non_exhaustive()
    }
}
