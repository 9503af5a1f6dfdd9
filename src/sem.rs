//! Unnamed POSIX semaphores (`sem_t`): [`Semaphore<P>`](Semaphore), generic over where the
//! semaphore lives: [`Sem`] (the threads of one process) and [`SharedSem`] (every process that
//! maps a shared-memory region).

use std::fmt;
use std::time::Duration;

use crate::error::{fatal, Error};
use crate::placed::Placed;
use crate::shim::const_fn;
use crate::sys::{self, RawSem, SemAttr};

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
pub type Sem = Semaphore<placement::Private>;

/// A counting semaphore over a process-shared `sem_t` (`sem_init(sem, 1, value)`), with the
/// API of [`Sem`], for a shared-memory region ([`ShmBox`](crate::ShmBox)): every process that
/// maps the region uses the same semaphore.
///
/// [`SharedSem::new`] builds it unarmed (plain bytes); its first use inside a region
/// initialises the `sem_t` in place, exactly once. Used anywhere else it is refused with
/// [`Error::NotInRegion`], which is why [`SharedSem::wait`] and [`SharedSem::acquire`] return
/// `Result`s.
///
/// Its blocking waits sleep 20 ms at most at a time and then look at the value again: glibc's
/// `sem_post` raises the value and then wakes one sleeper, and a process killed between the
/// two, or a woken waiter killed before it took the unit, would otherwise leave a unit that
/// no wake-up announces beside a sleeping live waiter until the next post (see the README's
/// table of deaths).
#[doc(alias = "sem_t")]
pub type SharedSem = Semaphore<placement::Shared>;

/// Where a semaphore lives: the `P` of [`Semaphore<P>`](Semaphore).
pub mod placement {
    use super::{Error, Placed, RawSem, SemAttr};

    /// In this process only: a process-private `sem_t`, built by a `const fn`.
    pub struct Private {
        pub(super) raw: RawSem,
    }

    /// In a shared-memory region: a process-shared `sem_t`, armed in place on first use.
    #[repr(C)]
    pub struct Shared {
        pub(super) raw: Placed<RawSem>,
        pub(super) initial: u32,
    }

    /// How a placement reaches its `sem_t`. Sealed.
    pub trait Placement: super::sealed::Sealed + Send + Sync {
        #[doc(hidden)]
        const NAME: &'static str;
        #[doc(hidden)]
        fn raw(&self) -> Result<&RawSem, Error>;
        #[doc(hidden)]
        fn value_before_use(&self) -> u32;
        /// The longest a blocked wait sleeps before it looks at the value again (`None`:
        /// one sleep). A process-shared semaphore's waits look again every
        /// [`sys::recheck()`](crate::sys::recheck): a post's wake-up can go to a waiter that is
        /// killed before it runs, or be lost with a poster killed between its increment and
        /// its wake (glibc's `sem_post` makes them two steps), and then the unit waits in the
        /// value while a live waiter sleeps on.
        #[doc(hidden)]
        fn recheck() -> Option<std::time::Duration>;
    }

    impl super::sealed::Sealed for Private {}
    impl Placement for Private {
        const NAME: &'static str = "Sem";
        #[inline(always)]
        fn recheck() -> Option<std::time::Duration> {
            None
        }
        #[inline(always)]
        fn raw(&self) -> Result<&RawSem, Error> {
            Ok(&self.raw)
        }
        fn value_before_use(&self) -> u32 {
            self.raw.value()
        }
    }

    impl super::sealed::Sealed for Shared {}
    impl Placement for Shared {
        const NAME: &'static str = "SharedSem";
        #[inline(always)]
        fn recheck() -> Option<std::time::Duration> {
            crate::sys::recheck()
        }
        #[inline(always)]
        fn raw(&self) -> Result<&RawSem, Error> {
            self.raw.get(|| SemAttr {
                pshared: true,
                value: self.initial,
            })
        }
        fn value_before_use(&self) -> u32 {
            self.initial
        }
    }
}

mod sealed {
    pub trait Sealed {}
}

use placement::Placement;

/// A counting semaphore over an unnamed POSIX `sem_t`, placed by `P`: use it as [`Sem`] or
/// [`SharedSem`]. Transparent: its layout is its placement's (documented for C in
/// [`shm`](crate::shm)).
#[repr(transparent)]
pub struct Semaphore<P: Placement> {
    place: P,
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
                Ok(raw) => Ok(Semaphore { place: placement::Private { raw } }),
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
        if let Err(e) = self.place.raw.wait() {
            fatal("sem_wait", e);
        }
    }

    /// Takes one unit and returns a permit that gives it back when dropped.
    #[inline]
    pub fn acquire(&self) -> SemPermit<'_, placement::Private> {
        self.wait();
        SemPermit { sem: self }
    }
}

impl SharedSem {
    const_fn! {
        /// An unarmed shared semaphore that will hold `value` (its `sem_t` is initialised in
        /// place, with `value`, on its first use inside a region).
        ///
        /// # Errors
        /// [`Error::InvalidInput`] if `value` is above [`Sem::MAX_VALUE`].
        pub const fn new(value: u32) -> Result<SharedSem, Error> {
            if value > sys::SEM_VALUE_MAX {
                return Err(Error::InvalidInput(sys::SEM_VALUE_TOO_LARGE));
            }
            match RawSem::new(0) {
                Ok(raw) => Ok(Semaphore {
                    place: placement::Shared { raw: Placed::new(raw), initial: value },
                }),
                Err(e) => Err(e),
            }
        }
    }

    /// Takes one unit, blocking while the value is zero (`sem_wait`'s role; retried on
    /// `EINTR`). It sleeps 20 ms at most at a time (`sem_clockwait`) and then looks at the
    /// value again: a post whose wake-up went to a waiter killed before it ran, or whose
    /// poster was killed between its increment and its wake, leaves a unit that no wake-up
    /// announces, and a live waiter takes it within that.
    ///
    /// # Errors
    /// [`Error::NotInRegion`] outside a shared-memory region.
    #[doc(alias = "sem_wait")]
    #[inline]
    pub fn wait(&self) -> Result<(), Error> {
        wait_sliced(self.place.raw()?, None, placement::Shared::recheck())
    }

    /// Takes one unit and returns a permit that gives it back when dropped.
    ///
    /// # Errors
    /// [`Error::NotInRegion`] outside a shared-memory region.
    #[inline]
    pub fn acquire(&self) -> Result<SemPermit<'_, placement::Shared>, Error> {
        self.wait().map(|()| SemPermit { sem: self })
    }
}

/// A semaphore's wait (at most `dur`; `None`: until a unit comes) in sleeps of at most
/// `recheck` (the placement's [`Placement::recheck`]; `None`: one sleep), each starting with
/// a try (glibc's fast path), so a unit left in the value without a wake-up is taken within
/// one sleep. The uncontended wait is one `sem_trywait`, with no clock read.
fn wait_sliced(
    raw: &RawSem,
    dur: Option<Duration>,
    recheck: Option<Duration>,
) -> Result<(), Error> {
    let Some(slice) = recheck else {
        return match dur {
            Some(dur) => raw.wait_for(dur),
            None => raw.wait(),
        };
    };
    // Each `wait_for` tries first; a timed wait tries once more before it reads the clock.
    if dur.is_some() {
        match raw.try_wait() {
            Err(Error::WouldBlock) => {}
            done => return done,
        }
    }
    let end = dur.map(crate::shim::Expiry::after);
    loop {
        let left = end
            .as_ref()
            .map_or(Duration::MAX, crate::shim::Expiry::remaining);
        let (sleep, last) = if left <= slice {
            (left, true)
        } else {
            (slice, false)
        };
        match raw.wait_for(sleep) {
            Err(Error::TimedOut) if !last => continue,
            done => return done,
        }
    }
}

/// The operations every placement has.
impl<P: Placement> Semaphore<P> {
    /// Takes one unit if the value is above zero, without blocking (`sem_trywait`).
    ///
    /// # Errors
    /// [`Error::WouldBlock`] if the value is zero ([`Error::NotInRegion`] for a shared one
    /// outside a region).
    #[doc(alias = "sem_trywait")]
    #[inline]
    pub fn try_wait(&self) -> Result<(), Error> {
        self.place.raw()?.try_wait()
    }

    /// Takes one unit, waiting at most `dur` (`sem_clockwait` on `CLOCK_MONOTONIC`, retried on
    /// `EINTR` against the same deadline; a [`SharedSem`]'s in sleeps of 20 ms at most, as
    /// its [`wait`](SharedSem::wait)).
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
        wait_sliced(self.place.raw()?, Some(dur), P::recheck())
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
        self.place.raw()?.post()
    }

    /// The current value (`sem_getvalue`); other threads may change it at any moment. (A
    /// shared semaphore not used yet gives the value it will start with.)
    #[doc(alias = "sem_getvalue")]
    pub fn value(&self) -> u32 {
        match self.place.raw() {
            Ok(raw) => raw.value(),
            Err(_) => self.place.value_before_use(),
        }
    }

    /// Takes one unit without blocking and returns a permit for it.
    ///
    /// # Errors
    /// [`Error::WouldBlock`] if the value is zero.
    #[inline]
    pub fn try_acquire(&self) -> Result<SemPermit<'_, P>, Error> {
        self.try_wait().map(|()| SemPermit { sem: self })
    }

    /// Takes one unit, waiting at most `dur`, and returns a permit for it.
    ///
    /// # Errors
    /// [`Error::TimedOut`] if the value stayed zero for `dur`.
    pub fn acquire_timeout(&self, dur: Duration) -> Result<SemPermit<'_, P>, Error> {
        self.wait_timeout(dur).map(|()| SemPermit { sem: self })
    }
}

impl Default for Sem {
    /// A semaphore holding zero.
    fn default() -> Sem {
        Sem::new_const::<0>()
    }
}

impl<P: Placement> fmt::Debug for Semaphore<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(P::NAME)
            .field("value", &self.value())
            .finish()
    }
}

/// One unit taken from a [`Sem`], given back (posted) when dropped.
///
/// If other threads have meanwhile posted the semaphore up to [`Sem::MAX_VALUE`], the unit
/// cannot be given back and is dropped.
#[must_use = "if unused the permit is given back at once"]
pub struct SemPermit<'a, P: Placement = placement::Private> {
    sem: &'a Semaphore<P>,
}

impl<P: Placement> SemPermit<'_, P> {
    /// Keeps the unit: drops the permit without posting.
    pub fn forget(self) {
        std::mem::forget(self);
    }
}

impl<P: Placement> Drop for SemPermit<'_, P> {
    #[inline]
    fn drop(&mut self) {
        // Only fails at SEM_VALUE_MAX, reached by other posters; nothing better to do in drop.
        let _ = self.sem.post();
    }
}

impl<P: Placement> fmt::Debug for SemPermit<'_, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemPermit").field("sem", self.sem).finish()
    }
}
