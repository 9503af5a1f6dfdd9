//! The crate's one error type: errno values turned into typed cases, in one place.

use std::fmt;
use std::io;

/// What went wrong in a pthread or semaphore call, or with a shared-memory region.
///
/// Each case names an errno the crate can meet; [`Error::errno`] gives the number back.
/// It converts into [`std::io::Error`] (keeping this value as the source), so `?` works in
/// functions returning `io::Result`.
///
/// ```
/// use pthread_sync::{Error, ErrorCheckLocker};
///
/// let m = ErrorCheckLocker::new(0);
/// let _held = m.lock().unwrap();
/// let err = m.lock().unwrap_err();
/// assert_eq!(err, Error::Deadlock);
/// assert_eq!(err.errno(), libc::EDEADLK);
/// let io: std::io::Error = err.into();
/// assert_eq!(io.kind(), std::io::ErrorKind::Deadlock);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// The operation would block: the mutex is held, or the semaphore is zero
    /// (`EBUSY` from `pthread_mutex_trylock`, `EAGAIN` from `sem_trywait`).
    WouldBlock,
    /// The calling thread already owns the mutex (`EDEADLK`, errorcheck mutexes).
    Deadlock,
    /// The calling thread does not own the mutex it tried to unlock (`EPERM`).
    NotOwner,
    /// The deadline passed before the mutex, condition or semaphore was acquired (`ETIMEDOUT`).
    TimedOut,
    /// The previous owner of a robust mutex died while holding it (`EOWNERDEAD`).
    OwnerDied,
    /// The mutex is held by a thread that is gone from this process and can never release it:
    /// a thread that exited holding it, or, in a `fork`ed child, a thread of the parent
    /// (glibc's owner field still names it). Reported by the kinds that know their owner
    /// (errorcheck, recursive) instead of a wait that would never end.
    OwnerGone,
    /// A process-shared object over a pthread object (`SharedLocker` and its kinds,
    /// `SharedSem`, `SharedRwLock`'s writer mutex, `SharedBarrier`'s seats) was used outside a
    /// shared-memory region this process mapped through [`ShmBox`](crate::ShmBox): its
    /// pthread object must be initialised at its final address inside shared memory, so it is
    /// refused anywhere else (on the stack, on the heap) before any pthread call. (A
    /// `SharedCond` is plain futex words and works in any memory.)
    NotInRegion,
    /// The thread a signal was sent to has finished (or was never started by this crate's
    /// means): nothing was sent.
    ThreadGone,
    /// A signal number that names no signal (or one the crate cannot use); the number.
    BadSignal(i32),
    /// A robust mutex was left inconsistent by a dead owner and can no longer be used
    /// (`ENOTRECOVERABLE`).
    NotRecoverable,
    /// A counter would pass its limit: a semaphore at `SEM_VALUE_MAX` (`EOVERFLOW`), or a
    /// recursive mutex locked too many times (`EAGAIN`).
    Overflow,
    /// An argument was refused, by the crate before any call or by the C library (`EINVAL`);
    /// the text says which.
    InvalidInput(&'static str),
    /// Any other errno, kept as its number.
    Os(i32),

    // Priority protocols (`CeilingLocker` and its kinds).
    /// A priority ceiling outside the `SCHED_FIFO` range (`sched_get_priority_min` to
    /// `sched_get_priority_max` of `SCHED_FIFO`), refused before any pthread call.
    BadCeiling {
        /// The ceiling asked for.
        ceiling: i32,
        /// The lowest `SCHED_FIFO` priority.
        min: i32,
        /// The highest `SCHED_FIFO` priority.
        max: i32,
    },
    /// The calling thread's priority is above the priority ceiling of the mutex it tried to
    /// lock (`EINVAL` from `pthread_mutex_lock`, as POSIX specifies for
    /// `PTHREAD_PRIO_PROTECT`).
    AboveCeiling,
    /// A priority-ceiling mutex was locked by a thread that is not real-time: glibc can raise
    /// only a `SCHED_FIFO` or `SCHED_RR` thread to the ceiling (for `SCHED_OTHER` its
    /// `sched_setscheduler` call fails with `EINVAL`). Refused by the crate before any
    /// pthread call, on every attempt (glibc alone refuses only the first and then lets the
    /// thread through without a boost).
    NotRealTime,
    /// The system refused to raise the calling thread to the mutex's priority ceiling
    /// (`EPERM` from glibc's `sched_setscheduler`: no `CAP_SYS_NICE` and an `RLIMIT_RTPRIO`
    /// below the ceiling).
    BoostRefused,

    // Shared-memory regions (`shm`): opening, creating and validating them.
    /// No shared-memory object has that name (`ENOENT`).
    NotFound,
    /// A shared-memory object of that name exists already (`EEXIST`).
    AlreadyExists,
    /// The object's owner and mode do not let this process open or map it (`EACCES`).
    PermissionDenied,
    /// The region does not begin with the crate's magic number: it was not made by this crate
    /// (or was overwritten). `found` is what the first 8 bytes hold, as a native `u64`.
    BadMagic {
        /// The first 8 bytes of the region, read as a native-endian `u64`.
        found: u64,
    },
    /// The region's header has another layout version: another version of the crate made it.
    VersionMismatch {
        /// The version the region's header states.
        found: u32,
        /// The version this build of the crate writes and reads.
        expected: u32,
    },
    /// The region holds another type than the one asked for: `what` (`"size"`, `"alignment"`
    /// or `"type fingerprint"`) differs.
    TypeMismatch {
        /// Which property of the type differs.
        what: &'static str,
        /// The region's value of it.
        found: u64,
        /// The value the requested type has.
        expected: u64,
    },
    /// The region's header contradicts itself or the layout its version defines; the text
    /// says which field.
    CorruptHeader(&'static str),
    /// The shared-memory object is shorter than its header and value need.
    TooSmall {
        /// The object's size in bytes.
        size: u64,
        /// The size the header and value need.
        needed: u64,
    },
    /// The region was still not initialised when the wait bound passed: its creator is slow,
    /// or died before it could record its process id.
    Unfinished,
    /// The region's creator died while initialising it (its process id no longer exists): the
    /// region will never be finished. Unlink the name and create it again.
    CreatorDied {
        /// The process id the header records for the creator.
        pid: i32,
    },
    /// This process has as many live regions as the crate's table of mappings holds.
    TooManyRegions {
        /// The capacity of the table.
        max: usize,
    },

    // Barriers.
    /// A [`SharedBarrier`](crate::SharedBarrier) round was broken before it completed, so
    /// every waiter of it is released with this error instead of waiting for an arrival that
    /// will never come; the barrier stays broken (every wait fails at once) until a survivor
    /// calls [`SharedBarrier::reset`](crate::SharedBarrier::reset). The cause says why (as
    /// Python's `BrokenBarrierError`).
    BarrierBroken(BreakCause),
    /// Every seat of a [`SharedBarrier`](crate::SharedBarrier) is taken by a live member, so
    /// [`join`](crate::SharedBarrier::join) found none free (`EUSERS`).
    BarrierFull {
        /// The number of seats (the barrier's parties).
        seats: usize,
    },
}

/// Why a [`SharedBarrier`](crate::SharedBarrier) was broken: what
/// [`Error::BarrierBroken`] carries.
///
/// ```
/// use pthread_sync::{BreakCause, Error};
///
/// fn report(err: Error) -> String {
///     match err {
///         Error::BarrierBroken(BreakCause::MemberDied { seat, pid }) => {
///             format!("member {seat} (pid {pid}) is gone: reset and replace it")
///         }
///         Error::BarrierBroken(cause) => format!("broken: {cause}"),
///         other => format!("{other}"),
///     }
/// }
/// let died = Error::BarrierBroken(BreakCause::MemberDied { seat: 2, pid: 4321 });
/// assert_eq!(report(died), "member 2 (pid 4321) is gone: reset and replace it");
/// assert_eq!(died.errno(), libc::EOWNERDEAD);
/// assert_eq!(report(Error::BarrierBroken(BreakCause::Aborted)), "broken: abort() was called");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BreakCause {
    /// The member in seat `seat`, of process `pid`, died (its process killed or exited, or
    /// its thread exited) before the round completed.
    MemberDied {
        /// The seat it held (`0..N`).
        seat: usize,
        /// The process id it joined from.
        pid: u32,
    },
    /// The member in seat `seat`, of process `pid`, was dropped while its thread panicked.
    MemberPanicked {
        /// The seat it held.
        seat: usize,
        /// The process id it joined from.
        pid: u32,
    },
    /// [`SharedBarrier::abort`](crate::SharedBarrier::abort) was called.
    Aborted,
    /// [`SharedBarrier::reset`](crate::SharedBarrier::reset) was called while this round was
    /// waiting.
    Reset,
    /// The barrier's state says broken, but no cause was recorded for that round (another
    /// program set the state without one).
    Unknown,
}

impl fmt::Display for BreakCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BreakCause::MemberDied { seat, pid } => write!(
                f,
                "the member in seat {seat} (process {pid}) died before the round completed"
            ),
            BreakCause::MemberPanicked { seat, pid } => write!(
                f,
                "the member in seat {seat} (process {pid}) left while panicking"
            ),
            BreakCause::Aborted => f.write_str("abort() was called"),
            BreakCause::Reset => f.write_str("reset() was called while the round was waiting"),
            BreakCause::Unknown => f.write_str("no cause was recorded"),
        }
    }
}

impl Error {
    /// Maps an errno returned by a pthread or semaphore call.
    ///
    /// `EAGAIN` maps to [`Error::WouldBlock`]; callers for which it means a counter limit map
    /// it themselves.
    #[cold]
    #[inline(never)]
    #[cfg_attr(loom, allow(dead_code))] // the model backend has no errno
    pub(crate) fn from_errno(errno: i32) -> Error {
        match errno {
            libc::EBUSY | libc::EAGAIN => Error::WouldBlock,
            libc::EDEADLK => Error::Deadlock,
            libc::EPERM => Error::NotOwner,
            libc::ETIMEDOUT => Error::TimedOut,
            libc::EOWNERDEAD => Error::OwnerDied,
            libc::ENOTRECOVERABLE => Error::NotRecoverable,
            libc::EOVERFLOW => Error::Overflow,
            libc::EINVAL => Error::InvalidInput("rejected by the C library (EINVAL)"),
            other => Error::Os(other),
        }
    }

    /// Maps an errno returned by `shm_open`, `shm_unlink`, `ftruncate`, `fstat` or `mmap`:
    /// the one place these are turned into typed errors.
    #[cold]
    #[inline(never)]
    #[cfg_attr(loom, allow(dead_code))] // the loom build has no shared memory
    pub(crate) fn from_shm_errno(errno: i32) -> Error {
        match errno {
            libc::ENOENT => Error::NotFound,
            libc::EEXIST => Error::AlreadyExists,
            libc::EACCES | libc::EPERM => Error::PermissionDenied,
            libc::ENAMETOOLONG => Error::InvalidInput("shared-memory name too long (ENAMETOOLONG)"),
            libc::EINVAL => Error::InvalidInput("rejected by the C library (EINVAL)"),
            // EMFILE, ENFILE, ENOMEM, ENOSPC, ...: std's `io::ErrorKind` names them.
            other => Error::Os(other),
        }
    }

    /// The errno this error stands for: the canonical one of its case. [`Error::WouldBlock`]
    /// gives `EBUSY` (also when it came from `sem_trywait`'s `EAGAIN`), [`Error::Overflow`]
    /// gives `EOVERFLOW` (also for a recursive mutex's `EAGAIN`), [`Error::OwnerGone`]
    /// `ESRCH` (no such thread), [`Error::InvalidInput`] `EINVAL`, [`Error::Os`] its own
    /// number; [`Error::BarrierBroken`] `EOWNERDEAD` when a member died or panicked,
    /// `ECANCELED` when the barrier was aborted or reset.
    pub fn errno(&self) -> i32 {
        match *self {
            Error::WouldBlock => libc::EBUSY,
            Error::Deadlock => libc::EDEADLK,
            Error::NotOwner => libc::EPERM,
            Error::TimedOut => libc::ETIMEDOUT,
            Error::OwnerDied => libc::EOWNERDEAD,
            Error::OwnerGone => libc::ESRCH,
            Error::NotInRegion => libc::EINVAL,
            Error::ThreadGone => libc::ESRCH,
            Error::BadSignal(_) => libc::EINVAL,
            Error::NotRecoverable => libc::ENOTRECOVERABLE,
            Error::Overflow => libc::EOVERFLOW,
            Error::InvalidInput(_) => libc::EINVAL,
            Error::BadCeiling { .. } | Error::AboveCeiling | Error::NotRealTime => libc::EINVAL,
            Error::BoostRefused => libc::EPERM,
            Error::Os(errno) => errno,
            Error::NotFound => libc::ENOENT,
            Error::AlreadyExists => libc::EEXIST,
            Error::PermissionDenied => libc::EACCES,
            Error::BadMagic { .. }
            | Error::VersionMismatch { .. }
            | Error::TypeMismatch { .. }
            | Error::CorruptHeader(_)
            | Error::TooSmall { .. } => libc::EINVAL,
            Error::Unfinished => libc::ETIMEDOUT,
            Error::CreatorDied { .. } => libc::EOWNERDEAD,
            Error::TooManyRegions { .. } => libc::EMFILE,
            Error::BarrierBroken(
                BreakCause::MemberDied { .. } | BreakCause::MemberPanicked { .. },
            ) => libc::EOWNERDEAD,
            Error::BarrierBroken(_) => libc::ECANCELED,
            Error::BarrierFull { .. } => libc::EUSERS,
        }
    }

    /// The [`io::ErrorKind`] this error converts to.
    pub fn kind(&self) -> io::ErrorKind {
        match self {
            Error::WouldBlock => io::ErrorKind::WouldBlock,
            Error::Deadlock => io::ErrorKind::Deadlock,
            Error::NotOwner => io::ErrorKind::PermissionDenied,
            Error::TimedOut => io::ErrorKind::TimedOut,
            Error::InvalidInput(_) => io::ErrorKind::InvalidInput,
            Error::Os(errno) => io::Error::from_raw_os_error(*errno).kind(),
            Error::NotInRegion | Error::BadSignal(_) | Error::BadCeiling { .. } => {
                io::ErrorKind::InvalidInput
            }
            Error::AboveCeiling | Error::NotRealTime => io::ErrorKind::InvalidInput,
            Error::BoostRefused => io::ErrorKind::PermissionDenied,
            Error::ThreadGone => io::ErrorKind::NotFound,
            Error::OwnerDied | Error::OwnerGone | Error::NotRecoverable | Error::Overflow => {
                io::ErrorKind::Other
            }
            Error::NotFound => io::ErrorKind::NotFound,
            Error::AlreadyExists => io::ErrorKind::AlreadyExists,
            Error::PermissionDenied => io::ErrorKind::PermissionDenied,
            Error::BadMagic { .. }
            | Error::VersionMismatch { .. }
            | Error::TypeMismatch { .. }
            | Error::CorruptHeader(_)
            | Error::TooSmall { .. }
            | Error::CreatorDied { .. } => io::ErrorKind::InvalidData,
            Error::Unfinished => io::ErrorKind::TimedOut,
            Error::TooManyRegions { .. } | Error::BarrierBroken(_) => io::ErrorKind::Other,
            Error::BarrierFull { .. } => io::ErrorKind::ResourceBusy,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::WouldBlock => f.write_str(
                "operation would block: the mutex is held or the semaphore is zero (EBUSY/EAGAIN)",
            ),
            Error::Deadlock => {
                f.write_str("deadlock: the calling thread already owns this mutex (EDEADLK)")
            }
            Error::NotOwner => {
                f.write_str("not owner: the calling thread does not own this mutex (EPERM)")
            }
            Error::TimedOut => f.write_str("timed out: the deadline passed first (ETIMEDOUT)"),
            Error::OwnerDied => f.write_str(
                "owner died: the previous holder of this robust mutex died holding it; \
                 the protected data may be inconsistent (EOWNERDEAD)",
            ),
            Error::ThreadGone => {
                f.write_str("thread gone: the thread has finished, so no signal was sent (ESRCH)")
            }
            Error::BadSignal(n) => write!(f, "bad signal: {n} is not a usable signal number"),
            Error::NotInRegion => f.write_str(
                "not in a shared-memory region: a process-shared object must live in a region \
                 mapped through ShmBox (it is initialised in place there and never moves), \
                 and was used elsewhere",
            ),
            Error::OwnerGone => f.write_str(
                "owner gone: the mutex is held by a thread that no longer exists in this process \
                 (it exited holding the lock, or this is a forked child and the holder was a \
                 thread of the parent), so it can never be released (ESRCH)",
            ),
            Error::NotRecoverable => f.write_str(
                "not recoverable: a robust mutex was released by a dead owner's successor \
                 without being made consistent (ENOTRECOVERABLE)",
            ),
            Error::Overflow => f.write_str(
                "overflow: a semaphore at SEM_VALUE_MAX or a recursive lock count at its limit \
                 (EOVERFLOW/EAGAIN)",
            ),
            Error::InvalidInput(what) => write!(f, "invalid input: {what}"),
            Error::BadCeiling { ceiling, min, max } => write!(
                f,
                "bad priority ceiling: {ceiling} is outside the SCHED_FIFO range {min}..={max}"
            ),
            Error::AboveCeiling => f.write_str(
                "above the ceiling: the calling thread's priority is higher than the mutex's \
                 priority ceiling (EINVAL)",
            ),
            Error::NotRealTime => f.write_str(
                "not real-time: a priority-ceiling mutex can raise only a SCHED_FIFO or \
                 SCHED_RR thread to its ceiling, and the calling thread runs under another \
                 policy (glibc's sched_setscheduler gives EINVAL)",
            ),
            Error::BoostRefused => f.write_str(
                "boost refused: the system did not let the calling thread be raised to the \
                 mutex's priority ceiling (EPERM from sched_setscheduler)",
            ),
            Error::Os(errno) => write!(
                f,
                "unexpected error from the C library: {}",
                io::Error::from_raw_os_error(*errno)
            ),
            Error::NotFound => f.write_str("no shared-memory object has that name (ENOENT)"),
            Error::AlreadyExists => {
                f.write_str("a shared-memory object of that name already exists (EEXIST)")
            }
            Error::PermissionDenied => f.write_str(
                "permission denied: the shared-memory object's owner and mode forbid it (EACCES)",
            ),
            Error::BadMagic { found } => write!(
                f,
                "not a pthread-sync region: bad magic number {found:#018x} at offset 0"
            ),
            Error::VersionMismatch { found, expected } => write!(
                f,
                "region layout version {found}, this build of pthread-sync reads version \
                 {expected}: another version of the crate made it"
            ),
            Error::TypeMismatch {
                what,
                found,
                expected,
            } => write!(
                f,
                "the region holds another type: its {what} is {found}, the requested type's \
                 is {expected}"
            ),
            Error::CorruptHeader(what) => write!(f, "corrupt region header: {what}"),
            Error::TooSmall { size, needed } => write!(
                f,
                "shared-memory object too small: {size} bytes, the header and value need {needed}"
            ),
            Error::Unfinished => f.write_str(
                "the region's creator had not finished initialising it when the wait ended",
            ),
            Error::CreatorDied { pid } => write!(
                f,
                "the region's creator (pid {pid}) died while initialising it; unlink the name \
                 and create it again"
            ),
            Error::TooManyRegions { max } => write!(
                f,
                "too many regions: this process already has {max} mapped, the most the table \
                 of mappings holds"
            ),
            Error::BarrierBroken(cause) => write!(
                f,
                "barrier broken: {cause}; every wait fails with this error until reset() is \
                 called"
            ),
            Error::BarrierFull { seats } => write!(
                f,
                "barrier full: all {seats} seats are taken by live members (EUSERS)"
            ),
        }
    }
}

impl std::error::Error for Error {}

/// Keeps the typed error as the source (`get_ref().downcast_ref::<Error>()`), with the
/// matching [`io::ErrorKind`]. An [`Error::Os`] becomes the plain OS error, so
/// `raw_os_error()` gives its number.
impl From<Error> for io::Error {
    fn from(err: Error) -> io::Error {
        match err {
            Error::Os(errno) => io::Error::from_raw_os_error(errno),
            _ => io::Error::new(err.kind(), err),
        }
    }
}

/// Reports a pthread call that failed where the crate's invariants say it cannot (for example
/// `pthread_mutex_lock` on a normal mutex, or an object that could not be initialised).
/// All such failures are routed here, off the hot paths.
#[cold]
#[inline(never)]
pub(crate) fn fatal(call: &'static str, err: Error) -> ! {
    panic!("pthread-sync: {call} failed: {err}")
}
