//! The FFI seam: the only place that calls pthread and semaphore functions.
//!
//! One interface, two backends:
//!
//! - `pthread.rs` (the normal build): the real glibc objects, each initialised in place at an
//!   address that never changes until it is destroyed.
//! - `model.rs` (`cfg(loom)`): the same types and methods in pure Rust on loom's primitives,
//!   an executable specification of the pthread semantics the wrappers rely on.
//!
//! The interface, shared by both backends:
//!
//! | type | constructor | operations |
//! |---|---|---|
//! | `RawMutex` | `new_boxed(MutexKind)` | `lock` (adaptive spin), `lock_no_spin`, `try_lock`, `lock_for`, `unsafe unlock`, `unsafe unlock_held` |
//! | `RawCond` | `new_boxed()` | `unsafe wait`, `unsafe wait_until`, `notify_one`, `notify_all` |
//! | `RawSem` | `new_boxed(u32)` | `wait`, `try_wait`, `wait_for`, `post`, `value` |
//! | `Deadline` | `after(Duration)` | an absolute point on `CLOCK_MONOTONIC` |
//!
//! `shm.rs` (not in the loom build) wraps shared-memory objects and mappings (`shm_open`,
//! `ftruncate`, `mmap`) for the regions of `crate::shm`; it has no model.
//!
//! Every operation returns `Result<_, Error>` with the errno already mapped. The types are
//! `pub` inside this private module only so that sealed public traits can name them.

/// The type of a pthread mutex (`PTHREAD_MUTEX_*`). Always set explicitly: with the default
/// type, relocking is undefined behaviour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MutexKind {
    /// `PTHREAD_MUTEX_NORMAL`: relocking by the owner deadlocks.
    Normal,
    /// `PTHREAD_MUTEX_ERRORCHECK`: relocking is `EDEADLK`, a foreign unlock `EPERM`.
    ErrorCheck,
    /// `PTHREAD_MUTEX_RECURSIVE`: the owner may relock; an owner and a count.
    Recursive,
}

/// The largest value a semaphore can hold (glibc's `SEM_VALUE_MAX`, `INT_MAX`).
pub const SEM_VALUE_MAX: u32 = i32::MAX as u32;

#[cfg(not(loom))]
mod pthread;
/// Shared-memory objects and mappings (`shm_open`, `mmap`): real memory only, no model.
#[cfg(all(not(loom), target_has_atomic = "64"))]
pub mod shm;
#[cfg(not(loom))]
pub use pthread::{Deadline, RawCond, RawMutex, RawSem};

#[cfg(loom)]
mod model;
#[cfg(loom)]
pub use model::{Deadline, RawCond, RawMutex, RawSem};
