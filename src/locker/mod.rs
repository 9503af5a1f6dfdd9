//! Mutexes over `pthread_mutex_t`, one type per kind.
//!
//! | type | pthread kind | relock by the owner | `lock()` returns | guard gives | poisons |
//! |---|---|---|---|---|---|
//! | [`Locker`] (= [`Mutex`](crate::Mutex)) | `NORMAL` | deadlocks (like std) | `LockResult<guard>` | `&mut T` | yes, like std |
//! | [`ErrorCheckLocker`] | `ERRORCHECK` | `Err(Error::Deadlock)` | `Result<guard, Error>` | `&mut T` | no |
//! | [`RecursiveLocker`] | `RECURSIVE` | succeeds, counted | guard | `&T` only | no |
//!
//! Every kind has `try_lock` and `lock_timeout` (`pthread_mutex_clocklock` on
//! `CLOCK_MONOTONIC`, so a change of the wall clock does not shorten or lengthen the wait).
//! Every constructor is a `const fn`: the pthread object is created on first use in a heap
//! allocation that never moves, so `static` lockers work and moving a locker is safe.
//!
//! Guards are `!Send`: a pthread mutex must be unlocked by the thread that locked it.
//!
//! [`Error`]: crate::Error

mod errorcheck;
mod normal;
mod recursive;

pub use errorcheck::{ErrorCheckGuard, ErrorCheckLocker};
pub use normal::{LockTimeoutError, LockTimeoutResult, Locker, LockerGuard};
pub use recursive::{RecursiveGuard, RecursiveLocker};

use std::marker::PhantomData;

use crate::error::fatal;
use crate::lazy::LazyBox;
use crate::shim::const_fn;
use crate::sys::{MutexKind, RawMutex};

/// The pthread mutex of an in-process locker, created on first use.
pub(crate) struct LazyMutex {
    cell: LazyBox<RawMutex>,
}

impl LazyMutex {
    const_fn! {
        pub(crate) const fn new() -> LazyMutex {
            LazyMutex { cell: LazyBox::new() }
        }
    }

    /// The mutex, of `kind`, created now if this is its first use.
    #[inline(always)]
    pub(crate) fn get(&self, kind: MutexKind) -> &RawMutex {
        self.cell.get_or_init(|| {
            RawMutex::new_boxed(kind).unwrap_or_else(|e| fatal("pthread_mutex_init", e))
        })
    }
}

/// Makes a guard neither `Send` nor `Sync` by itself: a pthread mutex must be unlocked by the
/// thread that locked it. Each guard then implements `Sync` for `T: Sync`, as std's do.
#[derive(Clone, Copy, Default)]
pub(crate) struct NotSend(PhantomData<*const ()>);
