//! The priority protocols as kind wrappers: [`Inherit<K>`](Inherit) (`PTHREAD_PRIO_INHERIT`)
//! and [`Protect<K>`](Protect) (`PTHREAD_PRIO_PROTECT`, a priority ceiling) over any base kind
//! `K` ([`Normal`](kind::Normal), [`ErrorCheck`](kind::ErrorCheck),
//! [`Recursive`](kind::Recursive)); `Shared<Inherit<K>>` places an inheriting lock in shared
//! memory. The raw lock is the base kind's own ([`Plain`](super::raw::Plain),
//! [`Reentrant`](super::recursive::Reentrant)) with the protocol as a type parameter, so
//! nothing of a kind is written twice.

use std::marker::PhantomData;

use super::kind::{self, Exclusive, Kind};
use super::raw::{InheritProtocol, Plain, ProtectProtocol, Proto, RawLock, WithProtocol};
use super::recursive::Reentrant;
use super::shared::SharedKind;
use super::{unpoisoned, Guard, Lock};
use crate::error::Error;
use crate::lock_order::Created;
use crate::poison::Never;
use crate::shim::const_fn;
use crate::sys::{self, MutexType, Protocol};

/// What a base kind ([`Normal`](kind::Normal), [`ErrorCheck`](kind::ErrorCheck),
/// [`Recursive`](kind::Recursive)) contributes to its protocol forms: its raw lock with a
/// protocol. Sealed.
pub trait BaseKind: Kind {
    /// The kind's raw lock with protocol `P`.
    type WithProtocol<P: Proto>: RawLock + WithProtocol;
    /// The pthread mutex type.
    const BASE_TYPE: MutexType;
    /// The names `Debug` prints for the `Inherit`, `Protect` and `Shared<Inherit>` forms.
    const NAMES: [&'static str; 3];
}

impl BaseKind for kind::Normal {
    type WithProtocol<P: Proto> = Plain<false, P>;
    const BASE_TYPE: MutexType = MutexType::Normal;
    const NAMES: [&'static str; 3] = ["PiLocker", "CeilingLocker", "SharedPiLocker"];
}
impl BaseKind for kind::ErrorCheck {
    type WithProtocol<P: Proto> = Plain<true, P>;
    const BASE_TYPE: MutexType = MutexType::ErrorCheck;
    const NAMES: [&'static str; 3] = [
        "PiErrorCheckLocker",
        "CeilingErrorCheckLocker",
        "SharedPiErrorCheckLocker",
    ];
}
impl BaseKind for kind::Recursive {
    type WithProtocol<P: Proto> = Reentrant<P>;
    const BASE_TYPE: MutexType = MutexType::Recursive;
    const NAMES: [&'static str; 3] = [
        "PiRecursiveLocker",
        "CeilingRecursiveLocker",
        "SharedPiRecursiveLocker",
    ];
}

/// Priority inheritance (`PTHREAD_PRIO_INHERIT`) for base kind `K`: while a thread waits for
/// the mutex, its holder runs at the waiter's priority if that is higher, so a middle-priority
/// thread cannot keep a low-priority holder, and through it the high-priority waiter, off the
/// CPU (priority inversion). The kernel does it (`FUTEX_LOCK_PI`): an uncontended lock is one
/// compare-exchange in user space, a contended one always a system call (no spin).
///
/// Use it through its aliases: [`PiLocker`](crate::PiLocker),
/// [`PiErrorCheckLocker`](crate::PiErrorCheckLocker),
/// [`PiRecursiveLocker`](crate::PiRecursiveLocker), and, in shared memory (robust and
/// process-shared, as every shared lock), [`SharedPiLocker`](crate::SharedPiLocker) and its
/// errorcheck and recursive forms.
///
/// It behaves as `K` (a normal relock deadlocks, an errorcheck one is [`Error::Deadlock`],
/// a recursive one is counted), with one difference glibc makes: the errorcheck owner's
/// `try_lock` is [`Error::Deadlock`] (glibc's PI trylock gives `EDEADLK`, its plain one
/// `EBUSY`). It does not poison, and every lock call returns `Result<guard, Error>`. Constructors are `const fn`s, built from glibc's initialiser bytes
/// with the protocol bit (checked against `pthread_mutex_init`).
///
/// ```
/// use pthread_sync::{Error, PiErrorCheckLocker, PiLocker};
///
/// static QUEUE: PiLocker<Vec<u32>> = PiLocker::new(Vec::new());
/// QUEUE.lock().unwrap().push(1);
///
/// let m = PiErrorCheckLocker::new(0);
/// let _held = m.lock().unwrap();
/// assert_eq!(m.lock().unwrap_err(), Error::Deadlock);
/// ```
#[doc(alias = "PTHREAD_PRIO_INHERIT")]
pub struct Inherit<K>(PhantomData<K>, std::convert::Infallible);

/// Priority ceiling (`PTHREAD_PRIO_PROTECT`) for base kind `K`: a thread that holds the mutex
/// runs at least at the mutex's priority ceiling, from the moment it takes it, whether or not
/// anyone waits. Use it through its aliases: [`CeilingLocker`](crate::CeilingLocker),
/// [`CeilingErrorCheckLocker`](crate::CeilingErrorCheckLocker),
/// [`CeilingRecursiveLocker`](crate::CeilingRecursiveLocker).
///
/// - The ceiling is a `SCHED_FIFO` priority, checked when the lock is built
///   ([`Error::BadCeiling`]), and can be changed later
///   ([`Lock::set_priority_ceiling`](Lock::set_priority_ceiling)).
/// - Only a real-time thread (`SCHED_FIFO`, `SCHED_RR`) can be raised to a ceiling: any other
///   thread's lock is refused, every time, with [`Error::NotRealTime`] (glibc alone refuses
///   only its first one; see the README, "Priority protocols"). A thread above the ceiling
///   gets [`Error::AboveCeiling`] (POSIX); a boost the system refuses, [`Error::BoostRefused`].
///   So every lock call returns `Result<guard, Error>`; it does not poison.
/// - No shared placement: glibc refuses a robust ceiling mutex (`ENOTSUP`) and every shared
///   lock of this crate is robust, so `Shared<Protect<K>>` does not compile (see
///   [`SharedKind`]). No atfork protection and no [`Cond`](crate::Cond) wait either: both
///   would take the mutex on threads that may not be real-time.
///
/// ```
/// use pthread_sync::{CeilingLocker, Error};
///
/// assert!(matches!(CeilingLocker::new(0, ()), Err(Error::BadCeiling { ceiling: 0, .. })));
/// let m = CeilingLocker::new(10, 5).unwrap();
/// assert_eq!(m.priority_ceiling(), 10);
/// match m.lock() {
///     Ok(g) => assert_eq!(*g, 5),                // a SCHED_FIFO/RR thread at or below 10
///     Err(Error::NotRealTime) => {}              // a SCHED_OTHER thread, as here by default
///     Err(e) => panic!("{e}"),
/// };
/// ```
#[doc(alias = "PTHREAD_PRIO_PROTECT")]
pub struct Protect<K>(PhantomData<K>, std::convert::Infallible);

impl<K: BaseKind> kind::sealed::Kind for Inherit<K> {
    type Raw = K::WithProtocol<InheritProtocol>;
    type Poison = Never;
    type Created = crate::lock_order::Created;
    const NAME: &'static str = K::NAMES[0];
}
impl<K: BaseKind> Kind for Inherit<K> {}
impl<K: BaseKind> kind::InProcess for Inherit<K> {}
impl<K: BaseKind + Exclusive> Exclusive for Inherit<K> {}

impl<K: BaseKind + SharedKind> SharedKind for Inherit<K> {
    const TYPE: MutexType = K::BASE_TYPE;
    const PROTOCOL: Protocol = Protocol::Inherit;
    const SHARED_NAME: &'static str = K::NAMES[2];
}

impl<K: BaseKind> kind::sealed::Kind for Protect<K> {
    type Raw = K::WithProtocol<ProtectProtocol>;
    type Poison = Never;
    type Created = crate::lock_order::Created;
    const NAME: &'static str = K::NAMES[1];
}
impl<K: BaseKind> Kind for Protect<K> {}
impl<K: BaseKind + Exclusive> Exclusive for Protect<K> {}

/// A ceiling lock's guard gives `&mut T` for the non-reentrant kinds (the in-process kinds'
/// rule; `Protect` is not [`InProcess`](kind::InProcess) only to keep it from `Cond` and the
/// atfork registry).
impl<K: BaseKind + Exclusive, T: ?Sized> std::ops::DerefMut for Guard<'_, Protect<K>, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock of an exclusive (non-reentrant) kind, so it is the
        // only guard, and `&mut self` makes this the only reference.
        unsafe { &mut *self.lock.data.get() }
    }
}

macro_rules! inherit_new {
    ($($base:ident),*) => {$(
        impl<T> Lock<Inherit<kind::$base>, T> {
            const_fn! {
                /// A new unlocked priority-inheritance mutex holding `t` (a `const fn`:
                /// glibc's initialiser bytes with `PTHREAD_MUTEX_PRIO_INHERIT_NP`).
                #[inline]
                #[cfg_attr(feature = "lock-order", track_caller)]
                pub const fn new(t: T) -> Self {
                    Lock::from_parts(
                        <kind::$base as BaseKind>::WithProtocol::<InheritProtocol>::new_const(),
                        Created::here(),
                        Never,
                        t,
                    )
                }
            }
        }
    )*};
}
inherit_new!(Normal, ErrorCheck, Recursive);

impl<K: BaseKind, T: ?Sized> Lock<Inherit<K>, T> {
    /// Blocks until the lock is acquired (`pthread_mutex_lock`; contended: `FUTEX_LOCK_PI`,
    /// which lends the holder this thread's priority while it waits). For the recursive kind,
    /// at once if this thread holds it.
    ///
    /// # Errors
    /// For the errorcheck kind [`Error::Deadlock`] if this thread holds it; for the errorcheck
    /// and recursive kinds [`Error::OwnerGone`] if its holder is gone from this process,
    /// [`Error::Overflow`] at the recursion limit. A normal one relocked by its owner
    /// deadlocks, as [`Locker`](crate::Locker).
    #[doc(alias = "pthread_mutex_lock")]
    #[inline]
    pub fn lock(&self) -> Result<Guard<'_, Inherit<K>, T>, Error> {
        unpoisoned(self.acquire())
    }
}

impl<K: BaseKind, T> Lock<Protect<K>, T> {
    /// A new unlocked priority-ceiling mutex holding `t`, with priority ceiling `ceiling`.
    ///
    /// # Errors
    /// [`Error::BadCeiling`] if `ceiling` is outside the `SCHED_FIFO` range
    /// (`sched_get_priority_min(SCHED_FIFO)` to `sched_get_priority_max(SCHED_FIFO)`, 1 to 99
    /// on Linux). Not a `const fn`: the range is the system's, asked at run time. `Default`
    /// and `From` give glibc's default ceiling, the lowest `SCHED_FIFO` priority.
    #[cfg_attr(feature = "lock-order", track_caller)]
    pub fn new(ceiling: i32, t: T) -> Result<Self, Error> {
        check_ceiling(ceiling)?;
        let raw =
            <K::WithProtocol<ProtectProtocol> as WithProtocol>::with_protocol(Protocol::Protect {
                ceiling,
            });
        Ok(Lock::from_parts(raw, Created::here(), Never, t))
    }
}

/// `Ok` if `ceiling` is in the `SCHED_FIFO` range, else [`Error::BadCeiling`].
fn check_ceiling(ceiling: i32) -> Result<(), Error> {
    let (min, max) = sys::fifo_priority_range()?;
    if (min..=max).contains(&ceiling) {
        Ok(())
    } else {
        Err(Error::BadCeiling { ceiling, min, max })
    }
}

impl<K: BaseKind, T: ?Sized> Lock<Protect<K>, T> {
    /// Blocks until the lock is acquired (`pthread_mutex_lock`), raising this thread to the
    /// ceiling while it holds it. For the recursive kind, at once if this thread holds it.
    ///
    /// # Errors
    /// [`Error::NotRealTime`] if this thread's policy is not `SCHED_FIFO` or `SCHED_RR`
    /// (checked before glibc is called); [`Error::AboveCeiling`] if its priority is above the
    /// ceiling; [`Error::BoostRefused`] if the system refuses the boost; and the base kind's
    /// errors ([`Error::Deadlock`] for an errorcheck relock, ...).
    #[doc(alias = "pthread_mutex_lock")]
    #[inline]
    pub fn lock(&self) -> Result<Guard<'_, Protect<K>, T>, Error> {
        unpoisoned(self.acquire())
    }

    /// The mutex's priority ceiling (`pthread_mutex_getprioceiling`).
    #[doc(alias = "pthread_mutex_getprioceiling")]
    pub fn priority_ceiling(&self) -> i32 {
        // SAFETY: an in-process lock's mutex always exists.
        let mutex = unsafe { self.raw.mutex() };
        match mutex.priority_ceiling() {
            Ok(c) => c,
            Err(e) => crate::error::fatal("pthread_mutex_getprioceiling", e),
        }
    }

    /// Changes the mutex's priority ceiling (`pthread_mutex_setprioceiling`) and returns the
    /// old one. glibc takes the mutex to change it (without the ceiling protocol, so any
    /// thread may call this), waiting while another thread holds it.
    ///
    /// # Errors
    /// [`Error::BadCeiling`] outside the `SCHED_FIFO` range; [`Error::Deadlock`] if this
    /// thread holds the mutex, for the normal and errorcheck kinds (glibc returns `EDEADLK`
    /// for errorcheck and would wait for itself forever for normal). The recursive kind held
    /// by this thread is changed in place, and this thread's boost follows the new ceiling.
    #[doc(alias = "pthread_mutex_setprioceiling")]
    pub fn set_priority_ceiling(&self, ceiling: i32) -> Result<i32, Error> {
        check_ceiling(ceiling)?;
        // SAFETY: an in-process lock's mutex always exists.
        let mutex = unsafe { self.raw.mutex() };
        if K::BASE_TYPE != MutexType::Recursive && mutex.held_by_me() {
            return Err(Error::Deadlock);
        }
        mutex.set_priority_ceiling(ceiling)
    }
}
