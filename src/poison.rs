//! Poisoning, exactly as `std::sync::Mutex` does it: a guard dropped while its thread is
//! panicking (and was not already panicking when it locked) marks the lock poisoned.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::PoisonError;
use std::thread;

use crate::shim::{const_fn, AtomicBool};

/// The poisoned flag of one lock. Relaxed is enough: it is written and read under the lock.
pub(crate) struct Flag {
    failed: AtomicBool,
}

/// What a guard remembers to decide, when dropped, whether it poisons the lock.
pub(crate) struct Guard {
    panicking: bool,
}

impl Flag {
    const_fn! {
        pub(crate) const fn new() -> Flag {
            Flag { failed: AtomicBool::new(false) }
        }
    }

    /// Called with the lock just acquired: `Err` carries the guard if the lock is poisoned.
    #[inline(always)]
    pub(crate) fn guard(&self) -> Result<Guard, PoisonError<Guard>> {
        let guard = Guard {
            panicking: thread::panicking(),
        };
        if self.get() {
            Err(PoisonError::new(guard))
        } else {
            Ok(guard)
        }
    }

    /// Called with the lock still held, just before it is released.
    #[inline(always)]
    pub(crate) fn done(&self, guard: &Guard) {
        if !guard.panicking && thread::panicking() {
            self.failed.store(true, Relaxed);
        }
    }

    #[inline]
    pub(crate) fn get(&self) -> bool {
        self.failed.load(Relaxed)
    }

    #[inline]
    pub(crate) fn clear(&self) {
        self.failed.store(false, Relaxed);
    }
}

/// Maps the value inside a `Result` that may be poisoned, keeping the poison.
#[inline(always)]
pub(crate) fn map_result<T, U>(
    result: Result<T, PoisonError<T>>,
    f: impl FnOnce(T) -> U,
) -> Result<U, PoisonError<U>> {
    match result {
        Ok(t) => Ok(f(t)),
        Err(e) => Err(PoisonError::new(f(e.into_inner()))),
    }
}
