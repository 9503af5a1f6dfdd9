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
//! | `RawMutex` | `new(MutexType)`, `with_protocol(MutexType, Protocol)` (`const fn`s: glibc's static initialiser, and its bytes with a protocol), `InPlace::init_in_place(place, &MutexAttr)` | `lock` (bounded spin), `lock_checked`, `try_lock`, `try_lock_checked`, `lock_for`, `lock_for_checked`, `lock_robust`, `lock_robust_for`, `try_lock_robust`, `try_lock_robust_uncontended` (and `unsafe give_back_taken`), `unsafe unlock`, `unsafe unlock_held`, `unsafe unlock_robust`, `unsafe unlock_robust_uncontended` (and `unsafe wake_released`), `prepare_robust` (the robust kinds' uncontended lock and unlock inline, to glibc's protocol: `pthread/robust.rs`), `priority_ceiling`, `set_priority_ceiling` |
//! | (functions) | | `fifo_priority_range()` (`sched_get_priority_min`/`max` of `SCHED_FIFO`), `ceiling_ready()` (whether glibc can raise the calling thread to a ceiling: `SCHED_FIFO` or `SCHED_RR`) |
//! | `RawSem` | `new(u32)` (a `const fn`), `InPlace::init_in_place(place, &SemAttr)` | `wait`, `try_wait`, `wait_for`, `post`, `value` |
//! | `Futex` | `new(u32)` (a `const fn`) | `load`, `fetch_add`, `fetch_or`, `compare_exchange`, `wait(expected, Option<&Deadline>, Scope)` (absolute `CLOCK_MONOTONIC` deadline), `wake(n, Scope)`: a 32-bit futex word (the model: an atomic plus a queue) |
//! | `Futex64` | `new(u64)` (a `const fn`) | `load`, `store`, `fetch_sub`, `compare_exchange`, `wait(expected low 32 bits, ..)`, `wake(n, Scope)`: a 64-bit word whose low half is a futex word (the model: an atomic plus a queue) |
//! | (functions) | | `thread_identity()` (a thread's id, its process's id and start-time tag, for `SharedRwLock`'s slots), `holder_alive(id)` (the process: `/proc/<pid>/stat`; the model: a set of dead ids) |
//! | `Deadline` | `after(Duration)` | an absolute point on `CLOCK_MONOTONIC`; `min`, `passed`, `same` (the model: no clock, every deadline passed once a wait on it timed out) |
//! | (functions) | | `recheck()`: the longest a waiter on a process-shared `sem_t` or condvar sleeps before it looks again (20 ms; the model: `None`, its waits are exact, unless a run loses wake-ups to dead processes: `switches::set_lost_wakeups`) |
//!
//! `model.rs` has one type more, `RawRwLock` (a mutex and a condition variable): a coarse model
//! of `RwLock`'s lock word (`crate::rwlock::word`, the crate's own, on `Futex64` and `Futex`),
//! which the model build of `RwLock` uses so that the bias's logic is explored in seconds; the
//! differential test checks both it and the word against glibc's rwlock of the kind the word
//! replaced.
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
//! initialisers (`PTHREAD_MUTEX_INITIALIZER` and its `_NP` errorcheck and recursive forms)
//! or, for `sem_t`, from the bytes `sem_init` writes (checked
//! against `sem_init` itself by a test). POSIX leaves moving an initialised object undefined;
//! glibc's private, non-robust objects hold no pointers and no address-dependent state, and
//! no thread can be inside one while Rust moves it (a move needs the value unborrowed: no
//! guard, no waiter). An unlocked glibc mutex has exactly the bytes its initialiser gave it
//! (`__lock`, `__count`, `__owner`, `__nusers` back at 0); a `sem_t` keeps its value and waiter count; a futex word is a number. So a moved one
//! is the same object at its new address. The tests check that an unlocked mutex's bytes equal
//! its initialiser's after use (`sys::pthread::tests`). The priority-protocol mutexes too:
//! built from `pthread_mutex_init`'s bytes for the protocol (the `__kind` bit, and for the
//! ceiling protocol the ceiling in `__lock`; checked against it), back to them once unlocked,
//! but for one word of the PI ones: glibc's PI lock sets `__count` to 1 for every type and only
//! the recursive unlock takes it back, and nothing reads it for the other types. The kernel
//! keeps PI state (its `pi_state`) only while a PI futex has waiters: an unlocked one has none. What must never move, the robust and
//! process-shared objects (a held robust mutex is linked into its owner's robust list by
//! address), is initialised in place with `InPlace::init_in_place` inside shared memory and never handed out by
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
pub enum Protocol {
    /// `PTHREAD_PRIO_NONE`.
    None,
    /// `PTHREAD_PRIO_INHERIT`.
    Inherit,
    /// `PTHREAD_PRIO_PROTECT` with a priority ceiling (`pthread_mutexattr_setprioceiling`),
    /// already checked to be in the `SCHED_FIFO` range.
    Protect {
        /// The priority ceiling.
        ceiling: i32,
    },
}

/// The ceiling glibc gives a `PTHREAD_PRIO_PROTECT` mutex whose attribute names none (an
/// attribute's ceiling is 0 until set; `pthread_mutex_init` raises it to
/// `sched_get_priority_min(SCHED_FIFO)`, which Linux fixes at 1): what `Default` builds.
pub const DEFAULT_CEILING: i32 = 1;

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

    /// A robust, process-shared mutex of type `ty` without a priority protocol: the shared
    /// lockers' mutexes (the inline robust path's, `pthread/robust.rs`).
    #[allow(dead_code)] // not in the model build's own code
    pub const fn robust_shared(ty: MutexType) -> MutexAttr {
        MutexAttr {
            ty,
            pshared: true,
            robust: true,
            protocol: Protocol::None,
        }
    }
}

/// What a robust mutex's inline uncontended acquisition did
/// (`RawMutex::try_lock_robust_uncontended`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Take {
    /// Acquired: the mutex was free and its last owner alive.
    Acquired,
    /// Not acquired: held by another thread, alive as far as the lock word says.
    Busy,
    /// Not acquired, nothing changed: not the inline path's case (held by the caller, its
    /// owner dead, taken meanwhile, not a robust shared mutex of the protocol the caller
    /// says, no layout checked, or the model build); glibc's calls decide.
    Glibc,
    /// The lock word was taken, but the mutex is not recoverable: it must be given back at
    /// once (`RawMutex::give_back_taken`), before any other robust call of the thread.
    NotRecoverable,
}

/// What a robust mutex's inline release did (`RawMutex::unlock_robust_uncontended`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Released {
    /// Not released, nothing changed: not the inline path's case (as [`Take::Glibc`], or
    /// an owner-died mutex not made consistent, or of another type than the caller's); the
    /// caller calls `RawMutex::unlock_robust`.
    Glibc,
    /// Released (a recursive one: counted down).
    Done,
    /// Unlinked, and a waiter must be woken at once (`RawMutex::wake_released`), before any
    /// other robust call of the thread: the word released (a PI mutex: still the caller's,
    /// for the kernel to release to the waiter).
    Wake,
}

/// What a semaphore is initialised with in place (`sem_init(sem, pshared, value)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SemAttr {
    /// Usable by every process that maps it.
    pub pshared: bool,
    /// The initial value (at most [`SEM_VALUE_MAX`]).
    pub value: u32,
}

/// Whether a futex word is shared with other processes (no `FUTEX_PRIVATE_FLAG`) or private
/// to this one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(dead_code)] // `Private` is for the in-process protocols (benchmarked; see the README)
pub enum Scope {
    /// `FUTEX_PRIVATE_FLAG`: the threads of this process.
    Private,
    /// Every process that maps the word.
    Shared,
}

/// A pthread object that can be initialised in place, at its final address, from an
/// attribute value: what the placement layer (`crate::placed`) arms process-shared objects
/// with. Both backends implement it for the same types, so the compiler holds them to it.
///
/// # Safety
/// An implementation must leave a valid object with the attributes `attr` at `place` when it
/// returns `Ok` (and, when it returns `Err`, bytes another `init_in_place` can start from).
pub unsafe trait InPlace: Send + Sync {
    /// The attributes, as a value.
    type Attr;

    /// Initialises the object at `place` with `attr`.
    ///
    /// # Safety
    /// `place` must be valid for writes and aligned and hold a value built by the type's
    /// constructor that no thread is using, and the object must stay at `place` (never moved)
    /// for as long as anyone uses it.
    unsafe fn init_in_place(place: *mut Self, attr: &Self::Attr) -> Result<(), Error>;
}

/// The largest value a semaphore can hold (glibc's `SEM_VALUE_MAX`, `INT_MAX`).
pub const SEM_VALUE_MAX: u32 = i32::MAX as u32;

/// Why a semaphore value is refused.
pub const SEM_VALUE_TOO_LARGE: &str = "semaphore value above SEM_VALUE_MAX (2147483647)";

#[cfg(not(loom))]
pub mod diag;
#[cfg(loom)]
pub use model::diag;
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
pub mod thread_key;
#[cfg(not(loom))]
pub use pthread::{
    ceiling_ready, fifo_priority_range, recheck, Deadline, Futex, Futex64, RawMutex, RawSem,
};

#[cfg(loom)]
mod model;
#[cfg(loom)]
pub use model::{
    ceiling_ready, fifo_priority_range, recheck, Deadline, Futex, Futex64, RawMutex, RawRwLock,
    RawSem,
};

use crate::error::Error;
use std::sync::atomic::Ordering;

/// Whether process `pid` is alive (exists and is not a zombie): a process-shared object's
/// arming word names its armer. In the model, threads stand in for processes and every one
/// is alive.
#[cfg(not(loom))]
pub fn process_alive(pid: u32) -> bool {
    i32::try_from(pid).is_ok_and(shm::process_exists)
}
#[cfg(loom)]
pub fn process_alive(_pid: u32) -> bool {
    true
}
/// The calling thread's identity for a `SharedRwLock`'s reader slots (never 0 in its low 32
/// bits): its thread id, its process id, and a tag of its process's start time that tells
/// the process from a later one reusing the pid (see `shm::thread_identity`). In the model,
/// a number per model thread.
#[cfg(not(loom))]
pub fn thread_identity() -> u64 {
    shm::thread_identity()
}
#[cfg(loom)]
pub fn thread_identity() -> u64 {
    model::thread_identity()
}

/// Whether the process of the thread `id` ([`thread_identity`]) names is alive (a zombie is
/// not; a thread that ended inside a live process is). In the model, every thread is,
/// except one a test made die holding a read (`model::die`).
#[cfg(not(loom))]
pub fn holder_alive(id: u64) -> bool {
    shm::holder_alive(id)
}
#[cfg(loom)]
pub fn holder_alive(id: u64) -> bool {
    model::holder_alive(id)
}

/// The model thread `id` names dies: later liveness checks say so (model build only).
#[cfg(loom)]
pub fn thread_dies(id: u64) {
    model::die(id)
}

use std::time::Duration;

/// The interface of the table above, held by the compiler: each line coerces one function
/// of the backend this build compiled to the signature every backend must have, so a backend
/// that lacks one, or has it with another signature, does not build (in the normal build
/// `pthread.rs` is checked, in the model build `model.rs`). With `InPlace`, a trait both
/// implement, this is the whole of what the wrappers may call.
const _: () = {
    let _: for<'b> fn(&std::ffi::CStr, &'b mut [u8; 16]) -> Option<&'b [u8]> = diag::getenv;
    let _: fn(&[u8]) = diag::write_stderr;
    let _: fn(&mut [usize], usize) -> usize = diag::capture_stack;
    let _: fn(&[usize]) = diag::write_symbols_stderr;

    let _: fn(Duration) -> Deadline = Deadline::after;
    let _: fn() -> u64 = Deadline::now_ns;
    let _: fn(Deadline, Deadline) -> Deadline = Deadline::min;
    let _: fn(&Deadline) -> bool = Deadline::passed;
    let _: fn(&Deadline, &Deadline) -> bool = Deadline::same;
    let _: fn() -> Option<Duration> = recheck;

    let _: fn(MutexType) -> RawMutex = RawMutex::new;
    let _: fn(MutexType, Protocol) -> RawMutex = RawMutex::with_protocol;
    let _: fn(&RawMutex) -> Result<i32, Error> = RawMutex::priority_ceiling;
    let _: fn(&RawMutex, i32) -> Result<i32, Error> = RawMutex::set_priority_ceiling;
    let _: fn() -> Result<(i32, i32), Error> = fifo_priority_range;
    let _: fn() -> Result<(), Error> = ceiling_ready;
    let _: fn(&RawMutex) -> Result<(), Error> = RawMutex::lock;
    let _: fn(&RawMutex) -> Result<(), Error> = RawMutex::lock_checked;
    let _: fn(&RawMutex) -> Result<(), Error> = RawMutex::lock_direct;
    let _: fn(&RawMutex) -> Result<(), Error> = RawMutex::lock_robust;
    let _: fn(&RawMutex, Duration) -> Result<(), Error> = RawMutex::lock_robust_for;
    let _: fn(&RawMutex, bool) -> Result<(), Error> = RawMutex::try_lock;
    let _: fn(&RawMutex) -> Result<(), Error> = RawMutex::try_lock_robust;
    let _: fn(&RawMutex, bool) -> Take = RawMutex::try_lock_robust_uncontended;
    let _: unsafe fn(&RawMutex, bool) = RawMutex::give_back_taken;
    let _: unsafe fn(&RawMutex, bool, bool) -> Released = RawMutex::unlock_robust_uncontended;
    let _: unsafe fn(&RawMutex, bool) = RawMutex::wake_released;
    let _: fn(&RawMutex, Duration, bool) -> Result<(), Error> = RawMutex::lock_for;
    let _: fn(&RawMutex) -> bool = RawMutex::held_by_me;
    let _: unsafe fn(&RawMutex, MutexType, Protocol) = RawMutex::reinit;
    let _: unsafe fn(&RawMutex) -> Result<(), Error> = RawMutex::consistent;
    let _: unsafe fn(&RawMutex) -> Result<(), Error> = RawMutex::unlock;
    let _: unsafe fn(&RawMutex) = RawMutex::unlock_held;
    let _: unsafe fn(&RawMutex, bool) = RawMutex::unlock_robust;
    let _: fn() = RawMutex::prepare_robust;
    let _: unsafe fn(*mut RawMutex, &MutexAttr) -> Result<(), Error> =
        <RawMutex as InPlace>::init_in_place;

    let _: fn(u32) -> Result<RawSem, Error> = RawSem::new;
    let _: fn(&RawSem) -> Result<(), Error> = RawSem::wait;
    let _: fn(&RawSem) -> Result<(), Error> = RawSem::try_wait;
    let _: fn(&RawSem, Duration) -> Result<(), Error> = RawSem::wait_for;
    let _: fn(&RawSem) -> Result<(), Error> = RawSem::post;
    let _: fn(&RawSem) -> u32 = RawSem::value;
    let _: unsafe fn(*mut RawSem, &SemAttr) -> Result<(), Error> =
        <RawSem as InPlace>::init_in_place;

    let _: fn(u32) -> Futex = Futex::new;
    let _: fn(&Futex, Ordering) -> u32 = Futex::load;
    let _: fn(&Futex, u32, Ordering) -> u32 = Futex::fetch_add;
    let _: fn(&Futex, u32, Ordering) -> u32 = Futex::fetch_or;
    let _: fn(&Futex, u32, u32, Ordering, Ordering) -> Result<u32, u32> = Futex::compare_exchange;
    let _: fn(&Futex, u32, Option<&Deadline>, Scope) -> bool = Futex::wait;
    let _: fn(&Futex, i32, Scope) -> usize = Futex::wake;
    let _: fn(&Futex, usize) = Futex::enter_wait;
    let _: fn(&Futex) = Futex::leave_wait;

    let _: fn(u64) -> Futex64 = Futex64::new;
    let _: fn(&Futex64, Ordering) -> u64 = Futex64::load;
    let _: fn(&Futex64, u64, Ordering) = Futex64::store;
    let _: fn(&Futex64, u64, Ordering) -> u64 = Futex64::fetch_sub;
    let _: fn(&Futex64, u64, u64, Ordering, Ordering) -> Result<u64, u64> =
        Futex64::compare_exchange;
    let _: fn(&Futex64, u32, Option<&Deadline>, Scope) -> bool = Futex64::wait;
    let _: fn(&Futex64, i32, Scope) -> usize = Futex64::wake;
    let _: fn() -> u64 = thread_identity;
    let _: fn(u64) -> bool = holder_alive;
};
