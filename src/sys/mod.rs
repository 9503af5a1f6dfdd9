//! The FFI seam: the only place that calls pthread and semaphore functions.
//!
//! One interface, two backends:
//!
//! - `pthread.rs` (the normal build): the real glibc objects.
//! - `model.rs` (`cfg(loom)`): the same types and methods in pure Rust on loom's primitives,
//!   an executable specification of the pthread semantics the wrappers rely on.
//!
//! The interface, shared by both backends:
//!
//! | type | constructors | operations |
//! |---|---|---|
//! | `RawMutex` | `new(MutexType)` (a `const fn`: glibc's static initialiser), `unsafe init(place, &MutexAttr)` (in place) | `lock` (bounded spin), `lock_checked`, `try_lock`, `try_lock_checked`, `lock_for`, `lock_for_checked`, `unsafe unlock`, `unsafe unlock_held` |
//! | `RawCond` | `new()` (a `const fn`), `unsafe init(place, &CondAttr)` | `unsafe wait`, `unsafe wait_until` (both on `CLOCK_MONOTONIC`), `notify_one`, `notify_all` |
//! | `RawSem` | `new(u32)` (a `const fn`), `unsafe init(place, pshared, u32)` | `wait`, `try_wait`, `wait_for`, `post`, `value` |
//! | `Deadline` | `after(Duration)` | an absolute point on `CLOCK_MONOTONIC` |
//!
//! `shm.rs` (not in the loom build) wraps shared-memory objects and mappings (`shm_open`,
//! `ftruncate`, `mmap`) for the regions of `crate::shm`; it has no model.
//!
//! Every operation returns `Result<_, Error>` with the errno already mapped. The types are
//! `pub` inside this private module only so that sealed public traits can name them.
//!
//! # Where the objects live, and why moving an unused one is harmless on glibc
//!
//! The in-process objects are stored inline (no heap, no global allocator: a `static` mutex
//! may guard the allocator itself) and built by `const fn`s from glibc's own static
//! initialisers (`PTHREAD_MUTEX_INITIALIZER` and its `_NP` errorcheck and recursive forms,
//! `PTHREAD_COND_INITIALIZER`) or, for `sem_t`, from the bytes `sem_init` writes (checked
//! against `sem_init` itself by a test). POSIX leaves moving an initialised object undefined;
//! glibc's private, non-robust objects hold no pointers and no address-dependent state, and
//! no thread can be inside one while Rust moves it (a move needs the value unborrowed: no
//! guard, no waiter). An unlocked glibc mutex has exactly the bytes its initialiser gave it
//! (`__lock`, `__count`, `__owner`, `__nusers` back at 0); a condvar between waits keeps only
//! sequence counters (glibc 2.25+); a `sem_t` keeps its value and waiter count. So a moved one
//! is the same object at its new address. The tests check that an unlocked mutex's bytes equal
//! its initialiser's after use (`sys::pthread::tests`). What must never move, the robust and
//! process-shared objects (a held robust mutex is linked into its owner's robust list by
//! address), is initialised in place with `init` inside shared memory and never handed out by
//! value.

/// The type of a pthread mutex (`PTHREAD_MUTEX_*`). Always set explicitly: with the default
/// type, relocking is undefined behaviour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MutexType {
    /// `PTHREAD_MUTEX_NORMAL`: relocking by the owner deadlocks.
    Normal,
    /// `PTHREAD_MUTEX_ERRORCHECK`: relocking is `EDEADLK`, a foreign unlock `EPERM`.
    ErrorCheck,
    /// `PTHREAD_MUTEX_RECURSIVE`: the owner may relock; an owner and a count.
    Recursive,
}

/// The priority protocol of a mutex (`pthread_mutexattr_setprotocol`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(dead_code)] // `Inherit` is offered by the attribute layer; no wrapper asks for it yet
pub enum Protocol {
    /// `PTHREAD_PRIO_NONE`.
    None,
    /// `PTHREAD_PRIO_INHERIT`.
    Inherit,
}

/// Every attribute a mutex is initialised with (`pthread_mutexattr_t`, as a value).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MutexAttr {
    /// `pthread_mutexattr_settype`.
    pub ty: MutexType,
    /// `PTHREAD_PROCESS_SHARED` when set.
    pub pshared: bool,
    /// `PTHREAD_MUTEX_ROBUST` when set.
    pub robust: bool,
    /// `pthread_mutexattr_setprotocol`.
    pub protocol: Protocol,
}

impl MutexAttr {
    /// A process-private, non-robust mutex of type `ty`: what the static initialisers give.
    #[allow(dead_code)] // used by the tests and the in-place initialisation of shared kinds
    pub const fn private(ty: MutexType) -> MutexAttr {
        MutexAttr {
            ty,
            pshared: false,
            robust: false,
            protocol: Protocol::None,
        }
    }
}

/// Every attribute a condition variable is initialised with. The crate's timed waits always
/// name `CLOCK_MONOTONIC` (`pthread_cond_clockwait`); `monotonic` sets the condvar's own
/// clock too, for C code that waits on the same object with `pthread_cond_timedwait`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(dead_code)] // used by the in-place initialisation of shared kinds
pub struct CondAttr {
    /// `PTHREAD_PROCESS_SHARED` when set.
    pub pshared: bool,
    /// `pthread_condattr_setclock(CLOCK_MONOTONIC)` when set.
    pub monotonic: bool,
}

/// The largest value a semaphore can hold (glibc's `SEM_VALUE_MAX`, `INT_MAX`).
pub const SEM_VALUE_MAX: u32 = i32::MAX as u32;

/// Why a semaphore value is refused.
pub const SEM_VALUE_TOO_LARGE: &str = "semaphore value above SEM_VALUE_MAX (2147483647)";

#[cfg(not(loom))]
pub mod fork;
#[cfg(not(loom))]
mod pthread;
/// Shared-memory objects and mappings (`shm_open`, `mmap`): real memory only, no model.
#[cfg(all(not(loom), target_has_atomic = "64"))]
pub mod shm;
#[cfg(not(loom))]
pub mod signal;
#[cfg(not(loom))]
pub use pthread::{Deadline, RawCond, RawMutex, RawSem};

#[cfg(loom)]
mod model;
#[cfg(loom)]
pub use model::{Deadline, RawCond, RawMutex, RawSem};
