//! [`Sem`]: an unnamed POSIX semaphore (`sem_t`) shared by the threads of one process.

use std::fmt;
use std::time::Duration;

use crate::error::{fatal, Error};
use crate::shim::const_fn;
use crate::sys::{self, RawSem};

/// A counting semaphore over an unnamed POSIX `sem_t`.
///
/// [`Sem::wait`] takes one unit (blocking while the value is zero), [`Sem::post`] gives one
/// back. [`Sem::acquire`] returns a [`SemPermit`] that posts when dropped. Timed waits use
/// `sem_clockwait` on `CLOCK_MONOTONIC`; blocking waits are retried when a signal handler
/// interrupts them (`EINTR`).
///
/// ```
/// use pthread_sync::Sem;
/// use std::sync::Arc;
///
/// let slots = Arc::new(Sem::new(2).unwrap());
/// let p1 = slots.acquire();
/// let p2 = slots.acquire();
/// assert!(slots.try_acquire().is_err()); // both slots taken
/// drop(p1);
/// assert_eq!(slots.value(), 1);
/// # drop(p2);
/// ```
#[doc(alias = "sem_t")]
pub struct Sem {
    raw: RawSem,
}

impl Sem {
    /// The largest value a semaphore can hold (glibc's `SEM_VALUE_MAX`, 2147483647).
    pub const MAX_VALUE: u32 = sys::SEM_VALUE_MAX;

    const_fn! {
        /// A semaphore holding `value`. A `const fn` that calls nothing and allocates nothing
        /// (the `sem_t` is built with the bytes `sem_init` would write), so a `static`
        /// semaphore works and is ready before its first use: a signal handler may
        /// [`post`](Sem::post) it.
        ///
        /// # Errors
        /// [`Error::InvalidInput`] if `value` is above [`Sem::MAX_VALUE`].
        ///
        /// ```
        /// use pthread_sync::{Error, Sem};
        /// assert!(matches!(Sem::new(u32::MAX), Err(Error::InvalidInput(_))));
        /// assert_eq!(Sem::new(3).unwrap().value(), 3);
        /// ```
        #[doc(alias = "sem_init")]
        pub const fn new(value: u32) -> Result<Sem, Error> {
            match RawSem::new(value) {
                Ok(raw) => Ok(Sem { raw }),
                Err(e) => Err(e),
            }
        }
    }

    const_fn! {
        /// A semaphore holding `N`, checked at compile time: the constructor for `static`s
        /// (where the `Result` of [`Sem::new`] cannot be unwrapped).
        ///
        /// ```
        /// use pthread_sync::Sem;
        /// static SLOTS: Sem = Sem::new_const::<4>();
        /// assert_eq!(SLOTS.value(), 4);
        /// ```
        ///
        /// A value above [`Sem::MAX_VALUE`] does not compile:
        ///
        /// ```compile_fail
        /// static TOO_MANY: pthread_sync::Sem = pthread_sync::Sem::new_const::<{ u32::MAX }>();
        /// # fn main() { let _ = TOO_MANY.value(); }
        /// ```
        pub const fn new_const<const N: u32>() -> Sem {
            const { assert!(N <= Sem::MAX_VALUE, "semaphore value above SEM_VALUE_MAX") };
            match Sem::new(N) {
                Ok(sem) => sem,
                Err(_) => panic!("unreachable: N was checked at compile time"),
            }
        }
    }

    /// Takes one unit, blocking while the value is zero (`sem_wait`, retried on `EINTR`).
    #[doc(alias = "sem_wait")]
    #[inline]
    pub fn wait(&self) {
        if let Err(e) = self.raw.wait() {
            fatal("sem_wait", e);
        }
    }

    /// Takes one unit if the value is above zero, without blocking (`sem_trywait`).
    ///
    /// # Errors
    /// [`Error::WouldBlock`] if the value is zero.
    #[doc(alias = "sem_trywait")]
    #[inline]
    pub fn try_wait(&self) -> Result<(), Error> {
        self.raw.try_wait()
    }

    /// Takes one unit, waiting at most `dur` (`sem_clockwait` on `CLOCK_MONOTONIC`, retried on
    /// `EINTR` against the same deadline).
    ///
    /// # Errors
    /// [`Error::TimedOut`] if the value stayed zero for `dur`.
    ///
    /// ```
    /// use pthread_sync::{Error, Sem};
    /// use std::time::Duration;
    /// let s = Sem::new(0).unwrap();
    /// assert_eq!(s.wait_timeout(Duration::from_millis(5)), Err(Error::TimedOut));
    /// ```
    #[doc(alias = "sem_clockwait")]
    #[doc(alias = "sem_timedwait")]
    pub fn wait_timeout(&self, dur: Duration) -> Result<(), Error> {
        self.raw.wait_for(dur)
    }

    /// Gives one unit back, waking a waiter if there is one (`sem_post`).
    ///
    /// Async-signal-safe, as POSIX makes `sem_post`: a signal handler may call it (nothing on
    /// its path allocates or takes a lock).
    ///
    /// # Errors
    /// [`Error::Overflow`] if the value is already [`Sem::MAX_VALUE`]; it is unchanged.
    #[doc(alias = "sem_post")]
    #[inline]
    pub fn post(&self) -> Result<(), Error> {
        self.raw.post()
    }

    /// The current value (`sem_getvalue`); other threads may change it at any moment.
    #[doc(alias = "sem_getvalue")]
    pub fn value(&self) -> u32 {
        self.raw.value()
    }

    /// Takes one unit and returns a permit that gives it back when dropped.
    #[inline]
    pub fn acquire(&self) -> SemPermit<'_> {
        self.wait();
        SemPermit { sem: self }
    }

    /// Takes one unit without blocking and returns a permit for it.
    ///
    /// # Errors
    /// [`Error::WouldBlock`] if the value is zero.
    #[inline]
    pub fn try_acquire(&self) -> Result<SemPermit<'_>, Error> {
        self.try_wait().map(|()| SemPermit { sem: self })
    }

    /// Takes one unit, waiting at most `dur`, and returns a permit for it.
    ///
    /// # Errors
    /// [`Error::TimedOut`] if the value stayed zero for `dur`.
    pub fn acquire_timeout(&self, dur: Duration) -> Result<SemPermit<'_>, Error> {
        self.wait_timeout(dur).map(|()| SemPermit { sem: self })
    }
}

impl Default for Sem {
    /// A semaphore holding zero.
    fn default() -> Sem {
        Sem::new_const::<0>()
    }
}

impl fmt::Debug for Sem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sem").field("value", &self.value()).finish()
    }
}

/// One unit taken from a [`Sem`], given back (posted) when dropped.
///
/// If other threads have meanwhile posted the semaphore up to [`Sem::MAX_VALUE`], the unit
/// cannot be given back and is dropped.
#[must_use = "if unused the permit is given back at once"]
pub struct SemPermit<'a> {
    sem: &'a Sem,
}

impl SemPermit<'_> {
    /// Keeps the unit: drops the permit without posting.
    pub fn forget(self) {
        std::mem::forget(self);
    }
}

impl Drop for SemPermit<'_> {
    #[inline]
    fn drop(&mut self) {
        // Only fails at SEM_VALUE_MAX, reached by other posters; nothing better to do in drop.
        let _ = self.sem.post();
    }
}

impl fmt::Debug for SemPermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemPermit").field("sem", self.sem).finish()
    }
}
