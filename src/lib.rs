//! pthread-style synchronization primitives for Linux (glibc), on `libc`.
//!
//! | type | over | what it adds |
//! |---|---|---|
//! | [`Locker`] (= [`Mutex`]) | `pthread_mutex_t`, normal | drop-in for `std::sync::Mutex` (poisoning included), plus [`Locker::lock_timeout`] |
//! | [`ErrorCheckLocker`] | `PTHREAD_MUTEX_ERRORCHECK` | relock is [`Error::Deadlock`], foreign unlock [`Error::NotOwner`] |
//! | [`RecursiveLocker`] | `PTHREAD_MUTEX_RECURSIVE` | re-entrant on the owning thread; guards give `&T` |
//! | [`Cond`] (= [`Condvar`]) | the crate's futex protocol (not `pthread_cond_t`, which can lose a wake-up: sourceware 25847), timed waits on `CLOCK_MONOTONIC` | drop-in for `std::sync::Condvar`; works with errorcheck guards too |
//! | [`Sem`] | unnamed `sem_t` | counting semaphore, timed waits, RAII [`SemPermit`] |
//! | [`RwLock`] | a lock word of the crate's own (futex waits), writer-preferring as glibc's `PREFER_WRITER_NONRECURSIVE_NP` kind, with a biased read path | drop-in for `std::sync::RwLock`, reads that scale, timed forms |
//! | [`SharedRwLock`] | reader slots naming their holders and a robust writer mutex, in a [`ShmBox`] | a reader-writer lock across processes that no death stalls: a dead reader is reclaimed, a dead writer's successor repairs (`OwnerDied`) |
//! | [`Barrier`] (module [`barrier`]) | the crate's own futex protocol | drop-in for `std::sync::Barrier`, plus [`Barrier::wait_timeout`] |
//! | [`SharedBarrier`] | the same protocol, process-shared, and a robust mutex per member seat | rounds across processes; a member that dies breaks the round ([`Error::BarrierBroken`]) instead of hanging the others |
//! | [`ShmBox`] (module [`shm`]) | `shm_open`, `mmap` | a value in shared memory, anonymous (shared with forked children) or named, behind a checked header |
//!
//! Replacing the import is all a program written for std needs:
//!
//! ```
//! // use std::sync::{Condvar, Mutex};
//! use pthread_sync::{Condvar, Mutex};
//! use std::sync::Arc;
//! use std::thread;
//!
//! let pair = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
//! let producer = {
//!     let pair = Arc::clone(&pair);
//!     thread::spawn(move || {
//!         for i in 0..10 {
//!             pair.0.lock().unwrap().push(i);
//!             pair.1.notify_one();
//!         }
//!     })
//! };
//! let (lock, cvar) = &*pair;
//! let done = cvar.wait_while(lock.lock().unwrap(), |v| v.len() < 10).unwrap();
//! assert_eq!(*done, (0..10).collect::<Vec<_>>());
//! # drop(done);
//! producer.join().unwrap();
//! ```
//!
//! The in-process pthread objects are stored inline, built by `const fn`s from the bytes
//! glibc's own initialisation writes (checked against glibc by the tests), so `static`
//! primitives work and nothing ever allocates; an unused one may move (see the README, "Where
//! the pthread objects live"). The process-shared ones ([`SharedLocker`], [`SharedCond`],
//! [`SharedSem`], in a [`ShmBox`]) are initialised in place inside shared memory on first use
//! and never move. Beyond the primitives: [`atfork`] (fork handlers that can be removed,
//! locks kept usable across `fork`) and [`signal`] (per-thread masks, a signal thread). All
//! calls into C live in one private module, `sys`, which has a second, pure-Rust backend over
//! [loom](https://docs.rs/loom) for model checking.
//!
//! Errors are one enum, [`Error`], mapping errno; it converts into [`std::io::Error`].
//!
//! Requirements: Linux with glibc 2.30 or later (for `pthread_mutex_clocklock`,
//! `pthread_cond_clockwait` and `sem_clockwait`) on a 64-bit target, Rust 1.83 or later.

#![forbid(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

#[cfg(not(all(target_os = "linux", target_env = "gnu", target_pointer_width = "64")))]
compile_error!("pthread-sync supports Linux with glibc on 64-bit targets only");

#[cfg(not(loom))]
pub mod atfork;
pub mod barrier;
mod cond;
mod error;
mod fork_registry;
pub mod lock_order;
mod locker;
mod placed;
mod poison;
mod publication;
mod regions;
mod rwlock;
mod sem;
mod shim;
#[cfg(all(not(loom), target_has_atomic = "64"))]
pub mod shm;
#[cfg(not(loom))]
pub mod signal;
mod sys;

mod switches;

/// What the model checks (`loom-tests`) reach of the crate's insides: the switches of
/// deliberately broken variants, the model's raw rwlock and futex word, the atfork
/// registry's core, the region publication protocol, the barriers' protocol core and a
/// barrier member's death. Only in the model build.
#[cfg(loom)]
#[doc(hidden)]
pub mod model_check {
    pub use crate::fork_registry::{Registration, Registry};
    pub use crate::publication::{Publication, Stage};
    /// The model backend's raw objects and `RwLock`'s lock word (on the model's futex
    /// words), for the differential test (against glibc and the kernel themselves) and the
    /// word's own model checks.
    pub use crate::rwlock::word::Word as RwWord;
    pub use crate::switches::{set_lost_wakeups, set_mutation, set_spurious_wakeups, Mutation};
    pub use crate::sys::{Deadline, Futex, RawRwLock, Scope};

    /// A barrier member's death, as the kernel makes it of a thread that ends holding its
    /// seat: the seat's robust mutex released and marked owner-died, nothing else done.
    pub fn die<const N: usize>(member: crate::Member<'_, N>) {
        member.die();
    }

    /// A `SharedRwLock` reader's death, as the kernel makes it of a process killed holding
    /// a read: its slot left holding its identity, which is dead from now on (see
    /// `SharedRwLockReadGuard::die`). The thread must not use the lock again.
    pub fn die_reading<T: ?Sized>(guard: crate::SharedRwLockReadGuard<'_, T>) {
        guard.die();
    }

    /// The lock-order checker's hooks on made-up lock addresses (nonzero), for models of
    /// its graph's concurrent updates.
    pub mod lock_order {
        use crate::lock_order::{acquire, dropped, release, Wait};

        /// `inner` taken (blocking) while `outer` is held, then both released: the edge
        /// `outer -> inner`, checked as a real acquisition checks it.
        pub fn nested(outer: usize, inner: usize) {
            let _ = acquire(outer, &(), Wait::Block, || Ok(()));
            let _ = acquire(inner, &(), Wait::Block, || Ok(()));
            release(inner);
            release(outer);
        }

        /// The lock at `addr` dropped.
        pub fn drop_lock(addr: usize) {
            dropped(addr);
        }

        /// Whether the graph has the edge `from -> to`.
        pub fn has_edge(from: usize, to: usize) -> bool {
            crate::lock_order::graph::lock_order_graph()
                .lock()
                .has_edge_between(from, to)
        }
    }

    /// The barriers' protocol core with an untimed wait and nothing watched (as `Barrier`
    /// waits), and the break and reset that `SharedBarrier` uses: for models of a break
    /// reaching every waiter without the shared waiters' polls, whose timed waits (each one
    /// "may time out" in the model) make models of more than one waiter intractable.
    pub struct BarrierCore(crate::barrier::protocol::Core);

    struct Unwatched;
    impl crate::barrier::protocol::Watch for Unwatched {
        const SCOPE: crate::sys::Scope = crate::sys::Scope::Private;
        const POLL: Option<std::time::Duration> = None;
        fn check(&self, _core: &crate::barrier::protocol::Core) {}
    }

    impl BarrierCore {
        /// A barrier of `parties`.
        pub fn new(parties: u32) -> BarrierCore {
            BarrierCore(crate::barrier::protocol::Core::new(parties))
        }
        /// An arrival and its wait: `Ok(leader)`, or `Err(())` if the round was broken.
        #[allow(clippy::result_unit_err)]
        pub fn wait(&self) -> Result<bool, ()> {
            self.0.wait(None, &Unwatched).map_err(|_| ())
        }
        /// Breaks the open round; whether this call did.
        pub fn break_round(&self) -> bool {
            self.0.break_round(crate::sys::Scope::Private, |_| {})
        }
        /// Starts afresh.
        pub fn reset(&self) {
            self.0.reset(crate::sys::Scope::Private, |_| {})
        }
    }
}

pub use barrier::{Barrier, BarrierWaitResult, Member, SharedBarrier};
pub use cond::{Cond, CondGuard, SharedCond, WaitTimeoutResult};
pub use error::{BreakCause, Error};
pub use locker::{
    kind, CeilingErrorCheckLocker, CeilingLocker, CeilingRecursiveLocker, ErrorCheckGuard,
    ErrorCheckLocker, Guard, Lock, LockTimeoutError, LockTimeoutResult, Locker, LockerGuard,
    OwnerDied, PiErrorCheckLocker, PiLocker, PiRecursiveLocker, RecursiveGuard, RecursiveLocker,
    SharedErrorCheckLocker, SharedLockError, SharedLockResult, SharedLocker, SharedLockerGuard,
    SharedPiErrorCheckLocker, SharedPiLocker, SharedPiRecursiveLocker, SharedRecursiveLocker,
};
pub use rwlock::{
    RwLock, RwLockReadGuard, RwLockWriteGuard, SharedRwLock, SharedRwLockReadGuard,
    SharedRwLockWriteGuard,
};
pub use sem::{placement, Sem, SemPermit, Semaphore, SharedSem};
#[cfg(all(not(loom), target_has_atomic = "64"))]
pub use shm::{ShmBox, ShmSafe};
/// std's poisoning types, re-exported: [`Locker`] returns exactly these.
pub use std::sync::{LockResult, PoisonError, TryLockError, TryLockResult};

/// [`Cond`] under std's name, so `use pthread_sync::Condvar;` replaces `std::sync::Condvar`.
pub use cond::Cond as Condvar;
/// [`Locker`] under std's name, so `use pthread_sync::Mutex;` replaces `std::sync::Mutex`.
pub use locker::Locker as Mutex;
/// [`LockerGuard`] under std's name.
pub use locker::LockerGuard as MutexGuard;
