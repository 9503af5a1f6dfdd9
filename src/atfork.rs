//! `fork` handlers that can be removed, and locks kept consistent across `fork`.
//!
//! `pthread_atfork` handlers can never be removed, and a multithreaded program that forks
//! needs them: the child has one thread, and any lock another thread held at the fork stays
//! locked forever in the child. This module registers one trampoline with `pthread_atfork`
//! (once) and keeps its own list:
//!
//! - [`register`]`(prepare, parent, child)` returns a [`Handle`]; dropping it removes the
//!   handlers. POSIX order: `prepare` handlers run in reverse registration order before the
//!   fork; `parent` (in the parent) and `child` (in the child) in registration order after.
//! - [`protect`]`(&LOCK)` keeps one lock consistent across every fork: `prepare` takes it (so
//!   no other thread holds it at the fork), `parent` releases it, and `child` re-initialises
//!   it (an errorcheck or recursive mutex in the child would still name the parent's thread
//!   as its owner, so it is re-initialised, never unlocked). A lock the forking thread itself
//!   holds is left alone in `prepare`, and in the child is re-initialised and taken again by
//!   the child's thread, so the guard it inherited releases it.
//!
//! ```
//! use pthread_sync::{atfork, Locker};
//! use std::time::Duration;
//!
//! static CONFIG: Locker<Vec<u32>> = Locker::new(Vec::new());
//! let _protected = atfork::protect(&CONFIG).unwrap();
//! // From now on, a child forked while another thread holds CONFIG can lock it.
//! CONFIG.lock().unwrap().push(1);
//! # assert!(CONFIG.lock_timeout(Duration::from_secs(1)).is_ok());
//! ```
//!
//! # Concurrency
//!
//! The registry's own lock is held from the start of `prepare` to the end of `parent` or
//! `child`: a registration or a drop on another thread during a fork waits for it to end and
//! takes no part in it, and no handler runs half registered or after its drop returned.
//! Registering from inside a handler returns [`Error::Deadlock`]; dropping a handle there
//! takes effect after that fork (its handlers still run in all three phases of it). In the
//! child the registry's lock is re-initialised in place, without allocating.
//!
//! # What a handler may do
//!
//! Handlers run on the forking thread. A `child` handler runs in a child that has one thread
//! and whose other threads' locks are frozen where they were: it must not allocate, and must
//! take no lock other than those [`protect`]ed (and glibc's own, which glibc re-initialises
//! before the handlers run). A `prepare` handler runs before glibc takes its own `malloc`
//! locks, so it may allocate. Lock order matters: `prepare` takes protected locks in reverse
//! protection order, so protect them from the innermost to the outermost (the reverse of the
//! order your code takes them), or one `prepare` may wait for a lock whose holder waits for
//! another lock `prepare` already took.
//!
//! Process-shared locks (in a [`ShmBox`](crate::ShmBox)) are not protected: a lock another
//! thread held at the fork is released by that thread in the parent, and the child waits for
//! it like any other process. (A guard of a shared lock that the forking thread held is the
//! parent's: the child must not use it.)

use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Once};

use crate::error::Error;
use crate::fork_registry::{Action, Registration, Registry};
use crate::kind::{InProcess, Kind};
use crate::locker::raw::ForkRaw;
use crate::Lock;

/// The process's registry, behind the one `pthread_atfork` trampoline.
static REGISTRY: Registry = Registry::new();

extern "C" fn prepare() {
    REGISTRY.prepare();
}

extern "C" fn parent() {
    // SAFETY: called by glibc once per fork, in the parent, after `prepare` on this thread.
    unsafe { REGISTRY.parent() }
}

extern "C" fn child() {
    // SAFETY: called by glibc once per fork, in the child, on its only thread.
    unsafe { REGISTRY.child() }
}

/// Registers the trampoline with `pthread_atfork`, once per process.
fn install() -> Result<(), Error> {
    static ONCE: Once = Once::new();
    static FAILED: AtomicBool = AtomicBool::new(false);
    ONCE.call_once(|| {
        if crate::sys::fork::atfork(prepare, parent, child).is_err() {
            FAILED.store(true, Relaxed);
        }
    });
    if FAILED.load(Relaxed) {
        Err(Error::Os(libc::ENOMEM))
    } else {
        Ok(())
    }
}

/// Registered fork handlers (or a protected lock); dropping it removes them.
#[must_use = "dropping the handle unregisters at once"]
pub struct Handle {
    /// Kept for its `Drop`, which unregisters.
    _registration: Registration<'static>,
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("atfork::Handle").finish_non_exhaustive()
    }
}

/// Registers fork handlers: `prepare` before every `fork` (handlers registered later run
/// first), `parent` in the parent and `child` in the child after it (in registration order).
///
/// # Errors
/// [`Error::Deadlock`] from inside a fork handler; the `pthread_atfork` error if the
/// trampoline could not be registered.
///
/// ```
/// use pthread_sync::atfork;
/// use std::sync::atomic::{AtomicU32, Ordering};
///
/// static FORKS: AtomicU32 = AtomicU32::new(0);
/// let handle = atfork::register(
///     || {},
///     || {
///         FORKS.fetch_add(1, Ordering::Relaxed);
///     },
///     || {},
/// )
/// .unwrap();
/// drop(handle); // no longer called
/// ```
#[doc(alias = "pthread_atfork")]
pub fn register(
    prepare: impl Fn() + Send + Sync + 'static,
    parent: impl Fn() + Send + Sync + 'static,
    child: impl Fn() + Send + Sync + 'static,
) -> Result<Handle, Error> {
    register_actions(Box::new(prepare), Box::new(parent), Box::new(child))
}

fn register_actions(prepare: Action, parent: Action, child: Action) -> Result<Handle, Error> {
    install()?;
    REGISTRY
        .register(Some(prepare), Some(parent), Some(child))
        .map(|r| Handle { _registration: r })
}

/// Keeps `lock` consistent across every `fork` while the handle lives (see the module docs):
/// in the child it is free (or held by the child's thread, if the forking thread held it), and
/// its data is what it was at the fork.
///
/// # Errors
/// As [`register`].
pub fn protect<K, T>(lock: &'static Lock<K, T>) -> Result<Handle, Error>
where
    K: Kind + InProcess,
    K::Raw: ForkRaw,
    T: ?Sized + Send,
{
    install()?;
    REGISTRY.protect(lock).map(|r| Handle { _registration: r })
}

/// [`protect`] for a lock shared through an `Arc` (the handle keeps it alive).
///
/// # Errors
/// As [`register`].
pub fn protect_arc<K, T>(lock: Arc<Lock<K, T>>) -> Result<Handle, Error>
where
    K: Kind + InProcess,
    K::Raw: ForkRaw,
    T: ?Sized + Send + 'static,
{
    install()?;
    REGISTRY.protect(lock).map(|r| Handle { _registration: r })
}
